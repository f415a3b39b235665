//! The durable spool: an append-only log of records in segment files
//! (`<sequence>.spool`), written by one writer thread.
//!
//! # Why a log
//! A message accepted over SMTP must be on disk before the client is told
//! 250. Writing a file (or two) per message costs several directory
//! operations and an fsync each; under load that kernel work was most of
//! the gateway's CPU. Here every session hands its record to the writer,
//! which appends whatever has arrived to the active segment in one write
//! and makes it durable with one `fdatasync` for the whole batch (group
//! commit); each session is answered once the fsync that covers its record
//! has returned. No runtime worker ever blocks on the disk.
//!
//! # Records
//! `store` (envelope and state as JSON, then the message bytes), `update`
//! (a new state for a stored message) and `remove` (delivered or bounced:
//! gone). Each record is framed with a magic number, its lengths and a
//! CRC-32 over all of it, so a write torn by a crash, or a damaged block,
//! is recognised and skipped when the spool is read again: a message exists
//! once its whole `store` record is on disk, never half.
//!
//! # Segments
//! The active segment rolls at [`SEGMENT_BYTES`]; each start of the owner
//! opens a new one, so nothing is ever appended after a torn tail. A sealed
//! segment is deleted once none of the messages stored in it is live and
//! every older segment is gone (so a `remove` record never disappears
//! before the `store` it cancels). A message that keeps the oldest segment
//! alive (a long-deferred one) is copied forward into the active segment
//! when that frees more space than it costs.
//!
//! Removals are not fsync'd on their own: one lost to a crash only means a
//! message delivered again (at least once), never one lost. They become
//! durable with the next batch or within [`IDLE_SYNC`].
//!
//! The owner keeps an index in memory (id → state and where the bytes
//! are); other processes (`councilgate queue list`) read the segments.
//! A spool in the earlier layout (`ID.eml` plus `ID.json`) is taken into
//! the log when the owner opens it.

use std::fs::{self, File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use tokio::sync::oneshot;

use crate::message::envelope::Envelope;

/// Per-recipient delivery state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "lowercase")]
pub enum RecipientState {
    Pending,
    Delivered { reply: String },
    Failed { reply: String },
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Recipient {
    pub address: String,
    #[serde(flatten)]
    pub state: RecipientState,
    /// Last temporary failure, for `queue list`.
    #[serde(default)]
    pub last_error: Option<String>,
}

/// The envelope and delivery state of a spooled message.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SpoolEntry {
    pub id: String,
    pub mail_from: String,
    pub recipients: Vec<Recipient>,
    /// Unix seconds when the gateway accepted it.
    pub created: i64,
    pub attempts: u32,
    /// Unix seconds of the next delivery attempt.
    pub next_attempt: i64,
    /// The Message-ID header, for logs.
    #[serde(default)]
    pub message_id: Option<String>,
    /// The envelope as received (before policy changed recipients).
    #[serde(default)]
    pub received: Option<Envelope>,
    /// Free-form record kept with the message (e.g. the verdict of a held message).
    #[serde(default)]
    pub detail: Option<serde_json::Value>,
}

impl SpoolEntry {
    /// A new entry with every recipient pending, due now.
    pub fn new(
        id: &str,
        mail_from: &str,
        recipients: &[String],
        received: Option<Envelope>,
    ) -> Self {
        let now = chrono::Utc::now().timestamp();
        SpoolEntry {
            id: id.to_string(),
            mail_from: mail_from.to_string(),
            recipients: recipients
                .iter()
                .map(|r| Recipient {
                    address: r.clone(),
                    state: RecipientState::Pending,
                    last_error: None,
                })
                .collect(),
            created: now,
            attempts: 0,
            next_attempt: now,
            message_id: None,
            received,
            detail: None,
        }
    }

    pub fn pending(&self) -> impl Iterator<Item = &Recipient> {
        self.recipients
            .iter()
            .filter(|r| r.state == RecipientState::Pending)
    }
}

/// The lock file in a spool folder that marks its owner.
pub const LOCK_FILE: &str = ".lock";

/// The active segment is sealed and a new one begun past this size.
pub const SEGMENT_BYTES: u64 = 16 * 1024 * 1024;

/// Unsynced removals are made durable after this much quiet.
pub const IDLE_SYNC: Duration = Duration::from_millis(200);

/// At most this much is gathered into one write and one fsync.
const BATCH_BYTES: usize = 16 * 1024 * 1024;

/// A sealed segment is copied forward only after it has been sealed this long.
pub const RELOCATE_AFTER: Duration = Duration::from_secs(30);

/// Sizes and delays of the spool's housekeeping.
#[derive(Debug, Clone, Copy)]
pub struct Tuning {
    /// The active segment is sealed past this size.
    pub segment_bytes: u64,
    /// Live messages of the oldest segment are copied forward only once it
    /// has been sealed this long (and when that frees more than it writes).
    pub relocate_after: Duration,
}

impl Default for Tuning {
    fn default() -> Self {
        Tuning {
            segment_bytes: SEGMENT_BYTES,
            relocate_after: RELOCATE_AFTER,
        }
    }
}

/// A new, time-ordered, unique message id (24 hex digits).
pub fn new_id() -> String {
    let millis = chrono::Utc::now().timestamp_millis().max(0) as u64;
    format!(
        "{:012x}{:012x}",
        millis,
        rand::random::<u64>() & 0xffff_ffff_ffff
    )
}

fn valid_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 64 && id.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// What a session or the runner asks of the writer.
enum Op {
    Store {
        entry: SpoolEntry,
        message: Arc<Vec<u8>>,
    },
    Update(SpoolEntry),
    Remove(String),
}

struct Request {
    op: Op,
    done: Option<oneshot::Sender<io::Result<()>>>,
}

#[derive(Debug)]
struct Shared {
    dir: PathBuf,
    /// `None` for a reader that does not own the spool.
    index: Option<Arc<Mutex<Index>>>,
    writer: Option<Mutex<mpsc::Sender<Request>>>,
}

/// A handle on the spool; clones share it.
#[derive(Debug, Clone)]
pub struct Spool {
    shared: Arc<Shared>,
}

fn lock_index(m: &Mutex<Index>) -> io::Result<std::sync::MutexGuard<'_, Index>> {
    m.lock()
        .map_err(|_| io::Error::other("spool index lock poisoned"))
}

impl Spool {
    /// Opens the folder to read it (`queue list`) without taking ownership:
    /// nothing is changed, so a running gateway is never disturbed.
    pub fn open_shared(dir: impl Into<PathBuf>) -> io::Result<Self> {
        let dir = dir.into();
        fs::create_dir_all(&dir)?;
        Ok(Spool {
            shared: Arc::new(Shared {
                dir,
                index: None,
                writer: None,
            }),
        })
    }

    /// Opens (creating) the folder as its one owner: reads the segments,
    /// starts a new active segment and the writer thread, and takes in a
    /// spool of the earlier layout. Fails when another process owns it.
    pub fn open(dir: impl Into<PathBuf>) -> io::Result<Self> {
        Self::open_with(dir, Tuning::default())
    }

    /// [`Spool::open`] with other segment sizes and delays (tests).
    pub fn open_with(dir: impl Into<PathBuf>, tuning: Tuning) -> io::Result<Self> {
        let dir = dir.into();
        fs::create_dir_all(&dir)?;
        let lock = take_lock(&dir)?;
        let mut problems = Vec::new();
        let index = replay(&dir, &mut problems)?;
        for p in problems {
            tracing::warn!(problem = %p, "spool damage skipped");
        }
        let next_seq = index.segments.keys().next_back().map_or(1, |s| s + 1);
        let index = Arc::new(Mutex::new(index));
        let mut writer = Writer {
            dir: dir.clone(),
            index: index.clone(),
            active: None,
            next_seq,
            tuning,
            unsynced: false,
            buf: Vec::new(),
            _lock: lock,
        };
        writer.roll()?;
        writer.migrate()?;
        let (tx, rx) = mpsc::channel();
        std::thread::Builder::new()
            .name("spool-writer".into())
            .spawn(move || writer.run(rx))?;
        Ok(Spool {
            shared: Arc::new(Shared {
                dir,
                index: Some(index),
                writer: Some(Mutex::new(tx)),
            }),
        })
    }

    pub fn dir(&self) -> &Path {
        &self.shared.dir
    }

    fn submit(&self, op: Op) -> io::Result<oneshot::Receiver<io::Result<()>>> {
        let (tx, rx) = oneshot::channel();
        self.send(Request { op, done: Some(tx) })?;
        Ok(rx)
    }

    fn send(&self, req: Request) -> io::Result<()> {
        let writer = self
            .shared
            .writer
            .as_ref()
            .ok_or_else(|| io::Error::other("the spool is open read-only"))?;
        writer
            .lock()
            .map_err(|_| io::Error::other("spool writer lock poisoned"))?
            .send(req)
            .map_err(|_| io::Error::other("spool writer stopped"))
    }

    async fn wait(rx: oneshot::Receiver<io::Result<()>>) -> io::Result<()> {
        rx.await
            .map_err(|_| io::Error::other("spool writer stopped"))?
    }

    /// Stores a new message durably: returns once its record is on disk.
    pub async fn store(&self, entry: SpoolEntry, message: Arc<Vec<u8>>) -> io::Result<()> {
        if !valid_id(&entry.id) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "bad message id",
            ));
        }
        Self::wait(self.submit(Op::Store { entry, message })?).await
    }

    /// Records a message's new state durably.
    pub async fn update(&self, entry: SpoolEntry) -> io::Result<()> {
        Self::wait(self.submit(Op::Update(entry))?).await
    }

    /// Removes a message (delivered, or failed and bounced). It is gone from
    /// the index at once; the record reaches the disk with the next batch.
    pub fn remove(&self, id: &str) -> io::Result<()> {
        if !valid_id(id) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "bad message id",
            ));
        }
        if let Some(index) = &self.shared.index {
            lock_index(index)?.forget(id);
        }
        self.send(Request {
            op: Op::Remove(id.to_string()),
            done: None,
        })
    }

    /// Runs `f` on what is spooled: the owner's index, or, for a reader,
    /// the segments read from disk (damage found on the way goes to
    /// `problems`).
    fn with_index<T>(
        &self,
        problems: &mut Vec<String>,
        f: impl FnOnce(&Index) -> T,
    ) -> io::Result<T> {
        match &self.shared.index {
            Some(index) => Ok(f(&*lock_index(index)?)),
            None => Ok(f(&replay(self.dir(), problems)?)),
        }
    }

    /// A message's state.
    pub fn entry(&self, id: &str) -> io::Result<SpoolEntry> {
        self.with_index(&mut Vec::new(), |index| {
            index.messages.get(id).map(|l| l.entry.clone())
        })?
        .ok_or_else(not_found)
    }

    /// A message's bytes, read from its segment.
    pub fn message(&self, id: &str) -> io::Result<Vec<u8>> {
        let (file, loc) = self
            .with_index(&mut Vec::new(), |index| {
                let live = index.messages.get(id)?;
                let seg = index.segments.get(&live.loc.segment)?;
                Some((seg.file.clone(), live.loc))
            })?
            .ok_or_else(not_found)?;
        read_at(&file, loc)
    }

    /// Every committed message, oldest first, and any damage found on the
    /// way (reported, never dropped silently).
    pub fn list(&self) -> io::Result<(Vec<SpoolEntry>, Vec<String>)> {
        let mut problems = Vec::new();
        let mut entries: Vec<SpoolEntry> = self.with_index(&mut problems, |index| {
            index.messages.values().map(|l| l.entry.clone()).collect()
        })?;
        entries.sort_by(|a, b| a.id.cmp(&b.id));
        Ok((entries, problems))
    }

    /// How many messages are spooled (the owner's count, or read from disk).
    pub fn len(&self) -> io::Result<usize> {
        self.with_index(&mut Vec::new(), |index| index.messages.len())
    }

    pub fn is_empty(&self) -> io::Result<bool> {
        Ok(self.len()? == 0)
    }
}

/// Takes the owner's lock on the spool folder. A previous owner in this
/// process may still be finishing its last write: it is given a moment.
fn take_lock(dir: &Path) -> io::Result<File> {
    let lock = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(dir.join(LOCK_FILE))?;
    let deadline = Instant::now() + Duration::from_secs(2);
    loop {
        match lock.try_lock() {
            Ok(()) => return Ok(lock),
            Err(fs::TryLockError::WouldBlock) if Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(fs::TryLockError::WouldBlock) => {
                return Err(io::Error::new(
                    io::ErrorKind::WouldBlock,
                    format!("{} is in use by another councilgate process", dir.display()),
                ));
            }
            Err(fs::TryLockError::Error(e)) => return Err(e),
        }
    }
}

mod index;
mod replay;
mod segment;
mod writer;

#[cfg(test)]
mod tests;

use index::*;
use replay::*;
use segment::*;
use writer::*;

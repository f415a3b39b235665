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

use std::collections::{BTreeMap, HashMap};
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::FileExt;
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

const SEGMENT_SUFFIX: &str = ".spool";
const MAGIC: [u8; 4] = *b"CGS1";
/// magic, kind, 3 reserved, meta length (u32), body length (u64), CRC-32.
const HEADER_LEN: usize = 4 + 1 + 3 + 4 + 8 + 4;
/// A record's JSON part is never this large; a header claiming more is damage.
const MAX_META: u32 = 64 * 1024 * 1024;

const KIND_STORE: u8 = 1;
const KIND_UPDATE: u8 = 2;
const KIND_REMOVE: u8 = 3;

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

fn not_found() -> io::Error {
    io::Error::new(io::ErrorKind::NotFound, "no such message")
}

fn fsync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

fn segment_name(seq: u64) -> String {
    format!("{seq:016}{SEGMENT_SUFFIX}")
}

fn segment_seq(name: &str) -> Option<u64> {
    let digits = name.strip_suffix(SEGMENT_SUFFIX)?;
    (!digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()))
        .then(|| digits.parse().ok())
        .flatten()
}

/// The segments in `dir`, oldest first.
fn segments(dir: &Path) -> io::Result<Vec<(u64, PathBuf)>> {
    let mut out = Vec::new();
    for item in fs::read_dir(dir)? {
        let path = item?.path();
        if let Some(seq) = path
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(segment_seq)
        {
            out.push((seq, path));
        }
    }
    out.sort();
    Ok(out)
}

/// Appends one framed record to `buf`.
fn frame(buf: &mut Vec<u8>, kind: u8, meta: &[u8], body: &[u8]) {
    let start = buf.len();
    buf.extend_from_slice(&MAGIC);
    buf.push(kind);
    buf.extend_from_slice(&[0; 3]);
    buf.extend_from_slice(&(meta.len() as u32).to_le_bytes());
    buf.extend_from_slice(&(body.len() as u64).to_le_bytes());
    let crc_at = buf.len();
    buf.extend_from_slice(&[0; 4]);
    buf.extend_from_slice(meta);
    buf.extend_from_slice(body);
    let mut h = crc32fast::Hasher::new();
    h.update(&buf[start..crc_at]);
    h.update(&buf[crc_at + 4..]);
    let crc = h.finalize();
    buf[crc_at..crc_at + 4].copy_from_slice(&crc.to_le_bytes());
}

/// One record read back from a segment.
struct Parsed<'a> {
    kind: u8,
    meta: &'a [u8],
    /// Offset of the message bytes in the segment, and their length.
    body_at: u64,
    body_len: u64,
}

/// Reads a segment's records in order. Damage (a torn tail, a bad block)
/// is skipped to the next record that checks out, and reported.
fn parse_segment<'a>(data: &'a [u8], problems: &mut Vec<String>, name: &str) -> Vec<Parsed<'a>> {
    let mut records = Vec::new();
    let mut at = 0usize;
    let mut skipping: Option<usize> = None;
    while at + HEADER_LEN <= data.len() {
        match parse_record(data, at) {
            Some((rec, next)) => {
                if let Some(from) = skipping.take() {
                    problems.push(format!(
                        "{name}: {} damaged bytes at offset {from} skipped",
                        at - from
                    ));
                }
                records.push(rec);
                at = next;
            }
            None => {
                skipping.get_or_insert(at);
                // Look for the next record start.
                at = match data[at + 1..].windows(4).position(|w| w == MAGIC) {
                    Some(p) => at + 1 + p,
                    None => data.len(),
                };
            }
        }
    }
    // Damage running to the end is a torn tail: the normal trace of a crash
    // during a write that was never acknowledged, not worth a warning.
    records
}

fn parse_record(data: &[u8], at: usize) -> Option<(Parsed<'_>, usize)> {
    let h = data.get(at..at + HEADER_LEN)?;
    if h[..4] != MAGIC {
        return None;
    }
    let kind = h[4];
    let meta_len = u32::from_le_bytes(h[8..12].try_into().ok()?);
    let body_len = u64::from_le_bytes(h[12..20].try_into().ok()?);
    let crc = u32::from_le_bytes(h[20..24].try_into().ok()?);
    if !(KIND_STORE..=KIND_REMOVE).contains(&kind) || meta_len > MAX_META {
        return None;
    }
    let meta_at = at + HEADER_LEN;
    let body_at = meta_at.checked_add(meta_len as usize)?;
    let end = body_at.checked_add(usize::try_from(body_len).ok()?)?;
    if end > data.len() {
        return None;
    }
    let mut hasher = crc32fast::Hasher::new();
    hasher.update(&h[..20]);
    hasher.update(&data[meta_at..end]);
    if hasher.finalize() != crc {
        return None;
    }
    Some((
        Parsed {
            kind,
            meta: &data[meta_at..body_at],
            body_at: body_at as u64,
            body_len,
        },
        end,
    ))
}

/// Where a message's bytes are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Location {
    segment: u64,
    at: u64,
    len: u64,
}

#[derive(Debug)]
struct Live {
    entry: SpoolEntry,
    loc: Location,
}

#[derive(Debug)]
struct Segment {
    file: Arc<File>,
    bytes: u64,
    /// Bytes of the store records of live messages.
    live_bytes: u64,
    live: usize,
    sealed: Option<Instant>,
}

/// What the owner knows: every live message and every segment.
#[derive(Debug, Default)]
struct Index {
    messages: HashMap<String, Live>,
    segments: BTreeMap<u64, Segment>,
}

impl Index {
    fn forget(&mut self, id: &str) {
        if let Some(old) = self.messages.remove(id)
            && let Some(seg) = self.segments.get_mut(&old.loc.segment)
        {
            seg.live = seg.live.saturating_sub(1);
            seg.live_bytes = seg.live_bytes.saturating_sub(old.loc.len);
        }
    }

    fn place(&mut self, entry: SpoolEntry, loc: Location) {
        self.forget(&entry.id);
        if let Some(seg) = self.segments.get_mut(&loc.segment) {
            seg.live += 1;
            seg.live_bytes += loc.len;
        }
        self.messages.insert(entry.id.clone(), Live { entry, loc });
    }
}

/// Replays every segment in `dir` into an index (files opened read-only).
fn replay(dir: &Path, problems: &mut Vec<String>) -> io::Result<Index> {
    let mut index = Index::default();
    for (seq, path) in segments(dir)? {
        // One open: read now, kept for reading messages later.
        let mut file = match File::open(&path) {
            Ok(f) => f,
            // Deleted by the owner while we listed: its messages moved on.
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e),
        };
        let mut data = Vec::new();
        if let Err(e) = file.read_to_end(&mut data) {
            problems.push(format!("{}: {e}", path.display()));
            continue;
        }
        index.segments.insert(
            seq,
            Segment {
                file: Arc::new(file),
                bytes: data.len() as u64,
                live_bytes: 0,
                live: 0,
                sealed: Some(Instant::now()),
            },
        );
        let name = path.display().to_string();
        for Parsed {
            kind,
            meta,
            body_at,
            body_len,
        } in parse_segment(&data, problems, &name)
        {
            match kind {
                KIND_STORE | KIND_UPDATE => {
                    let entry: SpoolEntry = match serde_json::from_slice(meta) {
                        Ok(e) => e,
                        Err(e) => {
                            problems.push(format!("{name}: a record's state is unreadable: {e}"));
                            continue;
                        }
                    };
                    if kind == KIND_STORE {
                        let loc = Location {
                            segment: seq,
                            at: body_at,
                            len: body_len,
                        };
                        index.place(entry, loc);
                    } else if let Some(live) = index.messages.get_mut(&entry.id) {
                        live.entry = entry;
                    }
                }
                _ => {
                    if let Ok(id) = std::str::from_utf8(meta) {
                        index.forget(id);
                    }
                }
            }
        }
    }
    Ok(index)
}

fn read_at(file: &File, loc: Location) -> io::Result<Vec<u8>> {
    let len = usize::try_from(loc.len).map_err(io::Error::other)?;
    let mut buf = vec![0; len];
    file.read_exact_at(&mut buf, loc.at)?;
    Ok(buf)
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

/// The writer thread's state.
struct Writer {
    dir: PathBuf,
    index: Arc<Mutex<Index>>,
    /// The active segment: its number, file and length.
    active: Option<(u64, Arc<File>, u64)>,
    next_seq: u64,
    tuning: Tuning,
    /// Records written but not yet fsync'd (removals only).
    unsynced: bool,
    buf: Vec<u8>,
    /// Held while the writer runs: the one process that owns the spool.
    _lock: File,
}

impl Writer {
    /// Takes messages of the earlier layout (`ID.json` + `ID.eml`) into the
    /// log, each removed only once its record is durable; interrupted
    /// writes of that layout are removed.
    fn migrate(&mut self) -> io::Result<()> {
        let dir = self.dir.clone();
        let mut found = Vec::new();
        for item in fs::read_dir(&dir)? {
            let path = item?.path();
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
            if name.ends_with(".json.tmp") {
                fs::remove_file(&path)?;
            } else if let Some(id) = name.strip_suffix(".eml") {
                if !dir.join(format!("{id}.json")).exists() {
                    fs::remove_file(&path)?;
                }
            } else if let Some(id) = name.strip_suffix(".json")
                && valid_id(id)
            {
                found.push(id.to_string());
            }
        }
        for id in found {
            let json = dir.join(format!("{id}.json"));
            let eml = dir.join(format!("{id}.eml"));
            let entry: SpoolEntry = match fs::read(&json)
                .map_err(|e| e.to_string())
                .and_then(|b| serde_json::from_slice(&b).map_err(|e| e.to_string()))
            {
                Ok(e) => e,
                Err(e) => {
                    tracing::warn!(file = %json.display(), error = %e, "old spool entry unreadable; left in place");
                    continue;
                }
            };
            let message = match fs::read(&eml) {
                Ok(m) => m,
                Err(e) => {
                    tracing::warn!(file = %eml.display(), error = %e, "old spool message unreadable; left in place");
                    continue;
                }
            };
            let batch = [Request {
                op: Op::Store {
                    entry,
                    message: Arc::new(message),
                },
                done: None,
            }];
            let placed = self.write_batch(&batch)?;
            self.apply(&batch, placed);
            fs::remove_file(&json)?;
            let _ = fs::remove_file(&eml);
        }
        Ok(())
    }

    fn run(mut self, rx: mpsc::Receiver<Request>) {
        loop {
            let first = match rx.recv_timeout(IDLE_SYNC) {
                Ok(r) => r,
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    if self.unsynced {
                        self.sync_only();
                    }
                    self.maintain();
                    continue;
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    if self.unsynced {
                        self.sync_only();
                    }
                    return;
                }
            };
            let mut batch = vec![first];
            let mut size = 0usize;
            while size < BATCH_BYTES {
                match rx.try_recv() {
                    Ok(r) => {
                        if let Op::Store { message, .. } = &r.op {
                            size += message.len();
                        }
                        batch.push(r);
                    }
                    Err(_) => break,
                }
            }
            self.commit(batch);
            self.maintain();
        }
    }

    fn sync_only(&mut self) {
        if let Some((_, file, _)) = &self.active {
            match file.sync_data() {
                Ok(()) => self.unsynced = false,
                Err(e) => {
                    tracing::warn!(error = %e, "spool fsync failed; starting a new segment");
                    self.abandon_active();
                }
            }
        }
    }

    /// Begins a new active segment (and seals the old one).
    fn roll(&mut self) -> io::Result<()> {
        let seq = self.next_seq;
        let path = self.dir.join(segment_name(seq));
        let file = OpenOptions::new()
            .create_new(true)
            .read(true)
            .append(true)
            .open(&path)?;
        // The new name must be on disk before any record in it is trusted.
        fsync_dir(&self.dir)?;
        self.next_seq += 1;
        let file = Arc::new(file);
        let mut index = lock_index(&self.index)?;
        if let Some((old, _, _)) = &self.active
            && let Some(seg) = index.segments.get_mut(old)
        {
            seg.sealed = Some(Instant::now());
        }
        index.segments.insert(
            seq,
            Segment {
                file: file.clone(),
                bytes: 0,
                live_bytes: 0,
                live: 0,
                sealed: None,
            },
        );
        self.active = Some((seq, file, 0));
        self.unsynced = false;
        Ok(())
    }

    /// Writes a batch as one append and one fsync, then applies it to the
    /// index and answers every request.
    fn commit(&mut self, batch: Vec<Request>) {
        let result = self.write_batch(&batch);
        match result {
            Ok(placed) => {
                self.apply(&batch, placed);
                for req in batch {
                    if let Some(done) = req.done {
                        let _ = done.send(Ok(()));
                    }
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, records = batch.len(), "spool write failed");
                for req in batch {
                    if let Some(done) = req.done {
                        let _ = done.send(Err(io::Error::new(e.kind(), e.to_string())));
                    }
                }
            }
        }
    }

    /// Makes a written batch visible in the index.
    fn apply(&self, batch: &[Request], placed: Vec<Option<Location>>) {
        let Ok(mut index) = lock_index(&self.index) else {
            return;
        };
        for (req, loc) in batch.iter().zip(placed) {
            match (&req.op, loc) {
                (Op::Store { entry, .. }, Some(loc)) => index.place(entry.clone(), loc),
                (Op::Update(entry), _) => {
                    if let Some(live) = index.messages.get_mut(&entry.id) {
                        live.entry = entry.clone();
                    }
                }
                _ => {}
            }
        }
    }

    /// Stops appending to the active segment (after a failed write).
    fn abandon_active(&mut self) {
        if let Some((seq, _, _)) = self.active.take()
            && let Ok(mut index) = lock_index(&self.index)
            && let Some(seg) = index.segments.get_mut(&seq)
        {
            seg.sealed = Some(Instant::now());
        }
    }

    /// Appends the batch; returns where each store's bytes went.
    fn write_batch(&mut self, batch: &[Request]) -> io::Result<Vec<Option<Location>>> {
        if self
            .active
            .as_ref()
            .is_none_or(|(_, _, len)| *len >= self.tuning.segment_bytes)
        {
            self.roll()?;
        }
        let Some((seq, file, start)) = self.active.clone() else {
            return Err(io::Error::other("no active spool segment"));
        };
        self.buf.clear();
        let mut placed = Vec::with_capacity(batch.len());
        let mut must_sync = false;
        for req in batch {
            match &req.op {
                Op::Store { entry, message } => {
                    let meta = serde_json::to_vec(entry).map_err(io::Error::other)?;
                    let at = start + (self.buf.len() + HEADER_LEN + meta.len()) as u64;
                    frame(&mut self.buf, KIND_STORE, &meta, message);
                    placed.push(Some(Location {
                        segment: seq,
                        at,
                        len: message.len() as u64,
                    }));
                    must_sync = true;
                }
                Op::Update(entry) => {
                    let meta = serde_json::to_vec(entry).map_err(io::Error::other)?;
                    frame(&mut self.buf, KIND_UPDATE, &meta, &[]);
                    placed.push(None);
                    must_sync = true;
                }
                Op::Remove(id) => {
                    frame(&mut self.buf, KIND_REMOVE, id.as_bytes(), &[]);
                    placed.push(None);
                }
            }
        }
        // Removals alone are not worth an fsync; anything else makes the
        // whole batch durable, earlier unsynced removals with it.
        let sync = must_sync || self.unsynced;
        let written = (&*file)
            .write_all(&self.buf)
            .and_then(|()| if sync { file.sync_data() } else { Ok(()) });
        if let Err(e) = written {
            // Cut the partial write off so the segment ends on a whole
            // record; if even that fails, never append to it again.
            if file.set_len(start).is_err() || e.kind() != io::ErrorKind::StorageFull {
                self.abandon_active();
            }
            return Err(e);
        }
        self.unsynced = !sync && !self.buf.is_empty();
        let end = start + self.buf.len() as u64;
        self.active = Some((seq, file, end));
        if let Ok(mut index) = lock_index(&self.index)
            && let Some(seg) = index.segments.get_mut(&seq)
        {
            seg.bytes = end;
        }
        // A very large message leaves no lasting buffer behind.
        if self.buf.capacity() > BATCH_BYTES {
            self.buf = Vec::new();
        }
        Ok(placed)
    }

    /// Deletes sealed segments that hold nothing live (oldest first), and
    /// copies forward what keeps the oldest alive when that frees more
    /// than it writes.
    fn maintain(&mut self) {
        let active = self.active.as_ref().map(|(s, _, _)| *s);
        loop {
            let (seq, path, live, live_bytes, sealed) = {
                let Ok(index) = lock_index(&self.index) else {
                    return;
                };
                let Some((seq, seg)) = index.segments.iter().next() else {
                    return;
                };
                if Some(*seq) == active {
                    return;
                }
                (
                    *seq,
                    self.dir.join(segment_name(*seq)),
                    seg.live,
                    seg.live_bytes,
                    seg.sealed,
                )
            };
            if live == 0 {
                // Oldest first: a remove record (here or later) is never
                // deleted while the store it cancels is still on disk.
                match fs::remove_file(&path) {
                    Ok(()) => {}
                    Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                    Err(e) => {
                        tracing::warn!(error = %e, segment = %path.display(), "cannot delete spool segment");
                        return;
                    }
                }
                if let Ok(mut index) = lock_index(&self.index) {
                    index.segments.remove(&seq);
                }
                continue;
            }
            let reclaimable: u64 = {
                let Ok(index) = lock_index(&self.index) else {
                    return;
                };
                index
                    .segments
                    .values()
                    .filter(|s| s.sealed.is_some())
                    .map(|s| s.bytes.saturating_sub(s.live_bytes))
                    .sum()
            };
            let old_enough = sealed.is_some_and(|t| t.elapsed() >= self.tuning.relocate_after);
            if old_enough && reclaimable > live_bytes {
                if let Err(e) = self.relocate(seq) {
                    tracing::warn!(error = %e, "cannot copy spooled messages forward");
                    return;
                }
                continue;
            }
            return;
        }
    }

    /// Copies the live messages of segment `seq` into the active segment.
    fn relocate(&mut self, seq: u64) -> io::Result<()> {
        let moving: Vec<(SpoolEntry, Arc<File>, Location)> = {
            let index = lock_index(&self.index)?;
            let Some(seg) = index.segments.get(&seq) else {
                return Ok(());
            };
            index
                .messages
                .values()
                .filter(|l| l.loc.segment == seq)
                .map(|l| (l.entry.clone(), seg.file.clone(), l.loc))
                .collect()
        };
        for chunk in moving.chunks(64) {
            let mut batch = Vec::with_capacity(chunk.len());
            for (entry, file, loc) in chunk {
                batch.push(Request {
                    op: Op::Store {
                        entry: entry.clone(),
                        message: Arc::new(read_at(file, *loc)?),
                    },
                    done: None,
                });
            }
            let placed = self.write_batch(&batch)?;
            let mut index = lock_index(&self.index)?;
            for (req, loc) in batch.into_iter().zip(placed) {
                if let (Op::Store { entry, .. }, Some(loc)) = (req.op, loc) {
                    // Removed while we copied: it stays removed (its remove
                    // record follows this store in the log).
                    if let Some(current) = index.messages.get(&entry.id) {
                        let current = current.entry.clone();
                        index.place(current, loc);
                    }
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(id: &str) -> SpoolEntry {
        SpoolEntry {
            id: id.into(),
            mail_from: "a@b.org".into(),
            recipients: vec![Recipient {
                address: "c@d.org".into(),
                state: RecipientState::Pending,
                last_error: None,
            }],
            created: 0,
            attempts: 0,
            next_attempt: 0,
            message_id: None,
            received: None,
            detail: None,
        }
    }

    fn bytes(s: &[u8]) -> Arc<Vec<u8>> {
        Arc::new(s.to_vec())
    }

    #[tokio::test]
    async fn store_list_update_remove() {
        let dir = tempfile::tempdir().expect("tempdir");
        let spool = Spool::open(dir.path()).expect("open");
        let id = new_id();
        spool
            .store(entry(&id), bytes(b"hello\r\n"))
            .await
            .expect("store");
        let (list, problems) = spool.list().expect("list");
        assert_eq!(list.len(), 1);
        assert!(problems.is_empty());
        let mut e = list[0].clone();
        e.attempts = 3;
        spool.update(e).await.expect("update");
        assert_eq!(spool.entry(&id).expect("entry").attempts, 3);
        assert_eq!(spool.message(&id).expect("msg"), b"hello\r\n");
        spool.remove(&id).expect("remove");
        assert!(spool.list().expect("list").0.is_empty());
    }

    #[tokio::test]
    async fn a_restart_finds_what_was_stored_with_its_last_state_and_not_what_was_removed() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (kept, gone) = (new_id(), new_id());
        {
            let spool = Spool::open(dir.path()).expect("open");
            spool
                .store(entry(&kept), bytes(b"kept\r\n"))
                .await
                .expect("store");
            spool
                .store(entry(&gone), bytes(b"gone\r\n"))
                .await
                .expect("store");
            let mut e = entry(&kept);
            e.attempts = 2;
            spool.update(e).await.expect("update");
            spool.remove(&gone).expect("remove");
            // A later durable write carries the removal with it.
            spool
                .store(entry(&new_id()), bytes(b"x\r\n"))
                .await
                .expect("store");
        }
        // The writer thread ends when the last handle is dropped; the lock
        // goes with the handle.
        let spool = reopen(dir.path());
        assert_eq!(spool.entry(&kept).expect("kept").attempts, 2);
        assert_eq!(spool.message(&kept).expect("msg"), b"kept\r\n");
        assert!(spool.entry(&gone).is_err(), "removed stays removed");
        let reader = Spool::open_shared(dir.path()).expect("shared");
        assert_eq!(reader.list().expect("list").0.len(), 2);
        assert_eq!(reader.message(&kept).expect("msg"), b"kept\r\n");
    }

    /// The number of segments once the writer has tidied up (it does so
    /// after answering), waiting up to a second for it to reach `want`.
    async fn segments_settle_at(dir: &Path, want: usize) -> usize {
        let mut n = usize::MAX;
        for _ in 0..100 {
            n = segments(dir).expect("segments").len();
            if n <= want {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        n
    }

    /// Opening right after a drop can race the writer thread's exit only
    /// for the lock, which is released with the last handle.
    fn reopen(dir: &Path) -> Spool {
        for _ in 0..100 {
            match Spool::open(dir) {
                Ok(s) => return s,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    std::thread::sleep(Duration::from_millis(10))
                }
                Err(e) => panic!("reopen: {e}"),
            }
        }
        panic!("spool still locked")
    }

    #[tokio::test]
    async fn a_torn_or_damaged_record_is_skipped_and_the_rest_is_read() {
        let dir = tempfile::tempdir().expect("tempdir");
        let ids: Vec<String> = (0..3).map(|_| new_id()).collect();
        {
            let spool = Spool::open(dir.path()).expect("open");
            for id in &ids {
                spool
                    .store(entry(id), bytes(b"body\r\n"))
                    .await
                    .expect("store");
            }
        }
        let (_, path) = segments(dir.path())
            .expect("segments")
            .into_iter()
            .rev()
            .find(|(_, p)| fs::metadata(p).map(|m| m.len() > 0).unwrap_or(false))
            .expect("a segment with records");
        let mut data = fs::read(&path).expect("read");
        // Damage the first record's state and tear the last one's end.
        data[HEADER_LEN + 2] ^= 0xff;
        data.truncate(data.len() - 3);
        fs::write(&path, &data).expect("write");
        let reader = Spool::open_shared(dir.path()).expect("shared");
        let (list, problems) = reader.list().expect("list");
        assert_eq!(list.len(), 1, "only the whole, undamaged record");
        assert_eq!(list[0].id, ids[1]);
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(problems[0].contains("damaged"), "{problems:?}");
    }

    #[tokio::test]
    async fn the_earlier_layout_is_taken_into_the_log_and_interrupted_writes_removed() {
        let dir = tempfile::tempdir().expect("tempdir");
        let id = new_id();
        fs::write(
            dir.path().join(format!("{id}.json")),
            serde_json::to_vec(&entry(&id)).expect("json"),
        )
        .expect("write");
        fs::write(dir.path().join(format!("{id}.eml")), b"old\r\n").expect("write");
        fs::write(dir.path().join("abc.eml"), b"half").expect("write");
        fs::write(dir.path().join("abc.json.tmp"), b"{").expect("write");
        let spool = Spool::open(dir.path()).expect("open");
        assert_eq!(spool.message(&id).expect("migrated"), b"old\r\n");
        for name in [
            format!("{id}.json"),
            format!("{id}.eml"),
            "abc.eml".into(),
            "abc.json.tmp".into(),
        ] {
            assert!(!dir.path().join(&name).exists(), "{name} removed");
        }
        assert_eq!(spool.len().expect("len"), 1);
    }

    #[test]
    fn a_second_owner_is_refused_but_readers_are_not() {
        let dir = tempfile::tempdir().expect("tempdir");
        let _owner = Spool::open(dir.path()).expect("open");
        let e = Spool::open(dir.path()).expect_err("second owner");
        assert!(e.to_string().contains("in use"), "{e}");
        let reader = Spool::open_shared(dir.path()).expect("shared");
        assert!(reader.list().expect("list").0.is_empty());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_stores_share_fsyncs_and_all_complete() {
        let dir = tempfile::tempdir().expect("tempdir");
        let spool = Spool::open(dir.path()).expect("open");
        let mut tasks = Vec::new();
        for _ in 0..16 {
            let s = spool.clone();
            tasks.push(tokio::spawn(async move {
                for _ in 0..10 {
                    s.store(entry(&new_id()), bytes(b"x\r\n"))
                        .await
                        .expect("store");
                }
            }));
        }
        for t in tasks {
            t.await.expect("join");
        }
        assert_eq!(spool.list().expect("list").0.len(), 160);
        let reader = Spool::open_shared(dir.path()).expect("shared");
        assert_eq!(reader.len().expect("len"), 160, "all on disk");
    }

    #[tokio::test]
    async fn segments_roll_and_dead_ones_are_deleted_oldest_first() {
        let dir = tempfile::tempdir().expect("tempdir");
        let tuning = Tuning {
            segment_bytes: 1024,
            ..Tuning::default()
        };
        let spool = Spool::open_with(dir.path(), tuning).expect("open");
        // Each store fills a segment, so each begins a new one.
        let body = bytes(&[b'a'; 1100]);
        let ids: Vec<String> = (0..6).map(|_| new_id()).collect();
        for id in &ids {
            spool.store(entry(id), body.clone()).await.expect("store");
        }
        let before = segments(dir.path()).expect("segments").len();
        assert_eq!(before, 6, "rolled");
        // Keep the first message; the rest are delivered.
        for id in &ids[1..] {
            spool.remove(id).expect("remove");
        }
        spool
            .store(entry(&new_id()), bytes(b"y\r\n"))
            .await
            .expect("store");
        // The oldest still holds a live message, so nothing after it may go.
        assert_eq!(segments(dir.path()).expect("segments").len(), before + 1);
        spool.remove(&ids[0]).expect("remove");
        spool
            .store(entry(&new_id()), bytes(b"z\r\n"))
            .await
            .expect("store");
        let after = segments_settle_at(dir.path(), 1).await;
        assert_eq!(after, 1, "dead segments deleted, the active one kept");
        assert_eq!(spool.len().expect("len"), 2);
        drop(spool);
        let spool = reopen(dir.path());
        assert_eq!(spool.len().expect("len"), 2, "the same after a restart");
    }

    #[tokio::test]
    async fn a_long_deferred_message_is_copied_forward_so_old_segments_can_go() {
        let dir = tempfile::tempdir().expect("tempdir");
        let tuning = Tuning {
            segment_bytes: 1024,
            relocate_after: Duration::ZERO,
        };
        let spool = Spool::open_with(dir.path(), tuning).expect("open");
        let deferred = new_id();
        let mut e = entry(&deferred);
        e.attempts = 4;
        spool.store(e, bytes(b"deferred\r\n")).await.expect("store");
        // Enough delivered mail behind it to fill several segments.
        for _ in 0..6 {
            let id = new_id();
            spool
                .store(entry(&id), bytes(&[b'a'; 1100]))
                .await
                .expect("store");
            spool.remove(&id).expect("remove");
        }
        spool
            .store(entry(&new_id()), bytes(b"last\r\n"))
            .await
            .expect("store");
        let left = segments_settle_at(dir.path(), 2).await;
        assert!(left <= 2, "old segments deleted: {left} left");
        assert_eq!(spool.message(&deferred).expect("moved"), b"deferred\r\n");
        assert_eq!(spool.entry(&deferred).expect("entry").attempts, 4);
        drop(spool);
        let spool = reopen(dir.path());
        assert_eq!(
            spool.message(&deferred).expect("after restart"),
            b"deferred\r\n"
        );
        assert_eq!(
            spool.entry(&deferred).expect("entry").attempts,
            4,
            "its state moved too"
        );
        assert_eq!(spool.len().expect("len"), 2);
    }

    #[test]
    fn path_traversal_ids_are_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let spool = Spool::open(dir.path()).expect("open");
        assert!(spool.message("../etc/passwd").is_err());
        assert!(spool.remove("../x").is_err());
    }
}

//! A durable spool folder: one message is `ID.eml` (the bytes) plus
//! `ID.json` (envelope and per-recipient state).
//!
//! Commit order makes a crash at any point safe: the `.eml` is written and
//! fsync'd first, then the `.json` is written to a temporary name, fsync'd,
//! renamed into place, and the folder fsync'd. A message exists once its
//! `.json` does; a lone `.eml` is an interrupted write, never acknowledged,
//! and is removed when the spool is opened. Updates replace the `.json`
//! the same way, so a reader sees the old state or the new, never half.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::envelope::Envelope;

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

/// The `.json` half of a spooled message.
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

#[derive(Debug, Clone)]
pub struct Spool {
    dir: PathBuf,
    /// Held by the one process that owns (writes and recovers) the spool.
    _lock: Option<std::sync::Arc<File>>,
    syncer: std::sync::Arc<DirSync>,
}

/// Group commit for the spool folder: every writer must know its rename is
/// on disk before it answers 250, but concurrent writers can share one
/// fsync of the folder. A writer waits for an fsync that *started after*
/// its rename; whoever finds none running starts one for everybody.
#[derive(Debug, Default)]
struct DirSync {
    state: std::sync::Mutex<SyncState>,
    done: std::sync::Condvar,
}

#[derive(Debug, Default)]
struct SyncState {
    /// Renames registered so far.
    requested: u64,
    /// All renames up to this number are known to be on disk.
    completed: u64,
    running: bool,
}

impl DirSync {
    fn sync(&self, dir: &Path) -> io::Result<()> {
        fn lock(
            m: &std::sync::Mutex<SyncState>,
        ) -> io::Result<std::sync::MutexGuard<'_, SyncState>> {
            m.lock()
                .map_err(|_| io::Error::other("spool sync lock poisoned"))
        }
        let mine = {
            let mut s = lock(&self.state)?;
            s.requested += 1;
            s.requested
        };
        let mut s = lock(&self.state)?;
        loop {
            if s.completed >= mine {
                return Ok(());
            }
            if !s.running {
                s.running = true;
                let target = s.requested;
                drop(s);
                let result = fsync_dir(dir);
                s = lock(&self.state)?;
                s.running = false;
                if result.is_ok() {
                    s.completed = s.completed.max(target);
                }
                self.done.notify_all();
                result?;
                continue;
            }
            s = self
                .done
                .wait(s)
                .map_err(|_| io::Error::other("spool sync lock poisoned"))?;
        }
    }
}

/// The lock file in a spool folder that marks its owner.
pub const LOCK_FILE: &str = ".lock";

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

fn fsync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

fn write_synced(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut f = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(path)?;
    f.write_all(bytes)?;
    f.sync_all()
}

impl Spool {
    /// Opens the folder to read it (`queue list`) without taking ownership:
    /// nothing is cleaned up, so a running gateway is never disturbed.
    pub fn open_shared(dir: impl Into<PathBuf>) -> io::Result<Self> {
        let dir = dir.into();
        fs::create_dir_all(&dir)?;
        Ok(Spool {
            dir,
            _lock: None,
            syncer: Default::default(),
        })
    }

    /// Opens (creating) the folder as its one owner and removes interrupted
    /// writes. Fails when another process owns it.
    pub fn open(dir: impl Into<PathBuf>) -> io::Result<Self> {
        let dir = dir.into();
        fs::create_dir_all(&dir)?;
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(dir.join(LOCK_FILE))?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(fs::TryLockError::WouldBlock) => {
                return Err(io::Error::new(
                    io::ErrorKind::WouldBlock,
                    format!("{} is in use by another councilgate process", dir.display()),
                ));
            }
            Err(fs::TryLockError::Error(e)) => return Err(e),
        }
        let spool = Spool {
            dir,
            _lock: Some(std::sync::Arc::new(lock)),
            syncer: Default::default(),
        };
        for entry in fs::read_dir(&spool.dir)? {
            let path = entry?.path();
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
            if name.ends_with(".json.tmp") {
                fs::remove_file(&path)?;
            } else if let Some(id) = name.strip_suffix(".eml")
                && !spool.meta_path(id).exists()
            {
                fs::remove_file(&path)?;
            }
        }
        Ok(spool)
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn meta_path(&self, id: &str) -> PathBuf {
        self.dir.join(format!("{id}.json"))
    }

    pub fn message_path(&self, id: &str) -> PathBuf {
        self.dir.join(format!("{id}.eml"))
    }

    /// Stores a new message durably. Returns only once both files and the
    /// folder entry are on disk.
    pub fn store(&self, entry: &SpoolEntry, message: &[u8]) -> io::Result<()> {
        if !valid_id(&entry.id) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "bad message id",
            ));
        }
        write_synced(&self.message_path(&entry.id), message)?;
        self.write_meta(entry)
    }

    /// Replaces a message's state atomically.
    pub fn update(&self, entry: &SpoolEntry) -> io::Result<()> {
        self.write_meta(entry)
    }

    fn write_meta(&self, entry: &SpoolEntry) -> io::Result<()> {
        let json = serde_json::to_vec_pretty(entry).map_err(io::Error::other)?;
        let tmp = self.dir.join(format!("{}.json.tmp", entry.id));
        write_synced(&tmp, &json)?;
        fs::rename(&tmp, self.meta_path(&entry.id))?;
        self.syncer.sync(&self.dir)
    }

    /// Removes a message: the `.json` first, so a crash leaves at worst an
    /// orphan `.eml` that the next open cleans up. The folder is not
    /// fsync'd: a removal lost in a crash means a message delivered again
    /// (at least once), never one lost.
    pub fn remove(&self, id: &str) -> io::Result<()> {
        if !valid_id(id) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "bad message id",
            ));
        }
        match fs::remove_file(self.meta_path(id)) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        match fs::remove_file(self.message_path(id)) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e),
        }
    }

    pub fn entry(&self, id: &str) -> io::Result<SpoolEntry> {
        if !valid_id(id) {
            return Err(io::Error::new(io::ErrorKind::NotFound, "no such message"));
        }
        let bytes = fs::read(self.meta_path(id))?;
        serde_json::from_slice(&bytes)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, format!("{id}.json: {e}")))
    }

    pub fn message(&self, id: &str) -> io::Result<Vec<u8>> {
        if !valid_id(id) {
            return Err(io::Error::new(io::ErrorKind::NotFound, "no such message"));
        }
        fs::read(self.message_path(id))
    }

    /// Every committed message, oldest first. Unreadable entries are
    /// reported, not dropped silently.
    pub fn list(&self) -> io::Result<(Vec<SpoolEntry>, Vec<String>)> {
        let mut entries = Vec::new();
        let mut problems = Vec::new();
        for item in fs::read_dir(&self.dir)? {
            let path = item?.path();
            let Some(id) = path
                .file_name()
                .and_then(|n| n.to_str())
                .and_then(|n| n.strip_suffix(".json"))
            else {
                continue;
            };
            match self.entry(id) {
                Ok(e) => entries.push(e),
                Err(e) => problems.push(format!("{}: {e}", path.display())),
            }
        }
        entries.sort_by(|a, b| a.id.cmp(&b.id));
        Ok((entries, problems))
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

    #[test]
    fn store_list_update_remove() {
        let dir = tempfile::tempdir().expect("tempdir");
        let spool = Spool::open(dir.path()).expect("open");
        let id = new_id();
        spool.store(&entry(&id), b"hello\r\n").expect("store");
        let (list, problems) = spool.list().expect("list");
        assert_eq!(list.len(), 1);
        assert!(problems.is_empty());
        let mut e = list[0].clone();
        e.attempts = 3;
        spool.update(&e).expect("update");
        assert_eq!(spool.entry(&id).expect("entry").attempts, 3);
        assert_eq!(spool.message(&id).expect("msg"), b"hello\r\n");
        spool.remove(&id).expect("remove");
        assert!(spool.list().expect("list").0.is_empty());
    }

    #[test]
    fn interrupted_write_is_cleaned_on_open() {
        let dir = tempfile::tempdir().expect("tempdir");
        fs::write(dir.path().join("abc.eml"), b"half").expect("write");
        fs::write(dir.path().join("abc.json.tmp"), b"{").expect("write");
        let spool = Spool::open(dir.path()).expect("open");
        assert!(!dir.path().join("abc.eml").exists());
        assert!(!dir.path().join("abc.json.tmp").exists());
        assert!(spool.list().expect("list").0.is_empty());
    }

    #[test]
    fn a_second_owner_is_refused_but_readers_are_not() {
        let dir = tempfile::tempdir().expect("tempdir");
        let _owner = Spool::open(dir.path()).expect("open");
        let e = Spool::open(dir.path()).expect_err("second owner");
        assert!(e.to_string().contains("in use"), "{e}");
        // A reader does not clean up what the owner is writing.
        fs::write(dir.path().join("abc.eml"), b"in progress").expect("write");
        let reader = Spool::open_shared(dir.path()).expect("shared");
        assert!(reader.list().expect("list").0.is_empty());
        assert!(dir.path().join("abc.eml").exists());
    }

    #[test]
    fn concurrent_commits_share_folder_fsyncs_and_all_complete() {
        let dir = tempfile::tempdir().expect("tempdir");
        let spool = Spool::open(dir.path()).expect("open");
        let threads: Vec<_> = (0..16)
            .map(|_| {
                let s = spool.clone();
                std::thread::spawn(move || {
                    for _ in 0..10 {
                        s.store(&entry(&new_id()), b"x\r\n").expect("store");
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().expect("join");
        }
        assert_eq!(spool.list().expect("list").0.len(), 160);
        let st = spool.syncer.state.lock().expect("lock");
        assert_eq!(
            st.completed, st.requested,
            "every commit was covered by a folder fsync"
        );
    }

    #[test]
    fn path_traversal_ids_are_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let spool = Spool::open(dir.path()).expect("open");
        assert!(spool.message("../etc/passwd").is_err());
        assert!(spool.store(&entry("../x"), b"x").is_err());
    }
}

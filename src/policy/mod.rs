//! The protocol policy: who may write to whom and how, as data.
//!
//! A [`Snapshot`] is the directory and rules compiled once into an
//! immutable value; the gateway holds it in a [`PolicyHandle`] and swaps a
//! new one in atomically, so every message is judged wholly by one snapshot
//! and each verdict records that snapshot's version.

pub mod directory;
pub mod verdict;

use std::sync::Arc;

use arc_swap::ArcSwap;
use chrono::{DateTime, Utc};

use crate::envelope::Envelope;
pub use directory::Directory;
pub use verdict::{Decision, Verdict};

/// Directory and rules compiled for evaluation.
#[derive(Debug)]
pub struct Snapshot {
    /// A hash of the configuration text it was built from.
    pub version: String,
    pub directory: Directory,
}

#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    #[error(transparent)]
    Directory(#[from] directory::DirectoryError),
}

/// A short content hash identifying a configuration.
pub fn version_of(parts: &[&[u8]]) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    for p in parts {
        h.update((p.len() as u64).to_le_bytes());
        h.update(p);
    }
    hex::encode(&h.finalize()[..6])
}

impl Snapshot {
    pub fn new(directory: Directory, version: String) -> Self {
        Snapshot { version, directory }
    }

    /// Compiles the policy in a config folder (`directory.toml`).
    pub fn load(dir: &std::path::Path) -> Result<Self, PolicyError> {
        let path = dir.join(directory::DIRECTORY_FILE);
        let text = std::fs::read_to_string(&path).map_err(|e| directory::DirectoryError {
            file: path.display().to_string(),
            detail: format!("cannot read: {e}"),
        })?;
        let directory = Directory::parse(&text, &path.display().to_string())?;
        Ok(Snapshot::new(directory, version_of(&[text.as_bytes()])))
    }

    /// Judges one message. Pure: no I/O, no clock but `now`.
    pub fn evaluate(&self, envelope: &Envelope, _message: &[u8], _now: DateTime<Utc>) -> Verdict {
        Verdict::deliver_unchanged(envelope, &self.version)
    }
}

/// The live snapshot, swapped atomically on reload.
pub struct PolicyHandle(ArcSwap<Snapshot>);

impl PolicyHandle {
    pub fn new(snapshot: Snapshot) -> Self {
        PolicyHandle(ArcSwap::from_pointee(snapshot))
    }
    pub fn load(&self) -> Arc<Snapshot> {
        self.0.load_full()
    }
    pub fn store(&self, snapshot: Snapshot) {
        self.0.store(Arc::new(snapshot));
    }
}

//! What the owner keeps in memory: every live message (its state and
//! where its bytes are) and every segment.

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::sync::Arc;
use std::time::Instant;

use super::*;

/// Where a message's bytes are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Location {
    pub(super) segment: u64,
    pub(super) at: u64,
    pub(super) len: u64,
}

#[derive(Debug)]
pub(super) struct Live {
    pub(super) entry: SpoolEntry,
    pub(super) loc: Location,
}

#[derive(Debug)]
pub(super) struct Segment {
    pub(super) file: Arc<File>,
    pub(super) bytes: u64,
    /// Bytes of the store records of live messages.
    pub(super) live_bytes: u64,
    pub(super) live: usize,
    pub(super) sealed: Option<Instant>,
}

/// What the owner knows: every live message and every segment.
#[derive(Debug, Default)]
pub(super) struct Index {
    pub(super) messages: HashMap<String, Live>,
    pub(super) segments: BTreeMap<u64, Segment>,
}

impl Index {
    pub(super) fn forget(&mut self, id: &str) {
        if let Some(old) = self.messages.remove(id)
            && let Some(seg) = self.segments.get_mut(&old.loc.segment)
        {
            seg.live = seg.live.saturating_sub(1);
            seg.live_bytes = seg.live_bytes.saturating_sub(old.loc.len);
        }
    }

    pub(super) fn place(&mut self, entry: SpoolEntry, loc: Location) {
        self.forget(&entry.id);
        if let Some(seg) = self.segments.get_mut(&loc.segment) {
            seg.live += 1;
            seg.live_bytes += loc.len;
        }
        self.messages.insert(entry.id.clone(), Live { entry, loc });
    }
}

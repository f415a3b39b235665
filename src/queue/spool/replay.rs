//! Reading a spool folder back into an index: every segment, oldest
//! first, each opened once.

use std::fs::File;
use std::io::{self, Read};
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use super::*;

/// Replays every segment in `dir` into an index (files opened read-only).
pub(super) fn replay(dir: &Path, problems: &mut Vec<String>) -> io::Result<Index> {
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

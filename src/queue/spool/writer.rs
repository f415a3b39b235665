//! The writer thread: group commit (one write and one `fdatasync` per
//! batch), rolling segments, deleting dead ones, copying long-deferred
//! messages forward, and taking in the old layout.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, mpsc};
use std::time::Instant;

use super::*;

/// The writer thread's state.
pub(super) struct Writer {
    pub(super) dir: PathBuf,
    pub(super) index: Arc<Mutex<Index>>,
    /// The active segment: its number, file and length.
    pub(super) active: Option<(u64, Arc<File>, u64)>,
    pub(super) next_seq: u64,
    pub(super) tuning: Tuning,
    /// Records written but not yet fsync'd (removals only).
    pub(super) unsynced: bool,
    pub(super) buf: Vec<u8>,
    /// Held while the writer runs: the one process that owns the spool.
    pub(super) _lock: File,
}

impl Writer {
    /// Takes messages of the earlier layout (`ID.json` + `ID.eml`) into the
    /// log, each removed only once its record is durable; interrupted
    /// writes of that layout are removed.
    pub(super) fn migrate(&mut self) -> io::Result<()> {
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

    pub(super) fn run(mut self, rx: mpsc::Receiver<Request>) {
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

    pub(super) fn sync_only(&mut self) {
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
    pub(super) fn roll(&mut self) -> io::Result<()> {
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
    pub(super) fn commit(&mut self, batch: Vec<Request>) {
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
    pub(super) fn apply(&self, batch: &[Request], placed: Vec<Option<Location>>) {
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
    pub(super) fn abandon_active(&mut self) {
        if let Some((seq, _, _)) = self.active.take()
            && let Ok(mut index) = lock_index(&self.index)
            && let Some(seg) = index.segments.get_mut(&seq)
        {
            seg.sealed = Some(Instant::now());
        }
    }

    /// Appends the batch; returns where each store's bytes went.
    pub(super) fn write_batch(&mut self, batch: &[Request]) -> io::Result<Vec<Option<Location>>> {
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
    pub(super) fn maintain(&mut self) {
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
    pub(super) fn relocate(&mut self, seq: u64) -> io::Result<()> {
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

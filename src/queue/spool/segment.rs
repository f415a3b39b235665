//! The segment files and the record format: framing, CRC, reading back
//! (damage skipped and reported).

use std::fs::{self, File};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use super::*;

pub(super) const SEGMENT_SUFFIX: &str = ".spool";
pub(super) const MAGIC: [u8; 4] = *b"CGS1";
/// magic, kind, 3 reserved, meta length (u32), body length (u64), CRC-32.
pub(super) const HEADER_LEN: usize = 4 + 1 + 3 + 4 + 8 + 4;
/// A record's JSON part is never this large; a header claiming more is damage.
pub(super) const MAX_META: u32 = 64 * 1024 * 1024;

pub(super) const KIND_STORE: u8 = 1;
pub(super) const KIND_UPDATE: u8 = 2;
pub(super) const KIND_REMOVE: u8 = 3;

pub(super) fn not_found() -> io::Error {
    io::Error::new(io::ErrorKind::NotFound, "no such message")
}

pub(super) fn fsync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

pub(super) fn segment_name(seq: u64) -> String {
    format!("{seq:016}{SEGMENT_SUFFIX}")
}

pub(super) fn segment_seq(name: &str) -> Option<u64> {
    let digits = name.strip_suffix(SEGMENT_SUFFIX)?;
    (!digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()))
        .then(|| digits.parse().ok())
        .flatten()
}

/// The segments in `dir`, oldest first.
pub(super) fn segments(dir: &Path) -> io::Result<Vec<(u64, PathBuf)>> {
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
pub(super) fn frame(buf: &mut Vec<u8>, kind: u8, meta: &[u8], body: &[u8]) {
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
pub(super) struct Parsed<'a> {
    pub(super) kind: u8,
    pub(super) meta: &'a [u8],
    /// Offset of the message bytes in the segment, and their length.
    pub(super) body_at: u64,
    pub(super) body_len: u64,
}

/// Reads a segment's records in order. Damage (a torn tail, a bad block)
/// is skipped to the next record that checks out, and reported.
pub(super) fn parse_segment<'a>(
    data: &'a [u8],
    problems: &mut Vec<String>,
    name: &str,
) -> Vec<Parsed<'a>> {
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

pub(super) fn parse_record(data: &[u8], at: usize) -> Option<(Parsed<'_>, usize)> {
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

pub(super) fn read_at(file: &File, loc: Location) -> io::Result<Vec<u8>> {
    let len = usize::try_from(loc.len).map_err(io::Error::other)?;
    let mut buf = vec![0; len];
    file.read_exact_at(&mut buf, loc.at)?;
    Ok(buf)
}

//! The embedded default upstream: one `.eml` per delivered message in
//! `outbox/`, with the envelope recorded as `Return-Path:` and one
//! `Delivered-To:` per recipient at the top, as a mailbox delivery agent
//! writes them. Written durably (temporary name, fsync, rename, fsync dir).

use std::fs;
use std::io::Write;
use std::path::Path;

use super::Outcome;

pub fn deliver(dir: &Path, id: &str, from: &str, rcpts: &[String], message: &[u8]) -> Vec<Outcome> {
    match write(dir, id, from, rcpts, message) {
        Ok(name) => rcpts
            .iter()
            .map(|_| Outcome::Delivered(format!("250 2.0.0 written to outbox/{name}")))
            .collect(),
        Err(e) => rcpts
            .iter()
            .map(|_| Outcome::Temporary(format!("outbox write failed: {e}")))
            .collect(),
    }
}

fn write(
    dir: &Path,
    id: &str,
    from: &str,
    rcpts: &[String],
    message: &[u8],
) -> std::io::Result<String> {
    fs::create_dir_all(dir)?;
    // A message delivered in several attempts gets one file per attempt.
    let name = format!("{id}-{:08x}.eml", rand::random::<u32>());
    let tmp = dir.join(format!(".{name}.tmp"));
    let mut f = fs::File::create(&tmp)?;
    let clean = |s: &str| s.replace(['\r', '\n'], "");
    let mut head = format!("Return-Path: <{}>\r\n", clean(from));
    for r in rcpts {
        head.push_str(&format!("Delivered-To: {}\r\n", clean(r)));
    }
    f.write_all(head.as_bytes())?;
    f.write_all(message)?;
    f.sync_all()?;
    fs::rename(&tmp, dir.join(&name))?;
    fs::File::open(dir)?.sync_all()?;
    Ok(name)
}

//! Spool replay: arbitrary bytes as a spool segment (a torn write, a disk
//! error, a hostile file in the data folder) must never panic the gateway
//! at start. Opening the spool replays the segment; listing and reading
//! every message it found must not panic either, and whatever it reports
//! is readable.
#![no_main]

use councilgate::queue::spool::Spool;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let dir = tempfile::tempdir().expect("tmp");
    std::fs::write(dir.path().join("0000000000000001.spool"), data).expect("write");
    // A refusal (io::Error) is fine; a panic is the bug.
    if let Ok(spool) = Spool::open(dir.path()) {
        if let Ok((entries, _problems)) = spool.list() {
            for e in entries {
                let _ = spool.message(&e.id);
            }
        }
    }
});

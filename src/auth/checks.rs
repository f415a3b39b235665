//! Password checks, bounded. Each Argon2 check takes its memory cost
//! (19 MiB with the default parameters) and tens of milliseconds of a core,
//! so a flood of logins with wrong passwords must not be able to start as
//! many checks as it has connections. Here:
//!
//! - at most [`SUSPECT_LANE`] checks at once for clients with recent
//!   failures (the flood), and one lane of its own for clients with none,
//!   so a real user gets in at once whatever the flood does;
//! - at most [`MAX_WAITING`] suspect checks waiting; beyond that a login is
//!   told to try again later without a check;
//! - the checks run on the blocking pool, never on an async worker;
//! - each lane reuses one block of Argon2 memory, allocated once, so memory
//!   after a flood is what it was during it: a few lanes' worth, not one
//!   per attempt.
//!
//! Argon2 parameters stay at the argon2 crate's defaults (Argon2id,
//! m = 19 MiB, t = 2, p = 1: OWASP's recommended minimum); stored hashes
//! whose memory cost is above [`MAX_M_COST_KIB`] are refused rather than
//! checked.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};

use argon2::password_hash::PasswordHash;
use argon2::{Algorithm, Argon2, Block, Params, Version};
use tokio::sync::Semaphore;

/// Checks at once for clients with recent failures.
pub const SUSPECT_LANE: usize = 2;
/// Suspect checks that may wait for a lane; beyond this, "busy".
pub const MAX_WAITING: usize = 16;
/// A stored hash asking for more memory than this (KiB) is not checked.
pub const MAX_M_COST_KIB: u32 = 256 * 1024;

/// The outcome of one check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Checked {
    Match,
    NoMatch,
    /// Too many checks waiting: try again later (nothing was checked).
    Busy,
}

/// The process-wide lanes and their memory.
pub struct PasswordChecks {
    suspect: Semaphore,
    clean: Semaphore,
    waiting: AtomicUsize,
    /// Argon2 memory blocks, one per lane in use, reused.
    memory: Mutex<Vec<Vec<Block>>>,
}

impl PasswordChecks {
    fn new() -> Self {
        PasswordChecks {
            suspect: Semaphore::new(SUSPECT_LANE),
            clean: Semaphore::new(1),
            waiting: AtomicUsize::new(0),
            memory: Mutex::new(Vec::new()),
        }
    }

    /// The one set of lanes every login (SMTP and web) shares.
    pub fn global() -> &'static PasswordChecks {
        static CHECKS: OnceLock<PasswordChecks> = OnceLock::new();
        CHECKS.get_or_init(PasswordChecks::new)
    }

    /// Checks `password` against `hash` (`None`: an unknown user, checked
    /// against a dummy hash so that it takes as long). `clean`: the client
    /// and the user have no recent failures.
    pub async fn verify(&self, password: String, hash: Option<String>, clean: bool) -> Checked {
        let permit = if clean {
            self.clean.acquire().await
        } else {
            if self.waiting.fetch_add(1, Ordering::SeqCst) >= MAX_WAITING {
                self.waiting.fetch_sub(1, Ordering::SeqCst);
                return Checked::Busy;
            }
            let p = self.suspect.acquire().await;
            self.waiting.fetch_sub(1, Ordering::SeqCst);
            p
        };
        let Ok(_permit) = permit else {
            return Checked::Busy;
        };
        let mut blocks = self
            .memory
            .lock()
            .map(|mut m| m.pop())
            .ok()
            .flatten()
            .unwrap_or_default();
        let (matched, blocks) = tokio::task::spawn_blocking(move || {
            let matched = match &hash {
                Some(h) => verify_with(password.as_bytes(), h, &mut blocks),
                None => {
                    let _ = verify_with(password.as_bytes(), dummy_hash(), &mut blocks);
                    false
                }
            };
            (matched, blocks)
        })
        .await
        .unwrap_or((false, Vec::new()));
        if !blocks.is_empty()
            && let Ok(mut m) = self.memory.lock()
        {
            m.push(blocks);
        }
        if matched {
            Checked::Match
        } else {
            Checked::NoMatch
        }
    }
}

/// A hash of the right form that matches no password.
fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| super::hash_password("not a password").unwrap_or_default())
}

/// Verifies `password` against a PHC-form Argon2 `hash`, with `blocks` as
/// Argon2's memory (grown when the hash asks for more). A malformed hash
/// never matches.
pub fn verify_with(password: &[u8], hash: &str, blocks: &mut Vec<Block>) -> bool {
    let Ok(parsed) = PasswordHash::new(hash) else {
        return false;
    };
    let Ok(params) = Params::try_from(&parsed) else {
        return false;
    };
    if params.m_cost() > MAX_M_COST_KIB {
        return false;
    }
    let Ok(algorithm) = Algorithm::try_from(parsed.algorithm) else {
        return false;
    };
    let version = match parsed.version.map(Version::try_from) {
        None => Version::default(),
        Some(Ok(v)) => v,
        Some(Err(_)) => return false,
    };
    let (Some(salt), Some(expected)) = (parsed.salt, parsed.hash) else {
        return false;
    };
    let mut salt_buf = [0u8; 64];
    let Ok(salt) = salt.decode_b64(&mut salt_buf) else {
        return false;
    };
    let need = params.block_count();
    if blocks.len() < need {
        blocks.resize(need, Block::default());
    }
    let expected = expected.as_bytes();
    let mut out = vec![0u8; expected.len()];
    let argon = Argon2::new(algorithm, version, params);
    argon
        .hash_password_into_with_memory(password, salt, &mut out, &mut blocks[..need])
        .is_ok()
        && super::same(&out, expected)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reused_memory_verifies_like_the_crate_does() {
        let h = super::super::hash_password("correct horse battery").expect("hash");
        let mut blocks = Vec::new();
        assert!(verify_with(b"correct horse battery", &h, &mut blocks));
        let size = blocks.len();
        assert!(size > 0);
        assert!(!verify_with(b"wrong horse battery", &h, &mut blocks));
        assert_eq!(blocks.len(), size, "the same memory, reused");
        assert!(!verify_with(b"x", "not a hash", &mut blocks));
        assert!(super::super::verify_password("correct horse battery", &h));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_flood_waits_in_bounded_lanes_and_a_clean_client_goes_first() {
        let checks = std::sync::Arc::new(PasswordChecks::new());
        let h = super::super::hash_password("correct horse battery").expect("hash");
        let mut flood = Vec::new();
        for _ in 0..(SUSPECT_LANE + MAX_WAITING + 10) {
            let (c, h) = (checks.clone(), h.clone());
            flood.push(tokio::spawn(async move {
                c.verify("wrong".into(), Some(h), false).await
            }));
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        let clean = checks
            .verify("correct horse battery".into(), Some(h), true)
            .await;
        assert_eq!(clean, Checked::Match);
        let mut busy = 0;
        for f in flood {
            match f.await.expect("join") {
                Checked::Busy => busy += 1,
                Checked::NoMatch => {}
                Checked::Match => panic!("a wrong password matched"),
            }
        }
        assert!(
            busy >= 10,
            "beyond the waiting room: busy, not queued ({busy})"
        );
        let lanes = checks.memory.lock().expect("lock").len();
        assert!(lanes <= SUSPECT_LANE + 1, "{lanes} blocks of memory kept");
    }
}

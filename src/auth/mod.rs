//! Who is who: passwords (argon2id), the random tokens of web sessions,
//! the failure throttle, and SMTP logins with the addresses each may send
//! as ([`logins`]).

pub mod checks;
pub mod logins;
pub mod second_factor;

pub use checks::{Checked, PasswordChecks};
pub use logins::Logins;

use argon2::Argon2;
use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHasher, SaltString};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

/// An argon2id hash in PHC string form.
pub fn hash_password(password: &str) -> Result<String, String> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| format!("cannot hash the password: {e}"))
}

/// Checks a password against a stored hash, here and now (tools and
/// tests); a malformed hash never matches. Logins use the bounded
/// [`PasswordChecks`] instead.
pub fn verify_password(password: &str, hash: &str) -> bool {
    checks::verify_with(password.as_bytes(), hash, &mut Vec::new())
}

/// Whether two secrets (tokens, password hashes) are equal, in time that
/// does not depend on where they differ.
pub fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// 256 random bits, hex.
pub fn token() -> String {
    let a: u128 = rand::random();
    let b: u128 = rand::random();
    format!("{a:032x}{b:032x}")
}

/// What the store keeps of a session token (never the token itself).
pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Rules a password must meet.
pub fn check_password_strength(password: &str) -> Result<(), String> {
    if password.chars().count() < 12 {
        return Err("the password must have at least 12 characters".into());
    }
    Ok(())
}

/// What became of one login attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attempt {
    Accepted,
    /// Too many failures lately from this client or for this user.
    Throttled(Duration),
    /// Unknown user or wrong password.
    Wrong,
    /// Too many checks waiting; nothing was checked.
    Busy,
}

/// Failed logins (review pages and SMTP AUTH), slowed per client address
/// and per user name: five free attempts, then an exponential backoff up
/// to a quarter of an hour.
#[derive(Default)]
pub struct Throttle {
    failures: Mutex<HashMap<String, (u32, Instant)>>,
}

impl Throttle {
    const FREE: u32 = 5;

    /// How long `key` must still wait, if at all.
    pub fn wait(&self, key: &str) -> Option<Duration> {
        let map = self.failures.lock().ok()?;
        let (n, last) = map.get(key)?;
        if *n < Self::FREE {
            return None;
        }
        let backoff =
            Duration::from_secs(1u64 << (n - Self::FREE).min(10)).min(Duration::from_secs(900));
        let elapsed = last.elapsed();
        (elapsed < backoff).then(|| backoff - elapsed)
    }

    /// How long the client `ip_key` or the user `user_key` must still wait,
    /// if at all: checked before anything is looked up.
    pub fn waiting(&self, ip_key: &str, user_key: &str) -> Option<Duration> {
        self.wait(ip_key).or_else(|| self.wait(user_key))
    }

    /// One login attempt by the client `ip_key` as `user_key`: refused at
    /// once while either is throttled; otherwise counted as a failure
    /// before the check starts (so attempts still in flight count against
    /// the lockout), checked in the bounded [`PasswordChecks`] lanes, and
    /// cleared when the password matches. `hash` is the user's stored hash,
    /// `None` for an unknown user.
    pub async fn attempt(
        &self,
        ip_key: &str,
        user_key: &str,
        password: String,
        hash: Option<String>,
    ) -> Attempt {
        if let Some(wait) = self.waiting(ip_key, user_key) {
            return Attempt::Throttled(wait);
        }
        let clean = self.is_clean(ip_key) && self.is_clean(user_key);
        self.fail(ip_key);
        self.fail(user_key);
        match PasswordChecks::global().verify(password, hash, clean).await {
            Checked::Match => {
                self.succeed(ip_key);
                self.succeed(user_key);
                Attempt::Accepted
            }
            Checked::NoMatch => Attempt::Wrong,
            Checked::Busy => Attempt::Busy,
        }
    }

    pub fn fail(&self, key: &str) {
        if let Ok(mut map) = self.failures.lock() {
            // Bounded: a flood of distinct names cannot grow it without end.
            if map.len() >= 100_000 {
                map.retain(|_, (_, last)| last.elapsed() < Duration::from_secs(900));
                if map.len() >= 100_000 {
                    map.clear();
                }
            }
            let e = map.entry(key.to_string()).or_insert((0, Instant::now()));
            // Forget old failures after a quiet quarter of an hour.
            if e.1.elapsed() > Duration::from_secs(900) {
                e.0 = 0;
            }
            e.0 += 1;
            e.1 = Instant::now();
        }
    }

    /// Whether `key` has no failures on record (a client or user the
    /// bounded checks treat as clean).
    pub fn is_clean(&self, key: &str) -> bool {
        self.failures
            .lock()
            .map(|m| {
                m.get(key)
                    .is_none_or(|(_, last)| last.elapsed() > Duration::from_secs(900))
            })
            .unwrap_or(false)
    }

    pub fn succeed(&self, key: &str) {
        if let Ok(mut map) = self.failures.lock() {
            map.remove(key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn argon2id_round_trip() {
        let h = hash_password("correct horse battery").expect("hash");
        assert!(h.starts_with("$argon2id$"));
        assert!(verify_password("correct horse battery", &h));
        assert!(!verify_password("wrong", &h));
        assert!(!verify_password("x", "not a hash"));
    }
}

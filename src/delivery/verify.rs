//! Recipient verification against the next hop, as Postfix's
//! `reject_unverified_recipient` does: for an address at a council domain
//! that the directory does not list (with `unknown_recipients = "verify"`),
//! the gateway asks the council's mail host — MAIL FROM:<>, RCPT TO, QUIT,
//! no message — and remembers the answer, so a dictionary attack meets
//! `550 5.1.1` at RCPT instead of bounces later, and a real mailbox the
//! directory does not know (a new shared mailbox) is not refused.
//!
//! Answers are cached (known addresses for `verify_known_secs`, unknown ones
//! for `verify_unknown_secs`) in a bounded map; at most [`PROBES`] probes run
//! at once, each connecting within the queue's connect timeout (at most
//! 10 s) and done within [`PROBE_LIMIT`]. A next hop that cannot be asked
//! gives a temporary `450`, never an accept or a refusal on a guess.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use lettre::address::Address;
use lettre::transport::smtp::commands::{Mail, Rcpt};

use crate::settings::Settings;

/// Probes in flight at once, over all sessions.
pub const PROBES: usize = 8;
/// The longest a probe may take, connection included.
pub const PROBE_LIMIT: Duration = Duration::from_secs(15);
/// The longest a session waits for one of the [`PROBES`].
const PERMIT_WAIT: Duration = Duration::from_secs(5);
/// Addresses remembered at most; past it, expired answers are dropped and,
/// if that is not enough, the oldest half.
pub const CACHE_LIMIT: usize = 20_000;

/// What the next hop said about an address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// It accepted the recipient.
    Exists,
    /// It refused the recipient permanently (its reply).
    Unknown(String),
    /// It could not be asked, or answered temporarily (why).
    Unsure(String),
}

/// Probes and remembers.
pub struct RecipientVerifier {
    settings: Settings,
    known_for: Duration,
    unknown_for: Duration,
    cache: Mutex<HashMap<String, (Instant, Answer)>>,
    permits: tokio::sync::Semaphore,
    probes: std::sync::atomic::AtomicU64,
}

impl RecipientVerifier {
    pub fn new(settings: &Settings) -> RecipientVerifier {
        RecipientVerifier {
            settings: settings.clone(),
            known_for: Duration::from_secs(settings.smtp.verify_known_secs),
            unknown_for: Duration::from_secs(settings.smtp.verify_unknown_secs),
            cache: Mutex::new(HashMap::new()),
            permits: tokio::sync::Semaphore::new(PROBES),
            probes: Default::default(),
        }
    }

    /// Probes made so far (not answered from the cache).
    pub fn probes(&self) -> u64 {
        self.probes.load(std::sync::atomic::Ordering::Relaxed)
    }

    fn cached(&self, key: &str) -> Option<Answer> {
        let cache = self.cache.lock().ok()?;
        let (at, answer) = cache.get(key)?;
        let ttl = match answer {
            Answer::Exists => self.known_for,
            Answer::Unknown(_) => self.unknown_for,
            Answer::Unsure(_) => return None,
        };
        (at.elapsed() < ttl).then(|| answer.clone())
    }

    fn remember(&self, key: String, answer: &Answer) {
        if matches!(answer, Answer::Unsure(_)) {
            return;
        }
        let Ok(mut cache) = self.cache.lock() else {
            return;
        };
        if cache.len() >= CACHE_LIMIT {
            let longest = self.known_for.max(self.unknown_for);
            cache.retain(|_, (at, _)| at.elapsed() < longest);
            if cache.len() >= CACHE_LIMIT {
                let mut ages: Vec<Instant> = cache.values().map(|(at, _)| *at).collect();
                ages.sort();
                let cut = ages[ages.len() / 2];
                cache.retain(|_, (at, _)| *at > cut);
            }
        }
        cache.insert(key, (Instant::now(), answer.clone()));
    }

    /// Whether `address` exists at its domain's next hop: from the cache,
    /// or by asking.
    pub async fn check(&self, address: &str) -> Answer {
        let key = address.to_ascii_lowercase();
        if let Some(a) = self.cached(&key) {
            return a;
        }
        let domain = crate::policy::directory::domain_of(&key).to_string();
        let Some(route) = self.settings.route_for(&domain) else {
            return Answer::Unsure(format!(
                "no route sends {domain} to a mail host that could be asked"
            ));
        };
        // The sender waits at RCPT meanwhile: as Postfix's address
        // verification, a few seconds, then "try again later".
        let timeout = Duration::from_secs(self.settings.queue.connect_timeout_secs.clamp(1, 10));
        let Ok(_permit) = tokio::time::timeout(PERMIT_WAIT, self.permits.acquire()).await else {
            return Answer::Unsure("too many checks in progress".into());
        };
        self.probes
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let answer = match tokio::time::timeout(
            PROBE_LIMIT,
            probe(route, &self.settings.hostname(), timeout, &key),
        )
        .await
        {
            Ok(a) => a,
            Err(_) => Answer::Unsure(format!("{} did not answer in time", route.host)),
        };
        self.remember(key, &answer);
        answer
    }
}

/// One probe: connect as the route says (STARTTLS, AUTH), MAIL FROM:<>,
/// RCPT TO, QUIT.
async fn probe(
    route: &crate::settings::Route,
    hostname: &str,
    timeout: Duration,
    address: &str,
) -> Answer {
    use super::Outcome;
    let Ok(rcpt) = address.parse::<Address>() else {
        return Answer::Unknown("not an address".into());
    };
    let mut conn = match super::relay::open(route, hostname, timeout).await {
        Ok(c) => c,
        Err(Outcome::Temporary(why) | Outcome::Permanent(why) | Outcome::Delivered(why)) => {
            return Answer::Unsure(why);
        }
    };
    let answer = match conn.command(Mail::new(None, vec![])).await {
        Err(e) => Answer::Unsure(format!("MAIL FROM:<> refused: {e}")),
        Ok(_) => match conn.command(Rcpt::new(rcpt, vec![])).await {
            Ok(_) => Answer::Exists,
            Err(e) if e.is_permanent() => Answer::Unknown(e.to_string()),
            Err(e) => Answer::Unsure(e.to_string()),
        },
    };
    let _ = tokio::time::timeout(Duration::from_secs(5), conn.quit()).await;
    answer
}

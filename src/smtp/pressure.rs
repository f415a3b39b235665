//! Session pressure: when sessions run short, idle clients go first. Every
//! session registers here with its address and when it last did something.
//! Past `smtp.stress_threshold_percent` of `smtp.max_sessions`, command and
//! data timeouts shrink to `smtp.stress_timeout_secs` (as Postfix's stress
//! mode does, 300 s to 10 s); when no session is left for a new client, the
//! longest-idle session of the address holding the most is closed to make
//! room. A client that opens hundreds of connections and sends nothing can
//! no longer lock real senders out until its sessions time out.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

/// What the registry knows of one session; the session updates it without
/// taking the registry's lock (it does so on every read).
struct State {
    /// Milliseconds since [`epoch`] when the session last became idle.
    idle_since: AtomicU64,
    /// Waiting for the client's next command (not inside DATA or a check).
    idle: AtomicBool,
}

struct Entry {
    ip: IpAddr,
    state: Arc<State>,
    evict: CancellationToken,
}

/// A fixed instant the idle times are counted from.
fn epoch() -> Instant {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

fn now_ms() -> u64 {
    epoch().elapsed().as_millis() as u64
}

/// The sessions open now, across every listener.
pub struct Pressure {
    threshold: usize,
    stress_timeout: Duration,
    next: AtomicU64,
    /// Sessions open now (the map's size, readable without its lock).
    open: AtomicUsize,
    sessions: Mutex<HashMap<u64, Entry>>,
}

/// One session's place in the registry; dropping it leaves.
pub struct Registered {
    id: u64,
    pressure: Arc<Pressure>,
    state: Arc<State>,
    /// Cancelled when the session is closed to make room.
    pub evict: CancellationToken,
}

impl Pressure {
    pub fn new(max_sessions: usize, threshold_percent: u8, stress_timeout: Duration) -> Arc<Self> {
        Arc::new(Pressure {
            threshold: max_sessions * usize::from(threshold_percent.min(100)) / 100,
            stress_timeout,
            next: AtomicU64::new(0),
            open: AtomicUsize::new(0),
            sessions: Mutex::new(HashMap::new()),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Entry>> {
        self.sessions.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Registers a session from `ip`.
    pub fn register(self: &Arc<Self>, ip: IpAddr) -> Registered {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let evict = CancellationToken::new();
        let state = Arc::new(State {
            idle_since: AtomicU64::new(now_ms()),
            idle: AtomicBool::new(true),
        });
        self.lock().insert(
            id,
            Entry {
                ip,
                state: state.clone(),
                evict: evict.clone(),
            },
        );
        self.open.fetch_add(1, Ordering::Relaxed);
        Registered {
            id,
            pressure: self.clone(),
            state,
            evict,
        }
    }

    /// Sessions open now.
    pub fn len(&self) -> usize {
        self.open.load(Ordering::Relaxed)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether sessions are running short (past the threshold).
    pub fn stressed(&self) -> bool {
        self.len() >= self.threshold.max(1)
    }

    /// `normal`, or the shorter stress timeout while sessions run short.
    pub fn timeout(&self, normal: Duration) -> Duration {
        if self.stressed() {
            normal.min(self.stress_timeout)
        } else {
            normal
        }
    }

    /// Closes the longest-idle session of the address holding the most
    /// sessions; false when no session is idle.
    pub fn evict_one(&self) -> bool {
        let sessions = self.lock();
        let mut per_ip: HashMap<IpAddr, usize> = HashMap::new();
        for e in sessions.values() {
            *per_ip.entry(e.ip).or_insert(0) += 1;
        }
        let victim = sessions
            .values()
            .filter(|e| e.state.idle.load(Ordering::Relaxed) && !e.evict.is_cancelled())
            .max_by_key(|e| {
                (
                    per_ip.get(&e.ip).copied().unwrap_or(0),
                    // Longest idle: the earliest time it became idle.
                    std::cmp::Reverse(e.state.idle_since.load(Ordering::Relaxed)),
                )
            });
        match victim {
            Some(e) => {
                e.evict.cancel();
                crate::metrics::session_evicted();
                true
            }
            None => false,
        }
    }
}

impl Registered {
    /// The session is waiting for a command (`idle`) or working on one.
    pub fn set_idle(&self, idle: bool) {
        if idle {
            self.state.idle_since.store(now_ms(), Ordering::Relaxed);
        }
        self.state.idle.store(idle, Ordering::Relaxed);
    }
}

impl Drop for Registered {
    fn drop(&mut self) {
        if self.pressure.lock().remove(&self.id).is_some() {
            self.pressure.open.fetch_sub(1, Ordering::Relaxed);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_address_holding_most_loses_its_longest_idle_session_first() {
        let p = Pressure::new(10, 80, Duration::from_secs(10));
        let a: IpAddr = "192.0.2.1".parse().expect("ip");
        let b: IpAddr = "192.0.2.2".parse().expect("ip");
        let a1 = p.register(a);
        std::thread::sleep(Duration::from_millis(5));
        let a2 = p.register(a);
        let b1 = p.register(b);
        assert!(!p.stressed());
        assert_eq!(
            p.timeout(Duration::from_secs(300)),
            Duration::from_secs(300)
        );
        assert!(p.evict_one());
        assert!(a1.evict.is_cancelled(), "a holds most; a1 idle longest");
        assert!(!a2.evict.is_cancelled() && !b1.evict.is_cancelled());
        // A session inside a command is not closed.
        a2.set_idle(false);
        b1.set_idle(false);
        assert!(!p.evict_one());
        let more: Vec<_> = (0..6).map(|_| p.register(b)).collect();
        assert!(p.stressed(), "9 of 10 open");
        assert_eq!(p.timeout(Duration::from_secs(300)), Duration::from_secs(10));
        drop(more);
        assert_eq!(p.len(), 3);
    }
}

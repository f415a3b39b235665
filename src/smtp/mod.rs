//! The SMTP listeners: `inbound` (the MX role) and `submission`; one
//! [`session::Session`] per connection, generic over its stream, sharing a
//! [`Context`]. What a session accepts goes to the [`crate::pipeline`], and
//! the [`crate::pipeline::Outcome`] comes back as a reply.

pub mod data;
pub mod pressure;
pub mod reply;
pub mod sasl;
pub mod session;
pub mod stream;

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use ipnet::IpNet;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{info, warn};

use crate::auth::Logins;
use crate::message::envelope::ListenerKind;
use crate::pipeline::Pipeline;
use crate::policy::PolicyHandle;
use crate::settings::SmtpSettings;
use session::{Session, SessionConfig};

/// What every SMTP session shares: its limits, the names it uses, TLS, the
/// logins, and the pipeline that takes what it accepts.
pub struct Context {
    pub settings: SmtpSettings,
    /// Our name: greeting, `Received:`.
    pub hostname: String,
    /// Where `RCPT TO:<postmaster>` goes.
    pub postmaster: String,
    /// STARTTLS and implicit TLS.
    pub tls: Option<tokio_rustls::TlsAcceptor>,
    /// The directory says which domains are the council's.
    pub policy: Arc<PolicyHandle>,
    pub logins: Arc<Logins>,
    pub pipeline: Arc<Pipeline>,
    /// Sessions open now, their idleness, and the stress timeouts.
    pub pressure: Arc<pressure::Pressure>,
    /// Asks the council's mail host about addresses the directory does not
    /// list (`unknown_recipients = "verify"`).
    pub recipients: Option<Arc<crate::delivery::verify::RecipientVerifier>>,
}

/// Sessions open per client address, shared by both listeners, so that one
/// client cannot take every session slot.
#[derive(Debug)]
pub struct PerAddress {
    max: usize,
    open: Mutex<HashMap<IpAddr, usize>>,
}

/// One open session counted against its address; dropping it frees the slot.
#[derive(Debug)]
pub struct AddressSlot {
    counts: Arc<PerAddress>,
    ip: IpAddr,
}

impl PerAddress {
    pub fn new(max: usize) -> Arc<PerAddress> {
        Arc::new(PerAddress {
            max,
            open: Mutex::new(HashMap::new()),
        })
    }

    /// A slot for one more session from `ip`, or `None` when it already has
    /// `max` open.
    pub fn enter(self: &Arc<Self>, ip: IpAddr) -> Option<AddressSlot> {
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        let n = open.entry(ip).or_insert(0);
        if *n >= self.max {
            return None;
        }
        *n += 1;
        Some(AddressSlot {
            counts: self.clone(),
            ip,
        })
    }

    /// Sessions open from `ip` now.
    pub fn open(&self, ip: IpAddr) -> usize {
        let open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        open.get(&ip).copied().unwrap_or(0)
    }
}

impl Drop for AddressSlot {
    fn drop(&mut self) {
        let mut open = self.counts.open.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(n) = open.get_mut(&self.ip) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                open.remove(&self.ip);
            }
        }
    }
}

/// New connections per client address in the current minute.
#[derive(Debug)]
pub struct ConnectionRate {
    max: usize,
    window: Mutex<(std::time::Instant, HashMap<IpAddr, usize>)>,
}

impl ConnectionRate {
    pub fn new(max: usize) -> Arc<ConnectionRate> {
        Arc::new(ConnectionRate {
            max,
            window: Mutex::new((std::time::Instant::now(), HashMap::new())),
        })
    }

    /// Counts a connection from `ip`; false when it is over the limit for
    /// this minute.
    pub fn admit(&self, ip: IpAddr) -> bool {
        self.admit_at(ip, std::time::Instant::now())
    }

    fn admit_at(&self, ip: IpAddr, now: std::time::Instant) -> bool {
        let mut w = self.window.lock().unwrap_or_else(|e| e.into_inner());
        if now.duration_since(w.0) >= std::time::Duration::from_secs(60) {
            *w = (now, HashMap::new());
        }
        let n = w.1.entry(ip).or_insert(0);
        *n += 1;
        *n <= self.max
    }
}

/// What bounds the sessions of all listeners together.
#[derive(Debug, Clone)]
pub struct SessionLimits {
    /// At most this many sessions at once (`smtp.max_sessions`).
    pub total: Arc<Semaphore>,
    /// At most `smtp.max_sessions_per_ip` from one untrusted address.
    pub per_address: Arc<PerAddress>,
    /// At most `smtp.max_connection_rate_per_ip` new connections a minute
    /// from one untrusted address.
    pub rate: Arc<ConnectionRate>,
}

/// Tells a refused client why, in the task tracker so shutdown waits for it.
fn refuse(tracker: &TaskTracker, mut stream: tokio::net::TcpStream, reply: &'static [u8]) {
    tracker.spawn(async move {
        let _ = stream.write_all(reply).await;
        let _ = stream.shutdown().await;
    });
}

/// Accepts connections until `shutdown`, one task per session. Beyond
/// `limits` (all sessions together; sessions and new connections a minute
/// from one address outside the listener's trusted networks) a client is
/// told 421 and disconnected. With `implicit_tls` the TLS handshake comes
/// first (port 465).
#[allow(clippy::too_many_arguments)]
pub async fn serve(
    listener: TcpListener,
    kind: ListenerKind,
    implicit_tls: bool,
    trusted_networks: Vec<IpNet>,
    context: Arc<Context>,
    limits: SessionLimits,
    shutdown: CancellationToken,
    tracker: TaskTracker,
) {
    if let Ok(addr) = listener.local_addr() {
        let role = match (kind, implicit_tls) {
            (ListenerKind::Submission, true) => "submissions (implicit TLS)",
            (ListenerKind::Submission, false) => "submission",
            (ListenerKind::Inbound, _) => "inbound (MX)",
        };
        info!(listener = role, %addr, "listening");
    }
    loop {
        let accepted = tokio::select! {
            _ = shutdown.cancelled() => break,
            a = listener.accept() => a,
        };
        let (stream, peer) = match accepted {
            Ok(x) => x,
            Err(e) => {
                // EMFILE and friends: back off briefly rather than spin.
                warn!(error = %e, "accept failed");
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let ip = peer.ip().to_canonical();
        let trusted = trusted_networks.iter().any(|n| n.contains(&ip));
        if !trusted && !limits.rate.admit(ip) {
            warn!(%peer, listener = kind.as_str(), "connection rate from this address exceeded; refusing");
            crate::metrics::session_refused("rate");
            refuse(
                &tracker,
                stream,
                b"421 4.7.0 Too many connections from your address this minute, try again later\r\n",
            );
            continue;
        }
        let slot = if trusted {
            None
        } else {
            match limits.per_address.enter(ip) {
                Some(slot) => Some(slot),
                None => {
                    warn!(%peer, listener = kind.as_str(), "too many sessions from this address; refusing");
                    crate::metrics::session_refused("per_address");
                    refuse(
                        &tracker,
                        stream,
                        b"421 4.7.0 Too many connections from your address, try again later\r\n",
                    );
                    continue;
                }
            }
        };
        let accepted = Accepted {
            stream,
            peer,
            implicit_tls,
            config: SessionConfig {
                listener: kind,
                trusted,
            },
            context: context.clone(),
            shutdown: shutdown.clone(),
        };
        let permit = match limits.total.clone().try_acquire_owned() {
            Ok(p) => p,
            // Every session is taken: an idle one makes room, if any is.
            Err(_) if context.pressure.evict_one() => {
                let total = limits.total.clone();
                let inner = tracker.clone();
                tracker.spawn(async move {
                    let wait = std::time::Duration::from_secs(5);
                    match tokio::time::timeout(wait, total.acquire_owned()).await {
                        Ok(Ok(permit)) => accepted.run((permit, slot)).await,
                        _ => {
                            crate::metrics::session_refused("total");
                            refuse(&inner, accepted.stream, TOO_MANY);
                        }
                    }
                });
                continue;
            }
            Err(_) => {
                warn!(%peer, "too many sessions; refusing");
                crate::metrics::session_refused("total");
                refuse(&tracker, accepted.stream, TOO_MANY);
                continue;
            }
        };
        tracker.spawn(accepted.run((permit, slot)));
    }
}

const TOO_MANY: &[u8] = b"421 4.3.2 Too many connections, try again later\r\n";

/// A connection accepted, with what its session will need.
struct Accepted {
    stream: tokio::net::TcpStream,
    peer: std::net::SocketAddr,
    implicit_tls: bool,
    config: SessionConfig,
    context: Arc<Context>,
    shutdown: CancellationToken,
}

impl Accepted {
    /// Runs the session (after the TLS handshake for implicit TLS); `held`
    /// are the session limits' places, given back when it ends.
    async fn run(self, held: (tokio::sync::OwnedSemaphorePermit, Option<AddressSlot>)) {
        let Accepted {
            stream,
            peer,
            implicit_tls,
            config,
            context,
            shutdown,
        } = self;
        let label = config.listener.as_str();
        let ip = peer.ip().to_canonical();
        crate::metrics::session_opened(label);
        if implicit_tls {
            if let Some(acceptor) = context.tls.clone() {
                let timeout = std::time::Duration::from_secs(context.settings.command_timeout_secs);
                match tokio::time::timeout(timeout, acceptor.accept(stream)).await {
                    Ok(Ok(tls)) => {
                        Session::new_tls(tls, context, config, ip, shutdown)
                            .run()
                            .await
                    }
                    Ok(Err(e)) => info!(%peer, error = %e, "TLS handshake failed"),
                    Err(_) => info!(%peer, "TLS handshake timed out"),
                }
            }
        } else {
            Session::new(stream, context, config, ip, shutdown)
                .run()
                .await;
        }
        crate::metrics::session_closed();
        drop(held);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connection_rate_is_per_address_and_per_minute() {
        let rate = ConnectionRate::new(2);
        let a: IpAddr = "192.0.2.1".parse().expect("ip");
        let b: IpAddr = "192.0.2.2".parse().expect("ip");
        let t0 = std::time::Instant::now();
        assert!(rate.admit_at(a, t0));
        assert!(rate.admit_at(a, t0));
        assert!(!rate.admit_at(a, t0), "a third in the same minute");
        assert!(rate.admit_at(b, t0), "another address is not affected");
        let later = t0 + std::time::Duration::from_secs(61);
        assert!(rate.admit_at(a, later), "a new minute starts afresh");
    }

    #[test]
    fn per_address_slots_are_counted_and_freed() {
        let counts = PerAddress::new(2);
        let a: IpAddr = "192.0.2.1".parse().expect("ip");
        let b: IpAddr = "192.0.2.2".parse().expect("ip");
        let first = counts.enter(a).expect("first");
        let second = counts.enter(a).expect("second");
        assert!(counts.enter(a).is_none(), "a third from the same address");
        let other = counts.enter(b).expect("another address is not affected");
        drop(first);
        assert_eq!(counts.open(a), 1);
        let again = counts.enter(a).expect("a freed slot is reusable");
        drop((second, again, other));
        assert_eq!(counts.open(a), 0);
        assert!(
            counts.open.lock().expect("lock").is_empty(),
            "no entries left behind"
        );
    }
}

//! The SMTP listeners: `inbound` (the MX role) and `submission`.

pub mod data;
pub mod reply;
pub mod session;

use std::sync::Arc;

use ipnet::IpNet;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{info, warn};

use crate::envelope::ListenerKind;
use crate::gateway::Gateway;
use session::{Session, SessionConfig};

/// Accepts connections until `shutdown`, one task per session, at most
/// `limit` sessions at once (shared by both listeners); beyond that a
/// client is told 421 and disconnected.
pub async fn serve(
    listener: TcpListener,
    kind: ListenerKind,
    trusted_networks: Vec<IpNet>,
    gateway: Arc<Gateway>,
    limit: Arc<Semaphore>,
    shutdown: CancellationToken,
    tracker: TaskTracker,
) {
    if let Ok(addr) = listener.local_addr() {
        info!(listener = kind.as_str(), %addr, "listening");
    }
    loop {
        let accepted = tokio::select! {
            _ = shutdown.cancelled() => break,
            a = listener.accept() => a,
        };
        let (mut stream, peer) = match accepted {
            Ok(x) => x,
            Err(e) => {
                // EMFILE and friends: back off briefly rather than spin.
                warn!(error = %e, "accept failed");
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let Ok(permit) = limit.clone().try_acquire_owned() else {
            warn!(%peer, "too many sessions; refusing");
            tracker.spawn(async move {
                let _ = stream
                    .write_all(b"421 4.3.2 Too many connections, try again later\r\n")
                    .await;
                let _ = stream.shutdown().await;
            });
            continue;
        };
        let ip = peer.ip().to_canonical();
        let trusted = trusted_networks.iter().any(|n| n.contains(&ip));
        let config = SessionConfig {
            listener: kind,
            trusted,
        };
        let session = Session::new(stream, gateway.clone(), config, ip, shutdown.clone());
        let label = kind.as_str();
        tracker.spawn(async move {
            crate::metrics::session_opened(label);
            session.run().await;
            crate::metrics::session_closed();
            drop(permit);
        });
    }
}

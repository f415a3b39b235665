//! Assembling a running gateway: settings, directory, spool, store, the
//! contexts each part uses (pipeline, logins, review, reload, SMTP, web,
//! ops), the listeners, the queue runner, and an orderly shutdown.
//!
//! # Layout
//! - [`App`] (here): load, bind, run.
//! - [`tls`]: the certificate (self-signed or the operator's, reloaded).
//! - [`ops`]: `/metrics`, `/healthz`, `/readyz`.

pub mod ops;
pub mod tls;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{info, warn};

use crate::auth::Logins;
use crate::delivery::sign::Signer;
use crate::message::envelope::ListenerKind;
use crate::pipeline::Pipeline;
use crate::pipeline::sender_auth::Verifier;
use crate::policy::{PolicyHandle, Snapshot};
use crate::queue::{self, Queue, QueueConfig};
use crate::review::{Notices, Review};
use crate::settings::Settings;
use crate::store::Store;
use crate::tuning::reload::Reloader;

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Settings(#[from] crate::settings::SettingsError),
    #[error(transparent)]
    Policy(#[from] crate::policy::PolicyError),
    #[error("data folder {path}: {source}")]
    Data {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{listener} listener on {addr}: {source}")]
    Bind {
        listener: &'static str,
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("{0}")]
    Listen(String),
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    #[error(transparent)]
    Tls(#[from] crate::server::tls::TlsError),
    #[error(transparent)]
    SenderAuth(#[from] crate::pipeline::sender_auth::SenderAuthError),
    #[error(transparent)]
    Sign(#[from] crate::delivery::sign::SignError),
    #[error(transparent)]
    Oidc(#[from] crate::web::oidc::OidcError),
}

/// A gateway ready to run: everything loaded, nothing listening yet. Its
/// parts are public so that tests and tools can reach the one they need.
pub struct App {
    pub settings: Arc<Settings>,
    pub policy: Arc<PolicyHandle>,
    pub queue: Arc<Queue>,
    pub store: Store,
    pub review: Review,
    pub reloader: Arc<Reloader>,
    pub pipeline: Arc<Pipeline>,
    pub smtp: Arc<crate::smtp::Context>,
    /// Sign-in with the council's Microsoft 365 or Google account.
    oidc: Option<Arc<crate::web::oidc::Oidc>>,
    ready: Arc<std::sync::atomic::AtomicBool>,
    queue_rx: tokio::sync::mpsc::UnboundedReceiver<queue::Queued>,
    queue_config: QueueConfig,
}

impl App {
    /// Loads the config folder (relative paths in its settings are taken
    /// from it).
    pub async fn load(config_dir: &Path) -> Result<App, StartError> {
        let settings = Settings::load(config_dir)?;
        let snapshot = Snapshot::load_with(config_dir, &settings.policy_options())?;
        Self::new(settings, snapshot, config_dir).await
    }

    pub async fn new(
        settings: Settings,
        snapshot: Snapshot,
        config_dir: &Path,
    ) -> Result<App, StartError> {
        let data_dir = settings.server.data_dir.clone();
        let data_err = |source| StartError::Data {
            path: data_dir.clone(),
            source,
        };
        std::fs::create_dir_all(&data_dir).map_err(data_err)?;
        let (queue, queue_rx) = Queue::open(&data_dir).map_err(data_err)?;
        let store_url = if settings.store.url.trim().is_empty() {
            Store::default_url(&data_dir)
        } else {
            settings.store.url.trim().to_string()
        };
        let store = Store::open(&store_url).await?;
        let hostname = settings.hostname();
        let postmaster = if settings.server.postmaster.trim().is_empty() {
            snapshot.directory.postmaster()
        } else {
            settings.server.postmaster.trim().to_string()
        };
        let cert_paths = crate::server::tls::CertPaths::resolve(
            &settings.tls.cert,
            &settings.tls.key,
            &data_dir,
            &hostname,
        )?;
        let cert = Arc::new(crate::server::tls::ReloadingCert::load(cert_paths)?);
        let tls = Some(crate::server::tls::acceptor(cert)?);
        let verifier = if settings.sender_auth.verify {
            Some(Verifier::new(&settings.sender_auth, &hostname, config_dir)?)
        } else {
            None
        };
        let signer = Arc::new(Signer::load(&settings.dkim, config_dir)?);
        crate::metrics::install();
        let now = chrono::Utc::now().timestamp();
        if let Err(e) = store
            .record_config(&snapshot.version, "start", &snapshot.texts, now)
            .await
        {
            warn!(error = %e, "cannot record the configuration history");
        }
        let policy = Arc::new(PolicyHandle::new(snapshot));
        let reloader = Arc::new(Reloader::new(
            config_dir.to_path_buf(),
            policy.clone(),
            settings.policy_options(),
            store.clone(),
            now,
        ));
        // The key that signs one-tap links, shared by the gateways on
        // this store.
        let links = crate::review::links::ActionLinks::new(
            &store.secret("action-links").await?,
            &settings.web.base_url,
        );
        let notices = Notices::new(
            hostname.clone(),
            postmaster.clone(),
            settings.web.base_url.clone(),
            queue.clone(),
        )
        .with_links(links);
        let review = Review::new(
            store.clone(),
            policy.clone(),
            queue.clone(),
            notices,
            settings.store.clone(),
        );
        let logins = Arc::new(Logins::new(
            store.clone(),
            policy.clone(),
            settings.smtp.delegates.clone(),
        ));
        let pipeline = Arc::new(Pipeline {
            hostname: hostname.clone(),
            policy: policy.clone(),
            queue: queue.clone(),
            review: review.clone(),
            logins: logins.clone(),
            sender_auth: verifier,
            signer: signer.clone(),
            mark_secret: settings.hairpin.mark_secret.clone(),
            archive: settings.store.archive_days > 0,
        });
        let smtp = Arc::new(crate::smtp::Context {
            settings: settings.smtp.clone(),
            hostname: hostname.clone(),
            postmaster: postmaster.clone(),
            tls,
            policy: policy.clone(),
            logins,
            pipeline: pipeline.clone(),
            pressure: crate::smtp::pressure::Pressure::new(
                settings.smtp.max_sessions,
                settings.smtp.stress_threshold_percent,
                std::time::Duration::from_secs(settings.smtp.stress_timeout_secs),
            ),
            recipients: Some(Arc::new(crate::delivery::verify::RecipientVerifier::new(
                &settings,
            ))),
        });
        let settings = Arc::new(settings);
        let queue_config = QueueConfig {
            settings: settings.clone(),
            hostname,
            postmaster,
            data_dir,
            signer,
            pool: Default::default(),
        };
        let oidc = crate::web::oidc::Oidc::from_settings(&settings.web)?.map(Arc::new);
        Ok(App {
            oidc,
            settings,
            policy,
            queue,
            store,
            review,
            reloader,
            pipeline,
            smtp,
            ready: Default::default(),
            queue_rx,
            queue_config,
        })
    }

    /// Binds the listeners named in the settings.
    pub async fn bind(&self) -> Result<Listeners, StartError> {
        let smtp = &self.settings.smtp;
        let mut listeners = Listeners::default();
        for (name, cfg, slot) in [
            ("inbound", &smtp.inbound, &mut listeners.inbound),
            ("submission", &smtp.submission, &mut listeners.submission),
            ("submissions", &smtp.submissions, &mut listeners.submissions),
        ] {
            let Some(addr) = cfg.address().map_err(StartError::Listen)? else {
                continue;
            };
            let l = TcpListener::bind(addr)
                .await
                .map_err(|source| StartError::Bind {
                    listener: name,
                    addr,
                    source,
                })?;
            *slot = Some(l);
        }
        let ops = &self.settings.metrics;
        if !ops.listen.trim().is_empty() {
            let addr: SocketAddr = ops.listen.parse().map_err(|e| {
                StartError::Listen(format!("metrics.listen = {:?}: {e}", ops.listen))
            })?;
            listeners.ops =
                Some(
                    TcpListener::bind(addr)
                        .await
                        .map_err(|source| StartError::Bind {
                            listener: "metrics",
                            addr,
                            source,
                        })?,
                );
        }
        let web = &self.settings.web;
        if !web.listen.trim().is_empty() {
            let addr: SocketAddr = web
                .listen
                .parse()
                .map_err(|e| StartError::Listen(format!("web.listen = {:?}: {e}", web.listen)))?;
            listeners.web =
                Some(
                    TcpListener::bind(addr)
                        .await
                        .map_err(|source| StartError::Bind {
                            listener: "web",
                            addr,
                            source,
                        })?,
                );
        }
        Ok(listeners)
    }

    /// Runs until `shutdown` is cancelled, then stops accepting, lets
    /// sessions and deliveries finish within the grace period, and returns.
    pub async fn run(self, listeners: Listeners, shutdown: CancellationToken) {
        let settings = self.settings.clone();
        let tracker = TaskTracker::new();
        let limits = crate::smtp::SessionLimits {
            total: Arc::new(Semaphore::new(settings.smtp.max_sessions)),
            per_address: crate::smtp::PerAddress::new(settings.smtp.max_sessions_per_ip),
            rate: crate::smtp::ConnectionRate::new(settings.smtp.max_connection_rate_per_ip),
        };
        let mut accept_loops = Vec::new();
        for (kind, implicit_tls, listener, trusted) in [
            (
                ListenerKind::Inbound,
                false,
                listeners.inbound,
                settings.smtp.inbound.trusted_networks.clone(),
            ),
            (
                ListenerKind::Submission,
                false,
                listeners.submission,
                settings.smtp.submission.trusted_networks.clone(),
            ),
            (
                ListenerKind::Submission,
                true,
                listeners.submissions,
                settings.smtp.submissions.trusted_networks.clone(),
            ),
        ] {
            if let Some(l) = listener {
                accept_loops.push(tokio::spawn(crate::smtp::serve(
                    l,
                    kind,
                    implicit_tls,
                    trusted,
                    self.smtp.clone(),
                    limits.clone(),
                    shutdown.clone(),
                    tracker.clone(),
                )));
            }
        }
        let web_state = crate::web::WebState::new(
            self.review.clone(),
            self.reloader.clone(),
            settings.web.clone(),
            self.oidc.clone(),
        );
        let web = listeners
            .web
            .map(|l| tokio::spawn(crate::web::serve(l, web_state, shutdown.clone())));
        let ops_state = Arc::new(ops::Ops {
            token: settings.metrics.token.clone(),
            queue: self.queue.clone(),
            store: self.store.clone(),
            ready: self.ready.clone(),
        });
        let ops = listeners
            .ops
            .map(|l| tokio::spawn(ops::serve(l, ops_state, shutdown.clone())));
        self.ready.store(true, std::sync::atomic::Ordering::SeqCst);
        let watcher = tokio::spawn(self.reloader.clone().watch(shutdown.clone()));
        let queue_stop = CancellationToken::new();
        let review = tokio::spawn(
            self.review
                .clone()
                .run(Duration::from_secs(3), queue_stop.clone()),
        );
        let runner = tokio::spawn(queue::run(
            self.queue.clone(),
            self.queue_rx,
            self.queue_config,
            queue_stop.clone(),
        ));
        shutdown.cancelled().await;
        info!("shutting down: no new connections");
        for a in accept_loops {
            let _ = a.await;
        }
        self.ready.store(false, std::sync::atomic::Ordering::SeqCst);
        for w in [web, ops].into_iter().flatten() {
            let _ = tokio::time::timeout(Duration::from_secs(10), w).await;
        }
        tracker.close();
        let grace = Duration::from_secs(settings.server.shutdown_grace_secs);
        if tokio::time::timeout(grace, tracker.wait()).await.is_err() {
            warn!("sessions still open after the grace period were closed");
        }
        // Sessions are done: nothing more will be queued. Stop deliveries.
        queue_stop.cancel();
        let _ = runner.await;
        let _ = review.await;
        let _ = watcher.await;
        info!("stopped");
    }
}

#[derive(Default)]
pub struct Listeners {
    pub inbound: Option<TcpListener>,
    pub submission: Option<TcpListener>,
    /// Submission over implicit TLS (port 465).
    pub submissions: Option<TcpListener>,
    /// The review pages.
    pub web: Option<TcpListener>,
    /// Metrics and health.
    pub ops: Option<TcpListener>,
}

impl Listeners {
    pub fn inbound_addr(&self) -> Option<SocketAddr> {
        self.inbound.as_ref().and_then(|l| l.local_addr().ok())
    }
    pub fn submission_addr(&self) -> Option<SocketAddr> {
        self.submission.as_ref().and_then(|l| l.local_addr().ok())
    }
    pub fn submissions_addr(&self) -> Option<SocketAddr> {
        self.submissions.as_ref().and_then(|l| l.local_addr().ok())
    }
    pub fn ops_addr(&self) -> Option<SocketAddr> {
        self.ops.as_ref().and_then(|l| l.local_addr().ok())
    }
    pub fn web_addr(&self) -> Option<SocketAddr> {
        self.web.as_ref().and_then(|l| l.local_addr().ok())
    }
}

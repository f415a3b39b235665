//! Hot reload of the policy: a change to `directory.toml`, `rules.toml`,
//! `wordlists.toml`, `examples.toml` or `protocol.toml` in the config
//! folder, or SIGHUP, compiles a new snapshot and swaps it in atomically.
//! Messages in flight finish on the snapshot they started with. A configuration that does not compile is
//! refused and reported (log, admin page), and the gateway keeps the last
//! good one. Every configuration that goes live is recorded in the store's
//! history with its diff.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::Utc;
use serde::Serialize;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::policy::{
    PolicyHandle, Snapshot, directory::DIRECTORY_FILE, lexicon::WORDLISTS_FILE,
    protocol::PROTOCOL_FILE, rules::RULES_FILE, semantic::examples::EXAMPLES_FILE,
};
use crate::store::Store;

/// The outcome of the last reloads, for the admin page and `/readyz`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ReloadStatus {
    pub version: String,
    pub at: i64,
    pub trigger: String,
    /// The last refused configuration: (when, trigger, why).
    pub last_error: Option<(i64, String, String)>,
}

fn watched(path: &Path) -> bool {
    path.file_name().and_then(|n| n.to_str()).is_some_and(|n| {
        [
            DIRECTORY_FILE,
            RULES_FILE,
            WORDLISTS_FILE,
            EXAMPLES_FILE,
            PROTOCOL_FILE,
        ]
        .contains(&n)
    })
}

/// Hot reload: the config folder, the live policy it compiles into, the
/// configuration history in the store, and the last outcomes.
pub struct Reloader {
    config_dir: PathBuf,
    policy: Arc<PolicyHandle>,
    /// How each snapshot is built (the semantic reading on or off).
    options: crate::policy::semantic::Options,
    store: Store,
    status: Mutex<ReloadStatus>,
    /// One reload at a time (see [`Reloader::reload`]).
    pub lock: tokio::sync::Mutex<()>,
}

impl Reloader {
    /// Starts with `policy`'s snapshot live, as of `at` (recorded as
    /// `start`).
    pub fn new(
        config_dir: PathBuf,
        policy: Arc<PolicyHandle>,
        options: crate::policy::semantic::Options,
        store: Store,
        at: i64,
    ) -> Reloader {
        let status = ReloadStatus {
            version: policy.load().version.clone(),
            at,
            trigger: "start".into(),
            last_error: None,
        };
        Reloader {
            config_dir,
            policy,
            options,
            store,
            status: Mutex::new(status),
            lock: tokio::sync::Mutex::new(()),
        }
    }

    /// How each snapshot is built (for a candidate built the same way).
    pub fn options(&self) -> &crate::policy::semantic::Options {
        &self.options
    }

    /// The folder the policy files are read from.
    pub fn config_dir(&self) -> &Path {
        &self.config_dir
    }

    /// The outcome of the last reloads.
    pub fn status(&self) -> ReloadStatus {
        self.status
            .lock()
            .map(|s| s.clone())
            .unwrap_or_else(|e| e.into_inner().clone())
    }

    /// Compiles the config folder and, if it compiles, makes it live. One
    /// reload at a time: a change that writes the files itself (revert) holds
    /// [`Reloader::lock`] across its writes and uses [`Reloader::reload_locked`],
    /// so the watcher's echo of those writes finds nothing new and its own
    /// trigger is the one recorded.
    pub async fn reload(&self, trigger: &str) -> Result<String, String> {
        let _one_at_a_time = self.lock.lock().await;
        self.reload_locked(trigger).await
    }

    /// [`Reloader::reload`] for a caller already holding [`Reloader::lock`].
    pub async fn reload_locked(&self, trigger: &str) -> Result<String, String> {
        let dir = self.config_dir.clone();
        let options = self.options.clone();
        let compiled = tokio::task::spawn_blocking(move || Snapshot::load_with(&dir, &options))
            .await
            .map_err(|e| e.to_string())
            .and_then(|r| r.map_err(|e| e.to_string()));
        let now = Utc::now().timestamp();
        match compiled {
            Ok(snapshot) => {
                let version = snapshot.version.clone();
                let texts = snapshot.texts.clone();
                let changed = self.policy.load().version != version;
                if changed {
                    self.policy.store(snapshot);
                    info!(%version, trigger, "new policy live");
                }
                if let Ok(mut s) = self.status.lock() {
                    if changed || s.version.is_empty() {
                        s.version = version.clone();
                        s.at = now;
                        s.trigger = trigger.to_string();
                    }
                    s.last_error = None;
                }
                if let Err(e) = self
                    .store
                    .record_config(&version, trigger, &texts, now)
                    .await
                {
                    warn!(error = %e, "cannot record the configuration history");
                }
                Ok(version)
            }
            Err(why) => {
                warn!(error = %why, trigger, "new configuration refused; the last good one stays in force");
                if let Ok(mut s) = self.status.lock() {
                    s.last_error = Some((now, trigger.to_string(), why.clone()));
                }
                let _ = self
                    .store
                    .audit(
                        "config",
                        "config-refused",
                        "-",
                        &format!("{trigger}: {why}"),
                    )
                    .await;
                Err(why)
            }
        }
    }

    /// Watches the config folder and SIGHUP until `shutdown`.
    pub async fn watch(self: Arc<Self>, shutdown: CancellationToken) {
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<String>();
        let file_tx = tx.clone();
        let watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
            if let Ok(e) = event
                && !matches!(e.kind, notify::EventKind::Access(_))
                && e.paths.iter().any(|p| watched(p))
            {
                let _ = file_tx.send("file change".into());
            }
        });
        let _watcher = match watcher {
            Ok(mut w) => {
                use notify::Watcher;
                if let Err(e) = w.watch(&self.config_dir, notify::RecursiveMode::NonRecursive) {
                    warn!(error = %e, dir = %self.config_dir.display(), "cannot watch the config folder; SIGHUP still reloads");
                }
                Some(w)
            }
            Err(e) => {
                warn!(error = %e, "cannot watch the config folder; SIGHUP still reloads");
                None
            }
        };
        #[cfg(unix)]
        {
            let hup_tx = tx.clone();
            let stop = shutdown.clone();
            tokio::spawn(async move {
                use tokio::signal::unix::{SignalKind, signal};
                let Ok(mut hup) = signal(SignalKind::hangup()) else {
                    return;
                };
                loop {
                    tokio::select! {
                        _ = stop.cancelled() => return,
                        s = hup.recv() => {
                            if s.is_none() { return; }
                            let _ = hup_tx.send("SIGHUP".into());
                        }
                    }
                }
            });
        }
        drop(tx);
        loop {
            let trigger = tokio::select! {
                _ = shutdown.cancelled() => return,
                t = rx.recv() => match t { Some(t) => t, None => return },
            };
            // Editors write a file in several steps: let them finish.
            tokio::time::sleep(Duration::from_millis(300)).await;
            let mut trigger = trigger;
            while let Ok(more) = rx.try_recv() {
                if more == "SIGHUP" {
                    trigger = more;
                }
            }
            let _ = self.reload(&trigger).await;
        }
    }
}

//! The commands of the `councilgate` binary, one module each; `main.rs`
//! parses the command line and calls one of them.

pub mod audit;
pub mod check;
pub mod directory;
pub mod examples;
pub mod health;
pub mod held;
pub mod protocol;
pub mod queue;
pub mod rules;
pub mod serve;
pub mod stats;
pub mod status;
pub mod user;

use anyhow::{Context, Result};

use councilgate::settings::Settings;

pub fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Runtime::new().context("starting the async runtime")
}

/// Opens the store `config` names, and says which on standard error first
/// (the same store the gateway reads only when given the same config
/// folder). A new SQLite store is never made silently: the command says
/// where it made one.
pub async fn open_store(config: &std::path::Path) -> Result<(Settings, councilgate::store::Store)> {
    let settings = Settings::load(config)?;
    let (url, created) = if settings.store.url.trim().is_empty() {
        let dir = data_folder(&settings);
        let file = dir.join("councilgate.db");
        let created = !file.exists();
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        (
            councilgate::store::Store::default_url(&dir),
            created.then_some(file),
        )
    } else {
        (settings.store.url.trim().to_string(), None)
    };
    eprintln!("store: {}", councilgate::store::redact(&url));
    if let Some(file) = created {
        eprintln!(
            "note: no store existed at {}, so a new, empty one was made there; if the gateway keeps its store elsewhere, run this command with --config set to the gateway's config folder",
            file.display()
        );
    }
    let store = councilgate::store::Store::open(&url).await?;
    Ok((settings, store))
}

/// The data folder `settings` name (absolute: [`Settings::load`] resolves
/// it against the config folder).
pub fn data_folder(settings: &Settings) -> std::path::PathBuf {
    settings.server.data_dir.clone()
}

pub fn when(ts: i64) -> String {
    chrono::DateTime::from_timestamp(ts, 0)
        .map(|t| {
            t.with_timezone(&chrono_tz::Europe::London)
                .format("%Y-%m-%d %H:%M")
                .to_string()
        })
        .unwrap_or_default()
}

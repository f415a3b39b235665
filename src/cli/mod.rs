//! The commands of the `councilgate` binary, one module each; `main.rs`
//! parses the command line and calls one of them.

pub mod audit;
pub mod check;
pub mod directory;
pub mod health;
pub mod held;
pub mod queue;
pub mod rules;
pub mod serve;
pub mod stats;
pub mod user;

use anyhow::{Context, Result};

use councilgate::settings::Settings;

pub fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Runtime::new().context("starting the async runtime")
}

pub async fn open_store(config: &std::path::Path) -> Result<(Settings, councilgate::store::Store)> {
    let settings = Settings::load(config)?;
    let url = if settings.store.url.trim().is_empty() {
        std::fs::create_dir_all(&settings.server.data_dir)
            .with_context(|| format!("creating {}", settings.server.data_dir.display()))?;
        councilgate::store::Store::default_url(&settings.server.data_dir)
    } else {
        settings.store.url.trim().to_string()
    };
    let store = councilgate::store::Store::open(&url).await?;
    Ok((settings, store))
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

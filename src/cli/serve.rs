//! `councilgate serve`: run the gateway until SIGTERM or Ctrl-C.

use std::path::Path;

use anyhow::{Context, Result};

use councilgate::server::App;
use councilgate::settings::{LogFormat, Settings};
use tokio_util::sync::CancellationToken;

pub fn init_logging(settings: &Settings) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("COUNCILGATE_LOG")
        .or_else(|_| tracing_subscriber::EnvFilter::try_new(&settings.server.log_level))
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    // Colour codes only for a person at a terminal, never into a log file
    // or the journal.
    use std::io::IsTerminal;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr);
    match settings.server.log_format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Text => builder.init(),
    }
}

pub fn serve(config: &Path) -> Result<()> {
    let settings = Settings::load(config)?;
    init_logging(&settings);
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    runtime.block_on(async {
        let app = App::load(config).await?;
        let listeners = app.bind().await?;
        let shutdown = CancellationToken::new();
        let signal = shutdown.clone();
        tokio::spawn(async move {
            wait_for_signal().await;
            signal.cancel();
        });
        app.run(listeners, shutdown).await;
        Ok(())
    })
}

pub async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

//! The `councilgate` command: a thin shell over the library.

use std::path::PathBuf;

use anyhow::{Context, Result};
use chrono::{TimeZone, Utc};
use clap::{Parser, Subcommand};
use tokio_util::sync::CancellationToken;

use councilgate::queue::spool::{RecipientState, Spool};
use councilgate::server::App;
use councilgate::settings::{LogFormat, Settings};

#[derive(Parser)]
#[command(
    name = "councilgate",
    version,
    about = "A mail gateway that enforces the council's councillor-officer protocol"
)]
struct Cli {
    /// Folder holding councilgate.toml and directory.toml.
    #[arg(long, global = true, default_value = "config")]
    config: PathBuf,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the gateway.
    Serve,
    /// Show or retry the delivery queue.
    Queue {
        #[command(subcommand)]
        action: QueueAction,
    },
}

#[derive(Subcommand)]
enum QueueAction {
    /// List queued messages with their recipients' state.
    List,
    /// Ask the running gateway to retry every queued message now.
    Flush,
}

fn init_logging(settings: &Settings) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("COUNCILGATE_LOG")
        .or_else(|_| tracing_subscriber::EnvFilter::try_new(&settings.server.log_level))
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match settings.server.log_format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Text => builder.init(),
    }
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Serve => serve(&cli.config),
        Command::Queue { action } => queue(&cli.config, action),
    }
}

fn serve(config: &std::path::Path) -> Result<()> {
    let settings = Settings::load(config)?;
    init_logging(&settings);
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    runtime.block_on(async {
        let app = App::load(config)?;
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

async fn wait_for_signal() {
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

fn queue(config: &std::path::Path, action: QueueAction) -> Result<()> {
    let settings = Settings::load(config)?;
    let data_dir = settings.server.data_dir.clone();
    let spool = Spool::open_shared(data_dir.join("spool"))
        .with_context(|| format!("opening the spool in {}", data_dir.display()))?;
    let (entries, problems) = spool.list()?;
    match action {
        QueueAction::List => {
            if entries.is_empty() {
                println!("The queue is empty.");
            }
            let now = Utc::now().timestamp();
            for e in &entries {
                let next = Utc
                    .timestamp_opt(e.next_attempt, 0)
                    .single()
                    .map(|t| t.to_rfc3339())
                    .unwrap_or_default();
                println!(
                    "{}  age {}s  attempts {}  next {}  from <{}>",
                    e.id,
                    now - e.created,
                    e.attempts,
                    next,
                    e.mail_from
                );
                for r in &e.recipients {
                    let state = match &r.state {
                        RecipientState::Pending => format!(
                            "pending{}",
                            r.last_error
                                .as_deref()
                                .map(|x| format!(" (last error: {x})"))
                                .unwrap_or_default()
                        ),
                        RecipientState::Delivered { reply } => format!("delivered ({reply})"),
                        RecipientState::Failed { reply } => format!("failed ({reply})"),
                    };
                    println!("    <{}>  {state}", r.address);
                }
            }
            for p in problems {
                eprintln!("unreadable: {p}");
            }
        }
        QueueAction::Flush => {
            let trigger = data_dir.join(councilgate::queue::FLUSH_TRIGGER);
            std::fs::write(&trigger, b"flush\n")
                .with_context(|| format!("writing {}", trigger.display()))?;
            println!(
                "Asked the gateway to retry {} queued message(s) now (it checks every second; if it is not running, the next start retries them at once).",
                entries.len()
            );
        }
    }
    Ok(())
}

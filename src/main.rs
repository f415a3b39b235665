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
    /// Evaluate the protocol rules on one message without sending it.
    Check(CheckArgs),
}

#[derive(clap::Args)]
struct CheckArgs {
    /// Envelope sender.
    #[arg(long = "mail-from", value_name = "ADDR")]
    mail_from: String,
    /// Envelope recipient (repeat for more).
    #[arg(long = "rcpt", value_name = "ADDR", required = true)]
    rcpt: Vec<String>,
    /// Processing time (periods, exemption expiry), RFC 3339; default now.
    #[arg(long, value_name = "RFC3339")]
    at: Option<String>,
    /// Print exactly one JSON object.
    #[arg(long)]
    json: bool,
    /// Write the rewritten message here.
    #[arg(long, value_name = "PATH")]
    emit: Option<PathBuf>,
    /// The message file, or - for standard input.
    file: String,
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
        Command::Check(args) => check(&cli.config, args),
    }
}

fn check(config: &std::path::Path, args: CheckArgs) -> Result<()> {
    use std::io::Read;
    let snapshot = councilgate::policy::Snapshot::load(config)?;
    let now = match &args.at {
        Some(at) => chrono::DateTime::parse_from_rfc3339(at)
            .with_context(|| {
                format!("--at {at:?} is not an RFC 3339 time such as 2027-04-01T09:00:00+01:00")
            })?
            .with_timezone(&Utc),
        None => Utc::now(),
    };
    let mut message = Vec::new();
    if args.file == "-" {
        std::io::stdin()
            .read_to_end(&mut message)
            .context("reading the message from standard input")?;
    } else {
        message = std::fs::read(&args.file).with_context(|| format!("reading {}", args.file))?;
    }
    if message.is_empty() {
        anyhow::bail!("the message {} is empty", args.file);
    }
    // Messages on disk often have bare LF line endings; SMTP would give CRLF.
    let message = councilgate::message::crlf(&message);
    let envelope = councilgate::check::envelope(&args.mail_from, &args.rcpt);
    let verdict = snapshot.evaluate(&envelope, &message, now);
    if let Some(path) = &args.emit {
        let bytes = verdict.message.as_deref().unwrap_or(&message);
        std::fs::write(path, bytes).with_context(|| format!("writing {}", path.display()))?;
    }
    if args.json {
        println!("{}", councilgate::check::to_json(&verdict));
    } else {
        print!(
            "{}",
            councilgate::check::explain(&snapshot, &envelope, &verdict)
        );
    }
    Ok(())
}

fn serve(config: &std::path::Path) -> Result<()> {
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

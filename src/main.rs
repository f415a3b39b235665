//! The `councilgate` command: a thin shell over the library. The command
//! line is parsed here; each command lives in its own module under `cli/`.

mod cli;

use std::path::PathBuf;

use anyhow::Result;
use clap::{Parser, Subcommand};

use cli::audit::AuditAction;
use cli::check::CheckArgs;
use cli::directory::DirectoryAction;
use cli::held::HeldAction;
use cli::queue::QueueAction;
use cli::rules::RulesAction;
use cli::user::UserAction;

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
    /// Review held messages from the command line.
    Held {
        #[command(subcommand)]
        action: HeldAction,
    },
    /// Manage the people who can log in to the review pages.
    User {
        #[command(subcommand)]
        action: UserAction,
    },
    /// The audit log.
    Audit {
        #[command(subcommand)]
        action: AuditAction,
    },
    /// Test, check and explain the rules.
    Rules {
        #[command(subcommand)]
        action: RulesAction,
    },
    /// The council's own protocol: packs, and the clause behind each rule.
    Protocol {
        #[command(subcommand)]
        action: cli::protocol::ProtocolAction,
    },
    /// The example sentences the content detectors read meaning by.
    Examples {
        #[command(subcommand)]
        action: cli::examples::ExamplesAction,
    },
    /// What each rule did over the last 7 and 30 days, and what reviewers
    /// then did with what it held.
    Stats,
    /// What this config folder leads to: folders, store, queue, listeners
    /// and policy.
    Status,
    /// The council directory.
    Directory {
        #[command(subcommand)]
        action: DirectoryAction,
    },
    /// Exit 0 when URL answers 200 (the container health check).
    Health {
        #[arg(default_value = "http://127.0.0.1:9025/healthz")]
        url: String,
    },
}

/// A command's error is one line on standard error (`error: …` with its
/// causes), and exit status 1, whatever `RUST_BACKTRACE` says: it is for
/// the person who typed the command, not a crash report.
fn main() -> std::process::ExitCode {
    match run() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run() -> Result<()> {
    let cli = Cli::parse();
    // The sentence encoder's matrix products run on the thread that reads
    // the message, not split over a pool: the gateway reads many messages
    // at once, and splitting one message's products cost about a tenth more
    // CPU per message for no gain under load (BENCHMARKS.md). An operator's
    // own RAYON_NUM_THREADS is kept.
    if std::env::var_os("RAYON_NUM_THREADS").is_none() {
        // SAFETY: at start, before any other thread exists.
        unsafe { std::env::set_var("RAYON_NUM_THREADS", "1") };
    }
    // One TLS crypto provider for every rustls user (listeners, relay, DNS).
    let _ = rustls::crypto::ring::default_provider().install_default();
    if !matches!(cli.command, Command::Serve) {
        // A command's output piped into `head` ends quietly, as Unix tools
        // do, rather than with a panic on the broken pipe.
        #[cfg(unix)]
        // SAFETY: resetting a signal disposition to its default at start,
        // before any other thread exists.
        unsafe {
            libc::signal(libc::SIGPIPE, libc::SIG_DFL);
        }
    }
    match cli.command {
        Command::Serve => cli::serve::serve(&cli.config),
        Command::Queue { action } => cli::queue::queue(&cli.config, action),
        Command::Check(args) => cli::check::check(&cli.config, args),
        Command::Held { action } => cli::runtime()?.block_on(cli::held::held(&cli.config, action)),
        Command::User { action } => cli::runtime()?.block_on(cli::user::user(&cli.config, action)),
        Command::Audit { action } => {
            cli::runtime()?.block_on(cli::audit::audit(&cli.config, action))
        }
        Command::Rules { action } => cli::rules::rules(&cli.config, action),
        Command::Protocol { action } => cli::protocol::protocol(&cli.config, action),
        Command::Examples { action } => cli::examples::examples(&cli.config, action),
        Command::Stats => cli::runtime()?.block_on(cli::stats::stats(&cli.config)),
        Command::Status => cli::runtime()?.block_on(cli::status::status(&cli.config)),
        Command::Directory { action } => cli::directory::directory(&cli.config, action),
        Command::Health { url } => cli::health::health(&url),
    }
}

//! `councilgate queue`: the delivery queue, listed or flushed.

use std::path::Path;

use anyhow::{Context, Result};
use chrono::{TimeZone, Utc};
use clap::Subcommand;

use councilgate::queue::spool::{RecipientState, Spool};
use councilgate::settings::Settings;

#[derive(Subcommand)]
pub enum QueueAction {
    /// List queued messages with their recipients' state.
    List,
    /// Ask the running gateway to retry every queued message now.
    Flush,
}

pub fn queue(config: &Path, action: QueueAction) -> Result<()> {
    let settings = Settings::load(config)?;
    let data_dir = super::data_folder(&settings);
    let spool_dir = data_dir.join("spool");
    eprintln!("spool: {}", spool_dir.display());
    if !spool_dir.exists() {
        eprintln!(
            "note: there is no spool at {}: the gateway has not run with this data folder (run this command with --config set to the gateway's config folder)",
            spool_dir.display()
        );
    }
    let spool = Spool::open_shared(spool_dir)
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

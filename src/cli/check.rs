//! `councilgate check`: what the gateway would do with one message.

use std::path::Path;

use anyhow::{Context, Result};
use chrono::Utc;

use std::path::PathBuf;

#[derive(clap::Args)]
pub struct CheckArgs {
    /// Envelope sender.
    #[arg(long = "mail-from", value_name = "ADDR")]
    pub mail_from: String,
    /// Envelope recipient (repeat for more).
    #[arg(long = "rcpt", value_name = "ADDR", required = true)]
    pub rcpt: Vec<String>,
    /// Processing time (periods, exemption expiry), RFC 3339; default now.
    #[arg(long, value_name = "RFC3339")]
    pub at: Option<String>,
    /// Print exactly one JSON object.
    #[arg(long)]
    pub json: bool,
    /// Write the rewritten message here.
    #[arg(long, value_name = "PATH")]
    pub emit: Option<PathBuf>,
    /// As if the message came from outside and its From could not be
    /// verified (no DMARC pass, no login, not a trusted network).
    #[arg(long)]
    pub unverified: bool,
    /// The message file, or - for standard input.
    pub file: String,
}

pub fn check(config: &Path, args: CheckArgs) -> Result<()> {
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
    let mut envelope = councilgate::tuning::check::envelope(&args.mail_from, &args.rcpt);
    if args.unverified {
        envelope = councilgate::tuning::check::unverified(envelope);
    }
    let verdict = snapshot.evaluate(&envelope, &message, now);
    if let Some(path) = &args.emit {
        let bytes = verdict.message.as_deref().unwrap_or(&message);
        std::fs::write(path, bytes).with_context(|| format!("writing {}", path.display()))?;
    }
    if args.json {
        println!("{}", councilgate::tuning::check::to_json(&verdict));
    } else {
        print!(
            "{}",
            councilgate::tuning::check::explain(&snapshot, &envelope, &verdict)
        );
    }
    Ok(())
}

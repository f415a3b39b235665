//! `councilgate held`: review held messages from the command line.

use std::path::Path;

use anyhow::Result;
use clap::Subcommand;

use super::{open_store, when};

#[derive(Subcommand)]
pub enum HeldAction {
    /// Messages waiting for review, oldest first.
    List,
    /// One message: why it was held, its recipients and history.
    Show {
        /// The message's id, as `councilgate held list` shows it.
        id: String,
    },
    /// Deliver it, with its pending copies and notices.
    Release(Decision),
    /// Deliver it to the Proper Officer only.
    SendToProperOfficer(Decision),
    /// Return it to the sender with a note.
    Return(Decision),
    /// Delete it without delivering.
    Delete(Decision),
}

#[derive(clap::Args)]
pub struct Decision {
    /// The message's id, as `councilgate held list` shows it.
    pub id: String,
    /// Who is acting (a reviewer's user name); default: cli:$USER.
    #[arg(long = "as")]
    pub actor: Option<String>,
    /// The protocol clause or reason for the decision.
    #[arg(long, default_value = "")]
    pub reason: String,
    /// A note (sent to the sender when returning).
    #[arg(long, default_value = "")]
    pub note: String,
}

pub async fn held(config: &Path, action: HeldAction) -> Result<()> {
    use councilgate::store::Action;
    let (_, store) = open_store(config).await?;
    let decision = |d: Decision, a: Action| (d, a);
    let (d, action) = match action {
        HeldAction::List => {
            let items = store.list(councilgate::store::HeldState::Held).await?;
            if items.is_empty() {
                println!("No messages are waiting for review.");
            }
            for h in items {
                println!(
                    "{}  held {}  expires {}  from <{}>  rules {}\n    subject: {}",
                    h.id,
                    when(h.created),
                    when(h.expires),
                    h.mail_from,
                    h.rules.join(", "),
                    h.subject
                );
            }
            return Ok(());
        }
        HeldAction::Show { id } => {
            let h = store.get(&id).await?;
            println!("Message {}  ({})", h.id, h.state);
            println!(
                "From: <{}>\nTo: {}\nSubject: {}",
                h.mail_from,
                h.recipients.join(", "),
                h.subject
            );
            println!("Held: {}  expires: {}", when(h.created), when(h.expires));
            println!("Reviewers: {}", h.reviewers.join(", "));
            if !h.barred.is_empty() {
                println!("May not act (a party to it): {}", h.barred.join(", "));
            }
            for r in &h.verdict.rules {
                println!("\nRule {} ({})", r.id, r.action);
                for e in &r.evidence {
                    println!("  - {e}");
                }
            }
            println!("\nHistory:");
            for e in store.audit_for(&id).await? {
                println!("  {}  {}  {}  {}", when(e.at), e.actor, e.action, e.detail);
            }
            return Ok(());
        }
        HeldAction::Release(d) => decision(d, Action::Release),
        HeldAction::SendToProperOfficer(d) => decision(d, Action::SendToProperOfficer),
        HeldAction::Return(d) => decision(d, Action::Return),
        HeldAction::Delete(d) => decision(d, Action::Delete),
    };
    let snapshot = councilgate::policy::Snapshot::load(config)?;
    let actor = d.actor.unwrap_or_else(|| {
        format!(
            "cli:{}",
            std::env::var("USER").unwrap_or_else(|_| "unknown".into())
        )
    });
    let decision = councilgate::store::ReviewDecision::new(action, &actor, &d.reason, &d.note);
    let held = councilgate::review::record(&store, &snapshot, &d.id, &decision).await?;
    councilgate::review::teaching::propose(&store, &snapshot, &held, &decision).await;
    println!(
        "{} is now {}. The running gateway carries this out within a few seconds (or at its next start).",
        held.id, held.state
    );
    Ok(())
}

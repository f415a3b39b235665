//! The path of one accepted message, between the end of DATA and the reply:
//! the policy verdict, then the queue (deliver), the held folder (hold), or
//! an SMTP rejection. Nothing is acknowledged with 250 before it is on disk.

use std::path::PathBuf;
use std::sync::Arc;

use chrono::Utc;
use tracing::{info, warn};

use crate::envelope::Envelope;
use crate::policy::{Decision, PolicyHandle};
use crate::queue::Queue;
use crate::queue::spool::{Recipient, RecipientState, Spool, SpoolEntry};
use crate::settings::Settings;
use crate::smtp::reply::Reply;

/// Everything a session needs, shared by all sessions.
pub struct Gateway {
    pub settings: Arc<Settings>,
    pub hostname: String,
    pub postmaster: String,
    pub policy: Arc<PolicyHandle>,
    pub queue: Arc<Queue>,
    /// Held messages wait here for the clerk.
    pub held: Spool,
    pub data_dir: PathBuf,
}

impl Gateway {
    /// Whether `domain` is one of the council's (inbound accepts only these).
    pub fn is_council_domain(&self, domain: &str) -> bool {
        self.policy.load().directory.is_council_domain(domain)
    }

    /// Judges and stores a received message; the reply is what the client
    /// is told. `message` already carries our `Received:` header.
    pub async fn receive(&self, envelope: Envelope, message: Vec<u8>, queue_id: &str) -> Reply {
        let snapshot = self.policy.load();
        let verdict = snapshot.evaluate(&envelope, &message, Utc::now());
        let rules: Vec<&str> = verdict.rules.iter().map(|r| r.id.as_str()).collect();
        info!(
            decision = verdict.decision.as_str(),
            rules = ?rules,
            policy = %verdict.snapshot_version,
            "verdict"
        );
        match verdict.decision {
            Decision::Reject => {
                let reason = verdict
                    .reject_reason
                    .clone()
                    .unwrap_or_else(|| "Message refused by council protocol".into());
                Reply::new(550, "5.7.1", reason)
            }
            Decision::Hold => {
                let bytes = verdict.message.clone().unwrap_or(message);
                let now = Utc::now().timestamp();
                let entry = SpoolEntry {
                    id: queue_id.to_string(),
                    mail_from: envelope.mail_from.clone(),
                    recipients: verdict
                        .recipients
                        .iter()
                        .map(|r| Recipient {
                            address: r.clone(),
                            state: RecipientState::Pending,
                            last_error: None,
                        })
                        .collect(),
                    created: now,
                    attempts: 0,
                    next_attempt: now,
                    message_id: None,
                    received: Some(envelope),
                    detail: serde_json::to_value(&verdict).ok(),
                };
                let held = self.held.clone();
                let stored = tokio::task::spawn_blocking(move || held.store(&entry, &bytes)).await;
                match stored {
                    Ok(Ok(())) => Reply::new(
                        250,
                        "2.6.0",
                        format!(
                            "Held for review by the Proper Officer under the council protocol ({}); id {queue_id}",
                            rules.join(", ")
                        ),
                    ),
                    Ok(Err(e)) => {
                        warn!(error = %e, "cannot store held message");
                        temp_failure()
                    }
                    Err(e) => {
                        warn!(error = %e, "held store task failed");
                        temp_failure()
                    }
                }
            }
            Decision::Deliver => {
                let bytes = Arc::new(verdict.message.clone().unwrap_or(message));
                match self
                    .queue
                    .enqueue_as(
                        queue_id.to_string(),
                        &envelope.mail_from.clone(),
                        &verdict.recipients,
                        bytes,
                        Some(envelope),
                    )
                    .await
                {
                    Ok(id) => Reply::new(250, "2.0.0", format!("Queued as {id}")),
                    Err(e) => {
                        warn!(error = %e, "cannot spool message");
                        temp_failure()
                    }
                }
            }
        }
    }
}

fn temp_failure() -> Reply {
    Reply::new(
        451,
        "4.3.0",
        "Message could not be stored; please try again later",
    )
}

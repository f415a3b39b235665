//! The commit stage: the verdict carried out durably — the spool for a
//! delivery, the review store for a hold, nothing for a refusal — then the
//! message event recorded and the sender told where the rule says so.

use std::sync::Arc;

use chrono::Utc;
use tracing::{info, warn};

use super::{Outcome, Pipeline};
use crate::message::View;
use crate::message::envelope::Envelope;
use crate::policy::rules::Action;
use crate::policy::{Decision, Snapshot, Verdict};

impl Pipeline {
    pub(super) async fn commit(
        &self,
        envelope: &Envelope,
        message: &View<'_>,
        snapshot: &Snapshot,
        mut verdict: Verdict,
        queue_id: &str,
    ) -> Outcome {
        let rules: Vec<String> = verdict.rules.iter().map(|r| r.id.clone()).collect();
        info!(
            decision = verdict.decision.as_str(),
            rules = ?rules,
            policy = %verdict.snapshot_version,
            text_unread = ?verdict.text_unread,
            language = ?verdict.language,
            "verdict"
        );
        let notify_hold = verdict.decision == Decision::Hold
            && verdict.rules.iter().any(|h| {
                snapshot.rules.iter().any(|r| {
                    r.def.id == h.id && r.def.notify_sender && r.def.action == Action::Hold
                })
            });
        let notify = notify_hold || !verdict.sender_notices.is_empty();
        crate::metrics::verdict(&verdict);
        if !verdict.rules.is_empty() {
            self.record_event(envelope, message, &verdict, queue_id);
        }
        if let (Some(text), true) = (verdict.read_text.as_deref(), self.archive) {
            self.archive(envelope, message, text, &verdict, queue_id);
        }
        let mut reviewers = Vec::new();
        let outcome = match verdict.decision {
            Decision::Reject => {
                return Outcome::Rejected {
                    reason: verdict
                        .reject_reason
                        .clone()
                        .unwrap_or_else(|| "Message refused by council protocol".into()),
                };
            }
            Decision::Hold => {
                match self
                    .review
                    .hold(envelope, message, &mut verdict, queue_id)
                    .await
                {
                    Ok(r) => {
                        reviewers = r;
                        Outcome::Held {
                            id: queue_id.to_string(),
                            rules,
                        }
                    }
                    Err(e) => {
                        warn!(error = %e, "cannot store held message");
                        return Outcome::NotStored;
                    }
                }
            }
            Decision::Deliver => {
                let bytes = Arc::new(
                    verdict
                        .message
                        .take()
                        .unwrap_or_else(|| message.raw().to_vec()),
                );
                match self
                    .queue
                    .enqueue_as(
                        queue_id.to_string(),
                        &envelope.mail_from,
                        &verdict.recipients,
                        bytes,
                        Some(envelope.clone()),
                    )
                    .await
                {
                    Ok(id) => Outcome::Queued { id },
                    Err(e) => {
                        warn!(error = %e, "cannot spool message");
                        return Outcome::NotStored;
                    }
                }
            }
        };
        if notify {
            self.notify_sender(envelope, message, &verdict, snapshot, &reviewers)
                .await;
        }
        outcome
    }

    /// Tells the sender what happened to their message (redirects, and
    /// holds where the rule says so), unless the message was automatic.
    async fn notify_sender(
        &self,
        envelope: &Envelope,
        message: &View<'_>,
        verdict: &Verdict,
        snapshot: &Snapshot,
        reviewers: &[String],
    ) {
        let subject = crate::message::visible::visible(message.subject());
        let mut body = String::new();
        let dir = &snapshot.directory;
        let po = dir.proper_officer();
        let po_reviews =
            reviewers.is_empty() || reviewers.iter().any(|r| dir.person_id(r) == Some(po));
        let title = match verdict.decision {
            Decision::Hold if po_reviews => {
                body.push_str("Your message has been held for review by the Proper Officer (the Clerk) under the council's councillor-officer protocol. It has not been delivered yet.\n\n");
                format!("Held for review: {subject}")
            }
            Decision::Hold => {
                // The Proper Officer is a party to it: the sender is told
                // who reviews it instead.
                let who: Vec<String> = reviewers
                    .iter()
                    .map(|r| crate::review::role_of(snapshot, r))
                    .collect();
                body.push_str(&format!(
                    "Your message has been held under the council's councillor-officer protocol. It has not been delivered yet. Because it concerns the Proper Officer (the Clerk), it will be reviewed by {} instead.\n\n",
                    who.join(" or ")
                ));
                format!("Held for review: {subject}")
            }
            _ => format!("Redirected under the council protocol: {subject}"),
        };
        for n in &verdict.sender_notices {
            body.push_str(n);
            body.push_str("\n\n");
        }
        for hit in &verdict.rules {
            if let Some(rule) = snapshot.rules.iter().find(|r| r.def.id == hit.id) {
                body.push_str(&format!("{} ({})\n", rule.def.title, rule.def.id));
                if !rule.def.source.is_empty() {
                    body.push_str(&format!("{}:\n", rule.def.source));
                }
                body.push_str(&format!("  \"{}\"\n\n", rule.def.reference.trim()));
            }
        }
        if verdict.decision == Decision::Hold {
            let reviewer = if po_reviews {
                "the Proper Officer"
            } else {
                "the reviewer"
            };
            body.push_str(&format!("What happens next: {reviewer} will release it, send it on to the right person, or return it to you with a note. You do not need to send it again.\n"));
        }
        self.review
            .notices
            .tell_sender(
                &snapshot.directory.council_name,
                &envelope.mail_from,
                message,
                &title,
                &body,
            )
            .await;
    }

    /// Archives what the content rules read of a message they could apply
    /// to (see [`crate::store::archive`]): its visible header fields and new
    /// text as a small message, the envelope and the verdict; done in the
    /// background, after the reply.
    fn archive(
        &self,
        envelope: &Envelope,
        message: &View<'_>,
        new_text: &str,
        verdict: &Verdict,
        queue_id: &str,
    ) {
        const KEPT: &[&str] = &[
            "from",
            "to",
            "cc",
            "reply-to",
            "subject",
            "date",
            "sensitivity",
            "importance",
        ];
        let mut out = String::new();
        for (name, value) in message.fields() {
            if KEPT.contains(&name.to_ascii_lowercase().as_str()) {
                let value = value.replace(['\r', '\n'], " ");
                out.push_str(&format!("{name}: {value}\r\n"));
            }
        }
        out.push_str("MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n");
        for line in new_text.lines() {
            out.push_str(line);
            out.push_str("\r\n");
        }
        let archived = crate::store::archive::Archived {
            id: queue_id.to_string(),
            at: Utc::now().timestamp(),
            envelope: envelope.clone(),
            message: out.into_bytes(),
            subject: message.subject().to_string(),
            decision: verdict.decision.as_str().to_string(),
            rules: verdict.rules.iter().map(|r| r.id.clone()).collect(),
            policy: verdict.snapshot_version.clone(),
        };
        let store = self.review.store.clone();
        tokio::spawn(async move {
            if let Err(e) = store.archive_analysis(&archived).await {
                warn!(error = %e, "cannot archive the message's analysis");
            }
        });
    }

    /// Records which rules touched a message, for statistics and the audit
    /// search; done in the background, after the reply.
    fn record_event(
        &self,
        envelope: &Envelope,
        message: &View<'_>,
        verdict: &Verdict,
        queue_id: &str,
    ) {
        let (mut rules, mut monitored) = (Vec::new(), Vec::new());
        for hit in &verdict.rules {
            if hit.action.starts_with("monitor") {
                monitored.push(hit.id.clone());
            } else {
                rules.push(hit.id.clone());
            }
        }
        let event = crate::store::Event {
            id: queue_id.to_string(),
            at: Utc::now().timestamp(),
            decision: verdict.decision.as_str().to_string(),
            rules,
            monitored,
            mail_from: envelope.mail_from.clone(),
            recipients: envelope.rcpt_to.clone(),
            subject: message.subject().to_string(),
            policy: verdict.snapshot_version.clone(),
        };
        let store = self.review.store.clone();
        tokio::spawn(async move {
            if let Err(e) = store.record_event(&event).await {
                warn!(error = %e, "cannot record the message event");
            }
        });
    }
}

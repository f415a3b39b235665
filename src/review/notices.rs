//! The notices the gateway writes: to a sender (held, redirected,
//! returned, expired) and to reviewers (held, reminders). Each is queued
//! like any other message, from the postmaster address, and automatic mail
//! is never answered.

use std::sync::Arc;

use tracing::warn;

use crate::message::visible::visible;
use crate::message::{View, notice};
use crate::policy::Snapshot;
use crate::queue::Queue;
use crate::store::Held;

use super::links::{ActionLinks, LinkAction};

/// Who notices come from, and the queue they go into.
#[derive(Clone)]
pub struct Notices {
    hostname: String,
    postmaster: String,
    /// The review pages, for links in reviewers' notices.
    base_url: String,
    queue: Arc<Queue>,
    /// Signs the one-tap links in reviewers' notices (none: plain links).
    links: Option<ActionLinks>,
}

impl Notices {
    pub fn new(hostname: String, postmaster: String, base_url: String, queue: Arc<Queue>) -> Self {
        Notices {
            hostname,
            postmaster,
            base_url,
            queue,
            links: None,
        }
    }

    /// Reviewers' notices carry one-tap links signed with `links`.
    pub fn with_links(mut self, links: ActionLinks) -> Self {
        self.links = Some(links);
        self
    }

    /// What signs and checks action links.
    pub fn links(&self) -> Option<&ActionLinks> {
        self.links.as_ref()
    }

    /// Queues one notice to `to`.
    pub async fn send(
        &self,
        council: &str,
        to: &str,
        subject: &str,
        body: &str,
        in_reply_to: Option<&str>,
    ) {
        let msg = notice::build(
            &self.hostname,
            &self.postmaster,
            council,
            to,
            subject,
            body,
            in_reply_to,
        );
        if let Err(e) = self
            .queue
            .enqueue("", &[to.to_string()], Arc::new(msg), None)
            .await
        {
            warn!(error = %e, "cannot queue a notice");
        }
    }

    /// Tells `mail_from`, the sender of `message`, unless the message was
    /// automatic (bounces, lists, auto-replies) or the sender cannot be
    /// answered.
    pub async fn tell_sender(
        &self,
        council: &str,
        mail_from: &str,
        message: &View<'_>,
        subject: &str,
        body: &str,
    ) {
        if notice::must_not_answer(mail_from, &message.fields()) {
            return;
        }
        self.send(council, mail_from, subject, body, message.message_id())
            .await;
    }

    /// The one-tap links for `reviewer` to act on `held`, one per line
    /// (none when links are not signed): each asks to confirm after signing
    /// in, and works once.
    fn action_links(&self, held: &Held, reviewer: &str, now: i64, indent: &str) -> String {
        let Some(links) = &self.links else {
            return String::new();
        };
        let mut text = String::new();
        for (label, action) in [
            ("Release it", LinkAction::Release),
            (
                "Return it to the sender with the standard note",
                LinkAction::Return,
            ),
        ] {
            let l = links.make(&held.id, action, reviewer, now, held.expires);
            text.push_str(&format!("{indent}{label}: {}\n", links.url(&l)));
        }
        text
    }

    /// The day's summary for `reviewer` of the messages waiting for them
    /// (oldest first), with the same links as the notices.
    pub async fn tell_digest(&self, snapshot: &Snapshot, reviewer: &str, waiting: &[&Held]) {
        if waiting.is_empty() {
            return;
        }
        let base = self.base_url.trim_end_matches('/');
        let now = chrono::Utc::now().timestamp();
        let n = waiting.len();
        let subject = format!(
            "Held mail waiting for you: {n} {}",
            if n == 1 { "message" } else { "messages" }
        );
        let mut body = format!(
            "{n} held {} {} for your review under the council's councillor-officer protocol.\n\n",
            if n == 1 { "message" } else { "messages" },
            if n == 1 { "waits" } else { "wait" }
        );
        for (i, held) in waiting.iter().enumerate() {
            let hit = super::holding_rule(&held.verdict);
            let soon = if held.expires - now < 86_400 {
                " (soon: undecided, it goes back to its sender)"
            } else {
                ""
            };
            body.push_str(&format!(
                "{}. {}\n   From: {}\n   Held by: {}\n",
                i + 1,
                visible(&held.subject),
                visible(&held.mail_from),
                hit.and_then(|r| super::rule_reason(snapshot, &r.id))
                    .unwrap_or_else(|| held.rules.join(", ")),
            ));
            if let Some(e) = hit.and_then(|r| super::headline_evidence(&r.evidence)) {
                let e: String = visible(e).chars().take(200).collect();
                body.push_str(&format!("   Evidence: {e}\n"));
            }
            body.push_str(&format!(
                "   Expires: {}{soon}\n   Open it: {base}/held/{}\n",
                london(held.expires),
                held.id
            ));
            body.push_str(&self.action_links(held, reviewer, now, "   "));
            body.push('\n');
        }
        body.push_str(&format!("Everything waiting: {base}/\n"));
        self.send(
            &snapshot.directory.council_name,
            reviewer,
            &subject,
            &body,
            None,
        )
        .await;
    }

    /// Tells the reviewers of a held message (on hold, and as a reminder).
    pub async fn tell_reviewers(&self, snapshot: &Snapshot, held: &Held, reminder: bool) {
        if held.reviewers.is_empty() {
            return;
        }
        let link = format!("{}/held/{}", self.base_url.trim_end_matches('/'), held.id);
        let expires = london(held.expires);
        let subject = if reminder {
            format!(
                "Reminder: held message awaiting review: {}",
                visible(&held.subject)
            )
        } else {
            format!("Held for your review: {}", visible(&held.subject))
        };
        let mut body = format!(
            "A message has been held under the council's councillor-officer protocol and needs your review.\n\nFrom: {}\nTo: {}\nSubject: {}\nHeld by: {}\n",
            visible(&held.mail_from),
            held.recipients.join(", "),
            visible(&held.subject),
            super::holding_rule(&held.verdict)
                .and_then(|r| super::rule_reason(snapshot, &r.id))
                .unwrap_or_else(|| held.rules.join(", "))
        );
        if let Some(e) =
            super::holding_rule(&held.verdict).and_then(|r| super::headline_evidence(&r.evidence))
        {
            body.push_str(&format!("Evidence: {}\n", visible(e)));
        }
        body.push_str(&format!("\nOpen it: {link}\n"));
        let tail = {
            let mut t =
                format!("\nIf nobody decides by {expires}, it will be returned to its sender.\n");
            if !held.barred.is_empty() {
                t.push_str("\nThe Proper Officer is a party to this message, so it has been sent to you to review instead.\n");
            }
            t
        };
        let now = chrono::Utc::now().timestamp();
        for to in &held.reviewers {
            let mut text = body.clone();
            text.push_str(&self.action_links(held, to, now, ""));
            text.push_str(&tail);
            self.send(&snapshot.directory.council_name, to, &subject, &text, None)
                .await;
        }
    }
}

/// A time as notices write it ("Monday 7 December 2026 at 18:41", UK time).
fn london(ts: i64) -> String {
    chrono::DateTime::from_timestamp(ts, 0)
        .map(|t| {
            t.with_timezone(&chrono_tz::Europe::London)
                .format("%A %-d %B %Y at %H:%M")
                .to_string()
        })
        .unwrap_or_default()
}

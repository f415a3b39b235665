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

/// Who notices come from, and the queue they go into.
#[derive(Clone)]
pub struct Notices {
    hostname: String,
    postmaster: String,
    /// The review pages, for links in reviewers' notices.
    base_url: String,
    queue: Arc<Queue>,
}

impl Notices {
    pub fn new(hostname: String, postmaster: String, base_url: String, queue: Arc<Queue>) -> Self {
        Notices {
            hostname,
            postmaster,
            base_url,
            queue,
        }
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

    /// Tells the reviewers of a held message (on hold, and as a reminder).
    pub async fn tell_reviewers(&self, snapshot: &Snapshot, held: &Held, reminder: bool) {
        if held.reviewers.is_empty() {
            return;
        }
        let link = format!("{}/held/{}", self.base_url.trim_end_matches('/'), held.id);
        let expires = chrono::DateTime::from_timestamp(held.expires, 0)
            .map(|t| {
                t.with_timezone(&chrono_tz::Europe::London)
                    .format("%A %-d %B %Y at %H:%M")
                    .to_string()
            })
            .unwrap_or_default();
        let subject = if reminder {
            format!(
                "Reminder: held message awaiting review: {}",
                visible(&held.subject)
            )
        } else {
            format!("Held for your review: {}", visible(&held.subject))
        };
        let mut body = format!(
            "A message has been held under the council's councillor-officer protocol and needs your review.\n\nFrom: {}\nTo: {}\nSubject: {}\nRules: {}\n\nReview it here: {link}\n\nIf nobody decides by {expires}, it will be returned to its sender.\n",
            held.mail_from,
            held.recipients.join(", "),
            visible(&held.subject),
            held.rules.join(", ")
        );
        if !held.barred.is_empty() {
            body.push_str("\nThe Proper Officer is a party to this message, so it has been sent to you to review instead.\n");
        }
        for to in &held.reviewers {
            self.send(&snapshot.directory.council_name, to, &subject, &body, None)
                .await;
        }
    }
}

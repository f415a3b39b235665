//! The path of one accepted message, between the end of DATA and the reply:
//! the policy verdict, then the queue (deliver), the held folder (hold), or
//! an SMTP rejection. Nothing is acknowledged with 250 before it is on disk.

use std::path::PathBuf;
use std::sync::Arc;

use chrono::Utc;
use tracing::{info, warn};

use crate::envelope::{Envelope, ListenerKind};
use crate::policy::rules::Action;
use crate::policy::{Decision, PolicyHandle, Snapshot, Verdict};
use crate::queue::Queue;
use crate::settings::Settings;
use crate::smtp::reply::Reply;

/// Everything a session needs, shared by all sessions.
pub struct Gateway {
    pub settings: Arc<Settings>,
    pub hostname: String,
    pub postmaster: String,
    pub policy: Arc<PolicyHandle>,
    pub queue: Arc<Queue>,
    /// Held messages, the audit log and users.
    pub store: crate::store::Store,
    /// Set once the listeners are serving (for `/readyz`).
    pub ready: std::sync::atomic::AtomicBool,
    /// Where the policy files live (watched for changes).
    pub config_dir: PathBuf,
    /// The last reloads, for the admin page.
    pub reload_status: std::sync::Mutex<crate::reload::ReloadStatus>,
    /// One policy reload at a time (see [`crate::reload::reload`]).
    pub reload_lock: tokio::sync::Mutex<()>,
    pub data_dir: PathBuf,
    /// STARTTLS and implicit TLS.
    pub tls: Option<tokio_rustls::TlsAcceptor>,
    /// Failed SMTP logins, per client address and per user.
    pub login_throttle: crate::auth::Throttle,
    /// SPF, DKIM and DMARC of inbound mail; `None` when switched off.
    pub sender_auth: Option<crate::sender_auth::Verifier>,
    /// DKIM keys and the ARC sealer.
    pub signer: Arc<crate::sender_auth::Signer>,
}

impl Gateway {
    /// Whether `domain` is one of the council's (inbound accepts only these).
    pub fn is_council_domain(&self, domain: &str) -> bool {
        self.policy.load().directory.is_council_domain(domain)
    }

    /// Tells the sender what happened to their message (redirects, and
    /// holds where the rule says so), unless the message was automatic.
    async fn notify_sender(
        &self,
        envelope: &Envelope,
        message: &[u8],
        verdict: &Verdict,
        snapshot: &Snapshot,
    ) {
        let council = snapshot.directory.council_name.as_str();
        let headers = crate::notice::header_fields(message);
        if crate::notice::must_not_answer(&envelope.mail_from, &headers) {
            return;
        }
        let subject = headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case("Subject"))
            .map(|(_, v)| v.as_str())
            .unwrap_or("");
        let message_id = headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case("Message-ID"))
            .map(|(_, v)| v.as_str());
        let mut body = String::new();
        let title = match verdict.decision {
            Decision::Hold => {
                body.push_str("Your message has been held for review by the Proper Officer (the Clerk) under the council's councillor-officer protocol. It has not been delivered yet.\n\n");
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
            body.push_str("What happens next: the Proper Officer will release it, send it on to the right person, or return it to you with a note. You do not need to send it again.\n");
        }
        let notice = crate::notice::build(
            &self.hostname,
            &self.postmaster,
            council,
            &envelope.mail_from,
            &title,
            &body,
            message_id,
        );
        if let Err(e) = self
            .queue
            .enqueue(
                "",
                std::slice::from_ref(&envelope.mail_from),
                Arc::new(notice),
                None,
            )
            .await
        {
            warn!(error = %e, "cannot queue sender notice");
        }
    }

    /// Judges and stores a received message; the reply is what the client
    /// is told. `message` already carries our `Received:` header.
    pub async fn receive(
        &self,
        mut envelope: Envelope,
        mut message: Vec<u8>,
        queue_id: &str,
    ) -> Reply {
        // Mail from outside: only we may say what we verified, and DMARC
        // decides whether its From is who it claims.
        let from_outside = !envelope.trusted && envelope.authenticated.is_none();
        if from_outside
            && let std::borrow::Cow::Owned(stripped) =
                crate::sender_auth::strip_forged_results(&message, &self.hostname)
        {
            message = stripped;
        }
        let snapshot = self.policy.load();
        let evaluate = |envelope: &Envelope, message: &[u8]| {
            let started = std::time::Instant::now();
            let verdict = snapshot.evaluate(envelope, message, Utc::now());
            crate::metrics::policy_time(started.elapsed());
            verdict
        };
        let verifier = self
            .sender_auth
            .as_ref()
            .filter(|_| from_outside && envelope.listener == ListenerKind::Inbound);
        let (message, verdict) = match verifier {
            Some(v) => {
                v.judge(&self.signer, &mut envelope, &message, evaluate)
                    .await
            }
            None => {
                let verdict = evaluate(&envelope, &message);
                (message, verdict)
            }
        };
        let rules: Vec<&str> = verdict.rules.iter().map(|r| r.id.as_str()).collect();
        info!(
            decision = verdict.decision.as_str(),
            rules = ?rules,
            policy = %verdict.snapshot_version,
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
            self.record_event(&envelope, &message, &verdict, queue_id);
        }
        let reply = match verdict.decision {
            Decision::Reject => {
                let reason = verdict
                    .reject_reason
                    .clone()
                    .unwrap_or_else(|| "Message refused by council protocol".into());
                return Reply::new(550, "5.7.1", reason);
            }
            Decision::Hold => match self.hold(&envelope, &message, &verdict, queue_id).await {
                Ok(()) => Reply::new(
                    250,
                    "2.6.0",
                    format!(
                        "Held for review by the Proper Officer under the council protocol ({}); id {queue_id}",
                        rules.join(", ")
                    ),
                ),
                Err(e) => {
                    warn!(error = %e, "cannot store held message");
                    return temp_failure();
                }
            },
            Decision::Deliver => {
                let bytes = Arc::new(verdict.message.clone().unwrap_or_else(|| message.clone()));
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
                    Ok(id) => Reply::new(250, "2.0.0", format!("Queued as {id}")),
                    Err(e) => {
                        warn!(error = %e, "cannot spool message");
                        return temp_failure();
                    }
                }
            }
        };
        if notify {
            self.notify_sender(&envelope, &message, &verdict, &snapshot)
                .await;
        }
        reply
    }

    /// Records which rules touched a message, for statistics and the audit
    /// search; done in the background, after the reply.
    fn record_event(&self, envelope: &Envelope, message: &[u8], verdict: &Verdict, queue_id: &str) {
        let subject = mail_parser::MessageParser::default()
            .parse_headers(message)
            .and_then(|m| m.subject().map(str::to_string))
            .unwrap_or_default();
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
            subject,
            policy: verdict.snapshot_version.clone(),
        };
        let store = self.store.clone();
        tokio::spawn(async move {
            if let Err(e) = store.record_event(&event).await {
                warn!(error = %e, "cannot record the message event");
            }
        });
    }

    /// Stores a held message (with its pending changes) durably, in the
    /// review store, and tells its reviewers.
    async fn hold(
        &self,
        envelope: &Envelope,
        message: &[u8],
        verdict: &Verdict,
        queue_id: &str,
    ) -> Result<(), crate::store::StoreError> {
        let snapshot = self.policy.load();
        let bytes = verdict.message.clone().unwrap_or_else(|| message.to_vec());
        let parsed = mail_parser::MessageParser::default().parse_headers(message);
        let subject = parsed
            .as_ref()
            .and_then(|m| m.subject())
            .unwrap_or("")
            .to_string();
        let from_header: Vec<String> = parsed
            .as_ref()
            .and_then(|m| m.from())
            .map(|a| {
                a.iter()
                    .filter_map(|x| x.address())
                    .map(str::to_lowercase)
                    .collect()
            })
            .unwrap_or_default();
        let (reviewers, barred) =
            crate::review::reviewers(self, &snapshot, envelope, verdict, &from_header);
        let now = Utc::now().timestamp();
        let held = crate::store::NewHeld {
            id: queue_id.to_string(),
            created: now,
            expires: now + self.settings.store.hold_days as i64 * 86_400,
            mail_from: envelope.mail_from.clone(),
            recipients: verdict.recipients.clone(),
            envelope: serde_json::to_string(envelope).unwrap_or_default(),
            subject,
            rules: verdict.rules.iter().map(|r| r.id.clone()).collect(),
            verdict: serde_json::to_string(verdict).unwrap_or_default(),
            message: bytes,
            original: message.to_vec(),
            reviewers,
            barred,
        };
        self.store.hold(&held).await?;
        let stored = self.store.get(queue_id).await?;
        crate::review::tell_reviewers(self, &snapshot, &stored, false).await;
        Ok(())
    }
}

fn temp_failure() -> Reply {
    Reply::new(
        451,
        "4.3.0",
        "Message could not be stored; please try again later",
    )
}

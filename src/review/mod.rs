//! Reviewing held messages: holding one (the pipeline's commit stage for a
//! hold), who reviews it, deciding, carrying decisions out, the notices to
//! senders and reviewers, and the housekeeping that expires, reminds and
//! applies the records policy. Used by the pipeline, the review pages and
//! the `held` command.
//!
//! # Layout
//! - [`Review`] (here): holding and deciding.
//! - [`reviewers`]: who reviews, who is a party, how people are described.
//! - [`notices`]: notices to senders and reviewers.
//! - [`links`]: the signed one-tap links reviewers' notices carry.
//! - `housekeeping`: the background round ([`Review::run`]).

mod housekeeping;
pub mod links;
pub mod notices;
pub mod reviewers;
pub mod teaching;

use std::sync::Arc;

use chrono::Utc;
use tracing::{info, warn};

pub use notices::Notices;
pub use reviewers::{may_act, may_decide, proper_officer_is_party, role_of};

use crate::message::View;
use crate::message::envelope::Envelope;
use crate::message::visible::visible;
use crate::policy::{PolicyHandle, Snapshot, Verdict};
use crate::queue::Queue;
use crate::settings::StoreSettings;
use crate::store::{Action, Held, HeldState, ReviewDecision, Store, StoreError};

/// The review: held messages in the store, the live policy (who reviews),
/// the queue (releases) and the notices. Cheap to clone.
#[derive(Clone)]
pub struct Review {
    pub store: Store,
    pub policy: Arc<PolicyHandle>,
    pub notices: Notices,
    queue: Arc<Queue>,
    /// Hold time, reminders, records policy, reviewers and panel.
    settings: Arc<StoreSettings>,
    /// The last day (UK date) whose digest this gateway claimed or saw
    /// claimed: the store is asked once a day, not every round.
    digest_day: Arc<std::sync::Mutex<String>>,
}

impl Review {
    pub fn new(
        store: Store,
        policy: Arc<PolicyHandle>,
        queue: Arc<Queue>,
        notices: Notices,
        settings: StoreSettings,
    ) -> Review {
        Review {
            store,
            policy,
            notices,
            queue,
            settings: Arc::new(settings),
            digest_day: Arc::default(),
        }
    }

    /// Stores a held message (with its pending changes) durably and tells
    /// its reviewers. `message` is the message as received, `verdict` the
    /// one that held it (its rewritten message, if any, is what a release
    /// delivers). Returns who reviews it.
    pub async fn hold(
        &self,
        envelope: &Envelope,
        message: &View<'_>,
        verdict: &mut Verdict,
        id: &str,
    ) -> Result<Vec<String>, StoreError> {
        let snapshot = self.policy.load();
        let from_header = message.from_addresses();
        let (reviewers, barred) =
            reviewers::reviewers(&self.settings, &snapshot, envelope, verdict, &from_header);
        let now = Utc::now().timestamp();
        let original = message.raw().to_vec();
        let held = Held {
            id: id.to_string(),
            created: now,
            expires: now + self.settings.hold_days as i64 * 86_400,
            mail_from: envelope.mail_from.clone(),
            recipients: verdict.recipients.clone(),
            envelope: envelope.clone(),
            subject: message.subject().to_string(),
            rules: verdict.rules.iter().map(|r| r.id.clone()).collect(),
            message: verdict.message.take().unwrap_or_else(|| original.clone()),
            verdict: verdict.clone(),
            original,
            state: HeldState::Held,
            reviewers,
            barred,
            decided_by: None,
            decided_at: None,
            reason: None,
            note: None,
            effect_done: true,
            withheld: Vec::new(),
        };
        self.store.hold(&held).await?;
        let stored = self.store.get(id).await?;
        self.notices.tell_reviewers(&snapshot, &stored, false).await;
        Ok(stored.reviewers)
    }

    /// Decides and carries the decision out. The effect is done after the
    /// commit and then recorded as done; see [`housekeeping`] for a crash in
    /// between.
    pub async fn decide(&self, id: &str, decision: &ReviewDecision) -> Result<Held, StoreError> {
        let snapshot = self.policy.load();
        let held = record(&self.store, &snapshot, id, decision).await?;
        self.carry_out(&snapshot, &held).await;
        teaching::propose(&self.store, &snapshot, &held, decision).await;
        Ok(held)
    }

    /// Does what a decision entails, then marks it done. Failures leave it
    /// not done, for the next housekeeping round.
    async fn carry_out(&self, snapshot: &Snapshot, held: &Held) {
        match self
            .store
            .claim_effect(&held.id, Utc::now().timestamp(), 600)
            .await
        {
            Ok(true) => {}
            Ok(false) => return, // done, or another gateway is doing it
            Err(e) => {
                warn!(id = %held.id, error = %e, "cannot claim a decision's effect; will retry");
                return;
            }
        }
        let envelope = Some(held.envelope.clone());
        let result = match held.state {
            HeldState::Released => {
                let to = held.delivered_to();
                let r = if to.is_empty() {
                    Ok(())
                } else {
                    self.queue
                        .enqueue(
                            &held.mail_from,
                            &to,
                            Arc::new(held.message.clone()),
                            envelope,
                        )
                        .await
                        .map(|_| ())
                };
                if r.is_ok() && !held.withheld.is_empty() {
                    // A release to some recipients: the sender learns who
                    // did not receive it, and why.
                    self.tell_sender(
                        snapshot,
                        held,
                        &format!("Delivered to some recipients only: {}", visible(&held.subject)),
                        &format!(
                            "Your message \"{}\" was held under the council's councillor-officer protocol. The reviewer released it to:\n{}\n\nIt was not delivered to:\n{}\n{}",
                            visible(&held.subject),
                            bullets(&to),
                            bullets(&held.withheld),
                            note_text(held)
                        ),
                    )
                    .await;
                }
                r
            }
            HeldState::SentToProperOfficer => {
                let po = snapshot
                    .directory
                    .person(snapshot.directory.proper_officer())
                    .primary_address()
                    .to_string();
                let r = self
                    .queue
                    .enqueue(
                        &held.mail_from,
                        std::slice::from_ref(&po),
                        Arc::new(held.message.clone()),
                        envelope,
                    )
                    .await;
                if r.is_ok() {
                    self.tell_sender(snapshot, held, &format!("Passed to the Proper Officer: {}", visible(&held.subject)), &format!(
                        "Your message \"{}\" was held under the council's councillor-officer protocol and has been passed to the Proper Officer only, who will deal with it.\n{}",
                        visible(&held.subject),
                        note_text(held)
                    ))
                    .await;
                }
                r.map(|_| ())
            }
            HeldState::Returned | HeldState::Expired => {
                let (title, why) = if held.state == HeldState::Expired {
                    (
                        format!("Not delivered: {}", visible(&held.subject)),
                        format!(
                            "Your message \"{}\" was held under the council's councillor-officer protocol and was not reviewed within {} days, so it has not been delivered. Please contact the Proper Officer (the Clerk) if it is still needed.",
                            visible(&held.subject),
                            self.settings.hold_days
                        ),
                    )
                } else {
                    (
                        format!("Returned: {}", visible(&held.subject)),
                        format!(
                            "Your message \"{}\" was held under the council's councillor-officer protocol and the reviewer has returned it to you without delivering it.\n{}",
                            visible(&held.subject),
                            note_text(held)
                        ),
                    )
                };
                self.tell_sender(snapshot, held, &title, &why).await;
                Ok(())
            }
            _ => Ok(()),
        };
        match result {
            Ok(()) => {
                if let Err(e) = self.store.effect_done(&held.id).await {
                    warn!(id = %held.id, error = %e, "cannot record a decision's effect as done; it will be repeated");
                }
            }
            Err(e) => {
                warn!(id = %held.id, error = %e, "cannot carry out a decision yet; will retry")
            }
        }
    }

    async fn tell_sender(&self, snapshot: &Snapshot, held: &Held, subject: &str, body: &str) {
        let message = View::parse(&held.message);
        self.notices
            .tell_sender(
                &snapshot.directory.council_name,
                &held.mail_from,
                &message,
                subject,
                body,
            )
            .await;
    }
}

/// How much a rule's action weighs on a held message: what refused or held
/// it first, then what changed it. The first rule by weight is the one that
/// held it: the page's headline, the queue's column, the default reason.
pub fn action_weight(action: &str) -> usize {
    ["reject", "hold", "redirect", "copy", "annotate", "flag"]
        .iter()
        .position(|x| action == *x)
        .unwrap_or(9)
}

/// The rule that held a message (see [`action_weight`]).
pub fn holding_rule(verdict: &Verdict) -> Option<&crate::policy::verdict::RuleHit> {
    verdict
        .rules
        .iter()
        .filter(|r| !r.action.starts_with("monitor"))
        .min_by_key(|r| action_weight(&r.action))
}

pub use crate::policy::verdict::headline_evidence;

/// The default reason for deciding on a message held under `rule`.
pub fn rule_reason(snapshot: &Snapshot, rule: &str) -> Option<String> {
    snapshot
        .rules
        .iter()
        .find(|x| x.def.id == rule)
        .filter(|x| !x.def.title.is_empty())
        .map(|x| format!("{}: {}", x.def.id, x.def.title))
}

/// The standard note a one-tap Return sends: the rule's title and the
/// first words of the protocol behind it.
pub fn template_note(snapshot: &Snapshot, rule: &str) -> String {
    let def = snapshot
        .rules
        .iter()
        .find(|x| x.def.id == rule)
        .map(|x| &x.def);
    let mut note =
        String::from("Your message was returned under the council's councillor-officer protocol");
    if let Some(d) = def {
        note.push_str(&format!(": {}.", d.title.trim_end_matches('.')));
        let words = d.reference.split_whitespace().collect::<Vec<_>>().join(" ");
        if !words.is_empty() {
            note.push_str(&format!("\n\nThe protocol says: \"{words}\""));
            if !d.source.is_empty() {
                note.push_str(&format!(" ({})", d.source));
            }
        }
    } else {
        note.push('.');
    }
    note.push_str("\n\nPlease raise the matter with the Proper Officer (the Clerk), or write again in a way the protocol allows.");
    note
}

/// Records a decision without carrying it out: for a process that is not
/// the gateway (the `held` command). The running gateway carries it out
/// within seconds ([`housekeeping`]).
pub async fn record(
    store: &Store,
    snapshot: &Snapshot,
    id: &str,
    decision: &ReviewDecision,
) -> Result<Held, StoreError> {
    let (action, actor) = (decision.action, decision.actor.as_str());
    if action != Action::Expire {
        let held = store.get(id).await?;
        if !may_act(snapshot, &held, actor) {
            return Err(StoreError::Refused(format!(
                "{actor} is a party to this message and cannot act on it; it is for {}",
                held.reviewers.join(", ")
            )));
        }
    }
    let held = store.decide(id, decision, Utc::now().timestamp()).await?;
    info!(
        id,
        action = action.state().as_str(),
        actor,
        "held message decided"
    );
    Ok(held)
}

fn bullets(list: &[String]) -> String {
    list.iter()
        .map(|a| format!("  - {}", visible(a)))
        .collect::<Vec<_>>()
        .join("\n")
}

fn note_text(held: &Held) -> String {
    let mut t = String::new();
    if let Some(r) = held.reason.as_deref().filter(|r| !r.trim().is_empty()) {
        t.push_str(&format!("\nReason: {r}\n"));
    }
    if let Some(n) = held.note.as_deref().filter(|n| !n.trim().is_empty()) {
        t.push_str(&format!("\nNote from the reviewer:\n{n}\n"));
    }
    t
}

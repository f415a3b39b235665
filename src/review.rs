//! Reviewing held messages: who reviews, deciding, carrying decisions out,
//! and the housekeeping that expires, reminds and applies the records
//! policy. Used by the review pages, the `held` command and the gateway.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::envelope::Envelope;
use crate::gateway::Gateway;
use crate::notice;
use crate::policy::directory::{Party, Position};
use crate::policy::{Snapshot, Verdict};
use crate::store::{Action, Held, StoreError};

/// Rules whose evidence can make the Proper Officer a party (the officer
/// criticised or pressed).
const PARTY_RULES: &[&str] = &[
    "criticism-not-private",
    "undue-pressure",
    "staffing-matters",
];

/// Whether the Proper Officer is a party to a message: its sender, or the
/// officer its evidence is about.
pub fn proper_officer_is_party(
    snapshot: &Snapshot,
    envelope: &Envelope,
    verdict: &Verdict,
    from_header: &[String],
) -> bool {
    let dir = &snapshot.directory;
    let po = dir.proper_officer();
    let sender_is_po = std::iter::once(envelope.mail_from.as_str())
        .chain(from_header.iter().map(String::as_str))
        .any(|a| dir.classify(a) == Party::Person(po));
    if sender_is_po {
        return true;
    }
    let person = dir.person(po);
    let mut names: Vec<String> = vec![person.name.to_lowercase()];
    names.extend(
        person
            .name
            .split_whitespace()
            .filter(|p| p.len() > 2)
            .map(str::to_lowercase),
    );
    names.extend(person.addresses.iter().map(|a| a.to_lowercase()));
    names.extend(
        [
            "the clerk",
            "town clerk",
            "parish clerk",
            "proper officer",
            "our clerk",
        ]
        .map(String::from),
    );
    verdict
        .rules
        .iter()
        .filter(|h| PARTY_RULES.contains(&h.id.as_str()))
        .flat_map(|h| h.evidence.iter())
        .filter(|e| !e.starts_with("sender:") && !e.starts_with("recipient:"))
        .any(|e| {
            let e = e.to_lowercase();
            names.iter().any(|n| {
                e.match_indices(n.as_str()).any(|(i, _)| {
                    let before = e[..i].chars().last().is_none_or(|c| !c.is_alphanumeric());
                    let after = e[i + n.len()..]
                        .chars()
                        .next()
                        .is_none_or(|c| !c.is_alphanumeric());
                    before && after
                })
            })
        })
}

/// Who reviews a held message and who must not act on it.
pub fn reviewers(
    gw: &Gateway,
    snapshot: &Snapshot,
    envelope: &Envelope,
    verdict: &Verdict,
    from_header: &[String],
) -> (Vec<String>, Vec<String>) {
    let dir = &snapshot.directory;
    let store = &gw.settings.store;
    let po = dir.person(dir.proper_officer());
    let deputies: Vec<String> = dir
        .deputies()
        .map(|d| dir.person(d).primary_address().to_string())
        .collect();
    if proper_officer_is_party(snapshot, envelope, verdict, from_header) {
        let panel = if store.panel.is_empty() {
            deputies
        } else {
            store.panel.clone()
        };
        let panel: Vec<String> = panel
            .into_iter()
            .filter(|a| dir.person_id(a) != Some(dir.proper_officer()))
            .collect();
        return (panel, po.addresses.clone());
    }
    if !store.reviewers.is_empty() {
        return (store.reviewers.clone(), Vec::new());
    }
    let mut r = vec![po.primary_address().to_string()];
    r.extend(deputies);
    (r, Vec::new())
}

/// Whether `user` may act on `held` (the barred Proper Officer may not).
pub fn may_act(snapshot: &Snapshot, held: &Held, user: &str) -> bool {
    let dir = &snapshot.directory;
    let person = dir.person_id(user);
    !held
        .barred
        .iter()
        .any(|b| b.eq_ignore_ascii_case(user) || (person.is_some() && dir.person_id(b) == person))
}

/// Decides and carries the decision out. The effect is done after the
/// commit and then recorded as done; see [`housekeeping`] for a crash in
/// between.
pub async fn decide(
    gw: &Gateway,
    id: &str,
    action: Action,
    actor: &str,
    reason: &str,
    note: &str,
) -> Result<Held, StoreError> {
    let snapshot = gw.policy.load();
    let held = record(&gw.store, &snapshot, id, action, actor, reason, note).await?;
    carry_out(gw, &snapshot, &held).await;
    Ok(held)
}

/// Records a decision without carrying it out: for a process that is not
/// the gateway (the `held` command). The running gateway carries it out
/// within seconds ([`housekeeping`]).
pub async fn record(
    store: &crate::store::Store,
    snapshot: &Snapshot,
    id: &str,
    action: Action,
    actor: &str,
    reason: &str,
    note: &str,
) -> Result<Held, StoreError> {
    if action != Action::Expire {
        let held = store.get(id).await?;
        if !may_act(snapshot, &held, actor) {
            return Err(StoreError::Refused(format!(
                "{actor} is a party to this message and cannot act on it; it is for {}",
                held.reviewers.join(", ")
            )));
        }
    }
    let held = store
        .decide(id, action, actor, reason, note, Utc::now().timestamp())
        .await?;
    info!(id, action = action.state(), actor, "held message decided");
    Ok(held)
}

/// Does what a decision entails, then marks it done. Failures leave it
/// not done, for the next housekeeping round.
async fn carry_out(gw: &Gateway, snapshot: &Snapshot, held: &Held) {
    match gw
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
    let envelope: Option<Envelope> = serde_json::from_str(&held.envelope).ok();
    let result = match held.state.as_str() {
        "released" => gw
            .queue
            .enqueue(
                &held.mail_from,
                &held.recipients,
                Arc::new(held.message.clone()),
                envelope,
            )
            .await
            .map(|_| ()),
        "sent-to-proper-officer" => {
            let po = snapshot
                .directory
                .person(snapshot.directory.proper_officer())
                .primary_address()
                .to_string();
            let r = gw
                .queue
                .enqueue(
                    &held.mail_from,
                    std::slice::from_ref(&po),
                    Arc::new(held.message.clone()),
                    envelope,
                )
                .await;
            if r.is_ok() {
                tell_sender(gw, snapshot, held, &format!("Passed to the Proper Officer: {}", held.subject), &format!(
                    "Your message \"{}\" was held under the council's councillor-officer protocol and has been passed to the Proper Officer only, who will deal with it.\n{}",
                    held.subject,
                    note_text(held)
                ))
                .await;
            }
            r.map(|_| ())
        }
        "returned" | "expired" => {
            let (title, why) = if held.state == "expired" {
                (
                    format!("Not delivered: {}", held.subject),
                    format!(
                        "Your message \"{}\" was held under the council's councillor-officer protocol and was not reviewed within {} days, so it has not been delivered. Please contact the Proper Officer (the Clerk) if it is still needed.",
                        held.subject, gw.settings.store.hold_days
                    ),
                )
            } else {
                (
                    format!("Returned: {}", held.subject),
                    format!(
                        "Your message \"{}\" was held under the council's councillor-officer protocol and the reviewer has returned it to you without delivering it.\n{}",
                        held.subject,
                        note_text(held)
                    ),
                )
            };
            tell_sender(gw, snapshot, held, &title, &why).await;
            Ok(())
        }
        _ => Ok(()),
    };
    match result {
        Ok(()) => {
            if let Err(e) = gw.store.effect_done(&held.id).await {
                warn!(id = %held.id, error = %e, "cannot record a decision's effect as done; it will be repeated");
            }
        }
        Err(e) => warn!(id = %held.id, error = %e, "cannot carry out a decision yet; will retry"),
    }
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

async fn tell_sender(gw: &Gateway, snapshot: &Snapshot, held: &Held, subject: &str, body: &str) {
    let headers = notice::header_fields(&held.message);
    if notice::must_not_answer(&held.mail_from, &headers) {
        return;
    }
    let msg = notice::build(
        &gw.hostname,
        &gw.postmaster,
        &snapshot.directory.council_name,
        &held.mail_from,
        subject,
        body,
        headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case("Message-ID"))
            .map(|(_, v)| v.as_str()),
    );
    if let Err(e) = gw
        .queue
        .enqueue(
            "",
            std::slice::from_ref(&held.mail_from),
            Arc::new(msg),
            None,
        )
        .await
    {
        warn!(error = %e, "cannot queue a notice to the sender");
    }
}

/// Tells the reviewers of a held message (on hold, and as a reminder).
pub async fn tell_reviewers(gw: &Gateway, snapshot: &Snapshot, held: &Held, reminder: bool) {
    if held.reviewers.is_empty() {
        return;
    }
    let link = format!(
        "{}/held/{}",
        gw.settings.web.base_url.trim_end_matches('/'),
        held.id
    );
    let expires = chrono::DateTime::from_timestamp(held.expires, 0)
        .map(|t| {
            t.with_timezone(&chrono_tz::Europe::London)
                .format("%A %-d %B %Y at %H:%M")
                .to_string()
        })
        .unwrap_or_default();
    let subject = if reminder {
        format!("Reminder: held message awaiting review: {}", held.subject)
    } else {
        format!("Held for your review: {}", held.subject)
    };
    let mut body = format!(
        "A message has been held under the council's councillor-officer protocol and needs your review.\n\nFrom: {}\nTo: {}\nSubject: {}\nRules: {}\n\nReview it here: {link}\n\nIf nobody decides by {expires}, it will be returned to its sender.\n",
        held.mail_from,
        held.recipients.join(", "),
        held.subject,
        held.rules.join(", ")
    );
    if !held.barred.is_empty() {
        body.push_str("\nThe Proper Officer is a party to this message, so it has been sent to you to review instead.\n");
    }
    for to in &held.reviewers {
        let msg = notice::build(
            &gw.hostname,
            &gw.postmaster,
            &snapshot.directory.council_name,
            to,
            &subject,
            &body,
            None,
        );
        if let Err(e) = gw
            .queue
            .enqueue("", std::slice::from_ref(to), Arc::new(msg), None)
            .await
        {
            warn!(error = %e, "cannot queue a notice to a reviewer");
        }
    }
}

/// One round: unfinished effects, expiry, reminders, records policy.
pub async fn housekeeping(gw: &Gateway) -> Result<(), StoreError> {
    let snapshot = gw.policy.load();
    for held in gw.store.pending_effects().await? {
        info!(id = %held.id, state = %held.state, "completing a decision's effect");
        carry_out(gw, &snapshot, &held).await;
    }
    let now = Utc::now().timestamp();
    for held in gw.store.expired(now).await? {
        match decide(
            gw,
            &held.id,
            Action::Expire,
            "expiry",
            "not reviewed in time",
            "",
        )
        .await
        {
            Ok(_) | Err(StoreError::AlreadyDecided { .. }) => {}
            Err(e) => warn!(id = %held.id, error = %e, "cannot expire"),
        }
    }
    let remind_before = now + gw.settings.store.remind_hours as i64 * 3600;
    for held in gw.store.take_due_reminders(remind_before).await? {
        tell_reviewers(gw, &snapshot, &held, true).await;
    }
    let purge_before = now - gw.settings.store.retention_days as i64 * 86_400;
    let purged = gw.store.purge_decided(purge_before).await?;
    if purged > 0 {
        info!(
            count = purged,
            "records policy: raw messages of old decided items removed"
        );
    }
    Ok(())
}

/// Runs [`housekeeping`] at start and every `every` until `shutdown`
/// (decisions recorded elsewhere are carried out within `every`).
pub async fn run(gw: Arc<Gateway>, every: Duration, shutdown: CancellationToken) {
    loop {
        if let Err(e) = housekeeping(&gw).await {
            warn!(error = %e, "review housekeeping failed; will retry");
        }
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(every) => {}
        }
    }
}

/// The deputies and the Proper Officer, for display.
pub fn role_of(snapshot: &Snapshot, address: &str) -> String {
    let dir = &snapshot.directory;
    match dir.classify(address) {
        Party::Person(id) => {
            let p = dir.person(id);
            if p.has(Position::ProperOfficer) {
                format!("{}, Proper Officer", p.name)
            } else if p.has(Position::DeputyProperOfficer) {
                format!("{}, deputy Proper Officer", p.name)
            } else if p.is_junior_officer() {
                format!("{}, officer (junior)", p.name)
            } else {
                format!("{}, {}", p.name, p.role.as_str())
            }
        }
        Party::CouncilMailbox => "council mailbox".into(),
        Party::Media => "media".into(),
        Party::External => "external".into(),
    }
}

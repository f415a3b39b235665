//! Who reviews a held message, who is a party to it and may not act on
//! it, and how people are described on the pages.

use crate::message::envelope::Envelope;
use crate::policy::directory::{Party, Position};
use crate::policy::{Snapshot, Verdict};
use crate::settings::StoreSettings;
use crate::store::Held;

/// Rules whose evidence can make the Proper Officer a party (the officer
/// criticised or pressed).
const PARTY_RULES: &[&str] = &[
    "criticism-not-private",
    "undue-pressure",
    "staffing-matters",
];

/// Whether the Proper Officer is a party to a message: its sender, the
/// officer its evidence names, or — when it is written to her — the "you"
/// its evidence speaks to.
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
    // Written to the Proper Officer, evidence that speaks to its reader
    // ("you", "your report") is about her too.
    let addressed = envelope
        .rcpt_to
        .iter()
        .any(|r| dir.classify(r) == Party::Person(po));
    if addressed {
        names.extend(["you", "your", "yours", "yourself"].map(String::from));
    }
    verdict
        .rules
        .iter()
        .filter(|h| PARTY_RULES.contains(&h.id.as_str()))
        .flat_map(|h| h.evidence.iter())
        .filter(|e| !e.starts_with("sender:") && !e.starts_with("recipient:"))
        .any(|e| {
            let e = e.to_lowercase();
            names.iter().any(|n| has_word(&e, n))
        })
}

/// Whether `phrase` stands in `text` as whole words.
fn has_word(text: &str, phrase: &str) -> bool {
    text.match_indices(phrase).any(|(i, _)| {
        let before = text[..i]
            .chars()
            .last()
            .is_none_or(|c| !c.is_alphanumeric());
        let after = text[i + phrase.len()..]
            .chars()
            .next()
            .is_none_or(|c| !c.is_alphanumeric());
        before && after
    })
}

/// Who reviews a held message and who must not act on it.
pub fn reviewers(
    store: &StoreSettings,
    snapshot: &Snapshot,
    envelope: &Envelope,
    verdict: &Verdict,
    from_header: &[String],
) -> (Vec<String>, Vec<String>) {
    let dir = &snapshot.directory;
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

/// Whether `user` may decide `held` on the review pages, and if not why
/// not, in the reader's words: the Proper Officer barred as a party; or a
/// login that is not one of the message's reviewers (the Proper Officer and
/// deputies from the directory, or `[store] reviewers`) — only they and the
/// administrators decide it.
pub fn may_decide(snapshot: &Snapshot, held: &Held, user: &str, admin: bool) -> Result<(), String> {
    if !may_act(snapshot, held, user) {
        return Err(format!(
            "You are a party to this message, so you cannot act on it. It is for {}.",
            held.reviewers.join(", ")
        ));
    }
    if admin || is_reviewer(snapshot, held, user) {
        return Ok(());
    }
    Err(format!(
        "This message is for {} to review. An administrator can make you a reviewer ([store] reviewers).",
        if held.reviewers.is_empty() {
            "the administrators".to_string()
        } else {
            held.reviewers.join(", ")
        }
    ))
}

/// Whether `user` is one of `held`'s reviewers (by address, or as the same
/// person in the directory).
fn is_reviewer(snapshot: &Snapshot, held: &Held, user: &str) -> bool {
    let dir = &snapshot.directory;
    let person = dir.person_id(user);
    held.reviewers
        .iter()
        .any(|r| r.eq_ignore_ascii_case(user) || (person.is_some() && dir.person_id(r) == person))
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

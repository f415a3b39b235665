//! Tuning the policy: evaluating a message offline ([`check`]), the
//! shipped and the admin's fixtures ([`fixtures`]), hot reload with the
//! configuration history ([`reload`]), and here, comparing two policies on
//! the same mail: what would change if a candidate configuration went live
//! (`councilgate rules diff`, the admin page's try-a-message).

pub mod check;
pub mod fixtures;
pub mod reload;

use chrono::{DateTime, Utc};

use crate::message::envelope::Envelope;
use crate::policy::Snapshot;

/// A message whose outcome differs between two policies.
#[derive(Debug, Clone)]
pub struct Change {
    pub name: String,
    pub before: String,
    pub after: String,
}

/// One line describing an outcome: verdict, rules, final recipients.
pub fn outcome(snapshot: &Snapshot, envelope: &Envelope, raw: &[u8], at: DateTime<Utc>) -> String {
    let v = snapshot.evaluate(envelope, raw, at);
    let rules: Vec<String> = v
        .rules
        .iter()
        .map(|r| format!("{}:{}", r.id, r.action))
        .collect();
    let mut rcpts = v.recipients.clone();
    rcpts.sort();
    format!(
        "{} [{}] to {}",
        v.decision.as_str(),
        rules.join(", "),
        rcpts.join(", ")
    )
}

/// The change for one message, if any.
pub fn compare(
    name: &str,
    current: &Snapshot,
    candidate: &Snapshot,
    envelope: &Envelope,
    raw: &[u8],
    at: DateTime<Utc>,
) -> Option<Change> {
    let before = outcome(current, envelope, raw, at);
    let after = outcome(candidate, envelope, raw, at);
    (before != after).then(|| Change {
        name: name.to_string(),
        before,
        after,
    })
}

/// Every fixture in `fixtures` (when it is a folder) and every archived
/// message whose outcome differs between two policies: (how many were
/// compared, the changes). `rules diff` and the Proposed examples page.
pub fn what_if(
    current: &Snapshot,
    candidate: &Snapshot,
    fixtures: &std::path::Path,
    archive: &[crate::store::Held],
) -> Result<(usize, Vec<Change>), fixtures::FixtureError> {
    let mut changes = Vec::new();
    let mut compared = 0;
    if fixtures.is_dir() {
        for f in fixtures::load_dir(fixtures)? {
            let Ok(bytes) = std::fs::read(&f.eml) else {
                continue;
            };
            let raw = crate::message::crlf(&bytes);
            compared += 1;
            changes.extend(compare(
                &format!("fixture {}", f.name),
                current,
                candidate,
                &f.envelope(),
                &raw,
                f.at,
            ));
        }
    }
    for h in archive {
        let at = DateTime::from_timestamp(h.created, 0).unwrap_or_else(Utc::now);
        compared += 1;
        changes.extend(compare(
            &format!("held {} ({})", h.id, h.subject),
            current,
            candidate,
            &h.envelope,
            &h.original,
            at,
        ));
    }
    Ok((compared, changes))
}

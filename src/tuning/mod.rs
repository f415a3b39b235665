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

/// A message kept from real mail, judged again by a what-if.
#[derive(Debug, Clone)]
pub struct Sample {
    pub name: String,
    pub envelope: Envelope,
    pub raw: Vec<u8>,
    pub at: DateTime<Utc>,
}

/// The real mail a what-if judges again: held messages (whole, as they
/// arrived) and the analysis archive (header fields and new text of the
/// councillor and officer mail the content rules read, delivered or not);
/// a message in both counts once, whole.
pub fn samples(
    held: Vec<crate::store::Held>,
    archived: Vec<crate::store::archive::Archived>,
) -> Vec<Sample> {
    let at = |t: i64| DateTime::from_timestamp(t, 0).unwrap_or_else(Utc::now);
    let mut seen = std::collections::HashSet::new();
    let mut out = Vec::new();
    for h in held {
        seen.insert(h.id.clone());
        out.push(Sample {
            name: format!("held {} ({})", h.id, h.subject),
            envelope: h.envelope,
            raw: h.original,
            at: at(h.created),
        });
    }
    for a in archived {
        if seen.insert(a.id.clone()) {
            out.push(Sample {
                name: format!("archived {} ({}, {})", a.id, a.subject, a.decision),
                envelope: a.envelope,
                raw: a.message,
                at: at(a.at),
            });
        }
    }
    out
}

/// What a what-if found.
#[derive(Debug, Clone, Default)]
pub struct WhatIf {
    /// Messages judged by both policies.
    pub compared: usize,
    /// Samples of real mail left unjudged when the time ran out (the
    /// oldest: samples come newest first).
    pub not_judged: usize,
    pub changes: Vec<Change>,
}

/// Every fixture in `fixtures` (when it is a folder) and every sample of
/// real mail whose outcome differs between two policies. With `until`,
/// samples are judged only until then (a page must answer). `rules diff`
/// and the Proposed examples page.
pub fn what_if(
    current: &Snapshot,
    candidate: &Snapshot,
    fixtures: &std::path::Path,
    real: &[Sample],
    until: Option<std::time::Instant>,
) -> Result<WhatIf, fixtures::FixtureError> {
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
    let mut not_judged = 0;
    for s in real {
        if until.is_some_and(|t| std::time::Instant::now() >= t) {
            not_judged += 1;
            continue;
        }
        compared += 1;
        changes.extend(compare(
            &s.name,
            current,
            candidate,
            &s.envelope,
            &s.raw,
            s.at,
        ));
    }
    Ok(WhatIf {
        compared,
        not_judged,
        changes,
    })
}

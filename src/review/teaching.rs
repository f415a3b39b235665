//! The clerk's decisions teaching the content detectors. When a reviewer
//! releases a held message as "not a breach", the sentences that made its
//! content rule fire become *proposed* negative examples of the rule's
//! detector; when a reviewer confirms a hold (returns the message, or sends
//! it to the Proper Officer only), they become proposed positive ones. An
//! administrator accepts or rejects each on the "Proposed examples" page,
//! after seeing what it would change; accepted ones go into
//! `examples.toml`, live on reload and in the configuration history.

use crate::policy::Snapshot;
use crate::policy::semantic::{Label, examples::SEMANTIC_DETECTORS};
use crate::store::{Action, Held, ReviewDecision, Store};

/// The reason a reviewer gives to release a message as a false alarm.
pub const NOT_A_BREACH: &str = "In order — not a breach";

/// An evidence line split into its sentence and its bracketed why
/// ("I need you to … (direction)").
pub fn evidence_parts(e: &str) -> (&str, &str) {
    match e.rfind(" (") {
        Some(i) if e.ends_with(')') => (&e[..i], &e[i + 2..e.len() - 1]),
        _ => (e, ""),
    }
}

/// One example a decision proposes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Taught {
    pub detector: String,
    pub label: Label,
    pub sentence: String,
    pub rule: String,
}

/// What a decision on `held` teaches: the label its action gives, and the
/// sentences of the message's new text that made its content rules fire.
/// A release for another reason (an exemption agreed, say), a deletion or
/// an expiry teaches nothing.
pub fn taught(snapshot: &Snapshot, held: &Held, decision: &ReviewDecision) -> Vec<Taught> {
    let label = match decision.action {
        Action::Release if decision.reason.trim() == NOT_A_BREACH => Label::Negative,
        Action::Return | Action::SendToProperOfficer => Label::Positive,
        _ => return Vec::new(),
    };
    let raw = if held.original.is_empty() {
        &held.message
    } else {
        &held.original
    };
    let disclaimer = snapshot.lexicon.list("disclaimer.phrases");
    let is_disclaimer = |p: &str| disclaimer.is_match(&crate::policy::lexicon::normalise(p));
    let analysis = crate::message::Text::of(raw, &is_disclaimer);
    let text = &analysis.split.new_text;
    let mut out: Vec<Taught> = Vec::new();
    for hit in &held.verdict.rules {
        let Some(rule) = snapshot.rules.iter().find(|r| r.def.id == hit.id) else {
            continue;
        };
        for detector in rule
            .def
            .detectors
            .iter()
            .filter(|d| SEMANTIC_DETECTORS.contains(&d.as_str()))
        {
            for e in &hit.evidence {
                let (sentence, _) = evidence_parts(e);
                let sentence = sentence.trim();
                if sentence.len() < 8 || sentence.len() > 400 || !text.contains(sentence) {
                    continue;
                }
                let t = Taught {
                    detector: detector.clone(),
                    label,
                    sentence: sentence.to_string(),
                    rule: hit.id.clone(),
                };
                if !out.contains(&t) {
                    out.push(t);
                }
            }
        }
    }
    out
}

/// Records the examples a decision proposes; a failure is logged and
/// never undoes the decision.
pub async fn propose(store: &Store, snapshot: &Snapshot, held: &Held, decision: &ReviewDecision) {
    let taught = taught(snapshot, held, decision);
    if taught.is_empty() {
        return;
    }
    let proposals: Vec<crate::store::proposals::NewProposal<'_>> = taught
        .iter()
        .map(|t| crate::store::proposals::NewProposal {
            detector: &t.detector,
            label: t.label,
            sentence: &t.sentence,
            held_id: &held.id,
            subject: &held.subject,
            rule: &t.rule,
            proposed_by: &decision.actor,
        })
        .collect();
    match store
        .propose_examples(&proposals, chrono::Utc::now().timestamp())
        .await
    {
        Ok(n) => tracing::info!(id = %held.id, proposed = n, "the decision proposed examples"),
        Err(e) => tracing::warn!(id = %held.id, error = %e, "cannot record proposed examples"),
    }
}

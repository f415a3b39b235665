//! `criticism`: a negative judgement of an identifiable officer's conduct
//! or capability — the officer named, or referred to as "the clerk", "the
//! office", "staff", or by a pronoun right after being named. Criticism of a
//! contractor or of a fellow councillor is not criticism of an officer. The
//! rule adds the audience (external, media or three or more councillors).

use super::{Ctx, Finding};

pub const LISTS: &[&str] = &[
    "criticism.judgements",
    "criticism.officer_terms",
    "criticism.reporting",
];

const PRONOUNS: &[&str] = &[
    "she", "he", "her", "him", "his", "hers", "they", "them", "their",
];
/// Besides [`super::THIRD_PARTIES`]: others a judgement may be about. An
/// officer word inside one of them ("the police officer", "the county's
/// planning officer") is another body's officer, not the council's.
const NOT_OFFICERS: &[&str] = &[
    "builders",
    "developer",
    "county council",
    "district council",
    "county",
    "the county's",
    "district",
    "the district's",
    "highways",
    "highways officer",
    "the police",
    "police officer",
    "police officers",
    "planning officer",
    "planning officers",
    "returning officer",
    "monitoring officer",
    "bank manager",
    "site manager",
    "contracts manager",
    "project manager",
    "shop manager",
    "store manager",
];

/// Byte offsets where `word` stands as a whole word in `norm`.
fn word_positions(norm: &str, word: &str) -> Vec<usize> {
    let bytes = norm.as_bytes();
    norm.match_indices(word)
        .filter(|(i, _)| {
            let before = *i == 0 || !(bytes[i - 1] as char).is_alphanumeric();
            let end = i + word.len();
            let after = end >= bytes.len() || !(bytes[end] as char).is_alphanumeric();
            before && after
        })
        .map(|(i, _)| i)
        .collect()
}

#[derive(Clone, Copy, PartialEq)]
enum Who {
    Officer,
    Other,
}

/// Every reference to a person in a sentence, with where it stands.
fn references(ctx: &Ctx<'_>, n: &str, previous_officer: bool) -> Vec<(usize, Who)> {
    let mut others = Vec::new();
    for t in super::THIRD_PARTIES
        .iter()
        .chain(NOT_OFFICERS)
        .chain(["cllr", "councillor", "councillors"].iter())
    {
        others.extend(word_positions(n, t).into_iter().map(|i| (i, i + t.len())));
    }
    let theirs = |at: usize| others.iter().any(|&(a, b)| a <= at && at < b);
    let mut refs: Vec<(usize, Who)> = others.iter().map(|&(a, _)| (a, Who::Other)).collect();
    for p in ctx.dir.people.iter() {
        let who = if p.is_officer() {
            Who::Officer
        } else {
            Who::Other
        };
        for part in p
            .name
            .split_whitespace()
            .map(crate::policy::lexicon::normalise)
        {
            if part.len() > 1 {
                refs.extend(word_positions(n, &part).into_iter().map(|i| (i, who)));
            }
        }
    }
    for (a, b) in ctx.lex.list("criticism.officer_terms").ranges(n) {
        let w = n[a..b].trim();
        // Where the term's last word stands: "officer" in "the planning
        // officer" is inside "planning officer".
        let head = a + n[a..b].trim_end().rfind(' ').map_or(0, |i| i + 1);
        if theirs(head) {
            continue;
        }
        if !PRONOUNS.contains(&w) || previous_officer {
            refs.push((a, Who::Officer));
        }
    }
    refs.sort_by_key(|r| r.0);
    refs
}

/// Whether sentence `i` speaks first of an officer: names one, refers to
/// one by post ("our finance officer", "the clerk"), or by a pronoun or not
/// at all right after a sentence of the same paragraph that did. The meaning
/// reading of criticism counts only such sentences: a negative judgement
/// is criticism of an officer only when an officer is its subject.
pub fn about_an_officer(ctx: &Ctx<'_>, i: usize) -> bool {
    let sentences = ctx.sentences();
    let Some(s) = sentences.get(i) else {
        return false;
    };
    let previous_officer = i
        .checked_sub(1)
        .and_then(|j| sentences.get(j))
        .filter(|p| p.paragraph == s.paragraph && !p.greeting)
        .is_some_and(|p| {
            references(ctx, &p.norm, false)
                .last()
                .is_some_and(|r| r.1 == Who::Officer)
        });
    // The first person a sentence speaks of is, as a rule, its subject:
    // "Cllr Grey's conduct was rude, and I will raise it with the
    // monitoring officer" is about the councillor.
    match references(ctx, &s.norm, previous_officer).first() {
        Some(r) => r.1 == Who::Officer,
        None => previous_officer,
    }
}

pub fn detect(ctx: &Ctx<'_>) -> Option<Finding> {
    let judgements = ctx.lex.list("criticism.judgements");
    let reporting = ctx.lex.list("criticism.reporting");
    let mut evidence = Vec::new();
    let mut previous_officer = false;
    let mut previous_paragraph = usize::MAX;
    for s in ctx.sentences().iter().filter(|s| !s.greeting) {
        if s.paragraph != previous_paragraph {
            previous_officer = false;
            previous_paragraph = s.paragraph;
        }
        let n = &s.norm;
        let refs = references(ctx, n, previous_officer);
        let found = judgements.ranges(n);
        // Where a reporting verb stands (read only when there is a judgement).
        let reports: Vec<usize> = if found.is_empty() {
            Vec::new()
        } else {
            reporting.ranges(n).into_iter().map(|(a, _)| a).collect()
        };
        // A judgement is about the nearest person named before it (or, when
        // it comes first, the nearest after it) — unless that person only
        // reports it ("Kevin says the roof is in a terrible state").
        let about = |at: usize| {
            let before = refs.iter().rev().find(|(p, _)| *p < at);
            if let Some((p, _)) = before
                && reports.iter().any(|r| p < r && *r < at)
            {
                return None;
            }
            before
                .or_else(|| refs.iter().find(|(p, _)| *p >= at))
                .map(|(_, w)| *w)
        };
        if let Some((a, b)) = found
            .into_iter()
            .find(|&(a, _)| about(a) == Some(Who::Officer))
        {
            evidence.push(format!("{} (\"{}\")", s.text, n[a..b].trim()));
        }
        if let Some((_, last)) = refs.last() {
            previous_officer = *last == Who::Officer;
        }
    }
    Finding::from_sentences(evidence)
}

//! `staffing`: the message is about a member of staff — their conduct,
//! capability, timekeeping, absence, appraisal, grievance, discipline,
//! recruitment, or a complaint about them — even when phrased as an
//! innocent question. Words with an everyday sense ("performance",
//! "hours", "complaint about", "hire") count only in a sentence that also
//! refers to a person who could be staff, and known other senses ("the
//! performance of the boiler", "hall hire", "option appraisal") are set
//! aside first.

use super::{Ctx, Finding, officers_named};

pub const LISTS: &[&str] = &[
    "staffing.person_terms",
    "staffing.topics",
    "staffing.person_bound",
    "staffing.other_senses",
];

const PRONOUNS: &[&str] = &[
    "his", "her", "he", "she", "him", "they", "their", "them", "your", "you",
];

/// Besides [`super::THIRD_PARTIES`]: people who are not staff.
const NOT_STAFF: &[&str] = &[
    "councillor",
    "councillors",
    "cllr",
    "member of the public",
    "tenant",
    "hirer",
    "hirers",
    "the school",
    "pupils",
    "children",
    "the band",
    "performers",
];

pub fn detect(ctx: &Ctx<'_>) -> Option<Finding> {
    let lex = ctx.lex;
    let topics = lex.list("staffing.topics");
    let bound = lex.list("staffing.person_bound");
    let persons = lex.list("staffing.person_terms");
    let mut evidence = Vec::new();
    let subject = crate::policy::lexicon::normalise(&ctx.analysis.subject);
    let texts = std::iter::once((None, subject.clone())).chain(
        ctx.sentences().iter().filter(|s| !s.greeting).map(|s| {
            // "Megan, …" addresses the reader; it does not name the
            // member of staff the sentence is about.
            let c = super::clause(s, ctx.dir, lex);
            let norm = match &c.vocative {
                Some(v) if s.norm.starts_with(v.as_str()) => s
                    .norm
                    .split_once([',', '-'])
                    .map(|(_, rest)| rest.trim().to_string())
                    .unwrap_or_else(|| s.norm.clone()),
                _ => s.norm.clone(),
            };
            (Some(s.text.clone()), norm)
        }),
    );
    for (text, norm) in texts {
        let mut n = norm.clone();
        for (a, b) in lex
            .list("staffing.other_senses")
            .ranges(&norm)
            .into_iter()
            .rev()
        {
            n.replace_range(a..b, " ");
        }
        // A person named, or a staff word ("the receptionist"), is staff
        // whatever else the sentence mentions; a bare pronoun could be
        // anyone, so another subject in the sentence ("residents") wins.
        let strong = !officers_named(ctx.dir, &n).is_empty()
            || persons
                .ranges(&n)
                .into_iter()
                .any(|(a, b)| !PRONOUNS.contains(&n[a..b].trim()));
        let person = strong || persons.is_match(&n);
        let not_staff = !strong
            && super::THIRD_PARTIES
                .iter()
                .chain(NOT_STAFF)
                .any(|t| n.contains(t));
        let hit = topics.ranges(&n).into_iter().find(|&(a, b)| {
            let w = &n[a..b];
            let needs_person = bound
                .entries
                .iter()
                .any(|e| crate::policy::lexicon::normalise(e) == w.trim());
            !needs_person || (person && !not_staff)
        });
        if let Some((a, b)) = hit {
            let found = n[a..b].trim().to_string();
            match text {
                Some(t) => evidence.push(format!("{t} (\"{found}\")")),
                None => evidence.push(format!("Subject: {} (\"{found}\")", ctx.analysis.subject)),
            }
        }
    }
    Finding::from_sentences(evidence)
}

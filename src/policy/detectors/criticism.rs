//! `criticism`: a negative judgement of an identifiable officer's conduct
//! or capability — the officer named, or referred to as "the clerk", "the
//! office", "staff", or by a pronoun right after being named. Criticism of a
//! contractor or of a fellow councillor is not criticism of an officer. The
//! rule adds the audience (external, media or three or more councillors).

use super::{Ctx, Finding, councillors_named, officers_named};

pub const LISTS: &[&str] = &["criticism.judgements", "criticism.officer_terms"];

const PRONOUNS: &[&str] = &[
    "she", "he", "her", "him", "his", "hers", "they", "them", "their",
];
const NOT_OFFICERS: &[&str] = &[
    "contractor",
    "contractors",
    "company",
    "firm",
    "supplier",
    "builder",
    "builders",
    "developer",
    "county council",
    "district council",
    "highways",
    "the police",
    "resident",
    "residents",
    "volunteer",
    "volunteers",
    "the club",
];

/// An officer referred to by a role word ("the clerk", "the office").
fn officer_term(ctx: &Ctx<'_>, norm: &str) -> bool {
    let terms = ctx.lex.list("criticism.officer_terms");
    terms.ranges(norm).into_iter().any(|(a, b)| {
        let w = norm[a..b].trim();
        !PRONOUNS.contains(&w)
    })
}

fn words(norm: &str) -> impl Iterator<Item = &str> {
    norm.split(|c: char| !c.is_alphanumeric() && c != '\'')
        .filter(|w| !w.is_empty())
}

pub fn detect(ctx: &Ctx<'_>) -> Option<Finding> {
    let judgements = ctx.lex.list("criticism.judgements");
    let mut evidence = Vec::new();
    let mut previous_officer = false;
    let mut previous_paragraph = usize::MAX;
    for s in ctx.sentences.iter().filter(|s| !s.greeting) {
        if s.paragraph != previous_paragraph {
            previous_officer = false;
            previous_paragraph = s.paragraph;
        }
        let n = &s.norm;
        // An officer named outright is the subject whatever else is said;
        // a role word or a pronoun could be about someone else.
        let by_name = !officers_named(ctx.dir, n).is_empty();
        let by_term = officer_term(ctx, n);
        let pronoun = words(n).any(|w| PRONOUNS.contains(&w));
        let other_subject = !by_name
            && (NOT_OFFICERS.iter().any(|t| n.contains(t)) || councillors_named(ctx.dir, n));
        let named = by_name || by_term;
        let about_officer =
            by_name || ((by_term || (pronoun && previous_officer)) && !other_subject);
        if about_officer && let Some(j) = judgements.find(n) {
            evidence.push(format!("{} (\"{j}\")", s.text));
        }
        if named && !other_subject {
            previous_officer = true;
        } else if other_subject {
            previous_officer = false;
        }
    }
    Finding::from_sentences(evidence)
}

//! `own-employment`: the writer raises their own employment — pay, grading,
//! contract, hours, overtime, grievance, discipline, or their post being
//! restructured — in the first person, even as a postscript. "My job",
//! "my post", "my role" count only when something is happening to them
//! (restructured, cut, regraded, …).

use super::{Ctx, Finding};

pub const LISTS: &[&str] = &[
    "employment.own_terms",
    "employment.own_patterns",
    "employment.role_changes",
];

const NEEDS_CHANGE: &[&str] = &[
    "my post",
    "my role",
    "my job",
    "my position",
    "my team",
    "my post is",
    "my role is",
    "my job is",
];
const NEEDS_FIRST_PERSON: &[&str] = &[
    "restructure",
    "restructuring",
    "redundancy",
    "redundancies",
    "at risk of redundancy",
    "before the staffing committee",
    "at the staffing committee",
    "the personnel committee",
    "the hr committee",
    "my line manager",
];

fn first_person_object(norm: &str) -> bool {
    norm.split(|c: char| !c.is_alphanumeric() && c != '\'')
        .any(|w| matches!(w, "my" | "me" | "myself" | "mine"))
}

pub fn detect(ctx: &Ctx<'_>) -> Option<Finding> {
    let own = ctx.lex.list("employment.own_terms");
    let changes = ctx.lex.list("employment.role_changes");
    let mut evidence = Vec::new();
    for s in ctx.sentences().iter().filter(|s| !s.greeting) {
        let hit = own.ranges(&s.norm).into_iter().find(|&(a, b)| {
            let w = s.norm[a..b].trim();
            if NEEDS_CHANGE.contains(&w) {
                changes.is_match(&s.norm[b..])
            } else if NEEDS_FIRST_PERSON.contains(&w) {
                first_person_object(&s.norm)
            } else {
                true
            }
        });
        let hit = hit.or_else(|| {
            ctx.lex
                .list("employment.own_patterns")
                .ranges(&s.norm)
                .into_iter()
                .next()
        });
        if let Some((a, b)) = hit {
            evidence.push(format!("{} (\"{}\")", s.text, s.norm[a..b].trim()));
        }
    }
    Finding::from_sentences(evidence)
}

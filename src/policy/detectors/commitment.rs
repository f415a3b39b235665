//! `commitment`: the writer commits the council — accepts a quote, orders
//! or books, authorises payment, waives a charge, agrees terms — in the
//! first person ("we accept your quote") or by telling the other party to
//! go ahead. Declining, deferring to the clerk or the council, a question
//! about availability, or passing on a council resolution is not; a
//! deferral anywhere in the same paragraph cancels the commitment.

use super::{Ctx, Finding};

pub const LISTS: &[&str] = &[
    "commitment.commit_phrases",
    "commitment.defer_phrases",
    "common.negations",
];

pub fn detect(ctx: &Ctx<'_>) -> Option<Finding> {
    let commit = ctx.lex.list("commitment.commit_phrases");
    let defer = ctx.lex.list("commitment.defer_phrases");
    let negations = ctx.lex.list("common.negations");
    let mut evidence = Vec::new();
    for s in ctx.sentences().iter().filter(|s| !s.greeting) {
        let Some((start, _)) = commit.ranges(&s.norm).into_iter().next() else {
            continue;
        };
        // "we can't accept", "I'm not able to agree": a negation just before.
        let before: String = s.norm[..start]
            .split_whitespace()
            .rev()
            .take(4)
            .collect::<Vec<_>>()
            .join(" ");
        if negations.is_match(&before) {
            continue;
        }
        let paragraph_defers = ctx
            .sentences()
            .iter()
            .filter(|o| o.paragraph == s.paragraph)
            .any(|o| defer.is_match(&o.norm));
        if paragraph_defers {
            continue;
        }
        // "Shall we go ahead?" asks; "Could you book us in?" orders.
        let asks = s.text.trim_end().ends_with('?')
            && [
                "shall we",
                "should we",
                "can we",
                "could we",
                "do we",
                "would it",
                "is it",
                "are you able",
                "would you be able",
                "is there",
            ]
            .iter()
            .any(|q| s.norm.starts_with(q));
        if asks {
            continue;
        }
        evidence.push(s.text.clone());
    }
    Finding::from_sentences(evidence)
}

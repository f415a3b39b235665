//! `party-political`: a request (for work, help or information) in a
//! sentence whose neighbourhood — the sentence, the one before or after, or
//! the subject — is about a party, political group or election campaign.
//! Council service campaigns ("recycling campaign") are not political, and
//! asking for neutral advice about the rules ("am I allowed to …") is not
//! party-political work.

use super::{Ctx, Finding, sentence_directive, sentence_is_request, window};
use crate::policy::lexicon::normalise;

pub const LISTS: &[&str] = &[
    "political.context",
    "political.non_political_campaigns",
    "political.work",
    "political.rules_advice",
];

fn political(lex: &crate::policy::lexicon::Lexicon, norm: &str) -> bool {
    let mut text = norm.to_string();
    for (a, b) in lex
        .list("political.non_political_campaigns")
        .ranges(norm)
        .into_iter()
        .rev()
    {
        text.replace_range(a..b, " ");
    }
    lex.list("political.context").is_match(&text)
}

pub fn detect(ctx: &Ctx<'_>) -> Option<Finding> {
    let lex = ctx.lex;
    let subject = normalise(&ctx.analysis.subject);
    let subject_political = political(lex, &subject);
    let mut evidence = Vec::new();
    for (i, s) in ctx.sentences().iter().enumerate() {
        if s.greeting {
            continue;
        }
        if !sentence_is_request(s, ctx.dir, lex)
            || lex.list("political.rules_advice").is_match(&s.norm)
        {
            continue;
        }
        let context =
            subject_political || window(ctx.sentences(), i).any(|w| political(lex, &w.norm));
        if !context {
            continue;
        }
        // The request must be for something an officer would do.
        let work = lex.list("political.work").is_match(&s.norm)
            || sentence_directive(s, ctx.dir, lex).is_some();
        if work {
            evidence.push(s.text.clone());
        }
    }
    Finding::from_sentences(evidence)
}

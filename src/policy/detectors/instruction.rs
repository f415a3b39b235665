//! `instruction`: the new text gives a target officer directions about their
//! work — what to do, when, in which order — however politely or indirectly
//! phrased; a request for information is not a direction, even with a
//! deadline or "I need". A sentence counts only when it is addressed to a
//! target (its vocative, or the greeting, names them or no one in
//! particular).

use super::{Ctx, Finding, addressed_to_targets, clause, sentence_directive};

pub const LISTS: &[&str] = &[
    "instruction.action_verbs",
    "instruction.information_verbs",
    "instruction.information_nouns",
    "instruction.question_words",
    "instruction.directive_phrases",
    "instruction.directive_patterns",
    "instruction.impersonal_patterns",
    "instruction.ordering_patterns",
    "instruction.non_directive",
    "common.polite",
    "common.deadlines",
    "common.greetings",
    "common.first_person_subjects",
];

pub fn detect(ctx: &Ctx<'_>) -> Option<Finding> {
    let mut evidence = Vec::new();
    for s in ctx.sentences().iter().filter(|s| !s.greeting) {
        let c = clause(s, ctx.dir, ctx.lex);
        if !addressed_to_targets(ctx, s, &c) {
            continue;
        }
        if let Some(kind) = sentence_directive(s, ctx.dir, ctx.lex) {
            evidence.push(format!("{} ({kind})", s.text));
        }
    }
    Finding::from_sentences(evidence)
}

//! `confidential-marking`: the message is marked confidential — in the
//! subject, its opening lines, a `Sensitivity:` header, or the top of a
//! quoted or forwarded original (including a whole forwarded message).
//! Footer disclaimers never count (they are set aside before this reads),
//! and a denial ("this is not confidential") is not a marking.

use super::{Ctx, Finding};
use crate::policy::lexicon::normalise;

pub const LISTS: &[&str] = &[
    "confidential.markings",
    "confidential.unmarkings",
    "confidential.sensitivity_values",
];

fn marked(ctx: &Ctx<'_>, text: &str) -> Option<String> {
    let n = normalise(text);
    let mut stripped = n.clone();
    for (a, b) in ctx
        .lex
        .list("confidential.unmarkings")
        .ranges(&n)
        .into_iter()
        .rev()
    {
        stripped.replace_range(a..b, " ");
    }
    ctx.lex
        .list("confidential.markings")
        .find(&stripped)
        .map(str::to_string)
}

pub fn detect(ctx: &Ctx<'_>) -> Option<Finding> {
    let a = ctx.analysis;
    let mut evidence = Vec::new();
    if marked(ctx, &a.subject).is_some() {
        evidence.push(format!("Subject: {}", a.subject));
    }
    for v in a.header("Sensitivity") {
        if ctx
            .lex
            .list("confidential.sensitivity_values")
            .is_match(&normalise(v))
        {
            evidence.push(format!("Sensitivity: {v}"));
        }
    }
    for line in a.opening(3).lines() {
        if marked(ctx, line).is_some() {
            evidence.push(line.trim().to_string());
        }
    }
    for line in a.text().split.quoted_head.lines() {
        if marked(ctx, line).is_some() {
            evidence.push(format!("in the quoted original: {}", line.trim()));
        }
    }
    evidence.dedup();
    Finding::from_sentences(evidence)
}

//! `publicity-request`: a request (for work or otherwise: "could we put out
//! a press release", "I'd like a photo opportunity") that names a council
//! publicity channel — press release, newsletter item, website news, social
//! media post, photo opportunity. Asking what the rules allow, or asking to
//! pause publicity, is not a request for publicity. The rule supplies the
//! pre-election period.

use super::{Ctx, Finding, sentence_is_request};

pub const LISTS: &[&str] = &["publicity.channels", "publicity.rules_advice"];

pub fn detect(ctx: &Ctx<'_>) -> Option<Finding> {
    let channels = ctx.lex.list("publicity.channels");
    let advice = ctx.lex.list("publicity.rules_advice");
    let mut evidence = Vec::new();
    for s in ctx.sentences().iter().filter(|s| !s.greeting) {
        let Some(channel) = channels.find(&s.norm) else {
            continue;
        };
        if advice.is_match(&s.norm) {
            continue;
        }
        if sentence_is_request(s, ctx.dir, ctx.lex) {
            evidence.push(format!("{} (\"{channel}\")", s.text));
        }
    }
    Finding::from_sentences(evidence)
}

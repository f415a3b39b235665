//! `publicity-request`: a request (for work or otherwise: "could we put out
//! a press release", "I'd like a photo opportunity") that names a council
//! publicity channel — press release, newsletter item, website news, social
//! media post, photo opportunity — and features a councillor or a party
//! (RULES-NOTES: "any council channel featuring a councillor or party").
//! Asking what the rules allow, asking to pause publicity, or asking for
//! the council's own service publicity ("a post reminding people the green
//! waste collections restart") is not. The rule supplies the pre-election
//! period.

use super::{Ctx, Finding, people_named, sentence_is_request, window, words};
use crate::policy::directory::Directory;
use crate::policy::lexicon::Lexicon;
use crate::policy::sentences::Sentence;

/// Words by which a publicity request features a councillor or a party:
/// the writer ("a photo of me", "the work I've championed", "I'll be
/// there to open it"), a member ("so the chair can cut the ribbon") or a
/// group. Deliberately broad: only a request naming none of them, in its
/// sentence or the next or previous one, is taken for service publicity.
const FEATURING: &[&str] = &[
    "me",
    "my",
    "myself",
    "mine",
    "i",
    "i'm",
    "i've",
    "i'll",
    "i'd",
    "councillor",
    "councillors",
    "cllr",
    "chair",
    "chairman",
    "chairwoman",
    "mayor",
    "member",
    "members",
    "candidate",
    "candidates",
    "party",
    "group",
    "ward",
];

/// Whether a sentence features a councillor or a party: a word of
/// [`FEATURING`], a councillor's name, or the party-political context list.
fn features_a_member(s: &Sentence, dir: &Directory, lex: &Lexicon) -> bool {
    words(&s.norm).iter().any(|w| FEATURING.contains(w))
        || lex.list("political.context").is_match(&s.norm)
        || !people_named(dir, &s.norm, |p| p.is_councillor()).is_empty()
}

pub const LISTS: &[&str] = &[
    "publicity.channels",
    "publicity.rules_advice",
    "political.context",
];

pub fn detect(ctx: &Ctx<'_>) -> Option<Finding> {
    let channels = ctx.lex.list("publicity.channels");
    let advice = ctx.lex.list("publicity.rules_advice");
    let mut evidence = Vec::new();
    let sentences = ctx.sentences();
    for (i, s) in sentences.iter().enumerate().filter(|(_, s)| !s.greeting) {
        let Some(channel) = channels.find(&s.norm) else {
            continue;
        };
        if advice.is_match(&s.norm) {
            continue;
        }
        if sentence_is_request(s, ctx.dir, ctx.lex)
            && window(sentences, i).any(|w| features_a_member(w, ctx.dir, ctx.lex))
        {
            evidence.push(format!("{} (\"{channel}\")", s.text));
        }
    }
    Finding::from_sentences(evidence)
}

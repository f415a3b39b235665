//! `undue-pressure`: abuse aimed at a person ("you", "your", an officer's
//! name), threats to an officer's job, reputation or standing, shouting at
//! them, or pressing them to change professional advice or a report or not
//! to present one — said as a direction or an insistence ("I expect the
//! recommendation to be changed"). Disagreement through the proper route
//! ("I will move an amendment at committee") is not pressure.

use super::{Ctx, Finding, officers_named, sentence_directive};

pub const LISTS: &[&str] = &[
    "pressure.abuse",
    "pressure.threats",
    "pressure.threat_patterns",
    "pressure.change_verbs",
    "pressure.advice_nouns",
    "pressure.not_presenting",
    "pressure.insistence",
];

const PROPER_ROUTE: &[&str] = &[
    "at committee",
    "at the committee",
    "at the meeting",
    "at full council",
    "in the debate",
    "vote against",
    "move an amendment",
    "propose an amendment",
    "table an amendment",
    "put forward an amendment",
    "speak against",
    "argue against",
    "raise it at",
    "raise this at",
    "members will decide",
    "the committee can decide",
    "for members to decide",
];

fn second_person(norm: &str) -> bool {
    norm.split(|c: char| !c.is_alphanumeric() && c != '\'')
        .any(|w| {
            matches!(
                w,
                "you" | "your" | "you're" | "yourself" | "you've" | "you'll" | "yours" | "u"
            )
        })
}

fn shouting(text: &str) -> bool {
    let letters: Vec<char> = text.chars().filter(|c| c.is_alphabetic()).collect();
    letters.len() >= 15
        && text.split_whitespace().count() >= 4
        && letters.iter().filter(|c| c.is_uppercase()).count() * 10 >= letters.len() * 8
}

pub fn detect(ctx: &Ctx<'_>) -> Option<Finding> {
    let lex = ctx.lex;
    let mut evidence = Vec::new();
    for s in ctx.sentences().iter().filter(|s| !s.greeting) {
        let n = &s.norm;
        let personal = second_person(n) || !officers_named(ctx.dir, n).is_empty();
        let abuse = lex.list("pressure.abuse").find(n).filter(|_| personal);
        let threat = lex
            .list("pressure.threats")
            .find(n)
            .or_else(|| lex.list("pressure.threat_patterns").find(n));
        let shout = (shouting(&s.text) && second_person(n)).then_some("shouting");
        let proper = PROPER_ROUTE.iter().any(|p| n.contains(p));
        let mut advice = None;
        if !proper {
            let change = lex.list("pressure.change_verbs").is_match(n);
            let noun = lex.list("pressure.advice_nouns").is_match(n);
            if change && noun {
                let directed = matches!(
                    sentence_directive(s, ctx.dir, lex),
                    Some("direction" | "imperative" | "request for work")
                );
                if directed || lex.list("pressure.insistence").is_match(n) {
                    advice = Some("pressing to change advice or a report");
                }
            }
            if lex.list("pressure.not_presenting").is_match(n) {
                advice = Some("pressing not to present a report");
            }
        }
        let why = abuse
            .map(|w| format!("abuse: \"{w}\""))
            .or_else(|| threat.map(|w| format!("threat: \"{w}\"")))
            .or_else(|| shout.map(str::to_string))
            .or_else(|| advice.map(str::to_string));
        if let Some(why) = why {
            evidence.push(format!("{} ({why})", s.text));
        }
    }
    Finding::from_sentences(evidence)
}

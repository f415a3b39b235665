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

/// The clause of `norm` that holds bytes `start..end`: up to the nearest
/// comma, semicolon, colon, bracket or spaced dash on either side (a
/// hyphen inside a word does not cut).
fn clause_around(norm: &str, start: usize, end: usize) -> &str {
    const CUTS: &[char] = &[',', ';', ':', '(', ')', '\u{2013}', '\u{2014}'];
    let before = &norm[..start];
    let from = before
        .rfind(CUTS)
        .map(|i| i + before[i..].chars().next().map_or(1, char::len_utf8))
        .into_iter()
        .chain(before.rfind(" - ").map(|i| i + 3))
        .max()
        .unwrap_or(0);
    let after = &norm[end..];
    let to = after
        .find(CUTS)
        .into_iter()
        .chain(after.find(" - "))
        .min()
        .map_or(norm.len(), |i| end + i);
    &norm[from..to]
}

/// Whether a clause speaks of its writer ("we're hopeless at it", "I'm
/// useless with spreadsheets") rather than of the reader.
fn about_the_writer(lex: &crate::policy::lexicon::Lexicon, clause: &str) -> bool {
    lex.list("common.first_person_subjects").is_match(clause) && !second_person(clause)
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
        // Abuse aimed at the reader, not a writer running themselves down
        // ("take a few notes for us - we're hopeless at it").
        let abuse = lex
            .list("pressure.abuse")
            .ranges(n)
            .into_iter()
            .find(|&(a, b)| personal && !about_the_writer(lex, clause_around(n, a, b)))
            .map(|(a, b)| n[a..b].trim());
        // A threat is made to the reader: a question about someone else
        // ("is Sam on a final warning?") asks, it does not threaten.
        let asks_about_another = s.text.trim_end().ends_with('?') && !second_person(n);
        let threat = lex
            .list("pressure.threats")
            .find(n)
            .or_else(|| lex.list("pressure.threat_patterns").find(n))
            .filter(|_| !asks_about_another);
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

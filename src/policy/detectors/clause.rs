//! Sentences into clauses: after commas, semicolons, dashes and "and then";
//! discourse openers, vocatives and polite openers recognised, so each
//! clause says who is asked to do what.

use crate::policy::directory::Directory;
use crate::policy::lexicon::Lexicon;
use crate::policy::sentences::Sentence;

/// Words that may open a sentence without changing what it asks.
pub(super) const DISCOURSE: &[&str] = &[
    "also",
    "and",
    "oh",
    "ok",
    "okay",
    "right",
    "so",
    "then",
    "now",
    "firstly",
    "first",
    "secondly",
    "second",
    "thirdly",
    "finally",
    "lastly",
    "next",
    "just",
    "but",
    "plus",
    "again",
    "anyway",
    "meanwhile",
    "additionally",
    "separately",
    "otherwise",
    "alternatively",
    "lastly,",
    "ps",
    "p.s.",
    "btw",
    "one",
    "more",
    "thing:",
    "thing",
    "other",
    "another",
];

/// A sentence taken apart for request analysis.
#[derive(Debug, Clone)]
pub struct Clause<'s> {
    /// Lower-case first word of a leading "Name," when it is a name.
    pub vocative: Option<String>,
    /// A polite opener was removed ("could you", "please").
    pub polite: bool,
    pub question: bool,
    /// What remains: the verb phrase, ideally.
    pub rest: String,
    pub norm: &'s str,
}

pub(super) fn strip_words<'t>(mut t: &'t str, words: &[&str]) -> &'t str {
    loop {
        let trimmed = t.trim_start_matches([' ', ',', ';', ':', '-', '(', ')']);
        let Some(first) = trimmed.split(' ').next() else {
            return trimmed;
        };
        let bare = first.trim_end_matches([',', ':', ';']);
        if !bare.is_empty() && words.contains(&bare) {
            t = &trimmed[first.len()..];
        } else {
            return trimmed;
        }
    }
}

/// First names of everyone in the directory (for vocatives).
pub(super) fn is_first_name(dir: &Directory, word: &str) -> bool {
    dir.people.iter().any(|p| {
        p.name
            .split_whitespace()
            .next()
            .is_some_and(|f| crate::policy::lexicon::normalise(f) == word)
    })
}

pub fn clause<'s>(s: &'s Sentence, dir: &Directory, lex: &Lexicon) -> Clause<'s> {
    let norm = s.norm.as_str();
    let question = s.text.trim_end().ends_with('?');
    let mut rest = strip_words(norm, DISCOURSE).to_string();
    let mut vocative = None;
    // "Alex, could you …" / "Alex - …" / a short adverbial "On Friday, …"
    if let Some((head, tail)) = rest.split_once([',', '-'])
        && head.split_whitespace().count() <= 4
        && !head.trim().is_empty()
    {
        let first = head.split_whitespace().next().unwrap_or("");
        let first = lex
            .list("common.greetings")
            .strip_prefix(head)
            .and_then(|r| r.split_whitespace().next())
            .unwrap_or(first);
        if is_first_name(dir, first) {
            vocative = Some(first.to_string());
            rest = tail.trim().to_string();
        } else if lex
            .list("instruction.action_verbs")
            .strip_prefix(head)
            .is_none()
            && lex
                .list("common.first_person_subjects")
                .strip_prefix(head)
                .is_none()
            && head.split_whitespace().count() <= 3
            && !head.contains("you")
        {
            rest = tail.trim().to_string();
        }
    }
    // "…, Alex?" at the end names the addressee too.
    if vocative.is_none()
        && let Some((_, last)) = norm.trim_end_matches(['?', '.', '!']).rsplit_once(',')
    {
        let last = last.trim();
        if last.split_whitespace().count() == 1 && is_first_name(dir, last) {
            vocative = Some(last.to_string());
        }
    }
    let rest = strip_words(&rest, DISCOURSE).to_string();
    let (polite, rest_after) = polite_opener(&rest, lex);
    Clause {
        vocative,
        polite,
        question,
        rest: rest_after,
        norm,
    }
}

/// A polite opener at the start of `text`: (polite, what follows it).
pub(super) fn polite_opener(text: &str, lex: &Lexicon) -> (bool, String) {
    let polite_list = lex.list("common.polite");
    // A polite opener near the start: "is there any chance you could".
    if let Some((start, end)) = polite_list.ranges(text).into_iter().next()
        && text[..start].split_whitespace().count() <= 3
    {
        let mut after = text[end..].trim_start_matches([' ', ',']).to_string();
        // "please could you …": take a second opener too.
        if let Some(r) = polite_list.strip_prefix(&after) {
            after = r.to_string();
        }
        let after = strip_words(
            &after,
            &[
                "just", "also", "please", "possibly", "quickly", "perhaps", "maybe",
            ],
        );
        return (true, after.to_string());
    }
    (false, text.to_string())
}

/// The sentence's main clause, then each later clause (after a comma,
/// semicolon, dash or "and then"), so that a request standing in a later
/// clause — "when the announcement goes out, please include a quote" — is
/// read as one.
pub fn clauses<'s>(s: &'s Sentence, dir: &Directory, lex: &Lexicon) -> Vec<Clause<'s>> {
    let main = clause(s, dir, lex);
    let mut out = vec![main.clone()];
    let norm = s.norm.as_str();
    let mut cuts: Vec<usize> = Vec::new();
    for (i, ch) in norm.char_indices() {
        if ch == ',' || ch == ';' {
            cuts.push(i + 1);
        }
    }
    for sep in [" - ", " and then ", " then "] {
        cuts.extend(norm.match_indices(sep).map(|(i, m)| i + m.len()));
    }
    cuts.sort_unstable();
    for (k, &start) in cuts.iter().enumerate() {
        let end = cuts.get(k + 1).map(|&e| {
            // Up to the next separator, without it.
            let seg = &norm[start..e];
            start + seg.rfind([',', ';']).unwrap_or(seg.len())
        });
        let seg = norm[start..end.unwrap_or(norm.len())].trim();
        let seg = strip_words(seg, DISCOURSE);
        if seg.split_whitespace().count() < 2 {
            continue;
        }
        let (polite, rest) = polite_opener(seg, lex);
        out.push(Clause {
            vocative: main.vocative.clone(),
            polite,
            question: main.question,
            rest,
            norm: seg,
        });
    }
    out
}

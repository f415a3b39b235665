//! Whether a clause directs work or asks for information: imperatives,
//! polite requests, directive phrases, impersonal needs and orderings of
//! work, against requests for information, the writer's own undertakings
//! and cancelled directions. The instruction, political and publicity
//! detectors share it.

use super::clause::*;
use crate::policy::directory::Directory;
use crate::policy::lexicon::{Lexicon, WordList};
use crate::policy::sentences::Sentence;

/// The first direction any clause of the sentence gives.
pub fn sentence_directive(s: &Sentence, dir: &Directory, lex: &Lexicon) -> Option<&'static str> {
    clauses(s, dir, lex)
        .iter()
        .find_map(|c| directive_kind(c, lex))
}

/// Whether any clause of the sentence asks for something.
pub fn sentence_is_request(s: &Sentence, dir: &Directory, lex: &Lexicon) -> bool {
    clauses(s, dir, lex).iter().any(|c| is_request(c, lex))
}

pub(super) fn starts_with_any(t: &str, list: &WordList) -> Option<String> {
    list.strip_prefix(t).map(|r| r.to_string())
}

pub(super) const DIRECTIVE_PREFIXES: &[&str] = &[
    "i need you to",
    "i want you to",
    "i'd like you to",
    "i would like you to",
    "i expect you to",
    "i'm asking you to",
    "i am asking you to",
    "you need to",
    "you must",
    "you will need to",
    "you'll need to",
    "you have to",
    "you should",
    "you will",
    "you'll",
    "you are to",
    "you're to",
    "i'll leave it with you to",
    "over to you to",
];

/// Whether the clause asks for information rather than work.
pub fn is_information_request(c: &Clause<'_>, lex: &Lexicon) -> bool {
    let info_verbs = lex.list("instruction.information_verbs");
    let nouns = lex.list("instruction.information_nouns");
    let qwords = lex.list("instruction.question_words");
    let mut rest = c.rest.as_str();
    for p in DIRECTIVE_PREFIXES {
        if let Some(r) = rest.strip_prefix(p) {
            rest = r.trim_start();
            break;
        }
    }
    if let Some(after) = starts_with_any(rest, info_verbs) {
        let verb_len = rest.len() - after.len();
        let verb = &rest[..verb_len];
        let to_me = verb.contains(" me")
            || verb.contains(" us")
            || after.starts_with("me ")
            || after.starts_with("us ")
            || after == "me"
            || after == "us";
        // "tell the contractor to come back" is a direction.
        let onward = regex_lite_to(&after);
        if onward {
            return false;
        }
        // "check whether", "find out if": the question word is in the verb.
        let asks = verb
            .split_whitespace()
            .last()
            .is_some_and(|w| qwords.entries.iter().any(|q| q == w));
        if to_me || asks || qwords.strip_prefix(&after).is_some() {
            return true;
        }
        if nouns.is_match(&first_words(&after, 6)) {
            return true;
        }
    }
    // "Any chance of a copy of the accounts?": a polite opener that runs
    // into a noun phrase asks for that thing, and a copy or the figures is
    // information.
    let thing = rest.strip_prefix("of ").unwrap_or(rest);
    if c.polite
        && ["a ", "an ", "the ", "some ", "any "]
            .iter()
            .any(|d| thing.starts_with(d))
        && nouns.is_match(&first_words(thing, 3))
    {
        return true;
    }
    // "I need the figures by Friday", "could I have a copy of …"
    for p in [
        "i need",
        "i'd like",
        "i would like",
        "i want",
        "can i have",
        "could i have",
        "can i get",
        "could i get",
        "may i have",
        "can i see",
        "could i see",
        "can we have",
        "could we have",
        "can i ask",
        "could i ask",
        "may i ask",
    ] {
        if let Some(r) = c
            .norm
            .trim_start()
            .strip_prefix(p)
            .or_else(|| rest.strip_prefix(p))
            && !r.trim_start().starts_with("you")
            && (nouns.is_match(&first_words(r, 5)) || qwords.strip_prefix(r.trim_start()).is_some())
        {
            return true;
        }
    }
    // Plain questions about facts: "Is the hall booked for Tuesday?"
    if c.question && !c.polite {
        let first = c.rest.split_whitespace().next().unwrap_or("");
        let interrogative = [
            "is", "are", "was", "were", "has", "have", "had", "do", "does", "did", "what",
            "what's", "when", "when's", "where", "where's", "which", "who", "who's", "why", "how",
            "how's", "whose", "any", "anything", "shall",
        ];
        if interrogative.contains(&first) {
            return true;
        }
    }
    false
}

/// The first `n` words of `text`, one space apart.
fn first_words(text: &str, n: usize) -> String {
    text.split_whitespace()
        .take(n)
        .collect::<Vec<_>>()
        .join(" ")
}

/// "<verb> <someone> to <do>" after an information verb: an onward direction.
pub(super) fn regex_lite_to(after: &str) -> bool {
    let words: Vec<&str> = after.split_whitespace().take(5).collect();
    words.iter().skip(1).take(3).any(|w| *w == "to")
        && !after.starts_with("me")
        && !after.starts_with("us")
}

/// The kind of direction a clause gives, if any.
pub fn directive_kind(c: &Clause<'_>, lex: &Lexicon) -> Option<&'static str> {
    if lex.list("instruction.non_directive").is_match(c.norm) {
        return None;
    }
    if is_information_request(c, lex) {
        return None;
    }
    let actions = lex.list("instruction.action_verbs");
    let first_person = lex.list("common.first_person_subjects");
    // A leading directive phrase, with the verb phrase after it.
    for p in DIRECTIVE_PREFIXES {
        if let Some(r) = c.rest.strip_prefix(p) {
            let r = r.trim_start();
            if actions.strip_prefix(r).is_some() || !r.is_empty() {
                return Some("direction");
            }
        }
    }
    if let Some((start, _)) = lex
        .list("instruction.directive_patterns")
        .ranges(c.norm)
        .into_iter()
        .next()
    {
        let before = c.norm[..start].trim_end();
        let negated = ["not", "don't", "no", "never", "wouldn't"]
            .iter()
            .any(|w| before.ends_with(w));
        if !negated {
            return Some("direction");
        }
    }
    if let Some((start, _)) = lex
        .list("instruction.directive_phrases")
        .ranges(c.norm)
        .into_iter()
        .next()
    {
        // "I'll make sure …" is the writer's own undertaking.
        let before = c.norm[..start].trim_end();
        let own = [
            "i'll",
            "i will",
            "we'll",
            "we will",
            "i",
            "we",
            "i can",
            "we can",
            "i'd",
            "i shall",
            "i'm going to",
            "we're going to",
        ]
        .iter()
        .any(|w| before.ends_with(w));
        let negated = ["not", "don't", "no", "never"]
            .iter()
            .any(|w| before.ends_with(w));
        if !own && !negated {
            return Some("direction");
        }
    }
    // "Don't cut the hedge until …": a negative imperative directs too.
    for neg in ["don't ", "do not ", "never ", "dont "] {
        if let Some(r) = c.rest.strip_prefix(neg)
            && actions.strip_prefix(r).is_some()
        {
            return Some("imperative");
        }
    }
    if actions.strip_prefix(&c.rest).is_some() && first_person.strip_prefix(&c.rest).is_none() {
        // A bare verb opening a sentence is an imperative; after "could you"
        // it is a polite request for work.
        return Some(if c.polite {
            "request for work"
        } else {
            "imperative"
        });
    }
    // An imperative with a verb the list does not know: an open-class
    // word opening the clause, followed by a determiner or an object
    // pronoun ("oil the hinges", "grit them").
    if !c.question && !c.polite && generic_imperative(&c.rest) {
        return Some("imperative");
    }
    // After a polite opener, whatever verb follows asks for something to be
    // done, unless it asked for information (handled above) or is about the
    // writer ("could I …").
    if c.polite
        && !c.rest.trim().is_empty()
        && first_person.strip_prefix(&c.rest).is_none()
        && !c.rest.starts_with("me ")
        && !c.rest.starts_with("us ")
    {
        return Some("request for work");
    }
    // "I'd like a piece in the newsletter": wanting a thing done or made.
    if !c.question {
        for want in [
            "i'd like",
            "i would like",
            "i want",
            "i need",
            "we need",
            "i'd love",
            "i would love",
            "i'm after",
            "i'm looking for",
        ] {
            if let Some(r) = c.rest.strip_prefix(want) {
                let r = r.trim_start();
                let determiner = [
                    "a ", "an ", "the ", "some ", "this ", "that ", "these ", "those ", "more ",
                    "another ", "all ",
                ]
                .iter()
                .any(|d| r.starts_with(d));
                let head = first_words(r, 4);
                if determiner && !lex.list("instruction.information_nouns").is_match(&head) {
                    return Some("indirect request for work");
                }
            }
        }
    }
    if !c.question {
        if let Some((start, _)) = lex
            .list("instruction.impersonal_patterns")
            .ranges(c.norm)
            .into_iter()
            .next()
        {
            let before = c.norm[..start].trim_end();
            let own = before.ends_with(" i")
                || before == "i"
                || before.ends_with(" we")
                || before == "we";
            let about_info = [
                "informed",
                "told",
                "kept",
                "updated",
                "consulted",
                "copied",
                "involved",
                "invited",
            ]
            .iter()
            .any(|w| c.norm[start..].contains(w));
            if !own && !about_info {
                return Some("impersonal direction");
            }
        }
        let ordering = lex.list("instruction.ordering_patterns");
        if ordering.is_match(c.norm)
            && (lex.list("common.deadlines").is_match(c.norm) || c.norm.contains("you"))
        {
            return Some("ordering of work");
        }
    }
    None
}

/// Words that cannot open an imperative: closed-class words, and verbs of
/// thinking, feeling or being.
pub(super) const NOT_IMPERATIVE: &[&str] = &[
    "i",
    "we",
    "you",
    "he",
    "she",
    "it",
    "they",
    "me",
    "us",
    "him",
    "her",
    "them",
    "my",
    "our",
    "your",
    "his",
    "its",
    "their",
    "the",
    "a",
    "an",
    "this",
    "that",
    "these",
    "those",
    "all",
    "some",
    "both",
    "each",
    "every",
    "any",
    "no",
    "what",
    "when",
    "where",
    "why",
    "how",
    "who",
    "which",
    "whose",
    "if",
    "as",
    "at",
    "in",
    "on",
    "by",
    "for",
    "from",
    "with",
    "about",
    "after",
    "before",
    "over",
    "under",
    "into",
    "of",
    "to",
    "and",
    "but",
    "or",
    "so",
    "because",
    "while",
    "since",
    "although",
    "though",
    "unless",
    "until",
    "once",
    "than",
    "not",
    "only",
    "even",
    "still",
    "already",
    "yet",
    "here",
    "there",
    "today",
    "tomorrow",
    "tonight",
    "yesterday",
    "now",
    "then",
    "well",
    "very",
    "quite",
    "really",
    "much",
    "many",
    "more",
    "most",
    "less",
    "few",
    "several",
    "one",
    "two",
    "three",
    "first",
    "next",
    "last",
    "new",
    "old",
    "good",
    "great",
    "lovely",
    "bad",
    "same",
    "other",
    "another",
    "such",
    "own",
    "lots",
    "dear",
    "hi",
    "hello",
    "thanks",
    "thank",
    "cheers",
    "regards",
    "best",
    "sorry",
    "apologies",
    "welcome",
    "happy",
    "glad",
    "congratulations",
    "yes",
    "ok",
    "okay",
    "sure",
    "fine",
    "perhaps",
    "maybe",
    "hope",
    "love",
    "like",
    "need",
    "want",
    "wish",
    "mind",
    "know",
    "think",
    "guess",
    "reckon",
    "suppose",
    "wonder",
    "believe",
    "feel",
    "see",
    "saw",
    "heard",
    "noticed",
    "spoke",
    "met",
    "had",
    "have",
    "has",
    "did",
    "do",
    "does",
    "done",
    "was",
    "were",
    "is",
    "are",
    "be",
    "been",
    "will",
    "would",
    "could",
    "should",
    "can",
    "may",
    "might",
    "must",
    "shall",
    "got",
    "just",
    "also",
    "re",
    "fyi",
    "ps",
    "nb",
    "please",
    "kind",
    "many",
    "great",
    "brilliant",
    "excellent",
];

pub(super) const OBJECT_OPENERS: &[&str] = &[
    "the", "a", "an", "this", "that", "these", "those", "it", "them", "him", "her", "all", "some",
    "any", "every", "each", "both", "our", "my", "his", "their",
];

pub(super) fn generic_imperative(rest: &str) -> bool {
    let mut words = rest
        .split(|c: char| c.is_whitespace())
        .filter(|w| !w.is_empty());
    let (Some(first), Some(second)) = (words.next(), words.next()) else {
        return false;
    };
    let second = second.trim_matches(|c: char| !c.is_alphanumeric());
    let verb_like = first.len() > 1
        && first.chars().all(|c| c.is_ascii_alphabetic())
        && !first.ends_with("ing")
        && !first.ends_with("ed")
        && !first.ends_with("ly")
        && (!first.ends_with('s') || first.ends_with("ss"));
    verb_like && !NOT_IMPERATIVE.contains(&first) && OBJECT_OPENERS.contains(&second)
}

/// A request of any kind: for work, information or help.
pub fn is_request(c: &Clause<'_>, lex: &Lexicon) -> bool {
    if c.polite || directive_kind(c, lex).is_some() || is_information_request(c, lex) {
        return true;
    }
    // "Could the website carry a story …?", "Can we get …?"
    let modal = ["could", "can", "would", "will", "shall", "might"];
    if c.question
        && c.rest
            .split_whitespace()
            .next()
            .is_some_and(|w| modal.contains(&w))
    {
        return true;
    }
    let asks = [
        "i'd like",
        "i would like",
        "i want",
        "i need",
        "could we",
        "can we",
        "could the office",
        "can the office",
        "could the council",
        "can the council",
        "let's",
        "let us",
        "it would be good",
        "it would be great",
        "it would be nice",
        "i think we should",
        "we should",
        "we need",
        "i'd love",
        "i would love",
        "any chance",
        "i was hoping",
        "i'm hoping",
        "i am hoping",
        "would be grateful",
        "would appreciate",
    ];
    asks.iter().any(|a| c.norm.contains(a))
}

//! Content and structure detectors, named in rule conditions
//! (`detector = "instruction"`). Each reads the sentences of the new text
//! (or the message's structure) and returns a [`Finding`] with the
//! sentences or facts that made it fire. How each decides is described in
//! the README ("Detectors") and at the top of its module.
//!
//! The shared clause analysis here reads a sentence the way a person would
//! before deciding whether it directs work: who is addressed (a vocative
//! "Alex," or the greeting), a polite opener ("could you …") taken off, a
//! request for information ("let me know", "send me the figures") told apart
//! from a request for work, negation and cancelled directions ("no need
//! to"), and the forms a direction takes: an imperative verb, a directive
//! phrase ("I need you to"), an impersonal need ("the drain needs
//! clearing"), or an ordering of work ("the noticeboard comes before the
//! bins this week").

mod commitment;
mod confidential;
mod criticism;
mod employment;
mod instruction;
mod political;
mod pressure;
mod publicity;
mod staffing;
mod structural;

use super::directory::{Directory, PersonId};
use super::lexicon::{Lexicon, WordList};
use super::sentences::Sentence;
use crate::message::Analysis;

/// Every detector name a rule may use, with the word lists it reads.
pub const DETECTORS: &[(&str, &[&str])] = &[
    ("instruction", instruction::LISTS),
    ("party-political", political::LISTS),
    ("undue-pressure", pressure::LISTS),
    ("criticism", criticism::LISTS),
    ("confidential-marking", confidential::LISTS),
    ("commitment", commitment::LISTS),
    ("staffing", staffing::LISTS),
    ("own-employment", employment::LISTS),
    ("publicity-request", publicity::LISTS),
    ("manager-not-copied", &[]),
];

/// A classified envelope recipient.
#[derive(Debug, Clone)]
pub struct Rcpt {
    pub address: String,
    pub person: Option<PersonId>,
    pub visible: bool,
}

/// What a detector may read.
pub struct Ctx<'a> {
    pub analysis: &'a Analysis,
    pub sentences: &'a [Sentence],
    pub dir: &'a Directory,
    pub lex: &'a Lexicon,
    pub sender: Option<PersonId>,
    pub recipients: &'a [Rcpt],
    /// Indexes into `recipients` that the rule's conditions matched (for
    /// instruction-to-staff: the junior officers).
    pub targets: &'a [usize],
}

/// Why a detector fired.
#[derive(Debug, Clone, Default)]
pub struct Finding {
    pub evidence: Vec<String>,
    /// Narrows the rule's targets (indexes into recipients), when the
    /// detector knows which ones it is about.
    pub targets: Option<Vec<usize>>,
}

impl Finding {
    fn from_sentences(evidence: Vec<String>) -> Option<Finding> {
        if evidence.is_empty() {
            None
        } else {
            Some(Finding {
                evidence,
                targets: None,
            })
        }
    }
}

pub fn run(name: &str, ctx: &Ctx<'_>) -> Option<Finding> {
    match name {
        "instruction" => instruction::detect(ctx),
        "party-political" => political::detect(ctx),
        "undue-pressure" => pressure::detect(ctx),
        "criticism" => criticism::detect(ctx),
        "confidential-marking" => confidential::detect(ctx),
        "commitment" => commitment::detect(ctx),
        "staffing" => staffing::detect(ctx),
        "own-employment" => employment::detect(ctx),
        "publicity-request" => publicity::detect(ctx),
        "manager-not-copied" => structural::manager_not_copied(ctx),
        _ => None,
    }
}

/// Words that may open a sentence without changing what it asks.
const DISCOURSE: &[&str] = &[
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

fn strip_words<'t>(mut t: &'t str, words: &[&str]) -> &'t str {
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
fn is_first_name(dir: &Directory, word: &str) -> bool {
    dir.people.iter().any(|p| {
        p.name
            .split_whitespace()
            .next()
            .is_some_and(|f| super::lexicon::normalise(f) == word)
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
fn polite_opener(text: &str, lex: &Lexicon) -> (bool, String) {
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

fn starts_with_any(t: &str, list: &WordList) -> Option<String> {
    list.strip_prefix(t).map(|r| r.to_string())
}

const DIRECTIVE_PREFIXES: &[&str] = &[
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
        let head: String = after
            .split_whitespace()
            .take(6)
            .collect::<Vec<_>>()
            .join(" ");
        if nouns.is_match(&head) {
            return true;
        }
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
        {
            let head: String = r.split_whitespace().take(5).collect::<Vec<_>>().join(" ");
            if !r.trim_start().starts_with("you")
                && (nouns.is_match(&head) || qwords.strip_prefix(r.trim_start()).is_some())
            {
                return true;
            }
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

/// "<verb> <someone> to <do>" after an information verb: an onward direction.
fn regex_lite_to(after: &str) -> bool {
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
                let head: String = r.split_whitespace().take(4).collect::<Vec<_>>().join(" ");
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
const NOT_IMPERATIVE: &[&str] = &[
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

const OBJECT_OPENERS: &[&str] = &[
    "the", "a", "an", "this", "that", "these", "those", "it", "them", "him", "her", "all", "some",
    "any", "every", "each", "both", "our", "my", "his", "their",
];

fn generic_imperative(rest: &str) -> bool {
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

/// Sentences addressed to the target people: a sentence with a vocative is
/// addressed to that person; otherwise to whoever the greeting named, or to
/// every recipient when the greeting names no one in particular.
pub fn addressed_to_targets(ctx: &Ctx<'_>, sentence: &Sentence, c: &Clause<'_>) -> bool {
    let first = |id: PersonId| {
        super::lexicon::normalise(
            ctx.dir
                .person(id)
                .name
                .split_whitespace()
                .next()
                .unwrap_or(""),
        )
    };
    let target_names: Vec<String> = ctx
        .targets
        .iter()
        .filter_map(|&i| ctx.recipients[i].person)
        .map(first)
        .collect();
    if let Some(v) = &c.vocative {
        return target_names.iter().any(|n| n == v);
    }
    let greeted: Vec<&Sentence> = ctx.sentences.iter().filter(|s| s.greeting).collect();
    if greeted.is_empty() || sentence.greeting {
        return true;
    }
    let everyone = [
        "all",
        "both",
        "everyone",
        "team",
        "folks",
        "colleagues",
        "there",
        "everybody",
        "you",
    ];
    greeted.iter().any(|g| {
        let words: Vec<&str> = g
            .norm
            .split(|ch: char| !ch.is_alphanumeric() && ch != '\'')
            .filter(|w| !w.is_empty())
            .collect();
        let names_anyone = words.iter().any(|w| is_first_name(ctx.dir, w));
        // Greeted by name: only those named (or "all") are addressed.
        !names_anyone
            || words.iter().any(|w| everyone.contains(w))
            || words.iter().any(|w| target_names.iter().any(|n| n == w))
    })
}

/// Officers referred to in a sentence by name (first, last or full).
pub fn officers_named(dir: &Directory, norm: &str) -> Vec<PersonId> {
    let words: Vec<&str> = norm
        .split(|ch: char| !ch.is_alphanumeric() && ch != '\'')
        .filter(|w| !w.is_empty())
        .map(|w| w.trim_end_matches("'s"))
        .collect();
    dir.people
        .iter()
        .enumerate()
        .filter(|(_, p)| p.is_officer())
        .filter(|(_, p)| {
            p.name
                .split_whitespace()
                .map(super::lexicon::normalise)
                .any(|part| part.len() > 1 && words.contains(&part.as_str()))
        })
        .map(|(i, _)| i)
        .collect()
}

/// The sentence plus its neighbours in the same paragraph.
pub fn window(sentences: &[Sentence], i: usize) -> impl Iterator<Item = &Sentence> {
    let p = sentences[i].paragraph;
    let lo = i.saturating_sub(1);
    let hi = (i + 2).min(sentences.len());
    sentences[lo..hi].iter().filter(move |s| s.paragraph == p)
}

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

mod clause;
mod commitment;
mod confidential;
mod criticism;
mod directive;
mod employment;
mod impersonation;
mod instruction;
mod political;
mod pressure;
mod publicity;
mod staffing;
mod structural;

use super::directory::{Directory, PersonId};
use super::lexicon::Lexicon;
use super::semantic::{Semantic, SentenceVectors};
use super::sentences::Sentence;
use crate::message::Analysis;

pub use clause::*;
pub use directive::*;

/// People a sentence can be about who are not the council's officers:
/// criticism of them is not criticism of an officer, and they are not
/// members of staff.
const THIRD_PARTIES: &[&str] = &[
    "contractor",
    "contractors",
    "company",
    "firm",
    "supplier",
    "builder",
    "resident",
    "residents",
    "volunteer",
    "volunteers",
    "the club",
];

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
    ("display-name", impersonation::LISTS),
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
    pub analysis: &'a Analysis<'a>,
    /// The new text in sentences, split on first use (a detector that
    /// reads only headers never causes it): read it with
    /// [`Ctx::sentences`].
    pub sentences: &'a std::cell::OnceCell<Vec<Sentence>>,
    pub dir: &'a Directory,
    pub lex: &'a Lexicon,
    pub sender: Option<PersonId>,
    pub recipients: &'a [Rcpt],
    /// Indexes into `recipients` that the rule's conditions matched (for
    /// instruction-to-staff: the junior officers).
    pub targets: &'a [usize],
    /// The semantic reading, when on.
    pub semantic: Option<&'a Semantic>,
    /// The vectors of the new text's sentences, embedded on first use
    /// and shared by every detector of the message.
    pub vectors: &'a std::cell::OnceCell<SentenceVectors>,
}

impl<'a> Ctx<'a> {
    /// The new text in sentences.
    pub fn sentences(&self) -> &'a [Sentence] {
        sentences_once(self.sentences, self.analysis, self.lex)
    }
}

/// The new text of `analysis` in sentences, split the first time anyone
/// asks and kept in `cell`.
pub fn sentences_once<'a>(
    cell: &'a std::cell::OnceCell<Vec<Sentence>>,
    analysis: &Analysis<'_>,
    lex: &Lexicon,
) -> &'a [Sentence] {
    cell.get_or_init(|| super::sentences::sentences(&analysis.text().split.new_text, lex))
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

/// Runs a detector: its clause analysis, then, if that finds nothing, its
/// semantic reading.
pub fn run(name: &str, ctx: &Ctx<'_>) -> Option<Finding> {
    match clause_analysis(name, ctx) {
        Some(found) => overruled_by_examples(name, ctx, found),
        None => by_meaning(name, ctx),
    }
}

/// The clause analysis's finding, less the sentences that are, almost word
/// for word, negative examples of the detector (see
/// [`Semantic::vetoes`]): how a clerk's "not a breach", once accepted as an
/// example, stops the same sentence being held again. Evidence that is not
/// a sentence of the new text stays.
fn overruled_by_examples(name: &str, ctx: &Ctx<'_>, found: Finding) -> Option<Finding> {
    let Some(semantic) = ctx.semantic.filter(|s| s.reads(name)) else {
        return Some(found);
    };
    let sentences = ctx.sentences();
    let vectors = ctx
        .vectors
        .get_or_init(|| semantic.embed_sentences(sentences));
    let before = found.evidence.len();
    let evidence: Vec<String> = found
        .evidence
        .into_iter()
        .filter(|e| {
            let said = e.rfind(" (").map_or(e.as_str(), |i| &e[..i]);
            let vetoed = sentences
                .iter()
                .zip(vectors.iter())
                .find(|(s, _)| s.text == said)
                .and_then(|(_, v)| v.as_ref())
                .and_then(|v| semantic.vetoes(name, v));
            vetoed.is_none()
        })
        .collect();
    if evidence.is_empty() && before > 0 {
        return None;
    }
    Some(Finding {
        evidence,
        targets: found.targets,
    })
}

/// A detector's semantic reading: the sentence that reads most like its
/// positive examples, when it scores at least the detector's threshold.
fn by_meaning(name: &str, ctx: &Ctx<'_>) -> Option<Finding> {
    let semantic = ctx.semantic.filter(|s| s.reads(name))?;
    let sentences = ctx.sentences();
    let vectors = ctx
        .vectors
        .get_or_init(|| semantic.embed_sentences(sentences));
    let reading = semantic.read(name, vectors, |i| match name {
        // A direction counts only when it is addressed to the junior
        // officers the rule is about.
        "instruction" => {
            let s = &sentences[i];
            addressed_to_targets(ctx, s, &clause(s, ctx.dir, ctx.lex))
        }
        // A judgement is criticism of an officer only when it speaks of one.
        "criticism" => criticism::about_an_officer(ctx, i),
        _ => true,
    })?;
    Some(Finding {
        evidence: vec![format!(
            "{} (meaning: reads like \"{}\", score {:.2})",
            sentences[reading.sentence].text, reading.nearest, reading.score
        )],
        targets: None,
    })
}

fn clause_analysis(name: &str, ctx: &Ctx<'_>) -> Option<Finding> {
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
        "display-name" => impersonation::detect(ctx),
        _ => None,
    }
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
    let greeted: Vec<&Sentence> = ctx.sentences().iter().filter(|s| s.greeting).collect();
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
    people_named(dir, norm, |p| p.is_officer())
}

/// The words of a normalised sentence, possessive "'s" dropped.
pub fn words(norm: &str) -> Vec<&str> {
    norm.split(|ch: char| !ch.is_alphanumeric() && ch != '\'')
        .filter(|w| !w.is_empty())
        .map(|w| w.trim_end_matches("'s"))
        .collect()
}

/// People of the directory that `which` picks, referred to in a sentence
/// by name (first, last or full).
pub fn people_named(
    dir: &Directory,
    norm: &str,
    which: impl Fn(&crate::policy::directory::Person) -> bool,
) -> Vec<PersonId> {
    let words = words(norm);
    dir.people
        .iter()
        .enumerate()
        .filter(|(_, p)| which(p))
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

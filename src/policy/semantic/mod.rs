//! The semantic reading of the content detectors: a bundled sentence
//! encoder ([`model`]) embeds the sentences of the new text, and each
//! detector's example sentences ([`examples`]) say, by the nearest of them
//! ([`head`]), how much each reads like a breach. A detector fires on meaning
//! when the best sentence scores at least the detector's threshold (the
//! `[semantic]` table of `rules.toml`); the evidence names the sentence,
//! its score and the nearest example.
//!
//! It runs only where the clause analysis is asked: after a rule's
//! structural conditions hold (a councillor writing to an officer, …), so
//! a resident's mail to the clerk never reaches the encoder.

pub mod encoder;
pub mod examples;
pub mod head;
pub mod model;

use std::collections::BTreeMap;
use std::path::PathBuf;

pub use examples::{Examples, Label};
pub use model::{Model, Vector};

use head::Head;

use super::sentences::Sentence;

#[derive(Debug, thiserror::Error)]
pub enum SemanticError {
    #[error("{file}:{line}: {detail}")]
    Examples {
        file: String,
        line: usize,
        detail: String,
    },
    #[error(
        "the sentence encoder cannot load: {0} (set policy.semantic = \"off\" in councilgate.toml to run without it)"
    )]
    Model(String),
    #[error("{file}: {detail}")]
    Cache { file: String, detail: String },
}

/// Whether the content detectors read meaning (`policy.semantic`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    #[default]
    On,
    Off,
}

/// How a snapshot's semantic part is built.
#[derive(Debug, Clone, Default)]
pub struct Options {
    pub mode: Mode,
    /// Where the embeddings of an admin's own examples are cached (the
    /// data folder); `None` keeps them in memory only.
    pub cache_dir: Option<PathBuf>,
}

/// The most sentences of one message's new text that are read for
/// meaning: the first ones, after greetings and short fragments. Past
/// them lies, in practice, a long message's detail (tables, minutes,
/// pasted documents) and never its ask; the clause analysis still reads
/// every sentence.
pub const MAX_SENTENCES: usize = 40;

/// Sentences of fewer words carry no ask of their own ("Thanks.",
/// "See below.").
const MIN_WORDS: usize = 4;

/// The most of one sentence given to the encoder, in bytes: it reads only
/// the first 128 word pieces anyway, and one huge "sentence" (no full
/// stops) must not make the encoder refuse the whole message.
const MAX_SENTENCE_BYTES: usize = 1000;

/// `text` cut to at most `max` bytes, on a character boundary.
fn prefix(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// One detector's examples and its threshold.
#[derive(Debug)]
struct DetectorModel {
    head: Head,
    threshold: f32,
}

/// The compiled semantic part of a snapshot.
#[derive(Debug)]
pub struct Semantic {
    model: Model,
    detectors: BTreeMap<String, DetectorModel>,
}

/// How near a sentence the clause analysis flagged must be to a negative
/// example for the example to overrule it: near enough to be the same
/// sentence in other words (a reworded greeting or name still matches; a
/// different request does not).
pub const VETO: f32 = 0.95;

/// What the semantic reading found in one message for one detector.
#[derive(Debug, Clone, PartialEq)]
pub struct Reading {
    /// Index into the message's sentences.
    pub sentence: usize,
    /// Its similarity to the nearest positive example (cosine, 0–1).
    pub score: f32,
    /// That example.
    pub nearest: String,
    /// The similarity of the nearest negative example (lower than the
    /// score).
    pub negative: f32,
}

/// The vectors of a message's sentences: `None` for those not read.
pub type SentenceVectors = Vec<Option<Vector>>;

impl Semantic {
    /// Embeds the examples (from the caches where it can) and prepares a
    /// model for each detector that has positives and a threshold.
    pub fn compile(
        examples: &Examples,
        thresholds: &BTreeMap<String, f32>,
        cache_dir: Option<&std::path::Path>,
    ) -> Result<Semantic, SemanticError> {
        let model = Model::load()?;
        let texts = examples.texts();
        let vectors = model.embed_examples(&texts, cache_dir)?;
        let by_text: std::collections::HashMap<&str, &Vector> =
            texts.iter().copied().zip(vectors.iter()).collect();
        let ordinary: Vec<Vector> = examples
            .ordinary
            .iter()
            .map(|e| by_text[e.text.as_str()].clone())
            .collect();
        let mut detectors = BTreeMap::new();
        for (name, set) in &examples.sets {
            let Some(&threshold) = thresholds.get(name) else {
                continue;
            };
            let positives: Vec<(String, Vector)> = set
                .iter()
                .filter(|e| e.label == Label::Positive)
                .map(|e| (e.text.clone(), by_text[e.text.as_str()].clone()))
                .collect();
            if positives.is_empty() {
                continue;
            }
            let negatives: Vec<Vector> = set
                .iter()
                .filter(|e| e.label == Label::Negative)
                .map(|e| by_text[e.text.as_str()].clone())
                .chain(ordinary.iter().cloned())
                .collect();
            detectors.insert(
                name.clone(),
                DetectorModel {
                    head: Head::new(positives, negatives),
                    threshold,
                },
            );
        }
        Ok(Semantic { model, detectors })
    }

    /// The model's identity: name and weights' hash.
    pub fn model_identity(&self) -> &str {
        self.model.identity()
    }

    /// Whether `detector` reads meaning.
    pub fn reads(&self, detector: &str) -> bool {
        self.detectors.contains_key(detector)
    }

    /// A detector's threshold and its numbers of positive and negative
    /// examples (ordinary ones included), when it reads meaning.
    pub fn describe(&self, detector: &str) -> Option<(f32, usize, usize)> {
        let d = self.detectors.get(detector)?;
        Some((d.threshold, d.head.positives(), d.head.negatives()))
    }

    /// The detectors that read meaning, with their thresholds.
    pub fn thresholds(&self) -> impl Iterator<Item = (&str, f32)> {
        self.detectors
            .iter()
            .map(|(n, d)| (n.as_str(), d.threshold))
    }

    /// Embeds the sentences worth reading: not greetings, not Welsh (the
    /// encoder is English), at least [`MIN_WORDS`] words, the first
    /// [`MAX_SENTENCES`] of them.
    pub fn embed_sentences(&self, sentences: &[Sentence]) -> SentenceVectors {
        let chosen: Vec<usize> = sentences
            .iter()
            .enumerate()
            .filter(|(_, s)| {
                !s.greeting && !s.welsh && s.text.split_whitespace().count() >= MIN_WORDS
            })
            .map(|(i, _)| i)
            .take(MAX_SENTENCES)
            .collect();
        let mut out: SentenceVectors = vec![None; sentences.len()];
        let texts: Vec<&str> = chosen
            .iter()
            .map(|&i| prefix(&sentences[i].text, MAX_SENTENCE_BYTES))
            .collect();
        // The encoder refuses only empty or oversized input, which the
        // sentence splitter does not make; if it fails, nothing is read
        // for meaning and the clause analysis decides alone.
        if let Ok(vectors) = cpu_bound(|| self.model.embed(&texts)) {
            for (i, v) in chosen.into_iter().zip(vectors) {
                out[i] = Some(v);
            }
        }
        out
    }

    /// The sentence that reads most like a breach for `detector`, when it
    /// scores at least the detector's threshold; `accept` can turn down
    /// a sentence the detector's structure rules out.
    pub fn read(
        &self,
        detector: &str,
        vectors: &SentenceVectors,
        accept: impl Fn(usize) -> bool,
    ) -> Option<Reading> {
        let d = self.detectors.get(detector)?;
        let (sentence, near) = vectors
            .iter()
            .enumerate()
            .filter_map(|(i, v)| Some((i, d.head.nearest(v.as_ref()?)?)))
            .filter(|(i, n)| n.reads_as_breach() && n.score >= d.threshold && accept(*i))
            .max_by(|a, b| a.1.score.total_cmp(&b.1.score))?;
        Some(Reading {
            sentence,
            score: near.score,
            nearest: near.positive.to_string(),
            negative: near.negative,
        })
    }

    /// Whether a sentence the clause analysis flagged is, almost word for
    /// word, one of `detector`'s negative examples (at least [`VETO`]
    /// similar, and nearer to it than to any positive): the examples — the
    /// clerk's "not a breach" among them — say it is not a breach. Returns
    /// the similarity.
    pub fn vetoes(&self, detector: &str, vector: &[f32]) -> Option<f32> {
        let d = self.detectors.get(detector)?;
        let n = d.head.nearest(vector)?;
        (n.negative >= VETO && !n.reads_as_breach()).then_some(n.negative)
    }

    /// Every read sentence's similarity to `detector`'s nearest positive
    /// and negative examples (for `rules explain` and calibration).
    pub fn scores(&self, detector: &str, vectors: &SentenceVectors) -> Vec<(usize, f32, f32)> {
        let Some(d) = self.detectors.get(detector) else {
            return Vec::new();
        };
        vectors
            .iter()
            .enumerate()
            .filter_map(|(i, v)| {
                let n = d.head.nearest(v.as_ref()?)?;
                Some((i, n.score, n.negative))
            })
            .collect()
    }
}

/// Runs `f`, tens of milliseconds of CPU (the encoder), so that it holds
/// up no one: called from a worker of a multi-threaded async runtime (the
/// gateway's sessions), the worker first hands its other tasks to another
/// thread (`block_in_place`); anywhere else (a command, a test's
/// single-threaded runtime) it simply runs.
fn cpu_bound<T>(f: impl FnOnce() -> T) -> T {
    match tokio::runtime::Handle::try_current().map(|h| h.runtime_flavor()) {
        Ok(tokio::runtime::RuntimeFlavor::MultiThread) => tokio::task::block_in_place(f),
        _ => f(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sentence(text: &str) -> Sentence {
        Sentence {
            text: text.to_string(),
            norm: crate::policy::lexicon::normalise(text),
            paragraph: 0,
            greeting: false,
            welsh: false,
        }
    }

    #[test]
    fn the_model_loads_with_no_network_and_names_itself() {
        let model = Model::load().expect("the bundled encoder loads");
        assert!(
            model
                .identity()
                .starts_with("councilgate/minilm-l3-q4-council-v1 ")
        );
        assert!(model.identity().contains("sha256:"));
        let v = model.embed(&["The hedge needs cutting."]).expect("embeds");
        assert_eq!(v[0].len(), model::DIMENSIONS);
        let norm: f32 = v[0].iter().map(|x| x * x).sum();
        assert!((norm - 1.0).abs() < 1e-3);
    }

    #[test]
    fn shipped_examples_are_in_the_shipped_cache() {
        let ex = Examples::parse(examples::DEFAULT_EXAMPLES, "config/examples.toml").unwrap();
        let missing = model::missing_from_shipped(&ex.texts());
        assert_eq!(
            missing, 0,
            "config/examples.embeddings lacks {missing} examples: run `cargo run -- examples embed --out config/examples.embeddings`"
        );
    }

    #[test]
    fn a_handful_of_examples_fit_a_model_that_reads_new_phrasing() {
        let text = r#"
[commitment]
positive = [
  "Please go ahead with the work and send us the bill.",
  "You have the contract, start on Monday.",
  "We accept your quote for the fence.",
]
negative = [
  "I cannot agree to anything; the clerk will decide.",
  "Please send your quote to the clerk for the committee.",
]
[ordinary]
negative = ["Thank you for your email.", "See you at the meeting on Thursday."]
"#;
        let ex = Examples::parse(text, "t").unwrap();
        let thresholds = BTreeMap::from([("commitment".to_string(), 0.5)]);
        let sem = Semantic::compile(&ex, &thresholds, None).unwrap();
        assert!(sem.reads("commitment") && !sem.reads("criticism"));
        let sentences = [
            sentence("Thanks for coming round on Tuesday."),
            sentence("Go ahead and do the extra drainage work, and add it to your bill."),
        ];
        let vectors = sem.embed_sentences(&sentences);
        let scores = sem.scores("commitment", &vectors);
        assert!(scores[1].1 > scores[0].1, "{scores:?}");
        let r = sem
            .read("commitment", &vectors, |_| true)
            .unwrap_or_else(|| panic!("reads: {scores:?}"));
        assert_eq!(r.sentence, 1);
        assert!(!r.nearest.is_empty() && r.score > r.negative);
        // A sentence the detector's structure rules out is not chosen.
        assert!(
            sem.read("commitment", &vectors, |i| i != 1)
                .is_none_or(|r| r.sentence != 1)
        );
    }

    #[test]
    fn one_huge_sentence_does_not_stop_the_others_being_read() {
        let ex = Examples::parse(examples::DEFAULT_EXAMPLES, "config/examples.toml").unwrap();
        let sem =
            Semantic::compile(&ex, &BTreeMap::from([("commitment".into(), 0.5)]), None).unwrap();
        let huge = format!("{} é", "word ".repeat(20_000));
        let sentences = [
            sentence(&huge),
            sentence("Please go ahead with the work and send the invoice to the council."),
        ];
        let vectors = sem.embed_sentences(&sentences);
        assert!(vectors.iter().all(Option::is_some), "both read");
        assert_eq!(prefix("aé", 2), "a", "cut on a character boundary");
    }

    #[test]
    fn an_admins_examples_are_cached_in_the_data_folder() {
        let dir = tempfile::tempdir().unwrap();
        let text = "[criticism]\npositive = [\"The clerk has bungled the audit completely, colleagues.\"]\n";
        let ex = Examples::parse(text, "t").unwrap();
        let thresholds = BTreeMap::from([("criticism".to_string(), 0.9)]);
        Semantic::compile(&ex, &thresholds, Some(dir.path())).unwrap();
        let cache = std::fs::read(dir.path().join(model::CACHE_FILE)).expect("cache written");
        assert!(cache.len() > model::DIMENSIONS * 4);
    }
}

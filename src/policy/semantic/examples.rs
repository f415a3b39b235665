//! `examples.toml`: labelled example sentences for the content detectors'
//! semantic reading. One table per detector, with `positive` sentences (a
//! breach said one way) and `negative` ones (hard cases: the same words in
//! another sense, a request for information, criticism of a contractor,
//! declining to commit); the table `[ordinary]` holds sentences of everyday
//! council mail, a negative for every detector.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::SemanticError;
use crate::policy::lexicon::normalise;

pub const EXAMPLES_FILE: &str = "examples.toml";
pub const DEFAULT_EXAMPLES: &str = include_str!("../../../config/examples.toml");

/// The table whose sentences are negatives for every detector.
pub const ORDINARY: &str = "ordinary";

/// The longest example, in characters: an example is a sentence.
pub const MAX_EXAMPLE_CHARS: usize = 400;

/// The detectors an example set may name: those that read the meaning of
/// the new text (not `manager-not-copied` or `display-name`, which read
/// the envelope and headers).
pub const SEMANTIC_DETECTORS: &[&str] = &[
    "instruction",
    "party-political",
    "undue-pressure",
    "criticism",
    "confidential-marking",
    "commitment",
    "staffing",
    "own-employment",
    "publicity-request",
];

/// Whether an example is a breach said one way, or a hard case that is not.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Label {
    Positive,
    Negative,
}

/// One example sentence and where it was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Example {
    pub text: String,
    pub label: Label,
    pub line: usize,
}

/// The examples of every detector, in file order.
#[derive(Debug, Clone, Default)]
pub struct Examples {
    pub sets: BTreeMap<String, Vec<Example>>,
    pub ordinary: Vec<Example>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSet {
    #[serde(default)]
    positive: Vec<toml::Spanned<String>>,
    #[serde(default)]
    negative: Vec<toml::Spanned<String>>,
}

fn line_of(text: &str, offset: usize) -> usize {
    text.as_bytes()[..offset.min(text.len())]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

impl Examples {
    /// Parses an examples file; errors name the file, the line and the
    /// detector.
    pub fn parse(text: &str, file: &str) -> Result<Examples, SemanticError> {
        let err = |line: usize, detail: String| SemanticError::Examples {
            file: file.to_string(),
            line,
            detail,
        };
        let raw: BTreeMap<String, toml::Spanned<RawSet>> = toml::from_str(text).map_err(|e| {
            let line = e.span().map_or(0, |s| line_of(text, s.start));
            err(line, e.message().to_string())
        })?;
        let mut out = Examples::default();
        for (name, set) in raw {
            let set_line = line_of(text, set.span().start);
            if name != ORDINARY && !SEMANTIC_DETECTORS.contains(&name.as_str()) {
                return Err(err(
                    set_line,
                    format!(
                        "[{name}]: unknown detector (expected {ORDINARY} or one of: {})",
                        SEMANTIC_DETECTORS.join(", ")
                    ),
                ));
            }
            let set = set.into_inner();
            if name == ORDINARY && !set.positive.is_empty() {
                return Err(err(
                    set_line,
                    format!("[{ORDINARY}]: holds only `negative` sentences (everyday mail)"),
                ));
            }
            let mut examples = Vec::new();
            let mut seen: BTreeMap<String, (Label, usize)> = BTreeMap::new();
            let labelled = set
                .positive
                .into_iter()
                .map(|s| (s, Label::Positive))
                .chain(set.negative.into_iter().map(|s| (s, Label::Negative)));
            for (s, label) in labelled {
                let line = line_of(text, s.span().start);
                let sentence = s
                    .into_inner()
                    .split_whitespace()
                    .collect::<Vec<_>>()
                    .join(" ");
                if sentence.is_empty() {
                    return Err(err(line, format!("[{name}]: an empty example")));
                }
                let chars = sentence.chars().count();
                if chars > MAX_EXAMPLE_CHARS {
                    return Err(err(
                        line,
                        format!(
                            "[{name}]: an example of {chars} characters (at most {MAX_EXAMPLE_CHARS}: one sentence)"
                        ),
                    ));
                }
                let key = normalise(&sentence);
                match seen.get(&key) {
                    Some(&(other, first)) if other != label => {
                        return Err(err(
                            line,
                            format!(
                                "[{name}]: \"{sentence}\" is both a positive and a negative example (also line {first})"
                            ),
                        ));
                    }
                    Some(_) => continue,
                    None => {
                        seen.insert(key, (label, line));
                    }
                }
                examples.push(Example {
                    text: sentence,
                    label,
                    line,
                });
            }
            if name == ORDINARY {
                out.ordinary = examples;
            } else {
                out.sets.insert(name, examples);
            }
        }
        Ok(out)
    }

    /// Every distinct example text (what the encoder must embed).
    pub fn texts(&self) -> Vec<&str> {
        let mut all: Vec<&str> = self
            .sets
            .values()
            .flatten()
            .chain(&self.ordinary)
            .map(|e| e.text.as_str())
            .collect();
        all.sort_unstable();
        all.dedup();
        all
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_examples_parse() {
        let ex = Examples::parse(DEFAULT_EXAMPLES, "config/examples.toml").expect("parses");
        assert!(!ex.ordinary.is_empty());
        for (name, set) in &ex.sets {
            assert!(
                set.iter().any(|e| e.label == Label::Positive),
                "{name} has positives"
            );
            assert!(
                set.iter().any(|e| e.label == Label::Negative),
                "{name} has negatives"
            );
        }
    }

    #[test]
    fn errors_name_the_file_line_and_detector() {
        let unknown =
            "[instruction]\npositive = [\"Do it now.\"]\n\n[gossip]\npositive = [\"x\"]\n";
        let e = Examples::parse(unknown, "examples.toml")
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("examples.toml:4:"), "{e}");
        assert!(e.contains("[gossip]: unknown detector"), "{e}");

        let empty = "[criticism]\npositive = [\n  \"She is useless.\",\n  \"  \",\n]\n";
        let e = Examples::parse(empty, "examples.toml")
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("examples.toml:4:"), "{e}");
        assert!(e.contains("[criticism]: an empty example"), "{e}");

        let long = format!("[commitment]\npositive = [\"{}\"]\n", "word ".repeat(100));
        let e = Examples::parse(&long, "examples.toml")
            .unwrap_err()
            .to_string();
        assert!(e.contains("[commitment]: an example of"), "{e}");

        let both = "[staffing]\npositive = [\"Sack him.\"]\nnegative = [\n\"sack  him.\"]\n";
        let e = Examples::parse(both, "examples.toml")
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("examples.toml:4:"), "{e}");
        assert!(e.contains("both a positive and a negative"), "{e}");
        assert!(e.contains("also line 2"), "{e}");
    }
}

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

/// `text` (an examples file) with `sentences` added to `detector`'s
/// `label` list, after the list's opening line, or in a new list or table
/// at the end when there is none; comments and the rest stay as written.
/// The result is for [`Examples::parse`] to check before it is saved.
pub fn with_added(text: &str, detector: &str, label: Label, sentences: &[String]) -> String {
    let key = match label {
        Label::Positive => "positive",
        Label::Negative => "negative",
    };
    let lines: String = sentences
        .iter()
        .map(|s| format!("  {},\n", toml::Value::String(s.clone())))
        .collect();
    let mut out: Vec<&str> = text.lines().collect();
    let header = format!("[{detector}]");
    let start = out.iter().position(|l| l.trim() == header);
    let inserted = start.and_then(|start| {
        let end = out[start + 1..]
            .iter()
            .position(|l| l.trim_start().starts_with('['))
            .map_or(out.len(), |i| start + 1 + i);
        let list = out[start + 1..end].iter().position(|l| {
            let l = l.trim_start();
            l.starts_with(key)
                && l[key.len()..].trim_start().starts_with("= [")
                && !l.trim_end().ends_with(']')
        })?;
        Some((start + 1 + list + 1, end))
    });
    let new_list = format!("{key} = [\n{lines}]");
    let mut result = match (start, inserted) {
        (_, Some((at, _))) => {
            let (head, tail) = out.split_at(at);
            format!("{}\n{}{}", head.join("\n"), lines, tail.join("\n"))
        }
        (Some(start), None) => {
            out.insert(start + 1, &new_list);
            out.join("\n")
        }
        (None, None) => format!("{}\n\n{header}\n{new_list}", text.trim_end()),
    };
    if !result.ends_with('\n') {
        result.push('\n');
    }
    result
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
    fn sentences_are_added_to_the_right_list_and_the_file_still_parses() {
        let text = "# mine\n[criticism]\npositive = [\n  \"A.\",\n]\nnegative = [\n  \"B.\",\n]\n\n[ordinary]\nnegative = [\"C.\"]\n";
        let added = with_added(text, "criticism", Label::Negative, &["Say \"no\".".into()]);
        assert!(added.starts_with("# mine\n"), "{added}");
        let ex = Examples::parse(&added, "t").expect("parses");
        let neg: Vec<&str> = ex.sets["criticism"]
            .iter()
            .filter(|e| e.label == Label::Negative)
            .map(|e| e.text.as_str())
            .collect();
        assert_eq!(neg, ["Say \"no\".", "B."]);
        // A detector with no table yet gets one.
        let added = with_added(text, "commitment", Label::Positive, &["Go ahead.".into()]);
        let ex = Examples::parse(&added, "t").expect("parses");
        assert_eq!(ex.sets["commitment"][0].text, "Go ahead.");
        // A table without the list gets the list.
        let added = with_added(&added, "commitment", Label::Negative, &["Not yet.".into()]);
        let ex = Examples::parse(&added, "t").expect("parses");
        assert_eq!(ex.sets["commitment"].len(), 2);
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

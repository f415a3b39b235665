//! Word lists from `wordlists.toml`, compiled once into one regex each.
//!
//! An entry is a phrase matched on word boundaries against normalised text
//! (see [`normalise`]); a trailing `*` matches any word ending. Keys ending
//! in `_patterns` hold regular expressions instead, for the few structures
//! a phrase cannot say.

use std::collections::BTreeMap;

use regex::Regex;

pub const WORDLISTS_FILE: &str = "wordlists.toml";
pub const DEFAULT_WORDLISTS: &str = include_str!("../../config/wordlists.toml");

#[derive(Debug, thiserror::Error)]
#[error("{file}: {detail}")]
pub struct LexiconError {
    pub file: String,
    pub detail: String,
}

#[derive(Debug, Clone)]
pub struct WordList {
    pub name: String,
    pub entries: Vec<String>,
    re: Regex,
}

impl WordList {
    /// How many entries occur in `norm` (non-overlapping).
    pub fn count(&self, norm: &str) -> usize {
        self.re.find_iter(norm).count()
    }

    pub fn is_match(&self, norm: &str) -> bool {
        !self.entries.is_empty() && self.re.is_match(norm)
    }

    /// The first (leftmost, longest) match.
    pub fn find<'t>(&self, norm: &'t str) -> Option<&'t str> {
        if self.entries.is_empty() {
            return None;
        }
        self.re.find(norm).map(|m| m.as_str().trim())
    }

    /// Byte ranges of every match.
    pub fn ranges(&self, norm: &str) -> Vec<(usize, usize)> {
        if self.entries.is_empty() {
            return Vec::new();
        }
        self.re
            .find_iter(norm)
            .map(|m| (m.start(), m.end()))
            .collect()
    }

    /// Whether `norm` starts with an entry (after leading spaces); returns
    /// the rest of the text after it.
    pub fn strip_prefix<'t>(&self, norm: &'t str) -> Option<&'t str> {
        let t = norm.trim_start();
        let m = self.re.find(t)?;
        if m.start() == 0 || t[..m.start()].trim().is_empty() {
            Some(t[m.end()..].trim_start_matches([' ', ',']))
        } else {
            None
        }
    }
}

fn phrase_regex(p: &str) -> String {
    let p = normalise(p);
    let mut out = String::new();
    let first = p.chars().next().is_some_and(|c| c.is_alphanumeric());
    let last = p
        .chars()
        .last()
        .is_some_and(|c| c.is_alphanumeric() || c == '*');
    if first {
        out.push_str(r"\b");
    }
    for (i, word) in p.split(' ').enumerate() {
        if i > 0 {
            out.push_str(r"\s+");
        }
        match word.strip_suffix('*') {
            Some(stem) => {
                out.push_str(&regex::escape(stem));
                out.push_str(r"[\w'-]*");
            }
            None => out.push_str(&regex::escape(word)),
        }
    }
    if last && !p.ends_with('*') {
        out.push_str(r"\b");
    }
    out
}

/// Lower case, straight quotes and apostrophes, plain dashes, folded spaces.
pub fn normalise(s: &str) -> String {
    if s.is_ascii() {
        return normalise_ascii(s);
    }
    let mut out = String::with_capacity(s.len());
    let mut space = false;
    for c in s.chars() {
        let c = match c {
            '\u{2018}' | '\u{2019}' | '\u{02BC}' | '`' => '\'',
            '\u{201C}' | '\u{201D}' | '\u{00AB}' | '\u{00BB}' => '"',
            '\u{2013}' | '\u{2014}' | '\u{2212}' => '-',
            '\u{00A0}' => ' ',
            c => c,
        };
        if c.is_whitespace() {
            space = true;
            continue;
        }
        if space && !out.is_empty() {
            out.push(' ');
        }
        space = false;
        out.extend(c.to_lowercase());
    }
    out
}

fn normalise_ascii(s: &str) -> String {
    // Word by word: each run between white space is copied whole and
    // lower-cased in place, which is several times faster than a byte at a
    // time on long text.
    let mut out = Vec::with_capacity(s.len());
    for word in s
        .as_bytes()
        .split(u8::is_ascii_whitespace)
        .filter(|w| !w.is_empty())
    {
        if !out.is_empty() {
            out.push(b' ');
        }
        let start = out.len();
        out.extend_from_slice(word);
        let word = &mut out[start..];
        word.make_ascii_lowercase();
        if word.contains(&b'`') {
            for b in word.iter_mut().filter(|b| **b == b'`') {
                *b = b'\'';
            }
        }
    }
    // Only ASCII bytes were written.
    String::from_utf8(out).unwrap_or_default()
}

#[derive(Debug, Clone)]
pub struct Lexicon {
    lists: BTreeMap<String, WordList>,
}

impl Lexicon {
    pub fn parse(text: &str, file: &str) -> Result<Lexicon, LexiconError> {
        let err = |detail: String| LexiconError {
            file: file.to_string(),
            detail,
        };
        let raw: BTreeMap<String, BTreeMap<String, Vec<String>>> =
            toml::from_str(text).map_err(|e| err(e.to_string()))?;
        let mut lists = BTreeMap::new();
        for (section, keys) in raw {
            for (key, entries) in keys {
                let name = format!("{section}.{key}");
                let entries: Vec<String> = entries
                    .into_iter()
                    .map(|e| e.trim().to_string())
                    .filter(|e| !e.is_empty())
                    .collect();
                let mut alts: Vec<String> = if key.ends_with("_patterns") {
                    for e in &entries {
                        Regex::new(e).map_err(|x| {
                            err(format!(
                                "{name}: pattern {e:?} is not a valid regular expression: {x}"
                            ))
                        })?;
                    }
                    entries.iter().map(|e| format!("(?:{e})")).collect()
                } else {
                    let mut sorted = entries.clone();
                    // Longest first so a match takes the whole phrase.
                    sorted.sort_by_key(|e| std::cmp::Reverse(e.len()));
                    sorted.iter().map(|e| phrase_regex(e)).collect()
                };
                if alts.is_empty() {
                    alts.push("$^".into());
                }
                let re = Regex::new(&alts.join("|"))
                    .map_err(|x| err(format!("{name}: cannot compile ({x})")))?;
                lists.insert(name.clone(), WordList { name, entries, re });
            }
        }
        Ok(Lexicon { lists })
    }

    pub fn builtin() -> Lexicon {
        // The shipped file is tested to compile.
        Self::parse(DEFAULT_WORDLISTS, "built-in wordlists.toml").unwrap_or(Lexicon {
            lists: BTreeMap::new(),
        })
    }

    /// A list by `section.key`, or an error naming what is missing.
    pub fn require(&self, name: &str) -> Result<&WordList, String> {
        self.lists
            .get(name)
            .ok_or_else(|| format!("word list {name} is missing from {WORDLISTS_FILE}"))
    }

    /// A list that [`Lexicon::require`] has checked at load time.
    pub fn list(&self, name: &str) -> &WordList {
        static EMPTY: std::sync::LazyLock<WordList> = std::sync::LazyLock::new(|| WordList {
            name: String::new(),
            entries: Vec::new(),
            re: Regex::new("$^").expect("static regex"),
        });
        self.lists.get(name).unwrap_or(&EMPTY)
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.lists.keys().map(String::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_wordlists_compile() {
        Lexicon::parse(DEFAULT_WORDLISTS, "w").expect("compiles");
    }

    #[test]
    fn phrases_match_on_word_boundaries_with_wildcards() {
        let l = Lexicon::parse("[a]\nx = [\"recruit*\", \"part ii\", \"i'm owed\"]\n", "t")
            .expect("ok");
        let w = l.list("a.x");
        assert!(w.is_match("we are recruiting a clerk"));
        assert!(w.is_match("this is part ii business"));
        assert!(!w.is_match("this is part iii"));
        assert!(w.is_match(&normalise("I\u{2019}m  owed")));
        assert!(!w.is_match("prerecruit"));
    }

    #[test]
    fn bad_pattern_is_refused_with_its_name() {
        let e = Lexicon::parse("[a]\nx_patterns = [\"(\"]\n", "w.toml").expect_err("bad");
        assert!(e.to_string().contains("a.x_patterns"), "{e}");
    }

    #[test]
    fn ascii_text_is_folded_like_any_other() {
        let cases = [
            ("  Hello\t World `x` \r\n", "hello world 'x'"),
            ("ONE", "one"),
            ("", ""),
            (" \r\n\t ", ""),
            ("a\x0cb", "a b"),
        ];
        for (input, want) in cases {
            assert_eq!(normalise(input), want, "{input:?}");
        }
        // The same words with a non-ASCII letter take the general path and
        // fold alike.
        assert_eq!(normalise("  Caf\u{e9}\t World `x` "), "caf\u{e9} world 'x'");
    }
}

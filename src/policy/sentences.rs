//! The new text as sentences: paragraphs split, wrapped lines joined,
//! greetings and sign-offs recognised, sentence ends found (not after
//! "Cllr." or "e.g."), and quoted speech set aside, since words in quotation
//! marks are someone else's.

use super::lexicon::{Lexicon, normalise};

#[derive(Debug, Clone)]
pub struct Sentence {
    /// As written (white space folded).
    pub text: String,
    /// Normalised (lower case), quoted speech removed.
    pub norm: String,
    pub paragraph: usize,
    /// A greeting line such as "Hi Alex," — names who is addressed.
    pub greeting: bool,
    /// Written in Welsh ([`is_welsh`]): not read for meaning, the encoder
    /// being English.
    pub welsh: bool,
}

/// Whether a normalised sentence is Welsh: at least two words of the
/// `language.welsh` list and more of them than of `language.english`.
pub fn is_welsh(norm: &str, lex: &Lexicon) -> bool {
    let welsh = lex.list("language.welsh").count(norm);
    welsh >= 2 && welsh > lex.list("language.english").count(norm)
}

/// The language of a message's new text, when it is not plainly English:
/// "cy" when most of its sentences (of three words or more) are Welsh,
/// "cy+en" when at least a quarter are (bilingual mail).
pub fn language(sentences: &[Sentence]) -> Option<&'static str> {
    let read: Vec<&Sentence> = sentences
        .iter()
        .filter(|s| !s.greeting && s.norm.split_whitespace().count() >= 3)
        .collect();
    let welsh = read.iter().filter(|s| s.welsh).count();
    if read.is_empty() || welsh * 4 < read.len() {
        None
    } else if welsh * 2 > read.len() {
        Some("cy")
    } else {
        Some("cy+en")
    }
}

const ABBREVIATIONS: &[&str] = &[
    "cllr", "mr", "mrs", "ms", "dr", "st", "rd", "no", "e.g", "i.e", "etc", "approx", "tel", "ref",
    "vs", "cf", "co", "ltd", "inc", "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept",
    "oct", "nov", "dec", "mon", "tue", "wed", "thu", "fri", "sat", "sun", "prof", "rev", "cllrs",
];

fn is_list_item(line: &str) -> bool {
    let t = line.trim_start();
    // "1." / "a)" / "12.": the marker is within the first three characters,
    // so only they are searched.
    let head = t.char_indices().nth(3).map_or(t, |(i, _)| &t[..i]);
    t.starts_with(['-', '*', '•', '·', '–'])
        || head.split_once(['.', ')']).is_some_and(|(n, _)| {
            !n.is_empty() && n.len() <= 2 && n.chars().all(|c| c.is_ascii_alphanumeric())
        })
}

/// Removes text inside double quotation marks when it is speech (three
/// words or more); short quoted terms stay.
fn without_quoted_speech(norm: &str) -> String {
    let mut out = String::with_capacity(norm.len());
    let mut rest = norm;
    while let Some(start) = rest.find('"') {
        let after = &rest[start + 1..];
        match after.find('"') {
            Some(end) if after[..end].split_whitespace().count() >= 3 => {
                out.push_str(&rest[..start]);
                out.push_str(" \"…\" ");
                rest = &after[end + 1..];
            }
            _ => {
                out.push_str(&rest[..=start]);
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

fn split_sentences(par: &str) -> Vec<String> {
    let chars: Vec<char> = par.chars().collect();
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        cur.push(c);
        if matches!(c, '.' | '!' | '?') {
            // Swallow runs like "?!" or "...".
            while i + 1 < chars.len()
                && matches!(
                    chars[i + 1],
                    '.' | '!' | '?' | '"' | '\'' | ')' | '\u{201D}'
                )
            {
                i += 1;
                cur.push(chars[i]);
            }
            let next_space = chars.get(i + 1).is_none_or(|c| c.is_whitespace());
            let word_before: String = cur
                .trim_end_matches(['.', '!', '?', '"', '\'', ')', '\u{201D}'])
                .rsplit(|ch: char| ch.is_whitespace() || ch == '(')
                .next()
                .unwrap_or("")
                .to_lowercase();
            let abbrev = c == '.'
                && (ABBREVIATIONS.contains(&word_before.as_str()) || word_before.len() == 1);
            let next_starts = chars[i + 1..]
                .iter()
                .find(|c| !c.is_whitespace())
                .is_none_or(|c| {
                    c.is_uppercase()
                        || c.is_ascii_digit()
                        || matches!(c, '"' | '\'' | '(' | '\u{201C}')
                });
            if next_space && !abbrev && next_starts {
                let s = cur.trim().to_string();
                if !s.is_empty() {
                    out.push(s);
                }
                cur.clear();
            }
        }
        i += 1;
    }
    let s = cur.trim().to_string();
    if !s.is_empty() {
        out.push(s);
    }
    out
}

/// Splits new text into sentences.
pub fn sentences(new_text: &str, lex: &Lexicon) -> Vec<Sentence> {
    let greetings = lex.list("common.greetings");
    let sign_offs = lex.list("common.sign_offs");
    let mut out = Vec::new();
    let text = new_text.replace("\r\n", "\n");
    'paragraphs: for (p, para) in text.split("\n\n").enumerate() {
        let mut joined = String::new();
        let flush = |joined: &mut String, out: &mut Vec<Sentence>| {
            for s in split_sentences(joined) {
                let norm = without_quoted_speech(&normalise(&s));
                out.push(Sentence {
                    text: s,
                    welsh: is_welsh(&norm, lex),
                    norm,
                    paragraph: p,
                    greeting: false,
                });
            }
            joined.clear();
        };
        for line in para.lines() {
            let l = line.trim();
            if l.is_empty() {
                continue;
            }
            // Only a short line can be a greeting or a sign-off, and only
            // those read the line's folded form.
            let short = l.split_whitespace().nth(6).is_none();
            let norm = if short { normalise(l) } else { String::new() };
            // "Hi Alex," / "Dear Clara and Dafydd" / "Alex -"
            let greeting = short
                && (greetings.strip_prefix(&norm).is_some() && norm.len() < 60
                    || (l.ends_with(',')
                        && l.split_whitespace().count() <= 3
                        && l.chars().next().is_some_and(char::is_uppercase)));
            if greeting && out.iter().all(|s: &Sentence| s.greeting) && joined.is_empty() {
                out.push(Sentence {
                    text: l.to_string(),
                    norm,
                    paragraph: p,
                    greeting: true,
                    welsh: false,
                });
                continue;
            }
            // A sign-off ends the author's text: what follows is a name.
            let bare = norm.trim_end_matches([',', '.', '!']);
            if short
                && sign_offs
                    .strip_prefix(bare)
                    .is_some_and(|rest| rest.split_whitespace().count() <= 2)
                && sign_offs
                    .find(bare)
                    .is_some_and(|m| m.len() + 3 >= bare.len())
            {
                flush(&mut joined, &mut out);
                break 'paragraphs;
            }
            if is_list_item(l) {
                flush(&mut joined, &mut out);
                joined.push_str(l.trim_start_matches(['-', '*', '•', '·', '–', ' ']));
                flush(&mut joined, &mut out);
                continue;
            }
            if !joined.is_empty() {
                joined.push(' ');
            }
            joined.push_str(l);
        }
        flush(&mut joined, &mut out);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn greeting_sentences_sign_off() {
        let lex = Lexicon::builtin();
        let s = sentences(
            "Hi Alex,\n\nCould you put the chairs out\nfor Tuesday? Cllr. Baker will\nopen up. Thanks!\n\nKind regards,\nJane",
            &lex,
        );
        let texts: Vec<&str> = s.iter().map(|s| s.text.as_str()).collect();
        assert_eq!(
            texts,
            vec![
                "Hi Alex,",
                "Could you put the chairs out for Tuesday?",
                "Cllr. Baker will open up.",
                "Thanks!"
            ]
        );
        assert!(s[0].greeting);
    }

    #[test]
    fn quoted_speech_is_not_the_authors() {
        let lex = Lexicon::builtin();
        let s = sentences(
            "The resident told me \u{201C}fix the lights by Friday or else\u{201D} which was rude.",
            &lex,
        );
        assert!(!s[0].norm.contains("fix the lights"));
        assert!(s[0].norm.contains("which was rude"));
    }

    #[test]
    fn list_items_are_sentences() {
        let lex = Lexicon::builtin();
        let s = sentences(
            "Jobs for this week:\n- clear the gutters\n- paint the bench",
            &lex,
        );
        assert_eq!(s.len(), 3);
        assert_eq!(s[1].text, "clear the gutters");
    }
}

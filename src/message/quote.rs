//! Splitting a plain-text body into the author's new text and everything
//! else: `>` quotes, "On … wrote:" replies, Outlook's "-----Original
//! Message-----" and From/Sent/To/Subject blocks, forwarded-message
//! separators, signatures ("-- "), mobile sign-offs and disclaimer
//! paragraphs.
//!
//! Interleaved replies keep their new lines: a `>` block is quoted, the
//! lines between such blocks are new. Once a reply or forward header is
//! seen, everything after it is the quoted original.

use regex::Regex;
use std::sync::LazyLock;

/// The parts of a body.
#[derive(Debug, Default, Clone)]
pub struct Split {
    /// The author's own words, disclaimers and signature removed.
    pub new_text: String,
    /// Quoted and forwarded text.
    pub quoted: String,
    /// The top of the quoted or forwarded original (its header block and
    /// first lines), where a confidentiality marking would stand.
    pub quoted_head: String,
    /// Signature and disclaimer text that was set aside.
    pub boilerplate: String,
}

static REPLY_HEADER: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)^\s*(on\b.{0,200}\b(wrote|writes)\s*:?\s*$|ar\b.{0,200}\bysgrifennodd\s*:?\s*$|.{0,120}<[^>]+@[^>]+>\s+(wrote|writes)\s*:\s*$)")
        .expect("static regex")
});
static REPLY_HEADER_START: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)^\s*(on|ar)\s+(mon|tue|wed|thu|fri|sat|sun|\d|[a-z]+day|llun|maw|mer|iau|gwe|sad|sul)").expect("static regex")
});
static SEPARATOR: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)^\s*(-{2,}\s*original message\s*-{2,}|-{2,}\s*forwarded message\s*-{2,}|-+\s*forwarded by\b.*|begin forwarded message\s*:?|-{2,}\s*neges wreiddiol\s*-{2,}|_{10,}|\*{0,2}from:\*{0,2}\s.+\s+sent:\s.+)\s*$")
        .expect("static regex")
});
static OUTLOOK_FROM: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)^\s*\*{0,2}(from|oddi wrth|gan)\s*:\*{0,2}\s*\S").expect("static regex")
});
static OUTLOOK_FIELD: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)^\s*\*{0,2}(sent|date|to|cc|subject|anfonwyd|at|pwnc|dyddiad)\s*:\*{0,2}")
        .expect("static regex")
});
static MOBILE_SIGNATURE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)^\s*(sent from my \w+|sent from (outlook|mail) for \w+|get outlook for \w+|sent from yahoo mail|sent via \w+)").expect("static regex")
});

fn is_quote_line(line: &str) -> bool {
    line.trim_start().starts_with('>')
}

fn strip_quote_marks(line: &str) -> &str {
    let mut l = line.trim_start();
    while let Some(rest) = l.strip_prefix('>') {
        l = rest.trim_start();
    }
    l
}

/// True when an Outlook-style header block (From: then Sent:/Date: and
/// To:/Subject: within a few lines) starts at `i`.
fn outlook_block(lines: &[&str], i: usize) -> bool {
    if !OUTLOOK_FROM.is_match(lines[i]) {
        return false;
    }
    let fields = lines[i + 1..]
        .iter()
        .take(6)
        .filter(|l| OUTLOOK_FIELD.is_match(l))
        .count();
    fields >= 2
}

/// Whether `line` could match [`REPLY_HEADER`]: every form of it names
/// "wrote", "writes" or "ysgrifennodd". Exact for ASCII lines; any other
/// line is left to the regex (Unicode case folding).
fn may_be_reply_header(line: &str) -> bool {
    if !line.is_ascii() {
        return true;
    }
    static WORDS: LazyLock<aho_corasick::AhoCorasick> = LazyLock::new(|| {
        aho_corasick::AhoCorasick::builder()
            .ascii_case_insensitive(true)
            .build(["wrote", "writes", "ysgrifennodd"])
            .expect("static words")
    });
    WORDS.is_match(line)
}

fn reply_header(lines: &[&str], i: usize) -> bool {
    let line = lines[i];
    if may_be_reply_header(line) && REPLY_HEADER.is_match(line) {
        return true;
    }
    // "On Mon, 3 Jun 2024 at 10:00, Jane Smith <" / "jane@x.org> wrote:"
    if REPLY_HEADER_START.is_match(line)
        && let Some(next) = lines.get(i + 1)
    {
        let joined = format!("{} {}", line.trim(), next.trim());
        return REPLY_HEADER.is_match(&joined);
    }
    false
}

/// Splits `text`; `is_disclaimer` says whether a paragraph is boilerplate.
pub fn split(text: &str, is_disclaimer: &dyn Fn(&str) -> bool) -> Split {
    let text = text.replace("\r\n", "\n");
    let lines: Vec<&str> = text.split('\n').collect();
    let mut new_lines: Vec<&str> = Vec::new();
    let mut quoted_lines: Vec<String> = Vec::new();
    let mut head_lines: Vec<String> = Vec::new();
    let mut boiler: Vec<&str> = Vec::new();
    let mut in_signature = false;
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        if reply_header(&lines, i) || SEPARATOR.is_match(line) || outlook_block(&lines, i) {
            // Everything from here on is the original being replied to or forwarded.
            for l in &lines[i..] {
                let s = strip_quote_marks(l).to_string();
                if head_lines.len() < 14 && !s.trim().is_empty() {
                    head_lines.push(s.clone());
                }
                quoted_lines.push(s);
            }
            break;
        }
        if is_quote_line(line) {
            let s = strip_quote_marks(line).to_string();
            if head_lines.len() < 14 && !s.trim().is_empty() {
                head_lines.push(s.clone());
            }
            quoted_lines.push(s);
            i += 1;
            continue;
        }
        if line.trim_end() == "--" || line == "-- " || MOBILE_SIGNATURE.is_match(line) {
            in_signature = true;
        }
        if in_signature {
            boiler.push(line);
        } else {
            new_lines.push(line);
        }
        i += 1;
    }
    let (new_text, d1) = drop_disclaimers(&new_lines.join("\n"), is_disclaimer);
    // The quoted body is kept as it is: only its head is read for markings,
    // and that is where disclaimers are set aside.
    let quoted = quoted_lines.join("\n");
    let (quoted_head, _) = drop_disclaimers(&head_lines.join("\n"), is_disclaimer);
    let mut boilerplate = boiler.join("\n");
    if !d1.is_empty() {
        boilerplate.push('\n');
        boilerplate.push_str(&d1);
    }
    Split {
        new_text: new_text.trim().to_string(),
        quoted,
        quoted_head,
        boilerplate,
    }
}

/// Removes paragraphs that are boilerplate; returns (kept, removed).
fn drop_disclaimers(text: &str, is_disclaimer: &dyn Fn(&str) -> bool) -> (String, String) {
    let mut kept = Vec::new();
    let mut removed = Vec::new();
    for para in text.split("\n\n") {
        if is_disclaimer(para) {
            removed.push(para);
        } else {
            kept.push(para);
        }
    }
    (kept.join("\n\n"), removed.join("\n\n"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no(_: &str) -> bool {
        false
    }

    #[test]
    fn reply_headers_are_found_whatever_their_case_or_script() {
        // Regression guard for the literal prefilter in front of the regex.
        for header in [
            "ON MON, 3 JUN 2024 AT 10:02, CLARA HUGHES <clerk@example-tc.gov.uk> WROTE:",
            "On Mon, 3 Jun 2024, Zo\u{eb} Price <zoe@example.org> wrote:",
            "Ar Llun, 3 Meh 2024 am 10:02, Clara Hughes <clerk@example-tc.gov.uk> ysgrifennodd:",
            "Clara Hughes <clerk@example-tc.gov.uk> writes:",
        ] {
            let s = split(&format!("Fine by me.\n\n{header}\n> the original"), &no);
            assert_eq!(s.new_text, "Fine by me.", "{header}");
            assert!(s.quoted.contains("the original"), "{header}");
        }
        // Without one of its words a line is never a reply header.
        let s = split("On Monday I will be at the hall.\nThanks", &no);
        assert!(s.new_text.contains("On Monday"));
    }

    #[test]
    fn gmail_reply() {
        let s = split(
            "Thanks, that's fine.\n\nOn Mon, 3 Jun 2024 at 10:02, Clara Hughes <clerk@example-tc.gov.uk> wrote:\n> Please find the agenda attached.\n> Clara",
            &no,
        );
        assert_eq!(s.new_text, "Thanks, that's fine.");
        assert!(s.quoted.contains("Please find the agenda"));
    }

    #[test]
    fn wrapped_reply_header() {
        let s = split(
            "New words.\n\nOn Mon, 3 Jun 2024 at 10:02, Clara Hughes <\nclerk@example-tc.gov.uk> wrote:\n\nOld words.",
            &no,
        );
        assert_eq!(s.new_text, "New words.");
        assert!(s.quoted.contains("Old words."));
    }

    #[test]
    fn outlook_original_and_header_block() {
        let s = split(
            "Agreed.\n\n-----Original Message-----\nFrom: A\nSent: today\nTo: B\nSubject: CONFIDENTIAL: pay\n\nold",
            &no,
        );
        assert_eq!(s.new_text, "Agreed.");
        assert!(s.quoted_head.contains("CONFIDENTIAL"));
        let s = split(
            "Agreed.\n\nFrom: Clara Hughes\nSent: 03 June 2024 10:02\nTo: Jane Smith\nSubject: Re: bins\n\nold",
            &no,
        );
        assert_eq!(s.new_text, "Agreed.");
        assert!(s.quoted.contains("old"));
    }

    #[test]
    fn forwarded_and_signature_and_interleaved() {
        let s = split(
            "FYI\n\n---------- Forwarded message ---------\nFrom: x\nSubject: y\n\nbody",
            &no,
        );
        assert_eq!(s.new_text, "FYI");
        let s = split("Hello\n-- \nJane Smith\nChair", &no);
        assert_eq!(s.new_text, "Hello");
        assert!(s.boilerplate.contains("Chair"));
        let s = split(
            "> question one\nanswer one\n> question two\nanswer two",
            &no,
        );
        assert_eq!(s.new_text, "answer one\nanswer two");
    }

    #[test]
    fn a_from_line_in_prose_is_not_a_header_block() {
        let s = split(
            "From: the chair's point of view this is fine.\nKind regards",
            &no,
        );
        assert!(s.new_text.contains("chair's point of view"));
    }

    #[test]
    fn disclaimer_paragraphs_set_aside() {
        let is = |p: &str| p.contains("intended solely");
        let s = split(
            "Please see below.\n\nThis email is intended solely for the addressee.",
            &is,
        );
        assert_eq!(s.new_text, "Please see below.");
        assert!(s.boilerplate.contains("intended solely"));
    }
}

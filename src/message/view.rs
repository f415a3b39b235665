//! One parse of an accepted message, shared by every stage of the pipeline:
//! the header fields, where the header section ends, and the MIME parts
//! (mail-parser's tree, borrowed from the raw bytes). The policy reads its
//! text from it, the rewrite splices into the same bytes by its offsets, and
//! the commit stage takes the subject and From from it.

use mail_parser::{Message, MessageParser};

use super::header_section_len;

pub struct View<'m> {
    raw: &'m [u8],
    header_len: usize,
    parsed: Option<Message<'m>>,
}

impl<'m> View<'m> {
    /// Parses `raw` once; never panics on malformed input (an unparsable
    /// message has no tree, and its fields read as empty).
    pub fn parse(raw: &'m [u8]) -> View<'m> {
        View {
            raw,
            header_len: header_section_len(raw),
            parsed: MessageParser::default().parse(raw),
        }
    }

    /// The message as received.
    pub fn raw(&self) -> &'m [u8] {
        self.raw
    }

    /// Bytes of the header section, the empty line included.
    pub fn header_len(&self) -> usize {
        self.header_len
    }

    /// mail-parser's tree, or `None` when the message does not parse.
    pub fn parsed(&self) -> Option<&Message<'m>> {
        self.parsed.as_ref()
    }

    /// The decoded subject; empty when there is none.
    pub fn subject(&self) -> &str {
        self.parsed.as_ref().and_then(|m| m.subject()).unwrap_or("")
    }

    /// The `Message-ID`, without angle brackets.
    pub fn message_id(&self) -> Option<&str> {
        self.parsed.as_ref().and_then(|m| m.message_id())
    }

    /// The addresses of the From header, lower case.
    pub fn from_addresses(&self) -> Vec<String> {
        self.parsed
            .as_ref()
            .and_then(|m| m.from())
            .map(|a| {
                a.iter()
                    .filter_map(|x| x.address())
                    .map(str::to_lowercase)
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The top-level header fields, decoded: for the automatic-mail checks
    /// of [`super::notice::must_not_answer`].
    pub fn fields(&self) -> Vec<(String, String)> {
        let Some(m) = self.parsed.as_ref() else {
            return Vec::new();
        };
        m.headers()
            .iter()
            .map(|h| {
                let v = match h.value() {
                    mail_parser::HeaderValue::Text(t) => t.to_string(),
                    mail_parser::HeaderValue::TextList(l) => l.join(", "),
                    _ => m.header_raw(h.name()).unwrap_or("").trim().to_string(),
                };
                (h.name().to_string(), v)
            })
            .collect()
    }

    /// Whether a header field `name` is present (any case).
    pub fn has_header(&self, name: &str) -> bool {
        self.header_text(name).is_some()
    }

    /// The first field `name` as text (unfolded, trimmed).
    pub fn header_text(&self, name: &str) -> Option<String> {
        let m = self.parsed.as_ref()?;
        m.headers()
            .iter()
            .find(|h| h.name().eq_ignore_ascii_case(name))
            .map(|h| {
                let start = h.offset_start() as usize;
                let end = (h.offset_end() as usize).min(self.raw.len());
                let value = String::from_utf8_lossy(self.raw.get(start..end).unwrap_or(&[]));
                value.split_whitespace().collect::<Vec<_>>().join(" ")
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_parse_gives_fields_and_the_end_of_the_header_section() {
        let raw = b"From: Cllr Smith <Cllr.Smith@Example-TC.gov.uk>\r\nSubject: =?utf-8?q?Bins_=E2=80=93_Monday?=\r\nMessage-ID: <abc@x>\r\nAuto-Submitted:\r\n auto-replied\r\n\r\nbody\r\n";
        let v = View::parse(raw);
        assert_eq!(v.subject(), "Bins \u{2013} Monday");
        assert_eq!(v.from_addresses(), vec!["cllr.smith@example-tc.gov.uk"]);
        assert_eq!(v.message_id(), Some("abc@x"));
        assert_eq!(
            v.header_text("auto-submitted").as_deref(),
            Some("auto-replied")
        );
        assert_eq!(&raw[v.header_len()..], b"body\r\n");
    }

    #[test]
    fn header_section_edges_agree() {
        assert_eq!(header_section_len(b"\r\nbody"), 2);
        assert_eq!(header_section_len(b"A: 1\r\n"), 6);
        assert_eq!(header_section_len(b"A: 1\r\n\r\nb"), 8);
        assert_eq!(header_section_len(b""), 0);
    }
}

//! One parse of an accepted message, shared by every stage of the pipeline:
//! the header fields and the MIME parts
//! (mail-parser's tree, borrowed from the raw bytes). The policy reads its
//! text from it, the rewrite splices into the same bytes by its offsets, and
//! the commit stage takes the subject and From from it.

use mail_parser::{Message, MessageParser};

pub struct View<'m> {
    raw: &'m [u8],
    parsed: Option<Message<'m>>,
}

impl<'m> View<'m> {
    /// Parses `raw` once; never panics on malformed input (an unparsable
    /// message has no tree, and its fields read as empty).
    pub fn parse(raw: &'m [u8]) -> View<'m> {
        View {
            raw,
            parsed: MessageParser::default().parse(raw),
        }
    }

    /// The message as received.
    pub fn raw(&self) -> &'m [u8] {
        self.raw
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
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::header_section_len;

    #[test]
    fn one_parse_gives_fields_and_the_end_of_the_header_section() {
        let raw = b"From: Cllr Smith <Cllr.Smith@Example-TC.gov.uk>\r\nSubject: =?utf-8?q?Bins_=E2=80=93_Monday?=\r\nMessage-ID: <abc@x>\r\nAuto-Submitted:\r\n auto-replied\r\n\r\nbody\r\n";
        let v = View::parse(raw);
        assert_eq!(v.subject(), "Bins \u{2013} Monday");
        assert_eq!(v.from_addresses(), vec!["cllr.smith@example-tc.gov.uk"]);
        assert_eq!(v.message_id(), Some("abc@x"));
        assert!(
            v.fields()
                .iter()
                .any(|(n, val)| n == "Auto-Submitted" && val.contains("auto-replied"))
        );
        assert_eq!(&raw[header_section_len(raw)..], b"body\r\n");
    }

    #[test]
    fn header_section_edges_agree() {
        assert_eq!(header_section_len(b"\r\nbody"), 2);
        assert_eq!(header_section_len(b"A: 1\r\n"), 6);
        assert_eq!(header_section_len(b"A: 1\r\n\r\nb"), 8);
        assert_eq!(header_section_len(b""), 0);
    }
}

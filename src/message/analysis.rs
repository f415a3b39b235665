//! What the rules read from a message: decoded subject and headers, the
//! visible recipients, the body as text (text/plain, or HTML converted to
//! text when there is no plain part), its new text split from quotes and
//! boilerplate, and the attachments.

use mail_parser::{Address, HeaderValue, Message, MessageParser, MimeHeaders, PartType};

use super::quote::{self, Split};

#[derive(Debug, Clone)]
pub struct Attachment {
    pub name: String,
    pub content_type: String,
    pub size: usize,
}

#[derive(Debug, Clone, Default)]
pub struct Analysis {
    pub subject: String,
    /// Header From addresses, lower case.
    pub from: Vec<String>,
    /// The display names of the From header, as written.
    pub from_names: Vec<String>,
    /// To and Cc addresses, lower case.
    pub visible: Vec<String>,
    /// Every header as (name, decoded value).
    pub headers: Vec<(String, String)>,
    /// The whole body as text.
    pub body: String,
    pub split: Split,
    pub attachments: Vec<Attachment>,
    /// The message had no text/plain part; its HTML was converted.
    pub html_only: bool,
    /// The message could not be parsed as MIME at all.
    pub unparsable: bool,
}

fn addresses(a: Option<&Address<'_>>, out: &mut Vec<String>) {
    let Some(a) = a else { return };
    for addr in a.iter() {
        if let Some(e) = addr.address() {
            let e = e.trim().to_lowercase();
            if !e.is_empty() && !out.contains(&e) {
                out.push(e);
            }
        }
    }
}

fn header_text(v: &HeaderValue<'_>) -> String {
    match v {
        HeaderValue::Text(t) => t.to_string(),
        HeaderValue::TextList(l) => l.join(", "),
        HeaderValue::Address(a) => a
            .iter()
            .map(|x| {
                let name = x.name().unwrap_or("");
                let addr = x.address().unwrap_or("");
                if name.is_empty() {
                    addr.to_string()
                } else {
                    format!("{name} <{addr}>")
                }
            })
            .collect::<Vec<_>>()
            .join(", "),
        HeaderValue::ContentType(c) => match c.subtype() {
            Some(s) => format!("{}/{}", c.ctype(), s),
            None => c.ctype().to_string(),
        },
        HeaderValue::DateTime(d) => d.to_rfc3339(),
        HeaderValue::Received(_) | HeaderValue::Empty => String::new(),
    }
}

/// HTML to plain text for the detectors (no markdown decoration).
pub fn html_to_text(html: &str) -> String {
    html2text::config::plain()
        .string_from_read(html.as_bytes(), 10_000)
        .unwrap_or_else(|_| html.to_string())
}

fn body_text(msg: &Message<'_>) -> (String, bool) {
    let mut plain = Vec::new();
    let mut html = Vec::new();
    for &id in &msg.text_body {
        if let Some(part) = msg.parts.get(id as usize) {
            match &part.body {
                PartType::Text(t) => plain.push(t.to_string()),
                PartType::Html(h) => html.push(h.to_string()),
                _ => {}
            }
        }
    }
    if !plain.is_empty() {
        return (plain.join("\n"), false);
    }
    for &id in &msg.html_body {
        if let Some(part) = msg.parts.get(id as usize)
            && let PartType::Html(h) = &part.body
        {
            html.push(h.to_string());
        }
    }
    html.dedup();
    let only = !html.is_empty();
    (
        html.iter()
            .map(|h| html_to_text(h))
            .collect::<Vec<_>>()
            .join("\n"),
        only,
    )
}

impl Analysis {
    /// Analyses raw message bytes; never panics on malformed input.
    pub fn new(raw: &[u8], is_disclaimer: &dyn Fn(&str) -> bool) -> Analysis {
        let parsed = MessageParser::default().parse(raw);
        Self::from_parsed(raw, parsed.as_ref(), is_disclaimer)
    }

    /// Analyses a message already parsed (the engine parses once for
    /// analysis and rewriting alike).
    pub fn from_parsed(
        raw: &[u8],
        parsed: Option<&Message<'_>>,
        is_disclaimer: &dyn Fn(&str) -> bool,
    ) -> Analysis {
        let Some(msg) = parsed else {
            return Analysis {
                unparsable: true,
                body: String::from_utf8_lossy(raw).into_owned(),
                ..Analysis::default()
            };
        };
        let mut from = Vec::new();
        addresses(msg.from(), &mut from);
        let from_names = msg
            .from()
            .map(|a| {
                a.iter()
                    .filter_map(|x| x.name())
                    .map(str::to_string)
                    .filter(|n| !n.trim().is_empty())
                    .collect()
            })
            .unwrap_or_default();
        let mut visible = Vec::new();
        for to in msg.header_values("To") {
            addresses(to.as_address(), &mut visible);
        }
        for cc in msg.header_values("Cc") {
            addresses(cc.as_address(), &mut visible);
        }
        let headers = msg
            .headers()
            .iter()
            .map(|h| (h.name().to_string(), header_text(h.value())))
            .collect();
        let (body, html_only) = body_text(msg);
        let mut split = quote::split(&body, is_disclaimer);
        let mut attachments = Vec::new();
        for &id in &msg.attachments {
            let Some(part) = msg.parts.get(id as usize) else {
                continue;
            };
            let content_type = part
                .content_type()
                .map(|c| match c.subtype() {
                    Some(s) => format!("{}/{}", c.ctype(), s),
                    None => c.ctype().to_string(),
                })
                .unwrap_or_else(|| "application/octet-stream".into())
                .to_lowercase();
            attachments.push(Attachment {
                name: part.attachment_name().unwrap_or("").to_string(),
                content_type,
                size: part.len(),
            });
            // A forwarded original attached whole: its subject and opening
            // count as the top of a forwarded original.
            if let PartType::Message(inner) = &part.body {
                let (inner_body, _) = body_text(inner);
                let inner_split = quote::split(&inner_body, is_disclaimer);
                let mut head = format!("Subject: {}\n", inner.subject().unwrap_or(""));
                for l in inner_split
                    .new_text
                    .lines()
                    .filter(|l| !l.trim().is_empty())
                    .take(6)
                {
                    head.push_str(l);
                    head.push('\n');
                }
                split.quoted_head.push('\n');
                split.quoted_head.push_str(&head);
                split.quoted.push('\n');
                split.quoted.push_str(&inner_body);
            }
        }
        Analysis {
            subject: msg.subject().unwrap_or("").to_string(),
            from,
            from_names,
            visible,
            headers,
            body,
            split,
            attachments,
            html_only,
            unparsable: false,
        }
    }

    pub fn header(&self, name: &str) -> impl Iterator<Item = &str> {
        self.headers
            .iter()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The first few non-empty lines of the new text.
    pub fn opening(&self, lines: usize) -> String {
        self.split
            .new_text
            .lines()
            .filter(|l| !l.trim().is_empty())
            .take(lines)
            .collect::<Vec<_>>()
            .join("\n")
    }

    pub fn is_visible(&self, address: &str) -> bool {
        let a = address.to_lowercase();
        self.visible.contains(&a)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoded_headers_and_html_only() {
        let raw = b"From: =?utf-8?q?Si=C3=A2n_Llewellyn?= <cllr.llewellyn@example-tc.gov.uk>\r\nTo: Alex <alex.green@example-tc.gov.uk>, clerk@example-tc.gov.uk\r\nCc: =?utf-8?b?RGFmeWRk?= <deputy.clerk@example-tc.gov.uk>\r\nSubject: =?utf-8?q?Cyfarfod_=E2=80=93_agenda?=\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<p>Hi Alex,</p><p>Please sort the bins.</p><blockquote>old</blockquote>";
        let a = Analysis::new(raw, &|_| false);
        assert_eq!(a.subject, "Cyfarfod – agenda");
        assert_eq!(a.from, vec!["cllr.llewellyn@example-tc.gov.uk"]);
        assert_eq!(a.visible.len(), 3);
        assert!(a.html_only);
        assert!(a.split.new_text.contains("Please sort the bins."));
        assert!(!a.split.new_text.contains("old"));
    }
}

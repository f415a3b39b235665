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

/// What the rules read from a message. The header facts (subject, From,
/// visible recipients, headers, attachments) are read at once; the body as
/// text ([`Text`]) only when something asks for it ([`Analysis::text`]):
/// the engine asks only once a rule that reads text has passed its
/// structural conditions, so a resident's 200 KB letter to the clerk is
/// never converted, split or scanned.
pub struct Analysis<'m> {
    pub subject: String,
    /// Header From addresses, lower case.
    pub from: Vec<String>,
    /// The display names of the From header, as written.
    pub from_names: Vec<String>,
    /// To and Cc addresses, lower case.
    pub visible: Vec<String>,
    /// Every header as (name, decoded value).
    pub headers: Vec<(String, String)>,
    pub attachments: Vec<Attachment>,
    /// The message could not be parsed as MIME at all.
    pub unparsable: bool,
    /// Where the text comes from when first asked for.
    source: Option<Source<'m>>,
    text: std::cell::OnceCell<Text>,
}

/// The parsed message and the disclaimer test its text is read with.
type Source<'m> = (&'m Message<'m>, &'m dyn Fn(&str) -> bool);

/// The body of a message as text, its new text split from quotes and
/// boilerplate.
#[derive(Debug, Clone, Default)]
pub struct Text {
    /// The whole body as text.
    pub body: String,
    pub split: Split,
    /// The message had no text/plain part; its HTML was converted.
    pub html_only: bool,
    /// Bytes of text beyond [`TEXT_PER_PART`] in some part, not read.
    pub unread: usize,
}

impl Text {
    /// Reads the text of raw message bytes at once (the review page and
    /// the teaching of examples, which always need it).
    pub fn of(raw: &[u8], is_disclaimer: &dyn Fn(&str) -> bool) -> Text {
        match MessageParser::default().parse(raw) {
            Some(msg) => Text::read(&msg, is_disclaimer, usize::MAX),
            None => Text {
                body: String::from_utf8_lossy(raw).into_owned(),
                ..Text::default()
            },
        }
    }

    fn read(msg: &Message<'_>, is_disclaimer: &dyn Fn(&str) -> bool, limit: usize) -> Text {
        let (body, html_only, mut unread) = body_text(msg, limit);
        let mut split = quote::split(&body, is_disclaimer);
        // A forwarded original attached whole: its subject and opening
        // count as the top of a forwarded original.
        for &id in &msg.attachments {
            let Some(part) = msg.parts.get(id as usize) else {
                continue;
            };
            if let PartType::Message(inner) = &part.body {
                let (inner_body, _, left) = body_text(inner, limit);
                unread += left;
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
        Text {
            body,
            split,
            html_only,
            unread,
        }
    }
}

impl std::fmt::Debug for Analysis<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Analysis")
            .field("subject", &self.subject)
            .field("from", &self.from)
            .field("visible", &self.visible)
            .field("attachments", &self.attachments)
            .field("unparsable", &self.unparsable)
            .field("text_read", &self.text.get().is_some())
            .finish_non_exhaustive()
    }
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

/// How much of one body part's text the content rules read: 64 KiB (about
/// 10,000 words; a councillor's new text is a few hundred). What lies beyond
/// in a longer part is, in council mail, quoted history, a pasted report or
/// minutes: the reply's own words come first. The structural rules (who
/// wrote to whom, headers, attachments) always see the whole message, the
/// verdict says how much text was not read ([`Text::unread`]), and the
/// review page shows the whole message.
pub const TEXT_PER_PART: usize = 64 * 1024;
/// HTML is converted from at most this much of a part's source.
const HTML_PER_PART: usize = 4 * TEXT_PER_PART;

/// The first `limit` bytes of `s` (at a character boundary), and how many
/// bytes were left out.
fn at_most(s: &str, limit: usize) -> (&str, usize) {
    if s.len() <= limit {
        return (s, 0);
    }
    let mut end = limit;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    (&s[..end], s.len() - end)
}

/// The body as text, each part read up to `limit` bytes: (text, whether
/// only HTML was there, bytes not read).
fn body_text(msg: &Message<'_>, limit: usize) -> (String, bool, usize) {
    let mut unread = 0;
    let mut plain = Vec::new();
    for &id in &msg.text_body {
        if let Some(part) = msg.parts.get(id as usize)
            && let PartType::Text(t) = &part.body
        {
            let (read, left) = at_most(t, limit);
            unread += left;
            plain.push(read);
        }
    }
    if !plain.is_empty() {
        return (plain.join("\n"), false, unread);
    }
    let mut html: Vec<&str> = Vec::new();
    for &id in msg.text_body.iter().chain(&msg.html_body) {
        if let Some(part) = msg.parts.get(id as usize)
            && let PartType::Html(h) = &part.body
        {
            html.push(h);
        }
    }
    html.dedup();
    let only = !html.is_empty();
    // HTML is verbose: its source is converted up to four times the limit.
    let html_limit = limit.saturating_mul(HTML_PER_PART / TEXT_PER_PART);
    let text = html
        .iter()
        .map(|h| {
            let (source, left) = at_most(h, html_limit);
            let converted = html_to_text(source);
            let (read, over) = at_most(&converted, limit);
            // The unread HTML counted as text at a quarter of its size.
            unread += over + left / 4;
            read.to_string()
        })
        .collect::<Vec<_>>()
        .join("\n");
    (text, only, unread)
}

impl<'m> Analysis<'m> {
    /// Reads the header facts of a message already parsed (the engine
    /// parses once for analysis and rewriting alike); its text is read on
    /// first use, with `is_disclaimer` telling boilerplate paragraphs.
    /// Never panics on malformed input.
    pub fn from_parsed(
        raw: &[u8],
        parsed: Option<&'m Message<'m>>,
        is_disclaimer: &'m dyn Fn(&str) -> bool,
    ) -> Analysis<'m> {
        let Some(msg) = parsed else {
            return Analysis {
                subject: String::new(),
                from: Vec::new(),
                from_names: Vec::new(),
                visible: Vec::new(),
                headers: Vec::new(),
                attachments: Vec::new(),
                unparsable: true,
                source: None,
                text: std::cell::OnceCell::from(Text {
                    body: String::from_utf8_lossy(raw).into_owned(),
                    ..Text::default()
                }),
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
        }
        Analysis {
            subject: msg.subject().unwrap_or("").to_string(),
            from,
            from_names,
            visible,
            headers,
            attachments,
            unparsable: false,
            source: Some((msg, is_disclaimer)),
            text: std::cell::OnceCell::new(),
        }
    }

    /// The body as text, read the first time anyone asks.
    pub fn text(&self) -> &Text {
        self.text.get_or_init(|| match self.source {
            Some((msg, is_disclaimer)) => Text::read(msg, is_disclaimer, TEXT_PER_PART),
            None => Text::default(),
        })
    }

    /// Whether the body has been read as text (see [`Analysis::text`]).
    pub fn text_read(&self) -> bool {
        self.source.is_some() && self.text.get().is_some()
    }

    pub fn header(&self, name: &str) -> impl Iterator<Item = &str> {
        self.headers
            .iter()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The first few non-empty lines of the new text.
    pub fn opening(&self, lines: usize) -> String {
        self.text()
            .split
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
        let parsed = MessageParser::default().parse(&raw[..]);
        let a = Analysis::from_parsed(raw, parsed.as_ref(), &|_| false);
        assert_eq!(a.subject, "Cyfarfod – agenda");
        assert_eq!(a.from, vec!["cllr.llewellyn@example-tc.gov.uk"]);
        assert_eq!(a.visible.len(), 3);
        assert!(!a.text_read(), "header facts alone do not read the body");
        let t = a.text();
        assert!(t.html_only);
        assert!(t.split.new_text.contains("Please sort the bins."));
        assert!(!t.split.new_text.contains("old"));
        assert!(a.text_read());
    }
}

//! Rewriting a message without disturbing what the gateway does not
//! change.
//!
//! No crate edits MIME in place, so this splices into the original bytes
//! at the offsets mail-parser reports: new header fields go on top, Cc
//! gains the visible copies, and a footer is added to every text/plain and
//! text/html body part in that part's own charset and transfer encoding
//! (a quoted-printable or base64 part is decoded, extended and re-encoded;
//! a 7-bit part that needs 8-bit characters becomes quoted-printable).
//! Every other byte — other headers, attachments, structure — is kept.
//! A signed or encrypted message (`multipart/signed`, S/MIME) is never
//! edited: it is wrapped whole in a `multipart/mixed` with the footer as a
//! second part, so its signature stays valid. So is a message with no text
//! part to carry the footer.

use base64::Engine as _;
use mail_parser::{Message, MimeHeaders, PartType};

use super::View;

/// What to change.
#[derive(Debug, Clone, Default)]
pub struct Changes {
    /// Header fields added at the top.
    pub headers: Vec<(String, String)>,
    /// (display name, address) added to Cc.
    pub cc: Vec<(String, String)>,
    /// Footer lines for every text part.
    pub footer: Vec<String>,
    /// Warning lines at the top of every text part (e.g. an unverified
    /// sender).
    pub banner: Vec<String>,
}

impl Changes {
    pub fn is_empty(&self) -> bool {
        self.headers.is_empty()
            && self.cc.is_empty()
            && self.footer.is_empty()
            && self.banner.is_empty()
    }

    /// Every notice line, banner first.
    pub fn notices(&self) -> Vec<String> {
        self.banner.iter().chain(&self.footer).cloned().collect()
    }
}

use super::{encode_word, one_line};

fn mailbox(name: &str, addr: &str) -> String {
    let addr = one_line(addr);
    if name.trim().is_empty() {
        format!("<{addr}>")
    } else if name.is_ascii()
        && name
            .chars()
            .all(|c| c.is_alphanumeric() || c == ' ' || c == '-' || c == '\'')
    {
        format!("{} <{addr}>", one_line(name))
    } else if name.is_ascii() {
        format!("\"{}\" <{addr}>", one_line(name).replace(['"', '\\'], ""))
    } else {
        format!("{} <{addr}>", encode_word(name))
    }
}

fn html_escape_ascii(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 16);
    for c in s.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            c if c.is_ascii() => out.push(c),
            c => out.push_str(&format!("&#{};", c as u32)),
        }
    }
    out
}

fn plain_footer(lines: &[String]) -> String {
    lines
        .iter()
        .map(|l| one_line(l))
        .collect::<Vec<_>>()
        .join("\r\n")
}

/// Notice lines as one HTML block, escaped.
fn html_block(lines: &[String], class: &str, style: &str) -> String {
    format!(
        "<div class=\"{class}\" style=\"{style}\">{}</div>",
        lines
            .iter()
            .map(|l| html_escape_ascii(&one_line(l)))
            .collect::<Vec<_>>()
            .join("<br>")
    )
}

fn html_footer(lines: &[String]) -> String {
    html_block(
        lines,
        "council-protocol",
        "margin-top:1em;padding-top:.5em;border-top:1px solid #999;font-size:90%",
    )
}

fn html_banner(lines: &[String]) -> String {
    html_block(
        lines,
        "council-protocol-banner",
        "margin-bottom:1em;padding:.5em;border:2px solid #b00;background:#fee;font-weight:bold",
    )
}

/// The banner and footer of one text part, as bytes in its charset.
struct Notice<'a> {
    banner: &'a [u8],
    footer: &'a [u8],
}

fn find_ci_first(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len())
        .position(|w| w.eq_ignore_ascii_case(needle))
}

fn find_ci(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len())
        .rposition(|w| w.eq_ignore_ascii_case(needle))
}

/// Adds the banner and footer to decoded part content (bytes in the
/// part's charset).
fn extend_content(content: &[u8], html: bool, plain: &Notice<'_>, markup: &Notice<'_>) -> Vec<u8> {
    let mut out = Vec::with_capacity(content.len() + plain.banner.len() + plain.footer.len() + 16);
    if html {
        // The banner right after <body ...>, or first.
        let body_open = find_ci_first(content, b"<body").and_then(|at| {
            content[at..]
                .iter()
                .position(|&b| b == b'>')
                .map(|gt| at + gt + 1)
        });
        let (head, rest) = content.split_at(body_open.unwrap_or(0));
        out.extend_from_slice(head);
        if !markup.banner.is_empty() {
            out.extend_from_slice(markup.banner);
            out.extend_from_slice(b"\r\n");
        }
        if markup.footer.is_empty() {
            out.extend_from_slice(rest);
            return out;
        }
        match find_ci(rest, b"</body") {
            Some(pos) => {
                out.extend_from_slice(&rest[..pos]);
                out.extend_from_slice(markup.footer);
                out.extend_from_slice(b"\r\n");
                out.extend_from_slice(&rest[pos..]);
            }
            None => {
                out.extend_from_slice(rest);
                if !rest.ends_with(b"\n") && !rest.is_empty() {
                    out.extend_from_slice(b"\r\n");
                }
                out.extend_from_slice(markup.footer);
                if rest.ends_with(b"\n") {
                    out.extend_from_slice(b"\r\n");
                }
            }
        }
        return out;
    }
    if !plain.banner.is_empty() {
        out.extend_from_slice(plain.banner);
        out.extend_from_slice(b"\r\n\r\n");
    }
    out.extend_from_slice(content);
    if plain.footer.is_empty() {
        return out;
    }
    let ends = content.ends_with(b"\n");
    if !ends && !content.is_empty() {
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(plain.footer);
    if ends {
        out.extend_from_slice(b"\r\n");
    }
    out
}

fn base64_lines(data: &[u8]) -> Vec<u8> {
    let encoded = base64::engine::general_purpose::STANDARD.encode(data);
    let mut out = Vec::with_capacity(encoded.len() + encoded.len() / 76 * 2 + 2);
    for chunk in encoded.as_bytes().chunks(76) {
        out.extend_from_slice(chunk);
        out.extend_from_slice(b"\r\n");
    }
    out
}

struct Edit {
    start: usize,
    end: usize,
    bytes: Vec<u8>,
}

fn is_attachment(part: &mail_parser::MessagePart<'_>) -> bool {
    part.content_disposition()
        .is_some_and(|d| d.ctype().eq_ignore_ascii_case("attachment"))
}

fn is_protected(part: &mail_parser::MessagePart<'_>) -> bool {
    part.content_type().is_some_and(|c| {
        let t = c.ctype().to_ascii_lowercase();
        let s = c.subtype().unwrap_or("").to_ascii_lowercase();
        (t == "multipart" && (s == "signed" || s == "encrypted"))
            || (t == "application"
                && (s == "pkcs7-mime" || s == "x-pkcs7-mime" || s == "pgp-encrypted"))
    })
}

/// Text leaves that can carry the footer: not attachments, not inside a
/// signed or encrypted part, not inside an attached message.
fn text_leaves(msg: &Message<'_>) -> (Vec<usize>, bool) {
    let mut out = Vec::new();
    let mut protected = false;
    let mut stack = vec![(0usize, false)];
    let mut seen = std::collections::HashSet::new();
    while let Some((id, under_protected)) = stack.pop() {
        if !seen.insert(id) {
            continue;
        }
        let Some(part) = msg.parts.get(id) else {
            continue;
        };
        let prot = under_protected || is_protected(part);
        if prot && id == 0 {
            protected = true;
        }
        match &part.body {
            PartType::Multipart(children) => {
                for &c in children.iter().rev() {
                    stack.push((c as usize, prot));
                }
            }
            PartType::Text(_) | PartType::Html(_) if !prot && !is_attachment(part) => out.push(id),
            _ => {}
        }
    }
    (out, protected)
}

/// Where a new header field goes in a part: after its last field, before
/// the blank line (CRLF or, in malformed mail, a bare LF).
fn header_block_end(raw: &[u8], offset_body: usize, offset_header: usize) -> usize {
    let ob = offset_body.min(raw.len());
    let at = if ob >= 2 && &raw[ob - 2..ob] == b"\r\n" {
        ob - 2
    } else if ob >= 1 && raw[ob - 1] == b'\n' {
        ob - 1
    } else {
        ob
    };
    at.max(offset_header)
}

fn header_edit(raw: &[u8], part: &mail_parser::MessagePart<'_>, name: &str, line: String) -> Edit {
    match part
        .headers
        .iter()
        .find(|h| h.name().eq_ignore_ascii_case(name))
    {
        Some(h) => Edit {
            start: h.offset_field() as usize,
            end: h.offset_end() as usize,
            bytes: line.into_bytes(),
        },
        // At the end of the part's header block, before the blank line.
        None => {
            let at = header_block_end(raw, part.offset_body as usize, part.offset_header as usize);
            Edit {
                start: at,
                end: at,
                bytes: line.into_bytes(),
            }
        }
    }
}

fn content_type_utf8(part: &mail_parser::MessagePart<'_>, html: bool) -> String {
    let (t, sub) = part
        .content_type()
        .map(|c| {
            (
                c.ctype().to_string(),
                c.subtype()
                    .unwrap_or(if html { "html" } else { "plain" })
                    .to_string(),
            )
        })
        .unwrap_or_else(|| {
            (
                "text".into(),
                if html { "html".into() } else { "plain".into() },
            )
        });
    let mut line = format!("Content-Type: {t}/{sub}; charset=utf-8");
    if let Some(attrs) = part.content_type().and_then(|c| c.attributes()) {
        for a in attrs
            .iter()
            .filter(|a| !a.name.eq_ignore_ascii_case("charset"))
        {
            line.push_str(&format!(
                "; {}=\"{}\"",
                one_line(&a.name),
                one_line(&a.value).replace(['"', '\\'], "")
            ));
        }
    }
    line.push_str("\r\n");
    line
}

fn leaf_edit(
    raw: &[u8],
    part: &mail_parser::MessagePart<'_>,
    banner: &[String],
    footer: &[String],
) -> Vec<Edit> {
    let (ob, oe) = (part.offset_body as usize, part.offset_end as usize);
    if ob > oe || oe > raw.len() {
        return Vec::new();
    }
    let body = &raw[ob..oe];
    let html = matches!(part.body, PartType::Html(_));
    let cte = part
        .content_transfer_encoding()
        .unwrap_or("7bit")
        .trim()
        .to_ascii_lowercase();
    let label = part
        .content_type()
        .and_then(|c| c.attribute("charset"))
        .unwrap_or("us-ascii")
        .to_string();
    let ascii_label = matches!(
        label.to_ascii_lowercase().as_str(),
        "us-ascii" | "ascii" | "ansi_x3.4-1968" | ""
    );
    let encoding =
        encoding_rs::Encoding::for_label(label.as_bytes()).unwrap_or(encoding_rs::WINDOWS_1252);
    // The part's content, transfer encoding removed.
    let content = match cte.as_str() {
        "quoted-printable" => quoted_printable::decode(body, quoted_printable::ParseMode::Robust)
            .unwrap_or_else(|_| body.to_vec()),
        "base64" => {
            let clean: Vec<u8> = body
                .iter()
                .copied()
                .filter(|b| !b.is_ascii_whitespace())
                .collect();
            match base64::engine::general_purpose::STANDARD.decode(&clean) {
                Ok(d) => d,
                Err(_) => return Vec::new(),
            }
        }
        _ => body.to_vec(),
    };
    let footer_text = plain_footer(footer);
    let banner_text = plain_footer(banner);
    let (encoded_footer, _, unmappable_footer) = encoding.encode(&footer_text);
    let (encoded_banner, _, unmappable_banner) = encoding.encode(&banner_text);
    let unmappable = unmappable_footer || unmappable_banner;
    let html_footer_bytes = if footer.is_empty() {
        Vec::new()
    } else {
        html_footer(footer).into_bytes()
    };
    let html_banner_bytes = if banner.is_empty() {
        Vec::new()
    } else {
        html_banner(banner).into_bytes()
    };
    let markup = Notice {
        banner: &html_banner_bytes,
        footer: &html_footer_bytes,
    };
    // The notice does not fit the part's charset: carry the part in UTF-8.
    // UTF-16 cannot take added UTF-8 bytes (encoding_rs encodes it as
    // UTF-8): such a part is always carried over to UTF-8.
    let wide = encoding.output_encoding() != encoding;
    let all_ascii = footer_text.is_ascii() && banner_text.is_ascii();
    let to_utf8 = wide || (!html && (unmappable || (ascii_label && !all_ascii)));
    let mut edits = Vec::new();
    let (content, plain_footer_bytes, plain_banner_bytes) = if to_utf8 {
        // Undeclared 8-bit text that is valid UTF-8 is read as UTF-8, as
        // mail readers (and mail-parser) do.
        let text = match (ascii_label, std::str::from_utf8(&content)) {
            (true, Ok(t)) => std::borrow::Cow::Borrowed(t),
            _ => encoding.decode(&content).0,
        };
        edits.push(header_edit(
            raw,
            part,
            "Content-Type",
            content_type_utf8(part, html),
        ));
        (
            text.into_owned().into_bytes(),
            footer_text.as_bytes().to_vec(),
            banner_text.as_bytes().to_vec(),
        )
    } else {
        (
            content,
            encoded_footer.into_owned(),
            encoded_banner.into_owned(),
        )
    };
    let plain = Notice {
        banner: &plain_banner_bytes,
        footer: &plain_footer_bytes,
    };
    let extended = extend_content(&content, html, &plain, &markup);
    let keep_final_crlf = |mut v: Vec<u8>| {
        if body.ends_with(b"\r\n") && !v.ends_with(b"\r\n") {
            v.extend_from_slice(b"\r\n");
        }
        if !body.ends_with(b"\n") && v.ends_with(b"\r\n") {
            v.truncate(v.len() - 2);
        }
        v
    };
    let bytes = match cte.as_str() {
        "quoted-printable" => keep_final_crlf(quoted_printable::encode(&extended)),
        "base64" => keep_final_crlf(base64_lines(&extended)),
        "8bit" | "binary" => extended,
        _ if extended.is_ascii() => extended,
        _ => {
            // 8-bit characters cannot go into a 7-bit part: re-encode it
            // as quoted-printable and say so in its header.
            edits.push(header_edit(
                raw,
                part,
                "Content-Transfer-Encoding",
                "Content-Transfer-Encoding: quoted-printable\r\n".into(),
            ));
            keep_final_crlf(quoted_printable::encode(&extended))
        }
    };
    edits.push(Edit {
        start: ob,
        end: oe,
        bytes,
    });
    edits
}

/// Wraps the whole message body in multipart/mixed with a footer part.
/// A multipart whose closing delimiter never comes, or a part the parser
/// had to guess at: editing inside such a structure, or adding a part after
/// it, can change how the rest is read.
fn malformed(raw: &[u8], msg: &Message<'_>) -> bool {
    msg.parts.iter().any(|p| {
        if p.is_encoding_problem {
            return true;
        }
        let PartType::Multipart(_) = p.body else {
            return false;
        };
        let Some(boundary) = p.content_type().and_then(|c| c.attribute("boundary")) else {
            return true;
        };
        let (ob, oe) = (
            (p.offset_body as usize).min(raw.len()),
            (p.offset_end as usize).min(raw.len()),
        );
        let close = format!("--{boundary}--");
        ob > oe || !contains(&raw[ob..oe], close.as_bytes())
    })
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    needle.is_empty() || hay.windows(needle.len()).any(|w| w == needle)
}

fn notice_part(boundary: &str, footer: &[String]) -> String {
    format!(
        "--{boundary}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\nContent-Disposition: inline\r\n\r\n{}\r\n",
        plain_footer(footer)
    )
}

/// Wraps the whole message body in multipart/mixed with a notice part:
/// after the original, or — when the original structure is malformed —
/// before it, leaving the original entity as the last part exactly as it
/// arrived (closed or not).
fn wrap(raw: &[u8], msg: &Message<'_>, footer: &[String], banner_first: bool) -> Vec<Edit> {
    let notice_first = banner_first || malformed(raw, msg);
    let root = &msg.parts[0];
    let body_start = (root.offset_body as usize).min(raw.len());
    let boundary = format!("=_councilgate_wrap_{:016x}", rand::random::<u64>());
    let mut edits = Vec::new();
    let mut content_headers = Vec::new();
    for h in msg.headers() {
        if h.name().to_ascii_lowercase().starts_with("content-") {
            let (s, e) = (h.offset_field() as usize, h.offset_end() as usize);
            if s <= e && e <= raw.len() {
                content_headers.extend_from_slice(&raw[s..e]);
                edits.push(Edit {
                    start: s,
                    end: e,
                    bytes: Vec::new(),
                });
            }
        }
    }
    if content_headers.is_empty() {
        content_headers.extend_from_slice(b"Content-Type: text/plain; charset=us-ascii\r\n");
    }
    let has_mime_version = msg
        .headers()
        .iter()
        .any(|h| h.name().eq_ignore_ascii_case("MIME-Version"));
    // New top-level content headers go where the header block ends.
    let header_end = header_block_end(raw, body_start, 0);
    let mut head = Vec::new();
    if !has_mime_version {
        head.extend_from_slice(b"MIME-Version: 1.0\r\n");
    }
    head.extend_from_slice(
        format!("Content-Type: multipart/mixed; boundary=\"{boundary}\"\r\n").as_bytes(),
    );
    edits.push(Edit {
        start: header_end,
        end: header_end,
        bytes: head,
    });
    let mut open = if notice_first {
        format!("This message has a council protocol notice before the original.\r\n\r\n{}--{boundary}\r\n", notice_part(&boundary, footer)).into_bytes()
    } else {
        format!("This message has a council protocol notice attached below the original.\r\n\r\n--{boundary}\r\n").into_bytes()
    };
    open.extend_from_slice(&content_headers);
    open.extend_from_slice(b"\r\n");
    edits.push(Edit {
        start: body_start,
        end: body_start,
        bytes: open,
    });
    if notice_first {
        return edits;
    }
    let mut close = Vec::new();
    // The CRLF before a boundary belongs to the boundary: add a line break
    // only when the body has none, so the wrapped entity keeps every byte.
    if !raw.ends_with(b"\n") {
        close.extend_from_slice(b"\r\n");
    }
    close.extend_from_slice(
        format!("\r\n{}--{boundary}--\r\n", notice_part(&boundary, footer)).as_bytes(),
    );
    edits.push(Edit {
        start: raw.len(),
        end: raw.len(),
        bytes: close,
    });
    edits
}

/// Applies `changes` to a parsed message: the rewrite stage of the
/// pipeline, splicing into the raw bytes by the parse's offsets.
pub fn apply(view: &View<'_>, changes: &Changes) -> Vec<u8> {
    let (raw, parsed) = (view.raw(), view.parsed());
    let mut edits: Vec<Edit> = Vec::new();
    let mut new_headers = String::new();
    for (name, value) in &changes.headers {
        new_headers.push_str(&format!("{}: {}\r\n", one_line(name), one_line(value)));
    }
    if let Some(msg) = parsed {
        if !changes.cc.is_empty() {
            let added: Vec<String> = changes.cc.iter().map(|(n, a)| mailbox(n, a)).collect();
            match msg
                .headers()
                .iter()
                .rfind(|h| h.name().eq_ignore_ascii_case("Cc"))
            {
                Some(h) if (h.offset_end() as usize) <= raw.len() && h.offset_end() >= 2 => {
                    let end = h.offset_end() as usize;
                    let at = if &raw[end - 2..end] == b"\r\n" {
                        end - 2
                    } else {
                        end
                    };
                    let value = String::from_utf8_lossy(&raw[h.offset_start() as usize..at]);
                    let sep = if value.trim().is_empty() {
                        " "
                    } else {
                        ",\r\n "
                    };
                    edits.push(Edit {
                        start: at,
                        end: at,
                        bytes: format!("{sep}{}", added.join(",\r\n ")).into_bytes(),
                    });
                }
                _ => new_headers.push_str(&format!("Cc: {}\r\n", added.join(",\r\n "))),
            }
        }
        if (!changes.footer.is_empty() || !changes.banner.is_empty()) && !msg.parts.is_empty() {
            let (leaves, protected) = text_leaves(msg);
            if protected || leaves.is_empty() || malformed(raw, msg) {
                // A banner must be seen first: the notice part leads.
                let notices = changes.notices();
                edits.extend(wrap(raw, msg, &notices, !changes.banner.is_empty()));
            } else {
                for id in leaves {
                    edits.extend(leaf_edit(
                        raw,
                        &msg.parts[id],
                        &changes.banner,
                        &changes.footer,
                    ));
                }
            }
        }
    } else if !changes.cc.is_empty() {
        let added: Vec<String> = changes.cc.iter().map(|(n, a)| mailbox(n, a)).collect();
        new_headers.push_str(&format!("Cc: {}\r\n", added.join(",\r\n ")));
    }
    // Apply from the end so earlier offsets stay valid. Edits never
    // overlap by construction; one that would is skipped, not misapplied.
    edits.sort_by_key(|e| std::cmp::Reverse(e.start));
    let mut out = raw.to_vec();
    let mut last_start = usize::MAX;
    for e in edits {
        if e.start > e.end || e.end > out.len() || e.end > last_start {
            continue;
        }
        out.splice(e.start..e.end, e.bytes);
        last_start = e.start;
    }
    let mut result = new_headers.into_bytes();
    result.extend_from_slice(&out);
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use mail_parser::MessageParser;

    fn footer() -> Changes {
        Changes {
            headers: vec![("X-Council-Protocol".into(), "silent-copy".into())],
            cc: vec![("Clara Hughes".into(), "clerk@example-tc.gov.uk".into())],
            footer: vec!["CC councillor Siân Llewellyn".into()],
            banner: Vec::new(),
        }
    }

    #[test]
    fn single_part_plain_utf8() {
        let raw = b"From: a@b.org\r\nTo: c@d.org\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\nHello\r\n";
        let out = apply(&View::parse(raw), &footer());
        let text = String::from_utf8(out).expect("utf8");
        assert!(
            text.starts_with(
                "X-Council-Protocol: silent-copy\r\nCc: Clara Hughes <clerk@example-tc.gov.uk>\r\n"
            ),
            "{text}"
        );
        assert!(
            text.ends_with("Hello\r\n\r\nCC councillor Siân Llewellyn\r\n"),
            "{text:?}"
        );
    }

    #[test]
    fn seven_bit_part_becomes_quoted_printable_for_non_ascii_footer() {
        let raw = b"From: a@b.org\r\nContent-Type: text/plain\r\n\r\nHello=there\r\n";
        let out = apply(&View::parse(raw), &footer());
        let m = MessageParser::default().parse(&out[..]).expect("parses");
        assert_eq!(
            m.parts[0].content_transfer_encoding(),
            Some("quoted-printable")
        );
        let body = m.body_text(0).expect("text");
        assert!(body.contains("Hello=there"), "{body}");
        assert!(body.contains("Siân"), "{body}");
    }

    #[test]
    fn existing_cc_is_extended() {
        let raw = b"From: a@b.org\r\nCc: x@y.org,\r\n  z@w.org\r\nSubject: s\r\n\r\nHi\r\n";
        let mut c = footer();
        c.footer.clear();
        let out = String::from_utf8(apply(&View::parse(raw), &c)).expect("utf8");
        assert!(out.contains("Cc: x@y.org,\r\n  z@w.org,\r\n Clara Hughes <clerk@example-tc.gov.uk>\r\nSubject: s"), "{out}");
        let m = MessageParser::default()
            .parse(out.as_bytes())
            .expect("parse");
        assert_eq!(m.cc().map(|a| a.iter().count()), Some(3));
    }

    /// Fuzz finding of 2026-12-03 (`fuzz/seeds/findings/`): a From line
    /// broken by bare CRs. Read as the DATA phase stores it (every bare CR a
    /// line ending), the message's text survives the rewrite; read with the
    /// bare CRs left in, its whole text was one header field's value, which
    /// the rewrite replaced.
    #[test]
    fn bare_crs_read_as_smtp_stores_them_keep_the_body_through_the_rewrite() {
        let finding = include_bytes!("../../fuzz/seeds/findings/mime_rewrite-shrinks-aac09fb5.eml");
        let raw = crate::message::crlf(finding);
        assert!(!raw.windows(2).any(|w| w[0] == b'\r' && w[1] != b'\n'));
        let mut c = footer();
        c.banner = vec!["CAUTION: this message could not be verified.".into()];
        let out = apply(&View::parse(&raw), &c);
        assert!(out.len() >= raw.len(), "{} < {}", out.len(), raw.len());
        let m = MessageParser::default().parse(&out[..]).expect("parses");
        let body = m.body_text(0).expect("text");
        assert!(body.contains("nobody has consulted me"), "{body}");
        assert!(body.contains("Sarah"), "{body}");
    }

    /// `message::crlf` (files read by `check` and the fixtures) and the DATA
    /// decoder (mail over SMTP) give the same bytes.
    #[test]
    fn files_and_smtp_normalise_line_endings_alike() {
        for input in [
            &b"a\rb\nc\r\nd\r\r\ne"[..],
            b"\r\r\rx",
            b"\n\nx\r\n",
            b"From: a\r\rbody\r\n",
        ] {
            // Each input ends in a true CRLF or in an ordinary byte, so the
            // terminator below ends the data where the input ends.
            let mut d = crate::smtp::data::DataDecoder::new(1 << 20);
            d.feed(input);
            let mut file = crate::message::crlf(input);
            if input.ends_with(b"\r\n") {
                d.feed(b".\r\n");
            } else {
                d.feed(b"\r\n.\r\n");
                file.extend_from_slice(b"\r\n");
            }
            assert_eq!(d.message(), &file[..], "{input:?}");
        }
    }
}

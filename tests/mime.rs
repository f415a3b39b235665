//! MIME rewriting on real-world shapes: footers in every text part in its own
//! charset and encoding, attachments byte-identical, signed messages wrapped,
//! and robustness over ../shared/mime-corpus.

use mail_parser::{MessageParser, MimeHeaders, PartType};
use proptest::prelude::*;

use councilgate::message::View;
use councilgate::message::rewrite::{Changes, apply};

fn footer() -> Changes {
    Changes {
        headers: vec![("X-Council-Protocol".into(), "silent-copy".into())],
        cc: vec![(
            "Siân Llewellyn".into(),
            "cllr.llewellyn@example-tc.gov.uk".into(),
        )],
        footer: vec!["CC councillor Siân Llewellyn".into()],
        banner: Vec::new(),
    }
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    needle.is_empty() || hay.windows(needle.len()).any(|w| w == needle)
}

/// A leaf part: (content type, decoded bytes or text).
#[derive(Debug, PartialEq)]
enum Leaf {
    Text(String, String),
    Binary(String, Vec<u8>),
}

fn leaves(raw: &[u8]) -> Vec<Leaf> {
    let Some(m) = MessageParser::default().parse(raw) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for p in &m.parts {
        let ct = p
            .content_type()
            .map(|c| format!("{}/{}", c.ctype(), c.subtype().unwrap_or("")).to_lowercase())
            .unwrap_or_else(|| "text/plain".into());
        match &p.body {
            // Text line breaks are canonically CRLF (RFC 2046); compare
            // them as such.
            PartType::Text(t) | PartType::Html(t) => {
                out.push(Leaf::Text(ct, t.replace("\r\n", "\n")))
            }
            PartType::Binary(b) | PartType::InlineBinary(b) => {
                out.push(Leaf::Binary(ct, b.to_vec()))
            }
            PartType::Message(_) => out.push(Leaf::Binary(ct, p.contents().to_vec())),
            PartType::Multipart(_) => {}
        }
    }
    out
}

fn assert_parts_kept(original: &[u8], rewritten: &[u8]) {
    if let Err(e) = parts_kept(original, rewritten) {
        panic!("{e}");
    }
}

/// Every original part is still there: binary parts identical, text parts
/// still holding their original text.
fn parts_kept(original: &[u8], rewritten: &[u8]) -> Result<(), String> {
    if MessageParser::default().parse(rewritten).is_none() {
        return Err("rewritten message does not parse".into());
    }
    let after = leaves(rewritten);
    for leaf in leaves(original) {
        match &leaf {
            Leaf::Binary(_, bytes) => {
                if !after
                    .iter()
                    .any(|l| matches!(l, Leaf::Binary(_, b) if b == bytes))
                {
                    return Err(format!("binary part lost: {leaf:?}"));
                }
            }
            // mail-parser could not decode this part's charset: comparing with
            // replacement characters says nothing (see the EUC-JP unit test).
            Leaf::Text(_, text) if text.contains('\u{FFFD}') => {}
            Leaf::Text(ct, text) => {
                // HTML gets its footer inside the body: compare what comes before it.
                let cut = text
                    .to_ascii_lowercase()
                    .rfind("</body")
                    .unwrap_or(text.len());
                let probe: String = text[..cut].trim_end().chars().take(200).collect();
                if !after.iter().any(
                    |l| matches!(l, Leaf::Text(c, t) if c == ct && t.contains(probe.trim_end())),
                ) {
                    return Err(format!("text part lost: {ct} {probe:?}"));
                }
            }
        }
    }
    Ok(())
}

fn text_bodies(raw: &[u8]) -> Vec<String> {
    let m = MessageParser::default().parse(raw).expect("parses");
    m.parts
        .iter()
        .filter(|p| {
            p.content_disposition()
                .is_none_or(|d| !d.ctype().eq_ignore_ascii_case("attachment"))
        })
        .filter_map(|p| match &p.body {
            PartType::Text(t) | PartType::Html(t) => Some(t.to_string()),
            _ => None,
        })
        .collect()
}

const NESTED: &str = "From: clerk@example-tc.gov.uk\r\nTo: cllr.smith@example-tc.gov.uk\r\nSubject: nested\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"outer\"\r\n\r\n--outer\r\nContent-Type: multipart/alternative; boundary=\"alt\"\r\n\r\n--alt\r\nContent-Type: text/plain; charset=iso-8859-1\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nCaf=E9 on the green =3D fun\r\n--alt\r\nContent-Type: multipart/related; boundary=\"rel\"\r\n\r\n--rel\r\nContent-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\nPGh0bWw+PGJvZHk+PHA+Q2Fmw6kgb24gdGhlIGdyZWVuPC9wPjwvYm9keT48L2h0bWw+\r\n--rel\r\nContent-Type: image/png\r\nContent-ID: <logo>\r\nContent-Transfer-Encoding: base64\r\n\r\niVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==\r\n--rel--\r\n--alt--\r\n--outer\r\nContent-Type: application/pdf; name=\"minutes.pdf\"\r\nContent-Disposition: attachment; filename=\"minutes.pdf\"\r\nContent-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQKJcOkw7zDtsOfCjIgMCBvYmoKPDwvTGVuZ3RoIDMgMCBSPj4Kc3RyZWFtCg==\r\n--outer--\r\n";

#[test]
fn nested_multipart_every_text_part_gets_the_footer_in_its_own_encoding() {
    let out = apply(&View::parse(NESTED.as_bytes()), &footer());
    assert_parts_kept(NESTED.as_bytes(), &out);
    let texts = text_bodies(&out);
    assert_eq!(texts.len(), 2, "{texts:?}");
    // Latin-1 cannot carry ŵ or â? It can carry â: the plain part stays ISO-8859-1.
    assert!(
        texts[0].starts_with("Café on the green = fun"),
        "{:?}",
        texts[0]
    );
    assert!(
        texts[0]
            .trim_end()
            .ends_with("CC councillor Siân Llewellyn"),
        "{:?}",
        texts[0]
    );
    assert!(
        texts[1].contains("CC councillor Si&#226;n Llewellyn")
            || texts[1].contains("CC councillor Siân Llewellyn"),
        "{:?}",
        texts[1]
    );
    assert!(
        texts[1].find("council-protocol") < texts[1].find("</body>"),
        "footer inside the body: {:?}",
        texts[1]
    );
    // The attachment's raw bytes are untouched.
    let pdf_start = NESTED.find("Content-Type: application/pdf").expect("pdf");
    let pdf_end = NESTED.rfind("\r\n--outer--").expect("end");
    assert!(
        contains(&out, &NESTED.as_bytes()[pdf_start..pdf_end]),
        "attachment byte-identical"
    );
    let img_start = NESTED.find("Content-Type: image/png").expect("png");
    let img_end = NESTED.find("\r\n--rel--").expect("rel end");
    assert!(
        contains(&out, &NESTED.as_bytes()[img_start..img_end]),
        "inline image byte-identical"
    );
    let m = MessageParser::default().parse(&out).expect("parse");
    assert_eq!(
        m.header_raw("X-Council-Protocol").map(str::trim),
        Some("silent-copy")
    );
}

#[test]
fn latin1_part_that_cannot_carry_the_name_is_carried_in_utf8() {
    let raw = "From: a@b.org\r\nContent-Type: text/plain; charset=iso-8859-1; format=flowed\r\nContent-Transfer-Encoding: 8bit\r\n\r\nCaf\u{e9}\r\n";
    let latin1: Vec<u8> = raw.chars().map(|c| c as u32 as u8).collect();
    let mut c = footer();
    c.footer = vec!["CC councillor Gwŷn Ŵyn".into()];
    let out = apply(&View::parse(&latin1), &c);
    let m = MessageParser::default().parse(&out).expect("parse");
    let body = m.body_text(0).expect("text");
    assert!(body.starts_with("Café"), "{body:?}");
    assert!(body.contains("Gwŷn Ŵyn"), "{body:?}");
    let ct = m.parts[0].content_type().expect("ct");
    assert_eq!(ct.attribute("charset"), Some("utf-8"));
    assert_eq!(
        ct.attribute("format"),
        Some("flowed"),
        "other parameters kept"
    );
}

#[test]
fn euc_jp_part_is_carried_over_to_utf8_with_its_text_intact() {
    let (jp, _, _) = encoding_rs::EUC_JP.encode("人権の無視及び軽侮");
    let raw = [
        &b"From: a@b.org\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=EUC-JP\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"[..],
        &jp,
        b"\r\n",
    ]
    .concat();
    let out = apply(&View::parse(&raw), &footer());
    let m = MessageParser::default().parse(&out).expect("parse");
    let body = m.body_text(0).expect("text");
    assert!(body.starts_with("人権の無視及び軽侮"), "{body:?}");
    assert!(body.contains("Siân"), "{body:?}");
}

#[test]
fn base64_html_only_message() {
    let raw = b"From: a@b.org\r\nMIME-Version: 1.0\r\nContent-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\nPGh0bWw+PGJvZHk+PHA+SGVsbG8gdGhlcmU8L3A+PC9ib2R5PjwvaHRtbD4=\r\n";
    let out = apply(&View::parse(raw), &footer());
    let texts = text_bodies(&out);
    assert_eq!(texts.len(), 1);
    assert!(
        texts[0].starts_with("<html><body><p>Hello there</p>"),
        "{:?}",
        texts[0]
    );
    assert!(
        texts[0].contains("Si&#226;n") && texts[0].ends_with("</body></html>"),
        "{:?}",
        texts[0]
    );
}

#[test]
fn multipart_signed_is_wrapped_never_edited() {
    let signed_entity = "Content-Type: multipart/signed; protocol=\"application/pkcs7-signature\"; micalg=sha-256; boundary=\"sig\"\r\n\r\n--sig\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\nSigned text must not change.\r\n--sig\r\nContent-Type: application/pkcs7-signature; name=smime.p7s\r\nContent-Transfer-Encoding: base64\r\nContent-Disposition: attachment; filename=smime.p7s\r\n\r\nMIAGCSqGSIb3DQEHAqCAMIACAQExDzANBglghkgBZQMEAgEFADCABgkqhkiG9w0BBwEAAKCAMIIC\r\n--sig--\r\n";
    let raw = format!(
        "From: clerk@example-tc.gov.uk\r\nTo: cllr.smith@example-tc.gov.uk\r\nSubject: signed\r\nMIME-Version: 1.0\r\n{signed_entity}"
    );
    let out = apply(&View::parse(raw.as_bytes()), &footer());
    let m = MessageParser::default().parse(&out).expect("parse");
    let root = m.content_type().expect("ct");
    assert_eq!((root.ctype(), root.subtype()), ("multipart", Some("mixed")));
    // The signed entity — its headers and body, over which the signature is
    // computed — is in the output byte for byte.
    let body = &signed_entity[signed_entity.find("\r\n\r\n").expect("blank") + 4..];
    assert!(
        contains(&out, body.as_bytes()),
        "signed body byte-identical"
    );
    assert!(contains(&out, b"Content-Type: multipart/signed; protocol=\"application/pkcs7-signature\"; micalg=sha-256; boundary=\"sig\"\r\n"));
    let texts = text_bodies(&out);
    assert!(
        texts.iter().any(|t| t == "Signed text must not change."),
        "{texts:?}"
    );
    assert!(
        texts
            .iter()
            .any(|t| t.contains("CC councillor Siân Llewellyn")),
        "{texts:?}"
    );
    assert_parts_kept(raw.as_bytes(), &out);
}

#[test]
fn attachment_only_message_gets_a_footer_part() {
    let raw = b"From: a@b.org\r\nSubject: scan\r\nMIME-Version: 1.0\r\nContent-Type: application/pdf; name=scan.pdf\r\nContent-Disposition: attachment; filename=scan.pdf\r\nContent-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQK\r\n";
    let out = apply(&View::parse(raw), &footer());
    assert_parts_kept(raw, &out);
    assert!(
        text_bodies(&out)
            .iter()
            .any(|t| t.contains("CC councillor"))
    );
}

/// Runs analysis, every default rule and annotation over each message of
/// ../shared/mime-corpus (malformed and odd MIME from other projects' test
/// suites), reading it in place.
#[test]
fn shared_mime_corpus_never_panics_and_keeps_every_part() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/mime-corpus");
    if !root.is_dir() {
        eprintln!("SKIPPED: {} is not present", root.display());
        return;
    }
    let snapshot = councilgate::policy::Snapshot::load(
        &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("config"),
    )
    .expect("shipped policy");
    // An officer writing to one councillor, another BCC'd: silent-copy
    // annotates; a councillor to a junior officer: copies are added.
    let envelopes = [
        councilgate::tuning::check::envelope(
            "clerk@example-tc.gov.uk",
            &[
                "cllr.smith@example-tc.gov.uk".into(),
                "cllr.baker@example-tc.gov.uk".into(),
            ],
        ),
        councilgate::tuning::check::envelope(
            "cllr.smith@example-tc.gov.uk",
            &["alex.green@example-tc.gov.uk".into()],
        ),
    ];
    let mut files = 0;
    let mut failures = Vec::new();
    for folder in ["malformed", "rfc", "thirdparty"] {
        let Ok(dir) = std::fs::read_dir(root.join(folder)) else {
            continue;
        };
        for entry in dir.flatten() {
            let path = entry.path();
            if path.extension().is_none_or(|x| x != "eml") {
                continue;
            }
            let raw = std::fs::read(&path).expect("read");
            files += 1;
            // The sender's From header decides the author: give each message
            // the author the envelope names, as the gateway sees it.
            let parses = MessageParser::default().parse(&raw).is_some();
            for env in &envelopes {
                let verdict = snapshot.evaluate(env, &raw, chrono::Utc::now());
                if let Some(out) = &verdict.message
                    && parses
                    && let Err(e) = parts_kept(&raw, out)
                {
                    failures.push(format!("{} (rules {}): {e}", path.display(), env.mail_from));
                }
            }
            // And the rewrite itself, whatever the rules said.
            let out = apply(&View::parse(&raw), &footer());
            if parses && let Err(e) = parts_kept(&raw, &out) {
                failures.push(format!("{} (footer): {e}", path.display()));
            }
        }
    }
    println!("mime-corpus: {files} messages analysed, evaluated and annotated");
    assert!(files > 0);
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

// ---- property test: random MIME trees --------------------------------

#[derive(Debug, Clone)]
enum Node {
    Text {
        html: bool,
        charset: &'static str,
        cte: &'static str,
        text: String,
    },
    Attachment {
        name: String,
        data: Vec<u8>,
    },
    Multi {
        subtype: &'static str,
        children: Vec<Node>,
    },
}

fn qp(bytes: &[u8]) -> String {
    String::from_utf8(quoted_printable::encode(bytes)).expect("ascii")
}

fn b64(bytes: &[u8]) -> String {
    use base64::Engine as _;
    let s = base64::engine::general_purpose::STANDARD.encode(bytes);
    s.as_bytes()
        .chunks(76)
        .map(|c| String::from_utf8_lossy(c).to_string())
        .collect::<Vec<_>>()
        .join("\r\n")
}

fn render(node: &Node, n: &mut u32) -> String {
    match node {
        Node::Text {
            html,
            charset,
            cte,
            text,
        } => {
            let content = if *html {
                format!("<html><body><p>{text}</p></body></html>")
            } else {
                text.clone()
            };
            let bytes: Vec<u8> = match *charset {
                "iso-8859-1" => content.chars().map(|c| c as u32 as u8).collect(),
                _ => content.into_bytes(),
            };
            let body = match *cte {
                "quoted-printable" => qp(&bytes),
                "base64" => b64(&bytes),
                _ => String::from_utf8_lossy(&bytes).to_string(),
            };
            let body = if *charset == "iso-8859-1" && *cte == "8bit" {
                // Keep raw Latin-1 bytes by mapping back below.
                body
            } else {
                body
            };
            format!(
                "Content-Type: text/{}; charset={charset}\r\nContent-Transfer-Encoding: {cte}\r\n\r\n{body}",
                if *html { "html" } else { "plain" }
            )
        }
        Node::Attachment { name, data } => format!(
            "Content-Type: application/octet-stream; name=\"{name}\"\r\nContent-Disposition: attachment; filename=\"{name}\"\r\nContent-Transfer-Encoding: base64\r\n\r\n{}",
            b64(data)
        ),
        Node::Multi { subtype, children } => {
            *n += 1;
            let b = format!("b{n}x");
            let mut s = format!("Content-Type: multipart/{subtype}; boundary=\"{b}\"\r\n\r\n");
            for c in children {
                s.push_str(&format!("--{b}\r\n{}\r\n", render(c, n)));
            }
            s.push_str(&format!("--{b}--"));
            s
        }
    }
}

fn text_strategy() -> impl Strategy<Value = Node> {
    (
        any::<bool>(),
        prop_oneof![Just("utf-8"), Just("us-ascii"), Just("iso-8859-1")],
        prop_oneof![
            Just("7bit"),
            Just("8bit"),
            Just("quoted-printable"),
            Just("base64")
        ],
        "[a-zA-Z0-9 .,=]{1,60}",
        prop_oneof![Just(""), Just(" café"), Just(" Siân")],
    )
        .prop_map(|(html, charset, cte, text, extra)| {
            // Only 8-bit-capable encodings carry non-ASCII text.
            let text = if charset != "us-ascii" && cte != "7bit" {
                format!("{text}{extra}")
            } else {
                text
            };
            Node::Text {
                html,
                charset,
                cte,
                text,
            }
        })
}

fn node_strategy() -> impl Strategy<Value = Node> {
    let leaf = prop_oneof![
        3 => text_strategy(),
        1 => ("[a-z]{1,8}\\.(pdf|docx|png)", proptest::collection::vec(any::<u8>(), 0..300))
            .prop_map(|(name, data)| Node::Attachment { name, data }),
    ];
    leaf.prop_recursive(3, 12, 4, |inner| {
        (
            prop_oneof![Just("mixed"), Just("alternative"), Just("related")],
            proptest::collection::vec(inner, 1..4),
        )
            .prop_map(|(subtype, children)| Node::Multi { subtype, children })
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]
    #[test]
    fn annotated_messages_parse_and_keep_every_part(tree in node_strategy()) {
        let mut n = 0;
        let raw = format!("From: clerk@example-tc.gov.uk\r\nTo: cllr.smith@example-tc.gov.uk\r\nSubject: p\r\nMIME-Version: 1.0\r\n{}\r\n", render(&tree, &mut n));
        // Latin-1 8bit text was rendered as UTF-8 chars; encode to bytes.
        let raw_bytes: Vec<u8> = raw.into_bytes();
        let out = apply(&View::parse(&raw_bytes), &footer());
        assert_parts_kept(&raw_bytes, &out);
        // Every text body part that is not an attachment carries the footer.
        let original_texts = text_bodies(&raw_bytes).len();
        let with_footer = text_bodies(&out).iter().filter(|t| t.contains("CC councillor Si")).count();
        prop_assert!(with_footer >= original_texts.min(1), "footer present");
    }
}

//! The message itself: its SMTP [`envelope`], one parse that every stage
//! shares ([`view`]), text extraction ([`analysis`]), separating the
//! author's new words from quotes, forwards, signatures and disclaimers
//! ([`quote`]), rewriting MIME without disturbing what the gateway does not
//! change ([`rewrite`]), the notices the gateway writes ([`notice`]), and
//! names made safe to show ([`visible`]).
//! No I/O here.

pub mod analysis;
pub mod envelope;
pub mod mark;
pub mod notice;
pub mod quote;
pub mod rewrite;
pub mod view;
pub mod visible;

pub use analysis::{Analysis, Text};
pub use view::View;

/// Bytes of the header section, including the empty line that ends it
/// (the whole message when there is no body; 2 when the message begins
/// with the empty line). The one place that says where the header section
/// ends: the SMTP limit, the pipeline, the queue, bounces and the review
/// pages all ask it.
pub fn header_section_len(message: &[u8]) -> usize {
    if message.starts_with(b"\r\n") {
        return 2;
    }
    match memchr_crlfcrlf(message) {
        Some(at) => at + 4,
        None => message.len(),
    }
}

fn memchr_crlfcrlf(message: &[u8]) -> Option<usize> {
    message.windows(4).position(|w| w == b"\r\n\r\n")
}

/// Line endings made CRLF as the DATA phase stores them (see
/// `smtp::data`): a message file written with bare LF, as an editor saves
/// it, or with stray bare CRs reads as SMTP would have delivered it, so
/// `check`, the fixtures and the try-a-message page see the bytes the
/// gateway would.
pub fn crlf(raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(raw.len() + raw.len() / 32);
    let mut i = 0;
    while i < raw.len() {
        match raw[i] {
            b'\r' => {
                out.extend_from_slice(b"\r\n");
                if raw.get(i + 1) == Some(&b'\n') {
                    i += 1;
                }
            }
            b'\n' => out.extend_from_slice(b"\r\n"),
            b => out.push(b),
        }
        i += 1;
    }
    out
}

/// A header value on one line: control characters (CR, LF among them)
/// become spaces, so no value can inject a header field.
pub fn one_line(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// A header word, RFC 2047-encoded when it is not plain ASCII.
pub fn encode_word(s: &str) -> String {
    use base64::Engine as _;
    let s = one_line(s);
    if s.is_ascii() {
        s
    } else {
        format!(
            "=?utf-8?b?{}?=",
            base64::engine::general_purpose::STANDARD.encode(s.as_bytes())
        )
    }
}

//! The gateway's mark, `X-Councilgate-Mark: <secret>`: stamped on mail the
//! gateway returns to the council's own tenant, so the tenant's routing
//! rule ("unless the message has this header") delivers it instead of
//! sending it back. Its value is a secret from the settings, so a sender who
//! writes the header by hand cannot skip the gateway; mail that reaches the
//! gateway carrying its own valid mark was checked already and is not
//! evaluated twice. Every mark a message arrives with is removed (a forged
//! one is never passed on); the one stamped on the way out is the only one.

use std::borrow::Cow;

use super::header_section_len;

/// The header field's name.
pub const MARK: &str = "X-Councilgate-Mark";

/// What a message arrived with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Found {
    /// No mark.
    None,
    /// A mark with our secret: the gateway checked this message already.
    Valid,
    /// A mark with any other value: removed and ignored.
    Forged,
}

/// Compares without stopping at the first difference (no timing hint
/// about how much of a guessed secret is right).
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Finds and removes every mark in the header section. `secret` empty: no
/// mark is valid.
pub fn take<'m>(message: &'m [u8], secret: &str) -> (Cow<'m, [u8]>, Found) {
    let end = header_section_len(message);
    let head = &message[..end];
    let name = MARK.as_bytes();
    let mut found = Found::None;
    let mut kept: Vec<u8> = Vec::new();
    let mut removed = false;
    let mut i = 0;
    let mut dropping = false;
    while i < head.len() {
        let line_end = head[i..]
            .windows(2)
            .position(|w| w == b"\r\n")
            .map_or(head.len(), |p| i + p + 2);
        let line = &head[i..line_end];
        let continuation = line.first().is_some_and(|c| *c == b' ' || *c == b'\t');
        if !continuation {
            dropping = line.len() > name.len()
                && line[..name.len()].eq_ignore_ascii_case(name)
                && line[name.len()..].trim_ascii_start().starts_with(b":");
            if dropping {
                removed = true;
                let colon = line.iter().position(|c| *c == b':').unwrap_or(0);
                let value = line[colon + 1..].trim_ascii();
                let valid = !secret.is_empty() && same(value, secret.as_bytes());
                found = match (found, valid) {
                    (Found::Valid, _) | (_, true) => Found::Valid,
                    _ => Found::Forged,
                };
            }
        } else if dropping {
            // A folded mark is not ours (we write one line): forged.
            found = Found::Forged;
        }
        if !dropping {
            kept.extend_from_slice(line);
        }
        i = line_end;
    }
    if !removed {
        return (Cow::Borrowed(message), Found::None);
    }
    kept.extend_from_slice(&message[end..]);
    (Cow::Owned(kept), found)
}

/// The mark line to put on top of a message going to the tenant.
pub fn line(secret: &str) -> Vec<u8> {
    format!("{MARK}: {secret}\r\n").into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "0123456789abcdef0123";

    #[test]
    fn a_valid_mark_is_found_and_removed() {
        let m = format!(
            "Received: x\r\n{MARK}: {SECRET}\r\nSubject: s\r\n\r\nbody {MARK}: {SECRET}\r\n"
        );
        let (out, found) = take(m.as_bytes(), SECRET);
        assert_eq!(found, Found::Valid);
        assert_eq!(
            &*out,
            format!("Received: x\r\nSubject: s\r\n\r\nbody {MARK}: {SECRET}\r\n").as_bytes()
        );
    }

    #[test]
    fn a_forged_mark_is_removed_and_not_honoured() {
        for forged in [
            "guess",
            "0123456789abcdef012",
            "",
            "0123456789abcdef0123 extra",
        ] {
            let m = format!("x-councilgate-mark:{forged}\r\nSubject: s\r\n\r\nb");
            let (out, found) = take(m.as_bytes(), SECRET);
            assert_eq!(found, Found::Forged, "{forged:?}");
            assert_eq!(&*out, b"Subject: s\r\n\r\nb");
        }
        // Without a secret configured, no mark is valid.
        let m = format!("{MARK}: {SECRET}\r\n\r\nb");
        assert_eq!(take(m.as_bytes(), "").1, Found::Forged);
        // A folded value is not ours, even if it unfolds to the secret.
        let m = format!("{MARK}: {}\r\n {}\r\n\r\nb", &SECRET[..10], &SECRET[10..]);
        let (out, found) = take(m.as_bytes(), SECRET);
        assert_eq!((found, &*out), (Found::Forged, &b"\r\nb"[..]));
    }

    #[test]
    fn mail_without_a_mark_is_untouched() {
        let m = b"Subject: X-Councilgate-Marker\r\nX-Councilgate-Marks: 1\r\n\r\nb";
        let (out, found) = take(m, SECRET);
        assert_eq!(found, Found::None);
        assert!(matches!(out, Cow::Borrowed(_)));
    }
}

//! Dot-stuffing a message for the DATA phase of a delivery.

/// Dot-stuffing (RFC 5321 §4.5.2), the inverse of the DATA decoder
/// (`smtp::data::DataDecoder`): a '.' that begins a line (at the start, or
/// after a CRLF) is doubled. A line ends only at CRLF, as lettre's codec
/// and the decoder read it. Borrowed when there is nothing to stuff. Written here because lettre's codec,
/// which does the same, copies a byte at a time: a third of the gateway's
/// own CPU when relaying 200 KB messages (BENCHMARKS.md).
pub fn dot_stuff(body: &[u8]) -> std::borrow::Cow<'_, [u8]> {
    // `out` holds body[..last] stuffed; the dot at `last` is copied with
    // the next chunk, after the one added.
    let mut out: Option<Vec<u8>> = (body.first() == Some(&b'.')).then(|| {
        let mut o = Vec::with_capacity(body.len() + 64);
        o.push(b'.');
        o
    });
    let mut last = 0;
    for pos in memchr::memmem::find_iter(body, b"\r\n.") {
        let dot = pos + 2;
        let o = out.get_or_insert_with(|| Vec::with_capacity(body.len() + 64));
        o.extend_from_slice(&body[last..dot]);
        o.push(b'.');
        last = dot;
    }
    match out {
        None => std::borrow::Cow::Borrowed(body),
        Some(mut o) => {
            o.extend_from_slice(&body[last..]);
            std::borrow::Cow::Owned(o)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::smtp::data::{DataDecoder, Progress};

    /// lettre's transparency codec, byte at a time: what `dot_stuff`
    /// replaces on the delivery path must give the same bytes.
    fn lettre_codec(frame: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        let (mut cr, mut start) = (false, true);
        for &b in frame {
            out.push(b);
            if b == b'.' && start {
                out.push(b'.');
            }
            start = cr && b == b'\n';
            cr = b == b'\r';
        }
        out
    }

    #[test]
    fn dot_stuffing_matches_lettre_and_the_decoder_undoes_it() {
        let cases: &[&[u8]] = &[
            b"",
            b".",
            b"..",
            b".hidden\r\n.\r\n..\r\nend",
            b"a\r\n.b\r\n.\r\nc",
            b"a\n.b\r.c\r\r\n.d",
            b"no dots at line starts. none.\r\nat all.",
            b"\r\n.\r\n.\r\n.",
        ];
        for &body in cases {
            let stuffed = dot_stuff(body);
            assert_eq!(&stuffed[..], &lettre_codec(body)[..], "{body:?}");
            // Mail as the gateway stores it (CRLF lines) comes back whole.
            if !body.windows(2).any(|w| w[1] == b'\n' && w[0] != b'\r')
                && !body.windows(2).any(|w| w[0] == b'\r' && w[1] != b'\n')
                && !body.ends_with(b"\r")
            {
                let mut d = DataDecoder::new(1 << 20);
                d.feed(&stuffed);
                assert!(
                    matches!(d.feed(b"\r\n.\r\n"), Progress::Done { .. }),
                    "{body:?}"
                );
                let mut want = body.to_vec();
                want.extend_from_slice(b"\r\n");
                assert_eq!(d.message(), &want[..], "{body:?}");
            }
        }
        assert!(matches!(
            dot_stuff(b"plain\r\ntext"),
            std::borrow::Cow::Borrowed(_)
        ));
    }
}

//! Sans-I/O decoder for the DATA phase: removes dot-stuffing, finds the one
//! true end of data, and normalises stray line endings.
//!
//! Written here rather than taken from smtp-proto because the gateway needs
//! three things its receiver does not give together: only `<CRLF>.<CRLF>` ends
//! the data (a bare LF or bare CR around a dot is content, never the end —
//! the SMTP smuggling defence), every bare CR or LF is normalised to CRLF so
//! nothing downstream can be tricked into seeing an end of data we did not,
//! and the size limit is enforced while bytes stream in.

/// Whether the header section of `message` (up to and including the first
/// empty line, or the whole message when there is none) is longer than
/// `limit` bytes. Reads at most `limit + 4` bytes.
pub fn header_exceeds(message: &[u8], limit: usize) -> bool {
    let window = &message[..message.len().min(limit.saturating_add(4))];
    crate::message::header_section_len(window) > limit
}

/// Decoder state between calls; feed it whatever the socket produced.
#[derive(Debug)]
pub struct DataDecoder {
    out: Vec<u8>,
    /// Bytes of the current line so far (after normalisation), starting at
    /// a line boundary; only the first three matter for the terminator.
    line_start: bool,
    /// The previous byte was a CR whose LF has not yet been seen.
    pending_cr: bool,
    /// Current line began with a single '.' (possible terminator).
    dot_line: bool,
    /// The previous line ended with a bare CR or LF, so a dot line now
    /// cannot be the terminator (`<LF>.<CRLF>` is the classic smuggle).
    after_bare: bool,
    limit: usize,
    overflow: bool,
    /// Bare CR or bare LF that were rewritten to CRLF.
    pub normalised: usize,
}

/// What [`DataDecoder::feed`] found.
#[derive(Debug, PartialEq, Eq)]
pub enum Progress {
    /// More data needed.
    More,
    /// End of data seen after `consumed` bytes of the input slice; the rest
    /// belongs to the next command (pipelining).
    Done { consumed: usize },
}

impl DataDecoder {
    pub fn new(limit: usize) -> Self {
        DataDecoder {
            out: Vec::with_capacity(limit.min(64 * 1024)),
            line_start: true,
            pending_cr: false,
            dot_line: false,
            after_bare: false,
            limit,
            overflow: false,
            normalised: 0,
        }
    }

    /// The message exceeded the size limit; bytes past it were discarded.
    pub fn overflowed(&self) -> bool {
        self.overflow
    }

    /// The message decoded so far.
    pub fn message(&self) -> &[u8] {
        &self.out
    }

    pub fn into_message(self) -> Vec<u8> {
        self.out
    }

    fn push(&mut self, b: &[u8]) {
        if self.out.len() + b.len() > self.limit {
            self.overflow = true;
            return;
        }
        self.out.extend_from_slice(b);
    }

    /// Ends a line: returns true when the line was the terminator.
    fn end_line(&mut self, bare: bool) -> bool {
        if self.dot_line && !bare && !self.after_bare {
            return true;
        }
        if self.dot_line {
            // A lone dot next to a bare line ending is content, not the end:
            // keep it. Stored lines are all CRLF and the relay re-stuffs the
            // dot, so no hop downstream can read it as an end of data.
            self.push(b".");
        }
        self.after_bare = bare;
        if bare {
            self.normalised += 1;
        }
        self.push(b"\r\n");
        self.line_start = true;
        self.dot_line = false;
        false
    }

    pub fn feed(&mut self, input: &[u8]) -> Progress {
        let mut i = 0;
        while i < input.len() {
            let b = input[i];
            i += 1;
            if self.pending_cr {
                self.pending_cr = false;
                if b == b'\n' {
                    if self.end_line(false) {
                        return Progress::Done { consumed: i };
                    }
                    continue;
                }
                // Bare CR: a line ending of its own, normalised.
                self.end_line(true);
            }
            match b {
                b'\r' => self.pending_cr = true,
                b'\n' => {
                    self.end_line(true);
                }
                b'.' if self.line_start => {
                    // Either dot-stuffing (".." -> ".") or the start of the
                    // terminator; decide on the next byte.
                    self.line_start = false;
                    self.dot_line = true;
                }
                _ => {
                    if self.dot_line {
                        // ".x": a leading dot that was stuffed (RFC 5321
                        // §4.5.2 says drop it) — the dot itself is gone.
                        self.dot_line = false;
                    }
                    self.line_start = false;
                    // Copy the run of ordinary bytes in one go.
                    let start = i - 1;
                    let mut end = i;
                    while end < input.len() && input[end] != b'\r' && input[end] != b'\n' {
                        end += 1;
                    }
                    let chunk = &input[start..end];
                    if self.out.len() + chunk.len() > self.limit {
                        self.overflow = true;
                    } else {
                        self.out.extend_from_slice(chunk);
                    }
                    i = end;
                }
            }
        }
        Progress::More
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_section_limit_counts_up_to_the_empty_line() {
        let msg = b"A: 1\r\nB: 2\r\n\r\nbody that is long enough to pass any limit";
        // The header section is 14 bytes including the empty line.
        assert!(!header_exceeds(msg, 14));
        assert!(header_exceeds(msg, 13));
        assert!(!header_exceeds(msg, 1000));
        // No empty line: the whole message is header.
        assert!(header_exceeds(b"A: 1\r\nB: 2\r\n", 10));
        assert!(!header_exceeds(b"A: 1\r\n", 10));
        assert!(!header_exceeds(b"", 0));
        // No header fields: a long body is not a long header.
        assert!(!header_exceeds(
            &[b"\r\n".as_slice(), &[b'x'; 100]].concat(),
            10
        ));
    }

    fn decode(input: &[u8]) -> (Vec<u8>, Progress) {
        let mut d = DataDecoder::new(1 << 20);
        let p = d.feed(input);
        (d.into_message(), p)
    }

    #[test]
    fn plain_terminator() {
        let (m, p) = decode(b"Subject: x\r\n\r\nhello\r\n.\r\nQUIT\r\n");
        assert_eq!(m, b"Subject: x\r\n\r\nhello\r\n");
        assert_eq!(p, Progress::Done { consumed: 24 });
    }

    #[test]
    fn dot_stuffing_removed() {
        let (m, _) = decode(b"a\r\n..hidden\r\n...\r\n.\r\n");
        assert_eq!(m, b"a\r\n.hidden\r\n..\r\n");
    }

    #[test]
    fn empty_message() {
        let (m, p) = decode(b".\r\n");
        assert!(m.is_empty());
        assert_eq!(p, Progress::Done { consumed: 3 });
    }

    #[test]
    fn smuggling_bare_lf_dot_is_not_the_end() {
        for attack in [
            &b"hi\n.\r\nMAIL FROM:<x@y>\r\n"[..],
            b"hi\r\n.\nMAIL FROM:<x@y>\r\n",
            b"hi\r.\r\nMAIL FROM:<x@y>\r\n",
            b"hi\r\n.\rMAIL FROM:<x@y>\r\n",
            b"hi\n.\nMAIL FROM:<x@y>\r\n",
        ] {
            let mut d = DataDecoder::new(1 << 20);
            assert_eq!(
                d.feed(attack),
                Progress::More,
                "{:?}",
                String::from_utf8_lossy(attack)
            );
            assert!(d.normalised > 0);
            // Whatever was smuggled is now ordinary, CRLF-terminated content.
            let m = d.into_message();
            assert!(m.windows(10).any(|w| w == b"MAIL FROM:"), "{m:?}");
            assert!(
                !m.iter()
                    .enumerate()
                    .any(|(i, &b)| b == b'\n' && (i == 0 || m[i - 1] != b'\r'))
            );
            // And the real terminator still ends it.
            let mut d = DataDecoder::new(1 << 20);
            let mut again = attack.to_vec();
            again.extend_from_slice(b"\r\n.\r\n");
            assert!(matches!(d.feed(&again), Progress::Done { .. }));
        }
    }

    #[test]
    fn terminator_split_across_reads() {
        let mut d = DataDecoder::new(1 << 20);
        assert_eq!(d.feed(b"body\r"), Progress::More);
        assert_eq!(d.feed(b"\n."), Progress::More);
        assert_eq!(d.feed(b"\r"), Progress::More);
        assert_eq!(d.feed(b"\nNOOP\r\n"), Progress::Done { consumed: 1 });
        assert_eq!(d.into_message(), b"body\r\n");
    }

    #[test]
    fn eight_bit_bytes_pass_through() {
        let (m, _) = decode("Grŵp Cymraeg £5\r\n.\r\n".as_bytes());
        assert_eq!(m, "Grŵp Cymraeg £5\r\n".as_bytes());
    }

    #[test]
    fn size_limit_overflows_but_still_finds_the_end() {
        let mut d = DataDecoder::new(10);
        assert_eq!(
            d.feed(b"0123456789abcdef\r\n.\r\n"),
            Progress::Done { consumed: 21 }
        );
        assert!(d.overflowed());
    }
}

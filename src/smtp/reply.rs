//! SMTP replies: a code, an enhanced status code and text.

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub code: u16,
    /// Enhanced status code (RFC 3463), e.g. "5.7.1".
    pub status: &'static str,
    pub text: String,
}

impl Reply {
    pub fn new(code: u16, status: &'static str, text: impl Into<String>) -> Self {
        Reply {
            code,
            status,
            text: text.into(),
        }
    }

    pub fn is_error(&self) -> bool {
        self.code >= 400
    }

    /// Writes the reply, splitting lines as SMTP multi-line replies.
    pub fn write_to(&self, out: &mut Vec<u8>) {
        let lines: Vec<&str> = self.text.lines().collect();
        let n = lines.len().max(1);
        for i in 0..n {
            let sep = if i + 1 == n { ' ' } else { '-' };
            let line = lines.get(i).copied().unwrap_or("");
            // Never let CR or LF from any source break the reply framing.
            let clean: String = line.chars().filter(|c| *c != '\r' && *c != '\n').collect();
            out.extend_from_slice(
                format!("{}{}{} {}\r\n", self.code, sep, self.status, clean).as_bytes(),
            );
        }
    }
}

impl fmt::Display for Reply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} {}", self.code, self.status, self.text)
    }
}

//! Delivery status notifications (RFC 3464): a `multipart/report` sent to
//! the envelope sender when recipients fail permanently or expire.
//!
//! Built by hand: the format is three fixed parts of ASCII text, and
//! writing them directly keeps every field exactly as RFC 3464 names it.

use chrono::{DateTime, Utc};

/// One recipient the report is about.
pub struct Failure<'a> {
    pub recipient: &'a str,
    /// The upstream's reply or our own reason.
    pub diagnostic: &'a str,
    /// The upstream's reply was an SMTP reply (else a local reason).
    pub smtp: bool,
}

fn clean(s: &str) -> String {
    s.chars()
        .map(|c| if c == '\r' || c == '\n' { ' ' } else { c })
        .collect()
}

/// The enhanced status code in a reply (`5.1.1`), or a default.
pub fn status_of(diagnostic: &str, default: &str) -> String {
    diagnostic
        .split_whitespace()
        .find(|w| {
            let parts: Vec<&str> = w.split('.').collect();
            parts.len() == 3
                && matches!(parts[0], "2" | "4" | "5")
                && parts[1..]
                    .iter()
                    .all(|p| !p.is_empty() && p.len() <= 3 && p.bytes().all(|b| b.is_ascii_digit()))
        })
        .map(|w| w.to_string())
        .unwrap_or_else(|| default.to_string())
}

/// The headers of the original, up to the blank line.
fn original_headers(message: &[u8]) -> &[u8] {
    let head = &message[..crate::message::header_section_len(message)];
    // Without the empty line that ends it.
    head.strip_suffix(b"\r\n")
        .filter(|h| h.is_empty() || h.ends_with(b"\r\n"))
        .unwrap_or(head)
}

/// Builds the bounce for `failures` of a message from `sender`.
#[allow(clippy::too_many_arguments)]
pub fn build(
    reporting_host: &str,
    postmaster: &str,
    sender: &str,
    queue_id: &str,
    arrival: DateTime<Utc>,
    failures: &[Failure<'_>],
    original: &[u8],
    now: DateTime<Utc>,
) -> Vec<u8> {
    let boundary = format!("=_councilgate_{:016x}", rand::random::<u64>());
    let mut human = String::new();
    human.push_str(&format!(
        "This is the mail gateway at {}.\r\n\r\nYour message (queue id {queue_id}) could not be delivered to the following\r\nrecipients. The gateway has given up on them.\r\n\r\n",
        clean(reporting_host)
    ));
    for f in failures {
        human.push_str(&format!(
            "  <{}>: {}\r\n",
            clean(f.recipient),
            clean(f.diagnostic)
        ));
    }
    human.push_str("\r\nThe headers of your message are attached.\r\n");

    let mut status = format!(
        "Reporting-MTA: dns; {}\r\nX-Councilgate-Queue-ID: {queue_id}\r\nArrival-Date: {}\r\n",
        clean(reporting_host),
        arrival.to_rfc2822()
    );
    for f in failures {
        let code = status_of(f.diagnostic, "5.0.0");
        // A temporary code in a final report (expiry) becomes permanent.
        let code = match code.strip_prefix('4') {
            Some(rest) => format!("5{rest}"),
            None => code,
        };
        status.push_str(&format!(
            "\r\nFinal-Recipient: rfc822; {}\r\nAction: failed\r\nStatus: {code}\r\nDiagnostic-Code: {}; {}\r\n",
            clean(f.recipient),
            if f.smtp { "smtp" } else { "x-councilgate" },
            clean(f.diagnostic)
        ));
    }

    let mut out = Vec::with_capacity(original.len().min(64 * 1024) + 2048);
    let head = format!(
        "From: Mail Delivery System <{pm}>\r\nTo: <{to}>\r\nSubject: Undelivered Mail Returned to Sender\r\nDate: {date}\r\nMessage-ID: <{qid}.dsn.{rnd:08x}@{host}>\r\nAuto-Submitted: auto-replied\r\nMIME-Version: 1.0\r\nContent-Type: multipart/report; report-type=delivery-status;\r\n boundary=\"{boundary}\"\r\n\r\nThis is a MIME-encapsulated delivery status notification.\r\n\r\n--{boundary}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\nContent-Description: Notification\r\n\r\n{human}\r\n--{boundary}\r\nContent-Type: message/delivery-status\r\nContent-Description: Delivery report\r\n\r\n{status}\r\n--{boundary}\r\nContent-Type: text/rfc822-headers\r\nContent-Description: Undelivered message headers\r\n\r\n",
        pm = clean(postmaster),
        to = clean(sender),
        date = now.to_rfc2822(),
        qid = queue_id,
        rnd = rand::random::<u32>(),
        host = clean(reporting_host),
    );
    out.extend_from_slice(head.as_bytes());
    out.extend_from_slice(original_headers(original));
    out.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_parses_as_multipart_report() {
        let now = Utc::now();
        let dsn = build(
            "gw.example",
            "postmaster@example-tc.gov.uk",
            "a@b.org",
            "abc",
            now,
            &[Failure {
                recipient: "x@y.org",
                diagnostic: "550 5.1.1 no such user",
                smtp: true,
            }],
            b"Subject: hi\r\nFrom: a@b.org\r\n\r\nbody\r\n",
            now,
        );
        use mail_parser::MimeHeaders;
        let msg = mail_parser::MessageParser::default()
            .parse(&dsn)
            .expect("parses");
        let ct = msg.content_type().expect("content type");
        assert_eq!(ct.ctype(), "multipart");
        assert_eq!(ct.subtype(), Some("report"));
        let text = String::from_utf8_lossy(&dsn);
        assert!(text.contains("Status: 5.1.1"));
        assert!(text.contains("Final-Recipient: rfc822; x@y.org"));
        assert!(text.contains("Subject: hi"));
    }

    #[test]
    fn status_codes() {
        assert_eq!(status_of("450 4.2.0 busy", "5.0.0"), "4.2.0");
        assert_eq!(status_of("connection refused", "4.4.1"), "4.4.1");
    }
}

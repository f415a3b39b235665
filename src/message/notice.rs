//! Notices the gateway sends about a message: to its sender when it is
//! redirected or held. Real emails through the gateway's own queue, from
//! the postmaster address, marked `Auto-Submitted: auto-generated`
//! (RFC 3834), sent with the null envelope sender so that nothing can
//! bounce back into a loop, and never sent in reply to automatic mail.

use chrono::Utc;

use crate::message::{encode_word as encode_header, one_line};

/// Whether a message must not be answered automatically: automatic mail
/// itself (RFC 3834 §2), list and bulk mail, or the null sender.
pub fn must_not_answer(mail_from: &str, headers: &[(String, String)]) -> bool {
    if mail_from.trim().is_empty() {
        return true;
    }
    let local = mail_from
        .split('@')
        .next()
        .unwrap_or("")
        .to_ascii_lowercase();
    if matches!(
        local.as_str(),
        "postmaster" | "mailer-daemon" | "noreply" | "no-reply" | "donotreply"
    ) {
        return true;
    }
    headers.iter().any(|(n, v)| {
        let v = v.trim().to_ascii_lowercase();
        (n.eq_ignore_ascii_case("Auto-Submitted") && v != "no")
            || (n.eq_ignore_ascii_case("Precedence")
                && matches!(v.as_str(), "bulk" | "list" | "junk"))
            || n.eq_ignore_ascii_case("List-Id")
            || n.eq_ignore_ascii_case("X-Auto-Response-Suppress")
    })
}

/// A plain-text notice.
pub fn build(
    hostname: &str,
    postmaster: &str,
    council: &str,
    to: &str,
    subject: &str,
    body: &str,
    in_reply_to: Option<&str>,
) -> Vec<u8> {
    let mut m = String::new();
    m.push_str(&format!(
        "From: {} <{}>\r\n",
        encode_header(&format!("{council} mail gateway")),
        one_line(postmaster)
    ));
    m.push_str(&format!("To: <{}>\r\n", one_line(to)));
    m.push_str(&format!("Subject: {}\r\n", encode_header(subject)));
    m.push_str(&format!("Date: {}\r\n", Utc::now().to_rfc2822()));
    m.push_str(&format!(
        "Message-ID: <notice.{:016x}@{}>\r\n",
        rand::random::<u64>(),
        one_line(hostname)
    ));
    if let Some(id) = in_reply_to {
        let id = one_line(id);
        let id = id.trim_start_matches('<').trim_end_matches('>');
        m.push_str(&format!("In-Reply-To: <{id}>\r\nReferences: <{id}>\r\n"));
    }
    m.push_str("Auto-Submitted: auto-generated\r\nX-Auto-Response-Suppress: All\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n");
    for line in body.lines() {
        m.push_str(line.trim_end_matches('\r'));
        m.push_str("\r\n");
    }
    m.into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_header_injection_through_subject() {
        let n = build(
            "gw",
            "postmaster@x.org",
            "Example",
            "a@b.org",
            "Hi\r\nBcc: victim@evil.org",
            "body",
            None,
        );
        let text = String::from_utf8(n).expect("utf8");
        assert!(!text.contains("\r\nBcc:"), "{text}");
        assert!(text.contains("Auto-Submitted: auto-generated"));
    }

    #[test]
    fn automatic_mail_is_never_answered() {
        assert!(must_not_answer("", &[]));
        assert!(must_not_answer(
            "a@b.org",
            &[("Auto-Submitted".into(), "auto-replied".into())]
        ));
        assert!(must_not_answer(
            "a@b.org",
            &[("Precedence".into(), "bulk".into())]
        ));
        assert!(!must_not_answer(
            "a@b.org",
            &[("Auto-Submitted".into(), "no".into())]
        ));
    }
}

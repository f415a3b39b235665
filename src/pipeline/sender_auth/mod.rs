//! Who really sent a message: the pipeline's sender-authentication stage.
//! SPF, DKIM and DMARC of inbound mail and its ARC chain, verified with the
//! mail-auth crate, are returned as a [`SenderAuth`]: whether DMARC passed,
//! the `Authentication-Results` field to stamp on the message, and — when
//! the policy changed the message — the ARC set that seals the change.
//! Signing as mail leaves is [`crate::delivery::sign`].
//!
//! DNS answers come from the system resolver (with a small TTL cache), or,
//! when `sender_auth.dns_zone` names a file, from that file alone: names
//! not in it do not exist. Tests use such a zone; so can a gateway that
//! has no DNS.

mod dns;

use std::borrow::Cow;
use std::path::Path;
use std::time::Duration;

use mail_auth::common::headers::HeaderWriter;
use mail_auth::dmarc::verify::DmarcParameters;
use mail_auth::spf::verify::SpfParameters;
use mail_auth::{
    ArcOutput, AuthenticatedMessage, AuthenticationResults, DkimOutput, DkimResult, DmarcResult,
    MessageAuthenticator, Parameters,
};
use tracing::{info, warn};

pub use dns::{Dns, DnsCache, OneOrMany, ZoneFile};

use crate::delivery::sign::Signer;
use crate::message::envelope::Envelope;
use crate::message::header_section_len;
use crate::settings::SenderAuthSettings;

#[derive(Debug, thiserror::Error)]
pub enum SenderAuthError {
    #[error("{file}: {detail}")]
    File { file: String, detail: String },
    #[error("DNS resolver: {0}")]
    Resolver(String),
}

fn file_err(file: &Path, detail: impl ToString) -> SenderAuthError {
    SenderAuthError::File {
        file: file.display().to_string(),
        detail: detail.to_string(),
    }
}

macro_rules! with_dns {
    ($dns:expr, $params:expr) => {
        Parameters::new($params)
            .with_txt_cache(&$dns.txt)
            .with_mx_cache(&$dns.mx)
            .with_ipv4_cache(&$dns.ipv4)
            .with_ipv6_cache(&$dns.ipv6)
            .with_ptr_cache(&$dns.ptr)
    };
}

/// A message as the checks read it (mail-auth's own parse of the header
/// fields it signs and verifies); `None` inside when the headers do not
/// parse.
pub struct Parsed<'m>(Option<AuthenticatedMessage<'m>>);

impl<'m> Parsed<'m> {
    pub fn new(message: &'m [u8]) -> Parsed<'m> {
        Parsed(AuthenticatedMessage::parse(message))
    }
}

/// What the checks found for one message.
pub struct SenderAuth<'m> {
    /// The `Authentication-Results` value (after the field name).
    header: String,
    /// `None`: timed out, or the headers do not parse.
    checked: Option<Checked<'m>>,
}

impl SenderAuth<'_> {
    /// Whether the From is who it claims (DMARC pass).
    pub fn verified(&self) -> bool {
        self.checked.as_ref().is_some_and(|c| c.dmarc_pass)
    }

    /// `message` with our `Authentication-Results` on top.
    pub fn stamp(&self, message: &[u8]) -> Vec<u8> {
        let mut full = Vec::with_capacity(message.len() + self.header.len() + 30);
        full.extend_from_slice(b"Authentication-Results: ");
        full.extend_from_slice(self.header.as_bytes());
        full.extend_from_slice(b"\r\n");
        full.extend_from_slice(message);
        full
    }

    /// An ARC set sealing `changed` (the message as the policy rewrote
    /// it) on top of it, so the next hop can trust what we verified before
    /// we changed it; `None` when there is no sealer, nothing was verified,
    /// or the chain is broken (cv=fail cannot be sealed).
    pub fn seal(&self, signer: &Signer, changed: &[u8]) -> Option<Vec<u8>> {
        let (c, sealer) = (self.checked.as_ref()?, signer.arc()?);
        let parsed = AuthenticatedMessage::parse(changed)?;
        match sealer.seal(&parsed, &c.results, &c.arc) {
            Ok(set) => {
                let mut sealed = set.to_header().into_bytes();
                sealed.extend_from_slice(changed);
                Some(sealed)
            }
            Err(e) => {
                info!(error = %e, "message not ARC-sealed");
                None
            }
        }
    }
}

/// All four checks, with the results in one `Authentication-Results`.
struct Checked<'x> {
    results: AuthenticationResults<'x>,
    arc: ArcOutput<'x>,
    dmarc_pass: bool,
    summary: String,
}

pub struct Verifier {
    authenticator: MessageAuthenticator,
    dns: Dns,
    hostname: String,
    timeout: Duration,
}

impl Verifier {
    pub fn new(
        settings: &SenderAuthSettings,
        hostname: &str,
        config_dir: &Path,
    ) -> Result<Verifier, SenderAuthError> {
        let dns = if settings.dns_zone.trim().is_empty() {
            Dns::live()
        } else {
            let path = config_dir.join(settings.dns_zone.trim());
            Dns::load_zone(&path)?
        };
        let authenticator = match MessageAuthenticator::new_system_conf() {
            Ok(a) => a,
            // No resolv.conf: a resolver that will not find anything is
            // still better than no checks (every claim stays unverified).
            Err(e) => {
                warn!(error = %e, "no system DNS configuration; using Cloudflare's resolver");
                MessageAuthenticator::new_cloudflare()
                    .map_err(|e| SenderAuthError::Resolver(e.to_string()))?
            }
        };
        Ok(Verifier {
            authenticator,
            dns,
            hostname: hostname.to_string(),
            timeout: Duration::from_secs(settings.dns_timeout_secs),
        })
    }

    async fn check<'x>(
        &'x self,
        envelope: &Envelope,
        message: &'x AuthenticatedMessage<'x>,
    ) -> Checked<'x> {
        let auth = &self.authenticator;
        let dns = &self.dns;
        let dkim: Vec<DkimOutput<'x>> = auth.verify_dkim(with_dns!(dns, message)).await;
        let dkim = &dkim;
        let arc = auth.verify_arc(with_dns!(dns, message)).await;
        let helo = envelope.helo.as_str();
        let spf = if envelope.mail_from.is_empty() {
            auth.verify_spf(with_dns!(
                dns,
                SpfParameters::verify_ehlo(envelope.peer, helo, &self.hostname)
            ))
            .await
        } else {
            auth.verify_spf(with_dns!(
                dns,
                SpfParameters::verify_mail_from(
                    envelope.peer,
                    helo,
                    &self.hostname,
                    &envelope.mail_from
                )
            ))
            .await
        };
        let mail_from_domain = match envelope.mail_from.rsplit_once('@') {
            Some((_, d)) => d,
            None => helo,
        };
        let dmarc = auth
            .verify_dmarc(with_dns!(
                dns,
                DmarcParameters::new(message, dkim, mail_from_domain, &spf)
            ))
            .await;
        let dmarc_pass =
            *dmarc.spf_result() == DmarcResult::Pass || *dmarc.dkim_result() == DmarcResult::Pass;
        let from = message.from.first().map(|s| s.as_str()).unwrap_or("");
        let results = AuthenticationResults::new(&self.hostname)
            .with_dkim_results(dkim, from)
            .with_spf_mailfrom_result(&spf, envelope.peer, &envelope.mail_from, helo)
            .with_arc_result(&arc, envelope.peer)
            .with_dmarc_result(&dmarc);
        let dkim_words = if dkim.is_empty() {
            "none".to_string()
        } else {
            dkim.iter()
                .map(|d| dkim_word(d.result()))
                .collect::<Vec<_>>()
                .join(",")
        };
        let summary = format!(
            "dmarc={} (From domain {}), spf={:?}, dkim={dkim_words}",
            if dmarc_pass { "pass" } else { "fail" },
            if dmarc.domain().is_empty() {
                "unknown"
            } else {
                dmarc.domain()
            },
            spf.result(),
        )
        .to_lowercase();
        Checked {
            results,
            arc,
            dmarc_pass,
            summary,
        }
    }

    /// Checks SPF, DKIM, DMARC and the ARC chain of one inbound message.
    /// Past the time limit, or for a message whose headers do not parse,
    /// the sender is unverified (`dmarc=temperror` or `none`).
    pub async fn verify<'m>(
        &'m self,
        envelope: &Envelope,
        message: &'m Parsed<'m>,
    ) -> SenderAuth<'m> {
        let checked = match &message.0 {
            Some(p) => tokio::time::timeout(self.timeout, self.check(envelope, p))
                .await
                .ok(),
            None => None,
        };
        let header = match (&checked, &message.0) {
            (Some(c), _) => {
                crate::metrics::sender_auth(if c.dmarc_pass { "pass" } else { "fail" });
                info!(sender_auth = %c.summary, "sender authentication");
                c.results.to_string()
            }
            (None, Some(_)) => {
                crate::metrics::sender_auth("temperror");
                warn!(
                    secs = self.timeout.as_secs(),
                    "sender authentication timed out"
                );
                format!(
                    "{}; dmarc=temperror (DNS did not answer in time)",
                    self.hostname
                )
            }
            (None, None) => format!("{}; none (message headers do not parse)", self.hostname),
        };
        SenderAuth { header, checked }
    }

    /// The DKIM results (`pass d=DOMAIN`, one per signature) and the ARC
    /// chain result of a message: what a receiver checking our signatures
    /// would conclude.
    pub async fn signatures(&self, message: &[u8]) -> (Vec<String>, String) {
        let Some(parsed) = AuthenticatedMessage::parse(message) else {
            return (Vec::new(), "none".into());
        };
        let dns = &self.dns;
        let dkim = self
            .authenticator
            .verify_dkim(with_dns!(dns, &parsed))
            .await;
        let arc = self.authenticator.verify_arc(with_dns!(dns, &parsed)).await;
        let dkim = dkim
            .iter()
            .map(|d| {
                let domain = d.signature().map(|s| s.d.as_str()).unwrap_or("?");
                format!("{} d={domain}", dkim_word(d.result()))
            })
            .collect();
        (dkim, dkim_word(arc.result()).to_string())
    }
}

fn dkim_word(r: &DkimResult) -> &'static str {
    match r {
        DkimResult::Pass => "pass",
        DkimResult::Neutral(_) => "neutral",
        DkimResult::Fail(_) => "fail",
        DkimResult::PermError(_) => "permerror",
        DkimResult::TempError(_) => "temperror",
        DkimResult::None => "none",
    }
}

/// Removes `Authentication-Results` fields that claim to be ours
/// (authserv-id `hostname`): only we may say what we verified (RFC 8601
/// §5). Other fields and the body are kept byte for byte.
pub fn strip_forged_results<'m>(message: &'m [u8], hostname: &str) -> Cow<'m, [u8]> {
    let header_end = header_section_len(message);
    // Nearly every message has none: no copy then.
    let forged = message[..header_end]
        .split(|&b| b == b'\n')
        .any(|line| is_our_results(line, hostname));
    if !forged {
        return Cow::Borrowed(message);
    }
    let mut out = Vec::with_capacity(message.len());
    let mut skipping = false;
    let mut pos = 0;
    while pos < header_end {
        let end = message[pos..header_end]
            .iter()
            .position(|&b| b == b'\n')
            .map_or(header_end, |i| pos + i + 1);
        let line = &message[pos..end];
        let continuation = line.first().is_some_and(|b| *b == b' ' || *b == b'\t');
        if !continuation {
            skipping = is_our_results(line, hostname);
        }
        if !skipping {
            out.extend_from_slice(line);
        }
        pos = end;
    }
    out.extend_from_slice(&message[header_end..]);
    Cow::Owned(out)
}

fn is_our_results(line: &[u8], hostname: &str) -> bool {
    const NAME: &[u8] = b"authentication-results:";
    if line.len() < NAME.len() || !line[..NAME.len()].eq_ignore_ascii_case(NAME) {
        return false;
    }
    let value = String::from_utf8_lossy(&line[NAME.len()..]);
    let id = value
        .trim_start()
        .split([';', ' ', '\t', '\r', '\n'])
        .next()
        .unwrap_or("");
    id.eq_ignore_ascii_case(hostname)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forged_results_with_our_name_are_removed_and_others_kept() {
        let msg = b"Authentication-Results: gw.test; dkim=pass\r\n\theader.d=example-tc.gov.uk\r\nAuthentication-Results: mx.google.com; spf=pass\r\nSubject: hi\r\n\r\nAuthentication-Results: gw.test; in the body\r\n";
        let out = strip_forged_results(msg, "gw.test");
        let text = String::from_utf8(out.to_vec()).expect("utf8");
        let clean = b"Subject: hi\r\n\r\nbody\r\n";
        assert!(matches!(
            strip_forged_results(clean, "gw.test"),
            Cow::Borrowed(_)
        ));
        assert!(
            !text.starts_with("Authentication-Results: gw.test"),
            "{text}"
        );
        assert!(!text.contains("header.d=example-tc"), "{text}");
        assert!(text.contains("mx.google.com; spf=pass"), "{text}");
        assert!(text.contains("Subject: hi"), "{text}");
        assert!(text.contains("gw.test; in the body"), "body untouched");
    }
}

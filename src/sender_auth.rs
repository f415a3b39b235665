//! Who really sent a message: SPF, DKIM and DMARC on inbound mail
//! (verified with the mail-auth crate), `Authentication-Results`, and on
//! the way out DKIM signatures for the council's domains and ARC sets for
//! inbound mail the gateway changed.
//!
//! DNS answers come from the system resolver (with a small TTL cache), or,
//! when `sender_auth.dns_zone` names a file, from that file alone: names
//! not in it do not exist. Tests use such a zone; so can a gateway that
//! has no DNS.

use std::borrow::{Borrow, Cow};
use std::collections::HashMap;
use std::hash::Hash;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::Path;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use mail_auth::common::crypto::{RsaKey, Sha256};
use mail_auth::common::headers::HeaderWriter;
use mail_auth::common::parse::TxtRecordParser;
use mail_auth::common::verify::DomainKey;
use mail_auth::dkim::Done;
use mail_auth::dmarc::Dmarc;
use mail_auth::dmarc::verify::DmarcParameters;
use mail_auth::hickory_resolver::proto::op::ResponseCode;
use mail_auth::spf::Spf;
use mail_auth::spf::verify::SpfParameters;
use mail_auth::{
    ArcOutput, AuthenticatedMessage, AuthenticationResults, DkimOutput, DkimResult, DmarcResult,
    MX, MessageAuthenticator, Parameters, RecordSet, ResolverCache, Txt,
};
use serde::Deserialize;
use tracing::{info, warn};

use crate::envelope::Envelope;
use crate::policy::Verdict;
use crate::settings::{DkimSettings, SenderAuthSettings};

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

// ------------------------------------------------------------------ DNS

/// A DNS zone file: names to answers, by record type.
///
/// ```toml
/// [txt]
/// "example.org" = "v=spf1 ip4:192.0.2.1 -all"
/// "_dmarc.example.org" = "v=DMARC1; p=reject"
/// "sel._domainkey.example.org" = ["v=DKIM1; k=rsa; p=MIIB…"]
/// [a]
/// "mail.example.org" = ["192.0.2.1"]
/// [mx]
/// "example.org" = ["10 mail.example.org"]
/// ```
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ZoneFile {
    #[serde(default)]
    pub txt: HashMap<String, OneOrMany>,
    #[serde(default)]
    pub a: HashMap<String, Vec<Ipv4Addr>>,
    #[serde(default)]
    pub aaaa: HashMap<String, Vec<Ipv6Addr>>,
    #[serde(default)]
    pub mx: HashMap<String, Vec<String>>,
    #[serde(default)]
    pub ptr: HashMap<IpAddr, Vec<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

fn fqdn(name: &str) -> Box<str> {
    let mut n = name.trim().to_ascii_lowercase();
    if !n.ends_with('.') {
        n.push('.');
    }
    n.into_boxed_str()
}

fn not_found() -> mail_auth::Error {
    mail_auth::Error::Dns(mail_auth::DnsError::RecordNotFound(ResponseCode::NXDomain))
}

/// Parses a TXT answer as the record its name says it is.
fn parse_txt(name: &str, records: &[String]) -> Txt {
    let mut result = Txt::Error(not_found());
    for r in records {
        let bytes = r.as_bytes();
        let parsed: Result<Txt, mail_auth::Error> = if name.contains("._domainkey.") {
            DomainKey::parse(bytes).map(Txt::from)
        } else if name.starts_with("_dmarc.") {
            Dmarc::parse(bytes).map(Txt::from)
        } else {
            Spf::parse(bytes).map(Txt::from)
        };
        match parsed {
            Ok(t) => return t,
            Err(e) => result = Txt::Error(e),
        }
    }
    result
}

/// Answers for one record type: fixed (a zone file, where a missing name
/// is "no such name") or a cache of the resolver's answers until their TTL.
pub struct DnsCache<K, V> {
    zone: Option<(HashMap<K, V>, V)>,
    live: Mutex<HashMap<K, (V, Instant)>>,
}

impl<K: Hash + Eq, V: Clone> DnsCache<K, V> {
    fn live() -> Self {
        DnsCache {
            zone: None,
            live: Mutex::new(HashMap::new()),
        }
    }

    fn fixed(map: HashMap<K, V>, missing: V) -> Self {
        DnsCache {
            zone: Some((map, missing)),
            live: Mutex::new(HashMap::new()),
        }
    }
}

impl<K: Hash + Eq, V: Clone> ResolverCache<K, V> for DnsCache<K, V> {
    fn get<Q>(&self, name: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        if let Some((map, missing)) = &self.zone {
            return Some(map.get(name).cloned().unwrap_or_else(|| missing.clone()));
        }
        let live = self.live.lock().unwrap_or_else(|e| e.into_inner());
        live.get(name)
            .filter(|(_, until)| *until > Instant::now())
            .map(|(v, _)| v.clone())
    }

    fn remove<Q>(&self, name: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let mut live = self.live.lock().unwrap_or_else(|e| e.into_inner());
        live.remove(name).map(|(v, _)| v)
    }

    fn insert(&self, key: K, value: V, valid_until: Instant) {
        if self.zone.is_some() {
            return;
        }
        let mut live = self.live.lock().unwrap_or_else(|e| e.into_inner());
        // Bounded: a flood of distinct names cannot grow it without end.
        if live.len() >= 50_000 {
            let now = Instant::now();
            live.retain(|_, (_, until)| *until > now);
            if live.len() >= 50_000 {
                live.clear();
            }
        }
        live.insert(key, (value, valid_until));
    }
}

fn record_set<T>(items: Vec<T>) -> RecordSet<T> {
    RecordSet {
        rrset: items.into(),
        dnssec_status: mail_auth::DnssecStatus::Indeterminate,
    }
}

/// A zone's A or AAAA answers; a name not in it has no address.
fn addresses<T: Clone>(records: HashMap<String, Vec<T>>) -> DnsCache<Box<str>, RecordSet<T>> {
    DnsCache::fixed(
        records
            .into_iter()
            .map(|(n, v)| (fqdn(&n), record_set(v)))
            .collect(),
        record_set(Vec::new()),
    )
}

/// The five caches the checks consult.
pub struct Dns {
    txt: DnsCache<Box<str>, Txt>,
    mx: DnsCache<Box<str>, RecordSet<MX>>,
    ipv4: DnsCache<Box<str>, RecordSet<Ipv4Addr>>,
    ipv6: DnsCache<Box<str>, RecordSet<Ipv6Addr>>,
    ptr: DnsCache<IpAddr, RecordSet<Box<str>>>,
}

impl Dns {
    pub fn live() -> Dns {
        Dns {
            txt: DnsCache::live(),
            mx: DnsCache::live(),
            ipv4: DnsCache::live(),
            ipv6: DnsCache::live(),
            ptr: DnsCache::live(),
        }
    }

    pub fn from_zone(zone: ZoneFile) -> Dns {
        let txt = zone
            .txt
            .into_iter()
            .map(|(name, v)| {
                let records = match v {
                    OneOrMany::One(s) => vec![s],
                    OneOrMany::Many(v) => v,
                };
                let key = fqdn(&name);
                let parsed = parse_txt(&key, &records);
                (key, parsed)
            })
            .collect();
        let mx = zone
            .mx
            .into_iter()
            .map(|(name, v)| {
                let items = v
                    .iter()
                    .filter_map(|e| {
                        let (pref, host) = e.trim().split_once(' ')?;
                        Some(MX {
                            exchanges: vec![fqdn(host)].into_boxed_slice(),
                            preference: pref.parse().ok()?,
                        })
                    })
                    .collect();
                (fqdn(&name), record_set(items))
            })
            .collect();
        Dns {
            txt: DnsCache::fixed(txt, Txt::Error(not_found())),
            mx: DnsCache::fixed(mx, record_set(Vec::new())),
            ipv4: addresses(zone.a),
            ipv6: addresses(zone.aaaa),
            ptr: DnsCache::fixed(
                zone.ptr
                    .into_iter()
                    .map(|(ip, v)| (ip, record_set(v.iter().map(|h| fqdn(h)).collect())))
                    .collect(),
                record_set(Vec::new()),
            ),
        }
    }

    pub fn load_zone(path: &Path) -> Result<Dns, SenderAuthError> {
        let text = std::fs::read_to_string(path).map_err(|e| file_err(path, e))?;
        let zone: ZoneFile = toml::from_str(&text).map_err(|e| file_err(path, e))?;
        Ok(Dns::from_zone(zone))
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

// ------------------------------------------------------------ verifying

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
        dkim: &'x mut Vec<DkimOutput<'x>>,
    ) -> Checked<'x> {
        let auth = &self.authenticator;
        let dns = &self.dns;
        *dkim = auth.verify_dkim(with_dns!(dns, message)).await;
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

    /// Checks SPF, DKIM, DMARC and ARC of an inbound `message` once, then:
    /// marks `envelope.sender_verified` (DMARC pass), puts our
    /// `Authentication-Results` on top, lets `judge` decide on that message,
    /// and — when its verdict changed the message — seals the change with an
    /// ARC set made from the same checks. Past the time limit, or for a
    /// message whose headers do not parse, the sender is unverified.
    pub async fn judge(
        &self,
        signer: &Signer,
        envelope: &mut Envelope,
        message: &[u8],
        judge: impl FnOnce(&Envelope, &[u8]) -> Verdict,
    ) -> (Vec<u8>, Verdict) {
        let parsed = AuthenticatedMessage::parse(message);
        let mut dkim = Vec::new();
        let checked = match &parsed {
            Some(p) => tokio::time::timeout(self.timeout, self.check(envelope, p, &mut dkim))
                .await
                .ok(),
            None => None,
        };
        let results = match (&checked, &parsed) {
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
        envelope.sender_verified = checked.as_ref().is_some_and(|c| c.dmarc_pass);
        let mut full = format!("Authentication-Results: {results}\r\n").into_bytes();
        full.extend_from_slice(message);
        let mut verdict = judge(envelope, &full);
        // A changed message gets an ARC set, so the next hop can trust what
        // we verified before we changed it.
        if let (Some(c), Some(sealer), Some(changed)) =
            (&checked, &signer.arc, verdict.message.as_ref())
            && let Some(changed_parsed) = AuthenticatedMessage::parse(changed)
        {
            match sealer.seal(&changed_parsed, &c.results, &c.arc) {
                Ok(set) => {
                    let mut sealed = set.to_header().into_bytes();
                    sealed.extend_from_slice(changed);
                    verdict.message = Some(sealed);
                }
                // cv=fail: a broken chain cannot be sealed.
                Err(e) => info!(error = %e, "message not ARC-sealed"),
            }
        }
        (full, verdict)
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
    let header_end = crate::smtp::data::header_section_len(message);
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

// --------------------------------------------------------------- signing

type DkimSigner = mail_auth::dkim::DkimSigner<RsaKey<Sha256>, Done>;
type ArcSealer = mail_auth::arc::ArcSealer<RsaKey<Sha256>, Done>;

/// The headers a gateway signature covers (those present are signed).
const SIGNED: [&str; 14] = [
    "From",
    "Sender",
    "Reply-To",
    "To",
    "Cc",
    "Subject",
    "Date",
    "Message-ID",
    "In-Reply-To",
    "References",
    "MIME-Version",
    "Content-Type",
    "Content-Transfer-Encoding",
    "X-Council-Protocol",
];

/// DKIM keys per domain, and the ARC sealer.
#[derive(Default)]
pub struct Signer {
    keys: Vec<(String, DkimSigner)>,
    arc: Option<ArcSealer>,
}

fn load_key(path: &Path) -> Result<RsaKey<Sha256>, SenderAuthError> {
    use rustls::pki_types::PrivateKeyDer;
    use rustls::pki_types::pem::PemObject;
    let der = PrivateKeyDer::from_pem_file(path).map_err(|e| file_err(path, e))?;
    RsaKey::<Sha256>::from_key_der(der)
        .map_err(|e| file_err(path, format!("not an RSA private key: {e}")))
}

impl Signer {
    /// Loads every configured key (relative paths from the config folder).
    pub fn load(settings: &DkimSettings, config_dir: &Path) -> Result<Signer, SenderAuthError> {
        let mut signer = Signer::default();
        let arc_domain = if settings.arc_domain.trim().is_empty() {
            settings.keys.first().map(|k| k.domain.trim().to_string())
        } else {
            Some(settings.arc_domain.trim().to_string())
        };
        for k in &settings.keys {
            let path = config_dir.join(k.key.trim());
            let domain = k.domain.trim().to_ascii_lowercase();
            let dkim = mail_auth::dkim::DkimSigner::from_key(load_key(&path)?)
                .domain(domain.clone())
                .selector(k.selector.trim())
                .headers(SIGNED);
            if arc_domain
                .as_deref()
                .is_some_and(|d| d.eq_ignore_ascii_case(&domain))
                && signer.arc.is_none()
            {
                signer.arc = Some(
                    mail_auth::arc::ArcSealer::from_key(load_key(&path)?)
                        .domain(domain.clone())
                        .selector(k.selector.trim())
                        .headers(SIGNED),
                );
            }
            signer.keys.push((domain, dkim));
        }
        if let Some(d) = arc_domain
            && signer.arc.is_none()
            && !settings.keys.is_empty()
        {
            return Err(SenderAuthError::File {
                file: "councilgate.toml".into(),
                detail: format!("dkim.arc_domain = {d:?} has no key in dkim.keys"),
            });
        }
        Ok(signer)
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// A `DKIM-Signature` field for `message` when its From domain has a
    /// key; `None` otherwise.
    pub fn sign(&self, message: &[u8]) -> Option<Vec<u8>> {
        if self.keys.is_empty() {
            return None;
        }
        let parsed = mail_parser::MessageParser::default().parse_headers(message)?;
        let from = parsed.from()?.first()?.address()?.to_ascii_lowercase();
        let domain = crate::policy::directory::domain_of(&from);
        let (_, signer) = self.keys.iter().find(|(d, _)| d == domain)?;
        match signer.sign(message) {
            Ok(sig) => Some(sig.to_header().into_bytes()),
            Err(e) => {
                warn!(error = %e, %domain, "cannot DKIM-sign the message");
                None
            }
        }
    }
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

    #[test]
    fn zone_answers_and_unknown_names_do_not_exist() {
        let zone: ZoneFile = toml::from_str(
            "[txt]\n\"example.org\" = \"v=spf1 ip4:192.0.2.1 -all\"\n\"_dmarc.example.org\" = \"v=DMARC1; p=reject\"\n[a]\n\"mail.example.org\" = [\"192.0.2.1\"]\n",
        )
        .expect("zone");
        let dns = Dns::from_zone(zone);
        assert!(matches!(dns.txt.get("example.org."), Some(Txt::Spf(_))));
        assert!(matches!(
            dns.txt.get("_dmarc.example.org."),
            Some(Txt::Dmarc(_))
        ));
        assert!(matches!(
            dns.txt.get("nowhere.example."),
            Some(Txt::Error(_))
        ));
        assert_eq!(
            dns.ipv4.get("mail.example.org.").map(|r| r.rrset.len()),
            Some(1)
        );
        assert_eq!(
            dns.ipv4.get("other.example.org.").map(|r| r.rrset.len()),
            Some(0)
        );
    }
}

//! DNS answers for the checks: the system resolver with a small TTL cache,
//! or a zone file whose missing names do not exist.

use std::borrow::Borrow;
use std::collections::HashMap;
use std::hash::Hash;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::Path;
use std::sync::Mutex;
use std::time::Instant;

use mail_auth::common::parse::TxtRecordParser;
use mail_auth::common::verify::DomainKey;
use mail_auth::dmarc::Dmarc;
use mail_auth::hickory_resolver::proto::op::ResponseCode;
use mail_auth::spf::Spf;
use mail_auth::{MX, RecordSet, ResolverCache, Txt};
use serde::Deserialize;

use super::{SenderAuthError, file_err};

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
    pub(super) txt: DnsCache<Box<str>, Txt>,
    pub(super) mx: DnsCache<Box<str>, RecordSet<MX>>,
    pub(super) ipv4: DnsCache<Box<str>, RecordSet<Ipv4Addr>>,
    pub(super) ipv6: DnsCache<Box<str>, RecordSet<Ipv6Addr>>,
    pub(super) ptr: DnsCache<IpAddr, RecordSet<Box<str>>>,
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

#[cfg(test)]
mod tests {
    use super::*;

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

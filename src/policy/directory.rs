//! The council directory: `directory.toml` — the council's domains, its
//! people with their roles and positions, exemptions and election periods.
//!
//! Loaded once into an immutable [`Directory`] with lower-cased lookup maps;
//! every address comparison is case-insensitive.

use std::collections::HashMap;

use chrono::NaiveDate;
use serde::Deserialize;

pub const DIRECTORY_FILE: &str = "directory.toml";

#[derive(Debug, thiserror::Error)]
#[error("{file}: {detail}")]
pub struct DirectoryError {
    pub file: String,
    pub detail: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Councillor,
    Officer,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Councillor => "councillor",
            Role::Officer => "officer",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Position {
    Chair,
    ViceChair,
    CommitteeChair,
    ProperOfficer,
    DeputyProperOfficer,
    Senior,
    Rfo,
}

impl Position {
    pub fn as_str(self) -> &'static str {
        match self {
            Position::Chair => "chair",
            Position::ViceChair => "vice-chair",
            Position::CommitteeChair => "committee-chair",
            Position::ProperOfficer => "proper-officer",
            Position::DeputyProperOfficer => "deputy-proper-officer",
            Position::Senior => "senior",
            Position::Rfo => "rfo",
        }
    }

    fn for_councillor(self) -> bool {
        matches!(
            self,
            Position::Chair | Position::ViceChair | Position::CommitteeChair
        )
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDirectory {
    council: RawCouncil,
    #[serde(default)]
    people: Vec<Person>,
    #[serde(default)]
    exemptions: Vec<RawExemption>,
    #[serde(default)]
    periods: Vec<RawPeriod>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCouncil {
    name: String,
    domains: Vec<String>,
    #[serde(default)]
    media_domains: Vec<String>,
    #[serde(default)]
    mailboxes: Vec<String>,
    #[serde(default)]
    unknown_recipients: UnknownRecipients,
}

/// What the gateway does at RCPT with an address at a council domain that
/// is neither a person's nor a listed mailbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum UnknownRecipients {
    /// `550 5.1.1`: no backscatter, no help to a dictionary attack.
    #[default]
    Refuse,
    /// Accept it (a directory that does not list every mailbox); the next
    /// hop decides.
    Accept,
    /// Ask the council's mail host (the route for the domain) with an RCPT
    /// probe, and remember its answer: `550 5.1.1` for a mailbox it
    /// refuses, `450` when it cannot be asked.
    Verify,
}

#[derive(Debug, Clone, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct Person {
    pub name: String,
    pub role: Role,
    pub addresses: Vec<String>,
    #[serde(default)]
    pub positions: Vec<Position>,
    #[serde(default)]
    pub manager: Option<String>,
}

impl Person {
    pub fn has(&self, p: Position) -> bool {
        self.positions.contains(&p)
    }
    pub fn is_councillor(&self) -> bool {
        self.role == Role::Councillor
    }
    pub fn is_officer(&self) -> bool {
        self.role == Role::Officer
    }
    /// An officer with none of proper-officer, deputy-proper-officer, senior.
    pub fn is_junior_officer(&self) -> bool {
        self.is_officer()
            && !self.has(Position::ProperOfficer)
            && !self.has(Position::DeputyProperOfficer)
            && !self.has(Position::Senior)
    }
    /// Copies and redirects go to the first listed address.
    pub fn primary_address(&self) -> &str {
        self.addresses.first().map(String::as_str).unwrap_or("")
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawExemption {
    councillor: String,
    officer: String,
    matter: String,
    until: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPeriod {
    name: String,
    kind: String,
    start: String,
    end: String,
}

/// Direct contact agreed by the Proper Officer for one councillor–officer pair.
#[derive(Debug, Clone)]
pub struct Exemption {
    pub councillor: PersonId,
    pub officer: PersonId,
    /// Lower case; matched in the decoded subject.
    pub matter: String,
    /// Inclusive, UK local date.
    pub until: NaiveDate,
}

#[derive(Debug, Clone)]
pub struct Period {
    pub name: String,
    pub kind: String,
    pub start: NaiveDate,
    pub end: NaiveDate,
}

pub type PersonId = usize;

/// Who an address belongs to, as far as the protocol is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Party {
    /// A person in the directory (any of their addresses, webmail included).
    Person(PersonId),
    /// A council-domain address not in the directory (bookings@, info@).
    CouncilMailbox,
    /// Press and broadcasters.
    Media,
    /// Anyone else.
    External,
}

#[derive(Debug, Clone)]
pub struct Directory {
    pub council_name: String,
    pub domains: Vec<String>,
    pub media_domains: Vec<String>,
    /// Council mailboxes that are not people (info@, bookings@).
    pub mailboxes: Vec<String>,
    pub unknown_recipients: UnknownRecipients,
    pub people: Vec<Person>,
    pub exemptions: Vec<Exemption>,
    pub periods: Vec<Period>,
    by_address: HashMap<String, PersonId>,
    proper_officer: PersonId,
}

/// The domain part of an address, lower case.
pub fn domain_of(address: &str) -> &str {
    address.rsplit_once('@').map(|(_, d)| d).unwrap_or("")
}

/// `*` matches everything, `*.x.org` matches sub-domains of x.org, anything else is exact.
pub fn domain_matches(pattern: &str, domain: &str) -> bool {
    let pattern = pattern.trim();
    if pattern == "*" {
        return true;
    }
    if let Some(suffix) = pattern.strip_prefix("*.") {
        return domain.len() > suffix.len()
            && domain[..domain.len() - suffix.len()].ends_with('.')
            && domain[domain.len() - suffix.len()..].eq_ignore_ascii_case(suffix);
    }
    pattern.eq_ignore_ascii_case(domain)
}

fn domain_in(domain: &str, list: &[String]) -> bool {
    list.iter().any(|d| {
        domain.eq_ignore_ascii_case(d)
            || (domain.len() > d.len()
                && domain.as_bytes()[domain.len() - d.len() - 1] == b'.'
                && domain[domain.len() - d.len()..].eq_ignore_ascii_case(d))
    })
}

impl Directory {
    pub fn parse(text: &str, file: &str) -> Result<Self, DirectoryError> {
        let err = |detail: String| DirectoryError {
            file: file.to_string(),
            detail,
        };
        let raw: RawDirectory = toml::from_str(text).map_err(|e| err(e.to_string()))?;
        let lower = |v: Vec<String>| -> Vec<String> {
            v.into_iter()
                .map(|d| d.trim().trim_end_matches('.').to_ascii_lowercase())
                .collect()
        };
        let domains = lower(raw.council.domains);
        if domains.is_empty() || domains.iter().any(|d| d.is_empty() || d.contains('@')) {
            return Err(err(
                "council.domains: expected at least one domain such as \"example-tc.gov.uk\""
                    .into(),
            ));
        }
        let media_domains = lower(raw.council.media_domains);
        let mailboxes = lower(raw.council.mailboxes);
        for m in &mailboxes {
            if !m.contains('@') || !domain_in(domain_of(m), &domains) {
                return Err(err(format!(
                    "council.mailboxes: {m:?} is not an address at one of the council's domains ({})",
                    domains.join(", ")
                )));
            }
        }
        let mut by_address = HashMap::new();
        let mut people = raw.people;
        for (id, person) in people.iter_mut().enumerate() {
            let at = format!("people[{id}] ({})", person.name);
            if person.name.trim().is_empty() {
                return Err(err(format!("people[{id}].name: expected a name")));
            }
            if person.addresses.is_empty() {
                return Err(err(format!(
                    "{at}.addresses: expected at least one address"
                )));
            }
            for a in person.addresses.iter_mut() {
                *a = a.trim().to_string();
                if !a.contains('@') || a.starts_with('@') || a.ends_with('@') {
                    return Err(err(format!(
                        "{at}.addresses: {a:?} is not an email address"
                    )));
                }
                if let Some(prev) = by_address.insert(a.to_lowercase(), id) {
                    return Err(err(format!(
                        "{at}.addresses: {a} is also listed for {}; an address belongs to one person",
                        people_name(prev)
                    )));
                }
            }
            for p in &person.positions {
                let fits = match person.role {
                    Role::Councillor => p.for_councillor(),
                    Role::Officer => !p.for_councillor(),
                };
                if !fits {
                    return Err(err(format!(
                        "{at}.positions: {} is not a position a {} can hold",
                        p.as_str(),
                        person.role.as_str()
                    )));
                }
            }
            if person.role == Role::Councillor && person.manager.is_some() {
                return Err(err(format!("{at}.manager: only officers have a manager")));
            }
        }
        // Names for messages above need the people list; re-check duplicates with names.
        fn people_name(id: usize) -> String {
            format!("people[{id}]")
        }
        for (id, person) in people.iter().enumerate() {
            if let Some(m) = &person.manager {
                match by_address.get(&m.trim().to_lowercase()) {
                    Some(&mid) if mid == id => {
                        return Err(err(format!(
                            "people[{id}] ({}).manager: an officer cannot manage themself",
                            person.name
                        )));
                    }
                    Some(_) => {}
                    None => {
                        return Err(err(format!(
                            "people[{id}] ({}).manager: {m} is not the address of anyone in the directory",
                            person.name
                        )));
                    }
                }
            }
        }
        let proper: Vec<_> = people
            .iter()
            .enumerate()
            .filter(|(_, p)| p.has(Position::ProperOfficer))
            .map(|(i, _)| i)
            .collect();
        let proper_officer = match proper.as_slice() {
            [one] => *one,
            [] => {
                return Err(err(
                    "people: expected exactly one officer with position \"proper-officer\" (the Clerk), found none".into(),
                ));
            }
            many => {
                return Err(err(format!(
                    "people: expected exactly one \"proper-officer\", found {}: {}",
                    many.len(),
                    many.iter()
                        .map(|&i| people[i].name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                )));
            }
        };
        let date = |what: String, s: &str| {
            NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d")
                .map_err(|e| err(format!("{what}: {s:?} is not a date like 2027-06-30 ({e})")))
        };
        let mut exemptions = Vec::new();
        for (i, e) in raw.exemptions.into_iter().enumerate() {
            let at = format!("exemptions[{i}]");
            let councillor = match by_address.get(&e.councillor.trim().to_lowercase()) {
                Some(&c) if people[c].is_councillor() => c,
                _ => {
                    return Err(err(format!(
                        "{at}.councillor: {} is not a councillor in the directory",
                        e.councillor
                    )));
                }
            };
            let officer = match by_address.get(&e.officer.trim().to_lowercase()) {
                Some(&o) if people[o].is_officer() => o,
                _ => {
                    return Err(err(format!(
                        "{at}.officer: {} is not an officer in the directory",
                        e.officer
                    )));
                }
            };
            if e.matter.trim().is_empty() {
                return Err(err(format!("{at}.matter: expected a word for the subject")));
            }
            exemptions.push(Exemption {
                councillor,
                officer,
                matter: e.matter.trim().to_lowercase(),
                until: date(format!("{at}.until"), &e.until)?,
            });
        }
        let mut periods = Vec::new();
        for (i, p) in raw.periods.into_iter().enumerate() {
            let at = format!("periods[{i}]");
            let start = date(format!("{at}.start"), &p.start)?;
            let end = date(format!("{at}.end"), &p.end)?;
            if end < start {
                return Err(err(format!("{at}: end {end} is before start {start}")));
            }
            periods.push(Period {
                name: p.name,
                kind: p.kind.trim().to_lowercase(),
                start,
                end,
            });
        }
        Ok(Directory {
            council_name: raw.council.name,
            domains,
            media_domains,
            mailboxes,
            unknown_recipients: raw.council.unknown_recipients,
            people,
            exemptions,
            periods,
            by_address,
            proper_officer,
        })
    }

    pub fn load(dir: &std::path::Path) -> Result<Self, DirectoryError> {
        let path = dir.join(DIRECTORY_FILE);
        let name = path.display().to_string();
        let text = std::fs::read_to_string(&path).map_err(|e| DirectoryError {
            file: name.clone(),
            detail: format!("cannot read: {e}"),
        })?;
        Self::parse(&text, &name)
    }

    pub fn is_council_domain(&self, domain: &str) -> bool {
        domain_in(domain, &self.domains)
    }

    /// Whether an address at a council domain exists: a person's, a listed
    /// mailbox, or postmaster and abuse (RFC 5321 §4.5.1, RFC 2142), or
    /// any when the directory says `unknown_recipients = "accept"`.
    pub fn mailbox_exists(&self, address: &str) -> bool {
        self.unknown_recipients == UnknownRecipients::Accept || self.lists(address)
    }

    /// Whether the directory lists an address: a person's, a listed
    /// mailbox, or postmaster and abuse.
    pub fn lists(&self, address: &str) -> bool {
        let address = address.trim().to_lowercase();
        let local = address.rsplit_once('@').map_or("", |(l, _)| l);
        self.by_address.contains_key(&address)
            || self.mailboxes.contains(&address)
            || matches!(local, "postmaster" | "abuse")
    }

    pub fn is_media_domain(&self, domain: &str) -> bool {
        domain_in(domain, &self.media_domains)
    }

    pub fn person_id(&self, address: &str) -> Option<PersonId> {
        self.by_address.get(&address.trim().to_lowercase()).copied()
    }

    pub fn person(&self, id: PersonId) -> &Person {
        &self.people[id]
    }

    pub fn classify(&self, address: &str) -> Party {
        if let Some(id) = self.person_id(address) {
            return Party::Person(id);
        }
        let domain = domain_of(address);
        if self.is_council_domain(domain) {
            Party::CouncilMailbox
        } else if self.is_media_domain(domain) {
            Party::Media
        } else {
            Party::External
        }
    }

    pub fn proper_officer(&self) -> PersonId {
        self.proper_officer
    }

    pub fn deputies(&self) -> impl Iterator<Item = PersonId> + '_ {
        self.people
            .iter()
            .enumerate()
            .filter(|(_, p)| p.has(Position::DeputyProperOfficer))
            .map(|(i, _)| i)
    }

    /// The manager of an officer, as the address written in the directory.
    pub fn manager_of(&self, id: PersonId) -> Option<(&str, PersonId)> {
        let m = self.people[id].manager.as_deref()?;
        Some((m, self.person_id(m)?))
    }

    /// The default postmaster: postmaster@ the first council domain.
    pub fn postmaster(&self) -> String {
        format!("postmaster@{}", self.domains[0])
    }
}

#[cfg(test)]
mod tests {
    const DEFAULT_DIRECTORY_FOR_TESTS: &str = include_str!("../../config/directory.toml");
    use super::*;

    const SAMPLE: &str = r#"
[council]
name = "Example Town Council"
domains = ["example-tc.gov.uk"]
media_domains = ["localpaper.co.uk"]

[[people]]
name = "Jane Smith"
role = "councillor"
addresses = ["cllr.smith@example-tc.gov.uk", "janesmith@gmail.com"]
positions = ["chair"]

[[people]]
name = "Clara Clerk"
role = "officer"
addresses = ["clerk@example-tc.gov.uk", "clara.clerk@example-tc.gov.uk"]
positions = ["proper-officer", "rfo"]

[[people]]
name = "Alex Green"
role = "officer"
addresses = ["alex.green@example-tc.gov.uk"]
positions = []
manager = "clerk@example-tc.gov.uk"

[[exemptions]]
councillor = "cllr.smith@example-tc.gov.uk"
officer = "alex.green@example-tc.gov.uk"
matter = "allotments"
until = "2027-06-30"

[[periods]]
name = "May 2027 local elections"
kind = "pre-election"
start = "2027-03-22"
end = "2027-05-06"
"#;

    #[test]
    fn parses_and_classifies_case_insensitively() {
        let d = Directory::parse(SAMPLE, "t").expect("valid");
        assert_eq!(d.classify("JaneSmith@Gmail.com"), Party::Person(0));
        assert_eq!(
            d.classify("bookings@example-tc.gov.uk"),
            Party::CouncilMailbox
        );
        assert_eq!(d.classify("news@localpaper.co.uk"), Party::Media);
        assert_eq!(d.classify("a@b.org"), Party::External);
        assert!(d.person(2).is_junior_officer());
        assert!(!d.person(1).is_junior_officer());
        assert_eq!(
            d.classify("clara.clerk@example-tc.gov.uk"),
            Party::Person(d.proper_officer())
        );
    }

    #[test]
    fn refuses_two_proper_officers() {
        let text = SAMPLE.replace("positions = []", "positions = [\"proper-officer\"]");
        let e = Directory::parse(&text, "d.toml")
            .expect_err("two")
            .to_string();
        assert!(e.contains("exactly one"), "{e}");
    }

    #[test]
    fn refuses_unknown_manager_and_shared_address() {
        let text = SAMPLE.replace("manager = \"clerk@", "manager = \"nobody@");
        let e = Directory::parse(&text, "d.toml")
            .expect_err("manager")
            .to_string();
        assert!(e.contains("manager") && e.contains("nobody@"), "{e}");
        let text = SAMPLE.replace(
            "alex.green@example-tc.gov.uk\"]\npositions",
            "janesmith@gmail.com\"]\npositions",
        );
        let e = Directory::parse(&text, "d.toml")
            .expect_err("shared")
            .to_string();
        assert!(e.contains("one person"), "{e}");
    }

    #[test]
    fn refuses_bad_dates_and_unknown_exemption_people() {
        let text = SAMPLE.replace("2027-06-30", "30/06/2027");
        let e = Directory::parse(&text, "d.toml")
            .expect_err("date")
            .to_string();
        assert!(e.contains("exemptions[0].until"), "{e}");
        let text = SAMPLE.replace("officer = \"alex.green", "officer = \"ghost");
        let e = Directory::parse(&text, "d.toml")
            .expect_err("ghost")
            .to_string();
        assert!(e.contains("exemptions[0].officer"), "{e}");
    }

    #[test]
    fn mailboxes_are_at_council_domains_and_only_known_addresses_exist() {
        let shipped =
            Directory::parse(DEFAULT_DIRECTORY_FOR_TESTS, "directory.toml").expect("parses");
        assert!(shipped.mailbox_exists("Info@Example-TC.gov.uk"));
        assert!(shipped.mailbox_exists("clara.hughes@example-tc.gov.uk"));
        assert!(shipped.mailbox_exists("postmaster@example-tc.gov.uk"));
        assert!(!shipped.mailbox_exists("nobody@example-tc.gov.uk"));
        let open = DEFAULT_DIRECTORY_FOR_TESTS.replace(
            "unknown_recipients = \"refuse\"",
            "unknown_recipients = \"accept\"",
        );
        let open = Directory::parse(&open, "directory.toml").expect("parses");
        assert!(open.mailbox_exists("nobody@example-tc.gov.uk"));
        let outside = DEFAULT_DIRECTORY_FOR_TESTS
            .replace("\"info@example-tc.gov.uk\"", "\"info@elsewhere.org\"");
        let e = Directory::parse(&outside, "directory.toml")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("council.mailboxes: \"info@elsewhere.org\""),
            "{e}"
        );
    }
}

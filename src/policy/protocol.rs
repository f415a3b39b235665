//! The council's own protocol: `protocol.toml` in the config folder.
//!
//! It names the councillor–officer protocol the council adopted (title,
//! adopted and review dates) and, for each rule, the paragraph and the
//! protocol's own words that notices, the review page, `check` and
//! `rules explain` quote — so a councillor is told which paragraph of *her*
//! council's protocol a message met. Where the protocol has no clause behind
//! a rule, it says so and the rule runs in monitor mode or not at all.
//!
//! Five ready-made packs (the protocols of five real councils, their
//! paragraph numbers and words) are compiled in; `councilgate protocol use
//! PACK` copies one into the config folder for the council to edit. A config
//! folder without `protocol.toml` uses the shipped example council's.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::rules::{Mode, Rule, RulesError};

pub const PROTOCOL_FILE: &str = "protocol.toml";
/// The shipped example council's protocol (the default).
pub const DEFAULT_PROTOCOL: &str = include_str!("../../config/protocol.toml");

/// The ready-made packs: (name, what it is, text).
pub const PACKS: &[(&str, &str, &str)] = &[
    (
        "model",
        "a town council's model protocol (2026): headings, the most specific on correspondence, \"CC councillor X\" and the Proper Officer",
        include_str!("../../config/protocols/model.toml"),
    ),
    (
        "district",
        "a district council's constitution, Part Two Section Four: numbered paragraphs, directors and junior officers, press, pre-election",
        include_str!("../../config/protocols/district.toml"),
    ),
    (
        "short",
        "a town council's short protocol (2021): roles, expectations, limitations",
        include_str!("../../config/protocols/short.toml"),
    ),
    (
        "community",
        "a Welsh community council's protocol (2019): numbered paragraphs, the Clerk as sole employee",
        include_str!("../../config/protocols/community.toml"),
    ),
    (
        "town",
        "a town council's Protocol on Member/Officer Relations: numbered paragraphs, the Clerk and other staff",
        include_str!("../../config/protocols/town.toml"),
    ),
];

/// The text of a ready-made pack.
pub fn pack(name: &str) -> Option<&'static str> {
    PACKS
        .iter()
        .find(|(n, _, _)| *n == name)
        .map(|(_, _, t)| *t)
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct ProtocolFile {
    protocol: Header,
    #[serde(default)]
    clauses: BTreeMap<String, ClauseDef>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct Header {
    title: String,
    #[serde(default)]
    pack: String,
    #[serde(default)]
    adopted: String,
    #[serde(default)]
    review: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct ClauseDef {
    #[serde(default)]
    paragraph: String,
    #[serde(default)]
    words: String,
    /// No clause: why, in a sentence.
    #[serde(default)]
    none: String,
    /// With no clause: `monitor` (the default) or `off`.
    #[serde(default)]
    then: Option<Without>,
}

/// What a rule with no clause behind it does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Without {
    /// Runs and is counted, but changes nothing.
    Monitor,
    /// Does not run.
    Off,
}

/// What the protocol says behind one rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Clause {
    /// The paragraph ("paragraph 5.02", "“Correspondence”") and its words.
    Quote { paragraph: String, words: String },
    /// No clause: why, and what the rule then does.
    None { why: String, then: Without },
}

/// The adopted protocol, parsed.
#[derive(Debug, Clone)]
pub struct Protocol {
    pub title: String,
    /// The ready-made pack it started from (may be empty).
    pub pack: String,
    pub adopted: String,
    pub review: String,
    pub clauses: BTreeMap<String, Clause>,
}

fn valid_date(s: &str) -> bool {
    s.is_empty()
        || chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").is_ok()
        || chrono::NaiveDate::parse_from_str(&format!("{s}-01"), "%Y-%m-%d").is_ok()
}

impl Protocol {
    /// Parses a protocol file; errors name the file, the key and the line.
    pub fn parse(text: &str, file: &str) -> Result<Protocol, RulesError> {
        let err = |detail: String| RulesError {
            file: file.to_string(),
            detail,
        };
        let parsed: ProtocolFile = toml::from_str(text).map_err(|e| err(e.to_string()))?;
        let line_of = |key: &str| {
            let needle = format!("[clauses.{key}]");
            text.lines()
                .position(|l| l.trim() == needle)
                .map_or(String::new(), |i| format!(" (line {})", i + 1))
        };
        let h = parsed.protocol;
        if h.title.trim().is_empty() {
            return Err(err(
                "protocol.title: name the protocol the council adopted".into()
            ));
        }
        for (key, value) in [("adopted", &h.adopted), ("review", &h.review)] {
            if !valid_date(value.trim()) {
                return Err(err(format!(
                    "protocol.{key}: {value:?} is not a date (write 2026-04-20 or 2026-04)"
                )));
            }
        }
        let mut clauses = BTreeMap::new();
        for (rule, c) in parsed.clauses {
            let at = |d: &str| err(format!("clauses.{rule}{}: {d}", line_of(&rule)));
            let quoted = !c.words.trim().is_empty();
            let clause = match (quoted, c.none.trim().is_empty()) {
                (true, true) => {
                    if c.paragraph.trim().is_empty() {
                        return Err(at(
                            "paragraph: say where the words are (\"paragraph 5.02\", \"“Correspondence”\")",
                        ));
                    }
                    if c.then.is_some() {
                        return Err(at("`then` is for a rule with no clause (`none`)"));
                    }
                    Clause::Quote {
                        paragraph: c.paragraph.trim().to_string(),
                        words: c.words.split_whitespace().collect::<Vec<_>>().join(" "),
                    }
                }
                (false, false) => Clause::None {
                    why: c.none.trim().to_string(),
                    then: c.then.unwrap_or(Without::Monitor),
                },
                (true, false) => {
                    return Err(at(
                        "give either `words` (the clause) or `none` (why there is none), not both",
                    ));
                }
                (false, true) => {
                    return Err(at(
                        "give `paragraph` and `words` (the clause), or `none` (why there is none)",
                    ));
                }
            };
            clauses.insert(rule, clause);
        }
        Ok(Protocol {
            title: h.title.trim().to_string(),
            pack: h.pack.trim().to_string(),
            adopted: h.adopted.trim().to_string(),
            review: h.review.trim().to_string(),
            clauses,
        })
    }

    /// How a notice names the protocol: "Example Town Council
    /// Councillor–Officer Protocol".
    pub fn name(&self, council: &str) -> String {
        if council.is_empty() || self.title.contains(council) {
            self.title.clone()
        } else {
            format!("{council} {}", self.title)
        }
    }

    /// Gives each rule the protocol's paragraph and words; a rule with no
    /// clause runs as the protocol file says. A clause for a rule that does
    /// not exist, or a rule quoting nothing at all, is an error.
    pub fn apply(&self, council: &str, rules: &mut [Rule], file: &str) -> Result<(), RulesError> {
        let err = |detail: String| RulesError {
            file: file.to_string(),
            detail,
        };
        for id in self.clauses.keys() {
            if !rules.iter().any(|r| &r.def.id == id) {
                let ids: Vec<&str> = rules.iter().map(|r| r.def.id.as_str()).collect();
                return Err(err(format!(
                    "clauses.{id}: there is no rule {id:?} (the rules are: {})",
                    ids.join(", ")
                )));
            }
        }
        let name = self.name(council);
        for rule in rules.iter_mut() {
            let d = &mut rule.def;
            match self.clauses.get(&d.id) {
                Some(Clause::Quote { paragraph, words }) => {
                    d.source = format!("{name}, {paragraph}");
                    d.reference = words.clone();
                }
                Some(Clause::None { why, then }) => {
                    d.source = format!("{name}: no clause");
                    d.reference = why.clone();
                    match then {
                        Without::Monitor => d.mode = Mode::Monitor,
                        Without::Off => d.enabled = false,
                    }
                }
                None if d.reference.trim().is_empty() => {
                    return Err(err(format!(
                        "rule {} quotes no protocol words: add [clauses.{}] to {PROTOCOL_FILE} (or `reference` to the rule in rules.toml)",
                        d.id, d.id
                    )));
                }
                None => {}
            }
        }
        Ok(())
    }

    /// Rule by rule, the clause it enforces: (rule id, title, what the
    /// protocol says). The table of `protocol coverage` and the admin page.
    pub fn coverage(&self, rules: &[Rule]) -> Vec<Coverage> {
        rules
            .iter()
            .map(|r| Coverage {
                rule: r.def.id.clone(),
                title: r.def.title.clone(),
                enabled: r.def.enabled,
                mode: r.def.mode,
                clause: match self.clauses.get(&r.def.id) {
                    Some(Clause::Quote { paragraph, .. }) => paragraph.clone(),
                    Some(Clause::None { then, .. }) => match then {
                        Without::Monitor => "no clause (monitor mode)".into(),
                        Without::Off => "no clause (off)".into(),
                    },
                    None => format!("not a protocol rule: {}", r.def.source),
                },
                words: r.def.reference.clone(),
            })
            .collect()
    }
}

/// One line of the coverage table.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Coverage {
    pub rule: String,
    pub title: String,
    pub enabled: bool,
    pub mode: Mode,
    pub clause: String,
    pub words: String,
}

impl Coverage {
    /// "enforce", "monitor" or "off".
    pub fn state(&self) -> &'static str {
        match (self.enabled, self.mode) {
            (false, _) => "off",
            (true, Mode::Monitor) => "monitor",
            (true, Mode::Enforce) => "enforce",
        }
    }
}

/// Councils a text names ("Wantage Town Council", "Honiton Town Council"):
/// the words before Town/Parish/District/… Council, each capitalised.
pub fn councils_named(text: &str) -> Vec<String> {
    static RE: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
        regex::Regex::new(
            r"\b((?:[A-Z][\w'’-]*\s+)(?:(?:and|upon|on|in|by|le|de)\s+|[A-Z][\w'’-]*\s+)*?)(Town|Parish|District|Borough|City|County|Community|Metropolitan Borough|Unitary) Council\b",
        )
        .expect("valid pattern")
    });
    let mut out: Vec<String> = Vec::new();
    for c in RE.captures_iter(text) {
        let lead = c[1].trim();
        // "The Town Council", "This Community Council" name no council.
        let first = lead.split_whitespace().next().unwrap_or("");
        if [
            "The", "This", "Each", "A", "Any", "Every", "Our", "Your", "Their", "Its",
        ]
        .contains(&first)
            && lead.split_whitespace().count() == 1
        {
            continue;
        }
        let name = format!("{lead} {} Council", &c[2]);
        if !out.contains(&name) {
            out.push(name);
        }
    }
    out
}

/// Warnings for `rules validate`: a notice that would quote a council
/// other than the one in the directory.
pub fn foreign_councils(council: &str, protocol: &Protocol, rules: &[Rule]) -> Vec<String> {
    let mut warnings = Vec::new();
    let own = council.to_lowercase();
    let mut check = |what: String, text: &str| {
        for named in councils_named(text) {
            if named.to_lowercase() != own {
                warnings.push(format!(
                    "{what} names {named:?}, but this council is {council:?}: notices would quote another council's protocol"
                ));
            }
        }
    };
    check(format!("{PROTOCOL_FILE}: protocol.title"), &protocol.title);
    for r in rules {
        check(
            format!("rule {} (its protocol source)", r.def.id),
            &r.def.source,
        );
        check(
            format!("rule {} (its protocol words)", r.def.id),
            &r.def.reference,
        );
    }
    warnings
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::{lexicon::Lexicon, rules};

    fn rules() -> Vec<Rule> {
        let lex = Lexicon::parse(crate::policy::lexicon::DEFAULT_WORDLISTS, "w").expect("lists");
        rules::compile(rules::DEFAULT_RULES, "rules.toml", &lex)
            .expect("rules")
            .rules
    }

    #[test]
    fn every_pack_parses_and_covers_every_protocol_rule() {
        let all = rules();
        for (name, _, text) in PACKS.iter().chain([&("example", "", DEFAULT_PROTOCOL)]) {
            let p = Protocol::parse(text, name).unwrap_or_else(|e| panic!("{name}: {e}"));
            let mut rs = all.clone();
            p.apply("Example Town Council", &mut rs, name)
                .unwrap_or_else(|e| panic!("{name}: {e}"));
            for r in &rs {
                let safeguard = r.def.source.starts_with("councilgate");
                assert!(
                    safeguard || p.clauses.contains_key(&r.def.id),
                    "pack {name} says nothing about {}",
                    r.def.id
                );
            }
            let foreign = foreign_councils("Example Town Council", &p, &rs);
            assert!(foreign.is_empty(), "pack {name}: {foreign:?}");
        }
    }

    #[test]
    fn the_example_protocol_keeps_every_rule_as_it_was() {
        let before = rules();
        let mut after = before.clone();
        let p = Protocol::parse(DEFAULT_PROTOCOL, "protocol.toml").expect("parses");
        p.apply("Example Town Council", &mut after, "protocol.toml")
            .expect("applies");
        for (b, a) in before.iter().zip(&after) {
            assert_eq!(
                (b.def.enabled, b.def.mode),
                (a.def.enabled, a.def.mode),
                "{}",
                a.def.id
            );
            assert!(!a.def.reference.is_empty(), "{}", a.def.id);
        }
        let silent = after
            .iter()
            .find(|r| r.def.id == "silent-copy")
            .expect("rule");
        assert_eq!(
            silent.def.source,
            "Example Town Council Councillor–Officer Protocol, “Correspondence”"
        );
    }

    #[test]
    fn a_rule_without_a_clause_runs_as_the_pack_says() {
        let p = Protocol::parse(pack("district").expect("pack"), "district").expect("parses");
        let mut rs = rules();
        p.apply("Borsetshire District Council", &mut rs, "district")
            .expect("applies");
        let silent = rs.iter().find(|r| r.def.id == "silent-copy").expect("rule");
        assert_eq!(silent.def.mode, Mode::Monitor);
        assert!(silent.def.source.ends_with("no clause"));
        let keep = rs
            .iter()
            .find(|r| r.def.id == "keep-manager-informed")
            .expect("rule");
        assert_eq!(
            keep.def.source,
            "Borsetshire District Council Protocol on Councillor/Officer Relations, paragraph 5.02"
        );
        assert!(
            keep.def
                .reference
                .starts_with("Approaches by Councillors to junior officers")
        );
    }

    #[test]
    fn errors_name_the_file_the_clause_and_the_line() {
        let text = "[protocol]\ntitle = \"P\"\n\n[clauses.no-such-rule]\nparagraph = \"1\"\nwords = \"w\"\n";
        let p = Protocol::parse(text, "protocol.toml").expect("parses");
        let e = p
            .apply("X", &mut rules(), "protocol.toml")
            .expect_err("unknown rule")
            .to_string();
        assert!(
            e.contains("protocol.toml") && e.contains("clauses.no-such-rule"),
            "{e}"
        );

        let both = "[protocol]\ntitle = \"P\"\n\n[clauses.silent-copy]\nparagraph = \"1\"\nwords = \"w\"\nnone = \"n\"\n";
        let e = Protocol::parse(both, "protocol.toml")
            .expect_err("both")
            .to_string();
        assert!(e.contains("clauses.silent-copy (line 4)"), "{e}");

        let date = "[protocol]\ntitle = \"P\"\nadopted = \"last March\"\n";
        let e = Protocol::parse(date, "protocol.toml")
            .expect_err("date")
            .to_string();
        assert!(e.contains("protocol.adopted"), "{e}");

        let unknown = "[protocol]\ntitle = \"P\"\ncolour = \"red\"\n";
        let e = Protocol::parse(unknown, "protocol.toml")
            .expect_err("key")
            .to_string();
        assert!(e.contains("colour") && e.contains("line 3"), "{e}");
    }

    #[test]
    fn councils_named_finds_other_councils_not_the_generic_words() {
        assert_eq!(
            councils_named("Wantage Town Council protocol and the Town Council's clerk"),
            vec!["Wantage Town Council".to_string()]
        );
        assert_eq!(
            councils_named("Taff's Well and Nantgarw Community Council"),
            vec!["Taff's Well and Nantgarw Community Council".to_string()]
        );
        assert!(councils_named("the council as a whole; This Town Council").is_empty());
    }
}

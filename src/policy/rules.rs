//! Rules as data: `rules.toml`, compiled once into [`Rule`]s.
//!
//! A rule fires when every condition it states holds: the sender, each
//! recipient condition, subject/body/header/attachment patterns, a period,
//! and each named detector. Its action then applies to the rule's targets —
//! the recipients its conditions matched (see `target`).

use std::collections::BTreeMap;

use regex::RegexSet;
use serde::{Deserialize, Serialize};

use super::detectors::DETECTORS;
use super::directory::Position;
use super::lexicon::Lexicon;

pub const RULES_FILE: &str = "rules.toml";
pub const DEFAULT_RULES: &str = include_str!("../../config/rules.toml");

#[derive(Debug, thiserror::Error)]
#[error("{file}: {detail}")]
pub struct RulesError {
    pub file: String,
    pub detail: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// A footer on every text part.
    Annotate,
    /// Add a visible recipient (envelope and Cc) with a notice.
    Copy,
    /// Remove the targets and send to someone else instead, with notices.
    Redirect,
    /// Keep for the Proper Officer's review.
    Hold,
    /// Refuse with 550.
    Reject,
    /// Header only.
    Flag,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Annotate => "annotate",
            Action::Copy => "copy",
            Action::Redirect => "redirect",
            Action::Hold => "hold",
            Action::Reject => "reject",
            Action::Flag => "flag",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// The action is applied.
    #[default]
    Enforce,
    /// The action is only recorded (`X-Council-Protocol-Monitor`).
    Monitor,
}

/// Who a party is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RoleSel {
    Councillor,
    Officer,
    /// Anyone in the directory.
    Person,
    /// A council-domain address not in the directory (bookings@).
    CouncilMailbox,
    /// A person or council mailbox.
    Council,
    Media,
    /// Neither in the directory nor at a council domain (media included).
    External,
    Any,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    /// Any envelope recipient.
    #[default]
    Any,
    /// In To or Cc.
    Visible,
    /// In the envelope only.
    Bcc,
}

/// Declares a condition on a party (the sender, or recipients) with the
/// fields every party condition has — role, positions, not_positions,
/// junior, addresses, domains — followed by any given. Written as a macro
/// because serde's `flatten` does not combine with `deny_unknown_fields`,
/// and an unknown key in a rules file must be refused.
macro_rules! party_condition {
    ($(#[$meta:meta])* pub struct $name:ident { $($extra:tt)* }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Default, Serialize, Deserialize)]
        #[serde(deny_unknown_fields)]
        pub struct $name {
            #[serde(default)]
            pub role: Option<RoleSel>,
            /// Holds at least one of these positions.
            #[serde(default)]
            pub positions: Vec<Position>,
            /// Holds none of these positions.
            #[serde(default)]
            pub not_positions: Vec<Position>,
            /// A junior officer (no proper-officer, deputy or senior position).
            #[serde(default)]
            pub junior: Option<bool>,
            #[serde(default)]
            pub addresses: Vec<String>,
            #[serde(default)]
            pub domains: Vec<String>,
            $($extra)*
        }
    };
}

party_condition! {
    /// Who the sender (or one recipient) is.
    pub struct PartyCond {}
}

party_condition! {
    /// A condition on the recipients.
    pub struct RecipientCond {
        #[serde(default)]
        pub scope: Scope,
        /// At least this many recipients match (default 1).
        #[serde(default)]
        pub min: Option<usize>,
        /// No recipient may match.
        #[serde(default)]
        pub absent: bool,
        /// The matches are the rule's targets.
        #[serde(default)]
        pub target: bool,
        /// Alternatives: the condition holds when any of them does.
        #[serde(default)]
        pub any_of: Vec<RecipientCond>,
    }
}

impl RecipientCond {
    pub fn party(&self) -> PartyCond {
        PartyCond {
            role: self.role,
            positions: self.positions.clone(),
            not_positions: self.not_positions.clone(),
            junior: self.junior,
            addresses: self.addresses.clone(),
            domains: self.domains.clone(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleDef {
    pub id: String,
    pub title: String,
    /// The protocol text the rule enforces, quoted. Usually given by the
    /// council's `protocol.toml` (which replaces it); a rule no protocol
    /// clause stands behind (a councilgate safeguard) gives its own.
    #[serde(default)]
    pub reference: String,
    /// Where the text comes from ("Example Town Council Councillor–Officer
    /// Protocol, “Correspondence”"); set from `protocol.toml` likewise.
    #[serde(default)]
    pub source: String,
    #[serde(default = "yes")]
    pub enabled: bool,
    #[serde(default)]
    pub mode: Mode,
    pub action: Action,
    /// Who a copy or redirect goes to: `proper-officer`, `deputy`,
    /// `manager` (of each target), or an address.
    #[serde(default)]
    pub to: Option<String>,
    /// Footer text for `annotate`; `{name}` repeats the line per target.
    #[serde(default)]
    pub annotation: Option<String>,
    /// Banner text for `annotate`, at the top of every text part;
    /// `{sender}` is the name of the directory person the From claims.
    #[serde(default)]
    pub banner: Option<String>,
    /// `false`: only when the sender could not be verified (no DMARC pass,
    /// no login, not a trusted network); `true`: only when it was.
    #[serde(default)]
    pub sender_verified: Option<bool>,
    /// One-line reason for `reject`.
    #[serde(default)]
    pub reason: Option<String>,
    /// An exemption in the directory for the councillor–officer pair lifts it.
    #[serde(default)]
    pub exemptible: bool,
    /// Tell the sender when this rule holds their message.
    #[serde(default = "yes")]
    pub notify_sender: bool,
    #[serde(default)]
    pub sender: Option<PartyCond>,
    #[serde(default)]
    pub recipients: Vec<RecipientCond>,
    /// Regular expressions; any match on the decoded subject.
    #[serde(default)]
    pub subject: Vec<String>,
    /// Regular expressions; any match on the new text.
    #[serde(default)]
    pub body: Vec<String>,
    /// Header name → regular expressions on its decoded value.
    #[serde(default)]
    pub headers: BTreeMap<String, Vec<String>>,
    #[serde(default)]
    pub attachment_name: Vec<String>,
    #[serde(default)]
    pub attachment_type: Vec<String>,
    /// Named detectors; each must fire.
    #[serde(default)]
    pub detectors: Vec<String>,
    /// A period kind from the directory (e.g. `pre-election`) that must be current.
    #[serde(default)]
    pub period: Option<String>,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RulesFile {
    #[serde(default)]
    rules: Vec<RuleDef>,
    #[serde(default)]
    semantic: SemanticTable,
}

/// `[semantic]`: how the content detectors read meaning.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct SemanticTable {
    /// Per detector, the score (0–1) at which a sentence that reads like
    /// its examples makes it fire; a detector not named reads no meaning.
    #[serde(default)]
    thresholds: BTreeMap<String, f32>,
}

/// The rules file compiled: its rules and the semantic thresholds.
#[derive(Debug, Clone, Default)]
pub struct RuleSet {
    pub rules: Vec<Rule>,
    pub thresholds: BTreeMap<String, f32>,
}

/// A compiled rule.
#[derive(Debug, Clone)]
pub struct Rule {
    pub def: RuleDef,
    pub subject: Option<RegexSet>,
    pub body: Option<RegexSet>,
    pub headers: Vec<(String, RegexSet)>,
    pub attachment_name: Option<RegexSet>,
    pub attachment_type: Option<RegexSet>,
}

fn set(patterns: &[String], what: &str) -> Result<Option<RegexSet>, String> {
    if patterns.is_empty() {
        return Ok(None);
    }
    let ci: Vec<String> = patterns.iter().map(|p| format!("(?i){p}")).collect();
    RegexSet::new(&ci)
        .map(Some)
        .map_err(|e| format!("{what}: not a valid regular expression ({e})"))
}

fn check_recipient(c: &RecipientCond, at: &str) -> Result<(), String> {
    if c.absent && c.target {
        return Err(format!(
            "{at}: an `absent` condition cannot be the `target`"
        ));
    }
    if c.min == Some(0) {
        return Err(format!(
            "{at}.min: expected at least 1 (use `absent = true` for none)"
        ));
    }
    for (i, alt) in c.any_of.iter().enumerate() {
        check_recipient(alt, &format!("{at}.any_of[{i}]"))?;
    }
    Ok(())
}

/// Compiles the rules file against the word lists it will use.
pub fn compile(text: &str, file: &str, lex: &Lexicon) -> Result<RuleSet, RulesError> {
    let err = |detail: String| RulesError {
        file: file.to_string(),
        detail,
    };
    let parsed: RulesFile = toml::from_str(text).map_err(|e| err(e.to_string()))?;
    let mut ids = std::collections::HashSet::new();
    let mut out = Vec::new();
    for def in parsed.rules {
        let id = def.id.trim().to_string();
        let at = |d: String| err(format!("rule {id}: {d}"));
        if id.is_empty()
            || !id
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        {
            return Err(err(format!(
                "rule id {:?}: expected lower-case letters, digits and dashes",
                def.id
            )));
        }
        if !ids.insert(id.clone()) {
            return Err(at("the id is used twice".into()));
        }
        match def.action {
            Action::Copy | Action::Redirect
                if def.to.as_deref().is_none_or(|t| t.trim().is_empty()) =>
            {
                return Err(at(format!(
                    "action {} needs `to` (proper-officer, deputy, manager or an address)",
                    def.action.as_str()
                )));
            }
            Action::Annotate
                if [&def.annotation, &def.banner]
                    .iter()
                    .all(|t| t.as_deref().is_none_or(|t| t.trim().is_empty())) =>
            {
                return Err(at(
                    "action annotate needs `annotation` (the footer text) or `banner` (the text at the top)".into()
                ));
            }
            _ => {}
        }
        if let Some(to) = &def.to
            && !matches!(to.as_str(), "proper-officer" | "deputy" | "manager")
            && !to.contains('@')
        {
            return Err(at(format!(
                "to = {to:?}: expected proper-officer, deputy, manager or an address"
            )));
        }
        if def.to.as_deref() == Some("manager")
            && def.recipients.iter().all(|r| !r.target)
            && def.recipients.is_empty()
        {
            return Err(at(
                "to = \"manager\" needs recipient conditions naming whose manager".into(),
            ));
        }
        for (i, r) in def.recipients.iter().enumerate() {
            check_recipient(r, &format!("recipients[{i}]")).map_err(at)?;
        }
        for d in &def.detectors {
            let Some((_, lists)) = DETECTORS.iter().find(|(n, _)| n == d) else {
                let known: Vec<&str> = DETECTORS.iter().map(|(n, _)| *n).collect();
                return Err(at(format!(
                    "detector {d:?} does not exist; known: {}",
                    known.join(", ")
                )));
            };
            for l in *lists {
                lex.require(l).map_err(at)?;
            }
        }
        let headers = def
            .headers
            .iter()
            .map(|(h, p)| set(p, &format!("headers.{h}")).map(|s| (h.clone(), s)))
            .collect::<Result<Vec<_>, _>>()
            .map_err(at)?
            .into_iter()
            .filter_map(|(h, s)| s.map(|s| (h, s)))
            .collect();
        out.push(Rule {
            subject: set(&def.subject, "subject").map_err(at)?,
            body: set(&def.body, "body").map_err(at)?,
            headers,
            attachment_name: set(&def.attachment_name, "attachment_name").map_err(at)?,
            attachment_type: set(&def.attachment_type, "attachment_type").map_err(at)?,
            def: RuleDef { id, ..def },
        });
    }
    for (name, &t) in &parsed.semantic.thresholds {
        if !super::semantic::examples::SEMANTIC_DETECTORS.contains(&name.as_str()) {
            return Err(err(format!(
                "semantic.thresholds.{name}: not a detector that reads meaning (expected one of: {})",
                super::semantic::examples::SEMANTIC_DETECTORS.join(", ")
            )));
        }
        if !(t > 0.0 && t < 1.0) {
            return Err(err(format!(
                "semantic.thresholds.{name}: expected a score between 0 and 1, not {t}"
            )));
        }
    }
    Ok(RuleSet {
        rules: out,
        thresholds: parsed.semantic.thresholds,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_rules_compile() {
        let lex = Lexicon::builtin();
        let set = compile(DEFAULT_RULES, "rules.toml", &lex).expect("compile");
        assert_eq!(set.rules.len(), 15);
        assert!(set.thresholds.contains_key("undue-pressure"));
    }

    #[test]
    fn errors_name_the_rule_and_problem() {
        let lex = Lexicon::builtin();
        let e = compile(
            "[[rules]]\nid = \"x\"\ntitle = \"t\"\nreference = \"r\"\naction = \"copy\"\n",
            "rules.toml",
            &lex,
        )
        .expect_err("no to")
        .to_string();
        assert!(
            e.contains("rules.toml") && e.contains("rule x") && e.contains("needs `to`"),
            "{e}"
        );
        let e = compile(
            "[[rules]]\nid = \"y\"\ntitle = \"t\"\nreference = \"r\"\naction = \"hold\"\ndetectors = [\"mind-reading\"]\n",
            "rules.toml",
            &lex,
        )
        .expect_err("detector")
        .to_string();
        assert!(e.contains("rule y") && e.contains("mind-reading"), "{e}");
        let e = compile(
            "[[rules]]\nid = \"z\"\ntitle = \"t\"\nreference = \"r\"\naction = \"hold\"\nsubject = [\"(\"]\n",
            "rules.toml",
            &lex,
        )
        .expect_err("regex")
        .to_string();
        assert!(e.contains("rule z") && e.contains("subject"), "{e}");
        let e = compile("[[rules]]\nid = \"w\"\ntitel = \"t\"\n", "rules.toml", &lex)
            .expect_err("typo")
            .to_string();
        assert!(e.contains("titel"), "{e}");
    }
}

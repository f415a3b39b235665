//! Labelled messages: `NAME.eml` with a sidecar `NAME.toml` giving the
//! envelope, the processing time and what is expected.
//!
//! ```toml
//! mail_from = "cllr.smith@example-tc.gov.uk"
//! rcpt = ["alex.green@example-tc.gov.uk"]
//! at = "2027-04-01T09:00:00+01:00"       # optional; default now
//! verdict = "hold"                        # optional: deliver | hold | reject
//! rules = ["instruction-to-staff"]        # optional: exactly these fire
//! added = ["clerk@example-tc.gov.uk"]     # optional: recipients added
//! removed = []                            # optional: recipients removed
//! ```

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::Deserialize;

use crate::policy::{Snapshot, Verdict};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expectation {
    pub mail_from: String,
    pub rcpt: Vec<String>,
    #[serde(default)]
    pub at: Option<String>,
    #[serde(default)]
    pub verdict: Option<String>,
    #[serde(default)]
    pub rules: Option<Vec<String>>,
    #[serde(default)]
    pub added: Option<Vec<String>>,
    #[serde(default)]
    pub removed: Option<Vec<String>>,
    /// As if from outside with a From claim that could not be verified
    /// (`check --unverified`).
    #[serde(default)]
    pub unverified: bool,
}

#[derive(Debug, Clone)]
pub struct Fixture {
    pub name: String,
    pub eml: PathBuf,
    pub expect: Expectation,
    pub at: DateTime<Utc>,
}

#[derive(Debug, thiserror::Error)]
#[error("{path}: {detail}")]
pub struct FixtureError {
    pub path: String,
    pub detail: String,
}

/// Every fixture in a folder, sorted by name. A `.eml` without its `.toml`
/// (or the reverse) is an error, not a silent skip.
pub fn load_dir(dir: &Path) -> Result<Vec<Fixture>, FixtureError> {
    let err = |p: &Path, d: String| FixtureError {
        path: p.display().to_string(),
        detail: d,
    };
    let entries =
        std::fs::read_dir(dir).map_err(|e| err(dir, format!("cannot read folder: {e}")))?;
    let mut names: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
    names.sort();
    let mut out = Vec::new();
    for eml in names
        .iter()
        .filter(|p| p.extension().is_some_and(|x| x == "eml"))
    {
        let sidecar = eml.with_extension("toml");
        let text = std::fs::read_to_string(&sidecar)
            .map_err(|e| err(&sidecar, format!("every .eml needs a sidecar .toml ({e})")))?;
        let expect: Expectation =
            toml::from_str(&text).map_err(|e| err(&sidecar, e.to_string()))?;
        let at = match &expect.at {
            Some(s) => DateTime::parse_from_rfc3339(s)
                .map_err(|e| {
                    err(
                        &sidecar,
                        format!("at = {s:?} is not an RFC 3339 time ({e})"),
                    )
                })?
                .with_timezone(&Utc),
            None => Utc::now(),
        };
        if let Some(v) = &expect.verdict
            && !matches!(v.as_str(), "deliver" | "hold" | "reject")
        {
            return Err(err(
                &sidecar,
                format!("verdict = {v:?}: expected deliver, hold or reject"),
            ));
        }
        let name = eml
            .file_stem()
            .map(|s| s.to_string_lossy().to_string())
            .unwrap_or_default();
        out.push(Fixture {
            name,
            eml: eml.clone(),
            expect,
            at,
        });
    }
    for toml in names
        .iter()
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
    {
        let stem_eml = toml.with_extension("eml");
        let is_config = toml.file_name().is_some_and(|n| {
            [
                "directory.toml",
                "rules.toml",
                "wordlists.toml",
                "councilgate.toml",
            ]
            .contains(&n.to_string_lossy().as_ref())
        });
        if !is_config && !stem_eml.exists() {
            return Err(err(toml, "a sidecar without its .eml".into()));
        }
    }
    Ok(out)
}

/// The result of running one fixture.
pub struct Outcome {
    pub verdict: Verdict,
    /// One line per mismatch; empty when the fixture passes.
    pub diff: Vec<String>,
}

fn lower_set(v: &[String]) -> Vec<String> {
    let mut x: Vec<String> = v.iter().map(|s| s.to_lowercase()).collect();
    x.sort();
    x.dedup();
    x
}

impl Fixture {
    /// The envelope the fixture is evaluated with.
    pub fn envelope(&self) -> crate::message::envelope::Envelope {
        let envelope = crate::tuning::check::envelope(&self.expect.mail_from, &self.expect.rcpt);
        if self.expect.unverified {
            crate::tuning::check::unverified(envelope)
        } else {
            envelope
        }
    }
}

/// The council addresses a fixture names (envelope, From, To, Cc) that the
/// directory does not list — after `directory import` replaced the people,
/// such a fixture tests someone who is gone, not the rules.
pub fn strangers(snapshot: &Snapshot, f: &Fixture) -> Result<Vec<String>, FixtureError> {
    let raw = std::fs::read(&f.eml).map_err(|e| FixtureError {
        path: f.eml.display().to_string(),
        detail: e.to_string(),
    })?;
    let dir = &snapshot.directory;
    let mut named: Vec<String> = std::iter::once(f.expect.mail_from.clone())
        .chain(f.expect.rcpt.iter().cloned())
        .collect();
    if let Some(m) = mail_parser::MessageParser::default().parse(&raw) {
        for a in [m.from(), m.to(), m.cc()].into_iter().flatten() {
            named.extend(a.iter().filter_map(|x| x.address()).map(str::to_string));
        }
    }
    let mut out: Vec<String> = named
        .into_iter()
        .map(|a| a.trim().to_lowercase())
        .filter(|a| {
            a.rsplit_once('@')
                .is_some_and(|(_, d)| dir.is_council_domain(d))
                && !dir.lists(a)
        })
        .collect();
    out.sort();
    out.dedup();
    Ok(out)
}

pub fn run(snapshot: &Snapshot, f: &Fixture) -> Result<Outcome, FixtureError> {
    let raw = std::fs::read(&f.eml).map_err(|e| FixtureError {
        path: f.eml.display().to_string(),
        detail: e.to_string(),
    })?;
    let raw = crate::message::crlf(&raw);
    let verdict = snapshot.evaluate(&f.envelope(), &raw, f.at);
    let mut diff = Vec::new();
    if let Some(v) = &f.expect.verdict
        && v != verdict.decision.as_str()
    {
        diff.push(format!(
            "verdict: expected {v}, got {}",
            verdict.decision.as_str()
        ));
    }
    if let Some(want) = &f.expect.rules {
        let got: Vec<String> = verdict.rules.iter().map(|r| r.id.clone()).collect();
        for w in want.iter().filter(|w| !got.contains(w)) {
            diff.push(format!("rule {w}: expected to fire, did not"));
        }
        for hit in verdict.rules.iter().filter(|r| !want.contains(&r.id)) {
            diff.push(format!(
                "rule {}: fired unexpectedly on: {}",
                hit.id,
                hit.evidence.last().cloned().unwrap_or_default()
            ));
        }
    }
    let before = lower_set(&f.expect.rcpt);
    let after = lower_set(&verdict.recipients);
    let added: Vec<String> = after
        .iter()
        .filter(|a| !before.contains(a))
        .cloned()
        .collect();
    let removed: Vec<String> = before
        .iter()
        .filter(|a| !after.contains(a))
        .cloned()
        .collect();
    if let Some(want) = &f.expect.added
        && lower_set(want) != added
    {
        diff.push(format!(
            "added recipients: expected {:?}, got {:?}",
            lower_set(want),
            added
        ));
    }
    if let Some(want) = &f.expect.removed
        && lower_set(want) != removed
    {
        diff.push(format!(
            "removed recipients: expected {:?}, got {:?}",
            lower_set(want),
            removed
        ));
    }
    Ok(Outcome { verdict, diff })
}

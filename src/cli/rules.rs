//! `councilgate rules`: test, validate, explain and diff the rules.

use std::path::Path;

use anyhow::{Context, Result};
use clap::Subcommand;

use councilgate::settings::Settings;

use super::{open_store, runtime};
use std::path::PathBuf;

#[derive(Subcommand)]
pub enum RulesAction {
    /// Run the fixtures in DIR (default: <config>/fixtures): each NAME.eml
    /// with a NAME.toml of expectations. Non-zero exit on any mismatch.
    Test { dir: Option<PathBuf> },
    /// Check a config folder without starting anything.
    Validate,
    /// A rule, the protocol text it enforces and the word lists it reads.
    Explain { id: String },
    /// Every fixture, held message and message of the analysis archive
    /// (councillor and officer mail the content rules read, delivered or
    /// not) whose outcome would change under the candidate configuration.
    Diff {
        /// A config folder holding the candidate directory.toml, rules.toml
        /// and wordlists.toml (a copy of the live folder with your edits).
        #[arg(long)]
        candidate: PathBuf,
        /// Fixtures to compare on (default: <config>/fixtures).
        #[arg(long)]
        fixtures: Option<PathBuf>,
    },
}

pub fn rules(config: &Path, action: RulesAction) -> Result<()> {
    use councilgate::policy::Snapshot;
    match action {
        RulesAction::Validate => {
            Settings::load(config)?;
            let s = Snapshot::load(config)?;
            println!(
                "{} is valid: {} rules ({} enabled), {} people, policy version {}.",
                config.display(),
                s.rules.len(),
                s.rules.iter().filter(|r| r.def.enabled).count(),
                s.directory.people.len(),
                s.version
            );
            println!(
                "Notices quote the {}.",
                s.protocol.name(&s.directory.council_name)
            );
            for w in councilgate::policy::protocol::foreign_councils(
                &s.directory.council_name,
                &s.protocol,
                &s.rules,
            ) {
                println!("warning: {w}");
            }
            Ok(())
        }
        RulesAction::Explain { id } => {
            let s = Snapshot::load(config)?;
            let Some(rule) = s.rules.iter().find(|r| r.def.id == id) else {
                let ids: Vec<&str> = s.rules.iter().map(|r| r.def.id.as_str()).collect();
                anyhow::bail!("there is no rule {id:?}; the rules are: {}", ids.join(", "));
            };
            let d = &rule.def;
            println!("{} — {}", d.id, d.title);
            println!(
                "enabled: {}   mode: {:?}   action: {}",
                d.enabled,
                d.mode,
                d.action.as_str()
            );
            if let Some(to) = &d.to {
                println!("to: {to}");
            }
            if let Some(a) = &d.annotation {
                println!("annotation: {a}");
            }
            if !d.source.is_empty() {
                println!("\nSource: {}", d.source);
            }
            println!("The protocol says:\n  {}\n", d.reference.trim());
            println!(
                "Conditions:\n{}",
                toml::to_string_pretty(d)
                    .unwrap_or_default()
                    .lines()
                    .filter(|l| !l.starts_with("reference")
                        && !l.starts_with("title")
                        && !l.starts_with("source"))
                    .map(|l| format!("  {l}"))
                    .collect::<Vec<_>>()
                    .join("\n")
            );
            for det in &d.detectors {
                let lists = councilgate::policy::detectors::DETECTORS
                    .iter()
                    .find(|(n, _)| n == det)
                    .map(|(_, l)| *l)
                    .unwrap_or(&[]);
                println!("\nDetector {det} reads:");
                for l in lists {
                    let w = s.lexicon.list(l);
                    println!(
                        "  {l} ({} entries): {}",
                        w.entries.len(),
                        w.entries.join(", ")
                    );
                }
                match s.semantic.as_ref().and_then(|m| m.describe(det)) {
                    Some((threshold, pos, neg)) => println!(
                        "  and meaning: a sentence whose nearest example is one of its {pos} positive examples (not one of {neg} negative or ordinary ones), at similarity {threshold:.2} or more ({})",
                        s.semantic.as_ref().map_or("", |m| m.model_identity())
                    ),
                    None if s.semantic.is_none() => {
                        println!("  (meaning is not read: policy.semantic = \"off\")")
                    }
                    None => println!("  (no examples or threshold: meaning is not read)"),
                }
            }
            Ok(())
        }
        RulesAction::Test { dir } => {
            let s = Snapshot::load(config)?;
            let dir = dir.unwrap_or_else(|| config.join("fixtures"));
            let fixtures = councilgate::tuning::fixtures::load_dir(&dir)?;
            if fixtures.is_empty() {
                anyhow::bail!("no fixtures (NAME.eml with NAME.toml) in {}", dir.display());
            }
            let (mut passed, mut failed, mut stale) = (0, 0, 0);
            for f in &fixtures {
                // A fixture about people the directory no longer has (after
                // `directory import`) is reported as such, not as a failure.
                let gone = councilgate::tuning::fixtures::strangers(&s, f)?;
                if !gone.is_empty() {
                    stale += 1;
                    println!(
                        "gone  {} (names {}, not in the directory: update or remove it)",
                        f.name,
                        gone.join(", ")
                    );
                    continue;
                }
                let outcome = councilgate::tuning::fixtures::run(&s, f)?;
                if outcome.diff.is_empty() {
                    passed += 1;
                    println!("ok    {}", f.name);
                } else {
                    failed += 1;
                    println!("FAIL  {}", f.name);
                    for line in &outcome.diff {
                        println!("        {line}");
                    }
                }
            }
            if stale > 0 {
                println!(
                    "\nfixtures: {passed} passed, {failed} failed, {stale} not run (they name people no longer in the directory)"
                );
            } else {
                println!("\nfixtures: {passed} passed, {failed} failed");
            }
            if failed > 0 {
                std::process::exit(1);
            }
            Ok(())
        }
        RulesAction::Diff {
            candidate,
            fixtures,
        } => runtime()?.block_on(async {
            let current = Snapshot::load(config)?;
            let next = Snapshot::load(&candidate)
                .with_context(|| format!("the candidate in {}", candidate.display()))?;
            let dir = fixtures.unwrap_or_else(|| config.join("fixtures"));
            let (_, store) = open_store(config).await?;
            let real = councilgate::tuning::samples(
                store.archive(10_000).await?,
                store.analysis_archive(20_000).await?,
            );
            let councilgate::tuning::WhatIf {
                compared, changes, ..
            } = councilgate::tuning::what_if(&current, &next, &dir, &real, None)?;
            println!(
                "Compared {compared} messages: {} would change.",
                changes.len()
            );
            for c in &changes {
                println!(
                    "\n{}\n  now:       {}\n  candidate: {}",
                    c.name, c.before, c.after
                );
            }
            Ok(())
        }),
    }
}

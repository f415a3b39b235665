//! `councilgate protocol`: the council's own protocol — choose a ready-made
//! pack, and see which clause each rule enforces.

use std::path::Path;

use anyhow::{Context, Result};
use clap::Subcommand;

use councilgate::policy::{
    Snapshot,
    protocol::{self, PACKS, PROTOCOL_FILE},
    write_atomic,
};

#[derive(Subcommand)]
pub enum ProtocolAction {
    /// The ready-made protocol packs `use` can start from.
    Packs,
    /// Start the council's protocol.toml from a ready-made pack (model,
    /// district, short, community, town; see `protocol packs`), then edit
    /// its words to match the protocol the council adopted.
    Use {
        pack: String,
        /// The date the council adopted it (2026-04-20 or 2026-04).
        #[arg(long)]
        adopted: Option<String>,
        /// The date it is due for review.
        #[arg(long)]
        review: Option<String>,
        /// Overwrite a protocol.toml that is already there.
        #[arg(long)]
        replace: bool,
    },
    /// Rule by rule, the clause of the adopted protocol it enforces, or "no
    /// clause".
    Coverage,
}

pub fn protocol(config: &Path, action: ProtocolAction) -> Result<()> {
    match action {
        ProtocolAction::Packs => {
            for (name, what, _) in PACKS {
                println!("{name:<10} {what}");
            }
            Ok(())
        }
        ProtocolAction::Use {
            pack,
            adopted,
            review,
            replace,
        } => {
            let Some(text) = protocol::pack(&pack) else {
                let names: Vec<&str> = PACKS.iter().map(|(n, _, _)| *n).collect();
                anyhow::bail!(
                    "there is no protocol pack {pack:?}; the packs are: {}",
                    names.join(", ")
                );
            };
            let path = config.join(PROTOCOL_FILE);
            if path.exists() && !replace {
                anyhow::bail!(
                    "{} exists (the council's protocol, perhaps edited); give --replace to start again from the pack {pack:?}",
                    path.display()
                );
            }
            let mut text = text.to_string();
            for (key, value) in [("adopted", &adopted), ("review", &review)] {
                if let Some(v) = value {
                    text = text.replacen(
                        &format!("{key} = \"\""),
                        &format!("{key} = {}", toml::Value::String(v.clone())),
                        1,
                    );
                }
            }
            // Checked against this folder's rules before it is written.
            let name = path.display().to_string();
            let parsed = protocol::Protocol::parse(&text, &name)?;
            let current = Snapshot::load(config)?;
            parsed.apply(
                &current.directory.council_name,
                &mut current.rules.clone(),
                &name,
            )?;
            write_atomic(&path, text.as_bytes())
                .with_context(|| format!("writing {}", path.display()))?;
            let snapshot = Snapshot::load(config)?;
            println!(
                "Wrote {} from the pack {pack:?}: {}. A running gateway reads it at once.\n",
                path.display(),
                parsed.name(&snapshot.directory.council_name)
            );
            print_coverage(&snapshot);
            Ok(())
        }
        ProtocolAction::Coverage => {
            let snapshot = Snapshot::load(config)?;
            print_coverage(&snapshot);
            Ok(())
        }
    }
}

fn print_coverage(s: &Snapshot) {
    let p = &s.protocol;
    println!("{}", p.name(&s.directory.council_name));
    let dates = [("adopted", &p.adopted), ("review due", &p.review)]
        .iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(k, v)| format!("{k} {v}"))
        .collect::<Vec<_>>();
    if !dates.is_empty() {
        println!("{}", dates.join(", "));
    }
    if !p.pack.is_empty() {
        println!("started from the pack {:?}", p.pack);
    }
    println!();
    let rows = p.coverage(&s.rules);
    let width = rows.iter().map(|r| r.rule.len()).max().unwrap_or(0);
    for r in rows {
        println!("{:<width$}  {:<7}  {}", r.rule, r.state(), r.clause);
    }
}

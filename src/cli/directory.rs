//! `councilgate directory`: the council directory (import from CSV).

use std::path::Path;

use anyhow::{Context, Result};
use clap::Subcommand;

use std::path::PathBuf;

#[derive(Subcommand)]
pub enum DirectoryAction {
    /// Replace the people in directory.toml with those of a CSV file
    /// (columns name, role, addresses, positions, manager; lists separated
    /// by ";"). Nothing is written unless every row and the whole are valid.
    Import {
        csv: PathBuf,
        /// Where to write (default: <config>/directory.toml).
        #[arg(long)]
        output: Option<PathBuf>,
    },
}

pub fn directory(config: &Path, action: DirectoryAction) -> Result<()> {
    let DirectoryAction::Import { csv, output } = action;
    let csv_text =
        std::fs::read_to_string(&csv).with_context(|| format!("reading {}", csv.display()))?;
    let target =
        output.unwrap_or_else(|| config.join(councilgate::policy::directory::DIRECTORY_FILE));
    let existing_path = config.join(councilgate::policy::directory::DIRECTORY_FILE);
    let existing = std::fs::read_to_string(&existing_path).with_context(|| {
        format!(
            "reading {} (its council, exemptions and periods are kept)",
            existing_path.display()
        )
    })?;
    let name = csv
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_default();
    let text = match councilgate::policy::import::import_csv(&csv_text, &name, &existing) {
        Ok(t) => t,
        Err(errors) => {
            for e in &errors {
                eprintln!("{e}");
            }
            anyhow::bail!(
                "{} problem(s); {} was not changed",
                errors.len(),
                target.display()
            );
        }
    };
    councilgate::policy::write_atomic(&target, text.as_bytes())
        .with_context(|| format!("replacing {}", target.display()))?;
    let d = councilgate::policy::Directory::parse(&text, "imported")?;
    println!(
        "{} written: {} people ({} councillors, {} officers).",
        target.display(),
        d.people.len(),
        d.people.iter().filter(|p| p.is_councillor()).count(),
        d.people.iter().filter(|p| p.is_officer()).count()
    );
    Ok(())
}

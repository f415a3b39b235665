//! `councilgate examples`: the example sentences the content detectors
//! read meaning by.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::Subcommand;

use councilgate::policy::semantic::{Examples, Model, examples, model};

#[derive(Subcommand)]
pub enum ExamplesAction {
    /// Embed the examples of <config>/examples.toml (the built-in ones when
    /// absent) and write their vectors to OUT: how the vectors compiled
    /// into the binary (config/examples.embeddings) are made.
    Embed {
        #[arg(long)]
        out: PathBuf,
    },
    /// Count the examples per detector.
    List,
}

fn read(config: &Path) -> Result<(String, String)> {
    let path = config.join(examples::EXAMPLES_FILE);
    if path.exists() {
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("reading {}", path.display()))?;
        Ok((text, path.display().to_string()))
    } else {
        Ok((
            examples::DEFAULT_EXAMPLES.to_string(),
            "built-in examples.toml".to_string(),
        ))
    }
}

pub fn examples(config: &Path, action: ExamplesAction) -> Result<()> {
    let (text, name) = read(config)?;
    let parsed = Examples::parse(&text, &name)?;
    match action {
        ExamplesAction::Embed { out } => {
            let model = Model::load()?;
            let texts = parsed.texts();
            let bytes = model::shipped_cache(&model, &texts)?;
            std::fs::write(&out, bytes).with_context(|| format!("writing {}", out.display()))?;
            println!(
                "{} examples of {name} embedded by {} into {}.",
                texts.len(),
                model.identity(),
                out.display()
            );
        }
        ExamplesAction::List => {
            println!("{name}:");
            for (detector, set) in &parsed.sets {
                let pos = set
                    .iter()
                    .filter(|e| e.label == councilgate::policy::semantic::Label::Positive)
                    .count();
                println!(
                    "  {detector:<22} {pos:>4} positive {:>4} negative",
                    set.len() - pos
                );
            }
            println!(
                "  {:<22} {:>4} ordinary (negative for every detector)",
                examples::ORDINARY,
                parsed.ordinary.len()
            );
        }
    }
    Ok(())
}

//! `councilgate examples`: the example sentences the content detectors
//! read meaning by.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::Subcommand;

use councilgate::policy::semantic::{Examples, Label, Model, examples, model};

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
    /// Propose examples from a message the detector misread: its new
    /// text's sentences, those read most as a breach first (for a missed
    /// breach, the nearest to being read as one; for a false alarm, those
    /// that caused it). With --write, the chosen ones are added to
    /// <config>/examples.toml (made from the built-in one if absent); a
    /// running gateway reloads it.
    Propose {
        /// The message (RFC 5322 file).
        file: PathBuf,
        #[arg(long)]
        detector: String,
        /// `positive`: the message is a breach the detector missed;
        /// `negative`: a false alarm.
        #[arg(long, default_value = "positive")]
        label: String,
        /// How many sentences to propose.
        #[arg(long, default_value_t = 2)]
        count: usize,
        /// Add the proposed sentences to the examples file.
        #[arg(long)]
        write: bool,
    },
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
        ExamplesAction::Propose {
            file,
            detector,
            label,
            count,
            write,
        } => propose(config, &text, &name, &file, &detector, &label, count, write)?,
        ExamplesAction::List => {
            println!("{name}:");
            for (detector, set) in &parsed.sets {
                let pos = set.iter().filter(|e| e.label == Label::Positive).count();
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

#[allow(clippy::too_many_arguments)]
fn propose(
    config: &Path,
    text: &str,
    name: &str,
    file: &Path,
    detector: &str,
    label: &str,
    count: usize,
    write: bool,
) -> Result<()> {
    use councilgate::policy::Snapshot;
    let label = match label {
        "positive" => Label::Positive,
        "negative" => Label::Negative,
        other => anyhow::bail!("--label {other:?}: expected positive or negative"),
    };
    if !examples::SEMANTIC_DETECTORS.contains(&detector) {
        anyhow::bail!(
            "--detector {detector:?}: not a detector that reads meaning (expected one of: {})",
            examples::SEMANTIC_DETECTORS.join(", ")
        );
    }
    let snapshot = Snapshot::load(config)?;
    let Some(semantic) = snapshot.semantic.as_ref().filter(|s| s.reads(detector)) else {
        anyhow::bail!(
            "{detector} reads no meaning under this configuration: give it examples in examples.toml and a threshold in rules.toml ([semantic.thresholds])"
        );
    };
    let raw = std::fs::read(file).with_context(|| format!("reading {}", file.display()))?;
    let sentences = councilgate::policy::engine::new_text_sentences(&snapshot, &raw);
    let vectors = semantic.embed_sentences(&sentences);
    let mut scored = semantic.scores(detector, &vectors);
    // Those read most as a breach first: for a missed breach, the nearest
    // to being read as one; for a false alarm, those that caused it.
    scored.sort_by(|a, b| (b.1 - b.2).total_cmp(&(a.1 - a.2)));
    let chosen: Vec<String> = scored
        .iter()
        .take(count)
        .map(|&(i, _, _)| sentences[i].text.clone())
        .collect();
    if chosen.is_empty() {
        anyhow::bail!(
            "{}: no sentence of its new text is long enough to read",
            file.display()
        );
    }
    println!(
        "Proposed {label:?} examples for {detector} from {}:",
        file.display()
    );
    for &(i, score, negative) in scored.iter().take(count) {
        println!(
            "  {}   (nearest positive {score:.2}, nearest negative {negative:.2})",
            toml::Value::String(sentences[i].text.clone())
        );
    }
    if !write {
        println!("Add them with --write, or copy them into [{detector}] of examples.toml.");
        return Ok(());
    }
    let updated = examples::with_added(text, detector, label, &chosen);
    let path = config.join(examples::EXAMPLES_FILE);
    Examples::parse(&updated, &path.display().to_string())
        .context("the examples file would not parse with them added; add them by hand")?;
    councilgate::policy::write_atomic(&path, updated.as_bytes())
        .with_context(|| format!("writing {}", path.display()))?;
    println!(
        "Added to {} (from {name}); a running gateway reloads it.",
        path.display()
    );
    Ok(())
}

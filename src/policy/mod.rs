//! The protocol policy: who may write to whom and how, as data.
//!
//! A [`Snapshot`] is the directory, word lists and rules compiled once into
//! an immutable value; the gateway holds it in a [`PolicyHandle`] and swaps
//! a new one in atomically, so every message is judged wholly by one
//! snapshot and each verdict records that snapshot's version.

mod compose;
pub mod detectors;
pub mod directory;
pub mod engine;
pub mod import;
pub mod lexicon;
pub mod protocol;
pub mod rules;
pub mod semantic;
pub mod sentences;
pub mod verdict;

use std::path::Path;
use std::sync::Arc;

use arc_swap::ArcSwap;
use chrono::{DateTime, Utc};

use crate::message::envelope::Envelope;
pub use directory::Directory;
pub use lexicon::Lexicon;
pub use rules::Rule;
pub use verdict::{Decision, Verdict};

#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    #[error(transparent)]
    Directory(#[from] directory::DirectoryError),
    #[error(transparent)]
    Lexicon(#[from] lexicon::LexiconError),
    #[error(transparent)]
    Rules(#[from] rules::RulesError),
    #[error(transparent)]
    Semantic(#[from] semantic::SemanticError),
}

/// A short content hash identifying a configuration.
pub fn version_of(parts: &[&[u8]]) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    for p in parts {
        h.update((p.len() as u64).to_le_bytes());
        h.update(p);
    }
    hex::encode(&h.finalize()[..6])
}

/// The texts a policy is compiled from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PolicyTexts {
    pub directory: String,
    pub wordlists: String,
    pub rules: String,
    pub examples: String,
    /// `protocol.toml` (empty in a version recorded before it was kept).
    pub protocol: String,
}

/// Directory, word lists, rules and examples compiled for evaluation.
#[derive(Debug)]
pub struct Snapshot {
    /// A hash of the configuration text it was built from (and of the
    /// sentence encoder's identity when it reads meaning).
    pub version: String,
    pub directory: Directory,
    pub lexicon: Lexicon,
    pub rules: Vec<Rule>,
    /// The protocol the council adopted, whose words the rules quote.
    pub protocol: protocol::Protocol,
    /// The content detectors' semantic reading; `None` when
    /// `policy.semantic = "off"`.
    pub semantic: Option<semantic::Semantic>,
    /// What it was compiled from (for history, diffs and revert).
    pub texts: PolicyTexts,
}

/// Writes a configuration or cache file atomically: a temporary file
/// beside it, synced, then renamed over it (a reader sees the old file or
/// the new one, never half of one).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = std::path::PathBuf::from(tmp);
    let mut f = std::fs::File::create(&tmp)?;
    f.write_all(bytes)?;
    f.sync_all()?;
    std::fs::rename(&tmp, path)
}

fn read_or_default(
    dir: &Path,
    file: &str,
    default: &str,
) -> Result<(String, String), std::io::Error> {
    let path = dir.join(file);
    if path.exists() {
        Ok((std::fs::read_to_string(&path)?, path.display().to_string()))
    } else {
        Ok((default.to_string(), format!("built-in {file}")))
    }
}

impl Snapshot {
    /// Compiles the policy from its three texts, with the shipped
    /// examples and the semantic reading on.
    pub fn compile(
        directory: (&str, &str),
        wordlists: (&str, &str),
        rules: (&str, &str),
    ) -> Result<Self, PolicyError> {
        Self::compile_with(
            directory,
            wordlists,
            rules,
            (
                semantic::examples::DEFAULT_EXAMPLES,
                "built-in examples.toml",
            ),
            (protocol::DEFAULT_PROTOCOL, "built-in protocol.toml"),
            &semantic::Options::default(),
        )
    }

    /// Compiles the policy from its five texts (each with the name its
    /// errors give).
    pub fn compile_with(
        directory: (&str, &str),
        wordlists: (&str, &str),
        rules: (&str, &str),
        examples: (&str, &str),
        protocol: (&str, &str),
        options: &semantic::Options,
    ) -> Result<Self, PolicyError> {
        let dir = Directory::parse(directory.0, directory.1)?;
        let lexicon = Lexicon::parse(wordlists.0, wordlists.1)?;
        let mut compiled = rules::compile(rules.0, rules.1, &lexicon)?;
        let adopted = protocol::Protocol::parse(protocol.0, protocol.1)?;
        adopted.apply(&dir.council_name, &mut compiled.rules, protocol.1)?;
        let parsed_examples = semantic::Examples::parse(examples.0, examples.1)?;
        let semantic = match options.mode {
            semantic::Mode::On => Some(semantic::Semantic::compile(
                &parsed_examples,
                &compiled.thresholds,
                options.cache_dir.as_deref(),
            )?),
            semantic::Mode::Off => None,
        };
        let model = semantic
            .as_ref()
            .map_or("semantic off", |s| s.model_identity());
        Ok(Snapshot {
            version: version_of(&[
                directory.0.as_bytes(),
                wordlists.0.as_bytes(),
                rules.0.as_bytes(),
                examples.0.as_bytes(),
                model.as_bytes(),
                protocol.0.as_bytes(),
            ]),
            directory: dir,
            lexicon,
            rules: compiled.rules,
            protocol: adopted,
            semantic,
            texts: PolicyTexts {
                directory: directory.0.to_string(),
                wordlists: wordlists.0.to_string(),
                rules: rules.0.to_string(),
                examples: examples.0.to_string(),
                protocol: protocol.0.to_string(),
            },
        })
    }

    /// Compiles the policy in a config folder with the semantic reading
    /// on (see [`Snapshot::load_with`]).
    pub fn load(dir: &Path) -> Result<Self, PolicyError> {
        Self::load_with(dir, &semantic::Options::default())
    }

    /// Compiles the policy in a config folder: `directory.toml`
    /// (required), `wordlists.toml`, `rules.toml`, `examples.toml` and
    /// `protocol.toml` (the built-in defaults when absent).
    pub fn load_with(dir: &Path, options: &semantic::Options) -> Result<Self, PolicyError> {
        let path = dir.join(directory::DIRECTORY_FILE);
        let dtext = std::fs::read_to_string(&path).map_err(|e| directory::DirectoryError {
            file: path.display().to_string(),
            detail: format!("cannot read: {e}"),
        })?;
        let io = |file: &str, e: std::io::Error| rules::RulesError {
            file: dir.join(file).display().to_string(),
            detail: format!("cannot read: {e}"),
        };
        let (wtext, wname) =
            read_or_default(dir, lexicon::WORDLISTS_FILE, lexicon::DEFAULT_WORDLISTS)
                .map_err(|e| io(lexicon::WORDLISTS_FILE, e))?;
        let (rtext, rname) = read_or_default(dir, rules::RULES_FILE, rules::DEFAULT_RULES)
            .map_err(|e| io(rules::RULES_FILE, e))?;
        let (etext, ename) = read_or_default(
            dir,
            semantic::examples::EXAMPLES_FILE,
            semantic::examples::DEFAULT_EXAMPLES,
        )
        .map_err(|e| io(semantic::examples::EXAMPLES_FILE, e))?;
        let (ptext, pname) =
            read_or_default(dir, protocol::PROTOCOL_FILE, protocol::DEFAULT_PROTOCOL)
                .map_err(|e| io(protocol::PROTOCOL_FILE, e))?;
        Self::compile_with(
            (&dtext, &path.display().to_string()),
            (&wtext, &wname),
            (&rtext, &rname),
            (&etext, &ename),
            (&ptext, &pname),
            options,
        )
    }

    /// Judges one message and rewrites it as the verdict says. Pure: no
    /// I/O, no clock but `now`.
    pub fn evaluate(&self, envelope: &Envelope, message: &[u8], now: DateTime<Utc>) -> Verdict {
        engine::evaluate(self, envelope, message, now)
    }

    /// Judges one parsed message: the verdict and the changes it makes
    /// (the pipeline's evaluate stage; [`crate::message::rewrite::apply`]
    /// is its rewrite stage).
    pub fn judge(
        &self,
        envelope: &Envelope,
        message: &crate::message::View<'_>,
        now: DateTime<Utc>,
    ) -> (Verdict, crate::message::rewrite::Changes) {
        engine::judge(self, envelope, message, now)
    }
}

/// The live snapshot, swapped atomically on reload.
pub struct PolicyHandle(ArcSwap<Snapshot>);

impl PolicyHandle {
    pub fn new(snapshot: Snapshot) -> Self {
        PolicyHandle(ArcSwap::from_pointee(snapshot))
    }
    pub fn load(&self) -> Arc<Snapshot> {
        self.0.load_full()
    }
    pub fn store(&self, snapshot: Snapshot) {
        self.0.store(Arc::new(snapshot));
    }
}

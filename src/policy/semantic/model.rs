//! The bundled sentence encoder and the cache of example embeddings.
//!
//! The encoder ([`super::encoder`]): paraphrase-MiniLM-L3-v2 with the
//! 4-bit weights `pocket-encoder` bundles and transformer layers tuned on
//! the example sentences, compiled into the binary, run batched on the CPU
//! by candle; nothing is downloaded at build or run time. Examples are
//! embedded once: the vectors of the shipped examples are compiled in
//! (`config/examples.embeddings`), those of an admin's own examples are
//! kept in the data folder, and both are keyed by the model's identity and
//! the example's text, so a changed example, or another model, is embedded
//! afresh and nothing stale is read.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex, OnceLock};

use super::SemanticError;

/// Coordinates per embedding.
pub const DIMENSIONS: usize = 384;

/// The embeddings of the shipped examples, made by
/// `councilgate examples embed --out config/examples.embeddings`.
const SHIPPED: &[u8] = include_bytes!("../../../config/examples.embeddings");

/// The cache of an admin's examples in the data folder.
pub const CACHE_FILE: &str = "examples.embeddings";

const MAGIC: &[u8; 8] = b"CGEMB01\n";

pub type Vector = Arc<[f32]>;

/// The loaded encoder and its identity (name and weights' content hash).
#[derive(Clone)]
pub struct Model {
    encoder: Arc<super::encoder::Encoder>,
    identity: String,
}

impl std::fmt::Debug for Model {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Model")
            .field("identity", &self.identity)
            .finish()
    }
}

/// The model's identity: its name and the SHA-256 of its weights.
pub fn identity() -> String {
    super::encoder::identity().to_string()
}

impl Model {
    /// Loads the compiled-in weights (once per process).
    pub fn load() -> Result<Model, SemanticError> {
        let encoder = super::encoder::Encoder::shared().map_err(SemanticError::Model)?;
        Ok(Model {
            encoder,
            identity: identity(),
        })
    }

    /// "councilgate/minilm-l3-q4-council-v1 sha256:…".
    pub fn identity(&self) -> &str {
        &self.identity
    }

    /// One unit vector per text, in order.
    pub fn embed(&self, texts: &[&str]) -> Result<Vec<Vector>, SemanticError> {
        let mut out = Vec::with_capacity(texts.len());
        for chunk in texts.chunks(1024) {
            let vectors = self.encoder.embed(chunk).map_err(SemanticError::Model)?;
            out.extend(vectors.into_iter().map(Vector::from));
        }
        Ok(out)
    }

    /// The vectors of example texts: from the process's memory, the
    /// shipped cache or `cache_dir`'s, else embedded now (and the cache
    /// in `cache_dir` rewritten to hold exactly these texts).
    pub fn embed_examples(
        &self,
        texts: &[&str],
        cache_dir: Option<&Path>,
    ) -> Result<Vec<Vector>, SemanticError> {
        let memo = memo(&self.identity);
        let mut known = memo.lock().map_err(|_| SemanticError::Cache {
            file: "(memory)".into(),
            detail: "poisoned".into(),
        })?;
        let keys: Vec<Key> = texts.iter().map(|t| key(&self.identity, t)).collect();
        let cache_file = cache_dir.map(|d| d.join(CACHE_FILE));
        if keys.iter().any(|k| !known.contains_key(k))
            && let Some(file) = &cache_file
            && let Ok(bytes) = std::fs::read(file)
        {
            // A cache that does not parse is rebuilt, not trusted.
            for (k, v) in decode(&bytes, &self.identity).unwrap_or_default() {
                known.entry(k).or_insert(v);
            }
        }
        let missing: Vec<&str> = texts
            .iter()
            .zip(&keys)
            .filter(|(_, k)| !known.contains_key(*k))
            .map(|(t, _)| *t)
            .collect();
        if !missing.is_empty() {
            let vectors = self.embed(&missing)?;
            for (t, v) in missing.iter().zip(vectors) {
                known.insert(key(&self.identity, t), v);
            }
        }
        let out: Vec<Vector> = keys.iter().map(|k| known[k].clone()).collect();
        if let Some(file) = &cache_file
            && !missing.is_empty()
        {
            let entries: Vec<(Key, Vector)> = keys.iter().copied().zip(out.clone()).collect();
            crate::policy::write_atomic(file, &encode(&entries, &self.identity)).map_err(|e| {
                SemanticError::Cache {
                    file: file.display().to_string(),
                    detail: e.to_string(),
                }
            })?;
        }
        Ok(out)
    }
}

type Key = [u8; 16];

fn key(identity: &str, text: &str) -> Key {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    h.update(identity.as_bytes());
    h.update([0]);
    h.update(text.as_bytes());
    let mut k = [0u8; 16];
    k.copy_from_slice(&h.finalize()[..16]);
    k
}

/// The process's known example vectors, first filled from the shipped
/// cache.
fn memo(identity: &str) -> &'static Mutex<HashMap<Key, Vector>> {
    static MEMO: OnceLock<Mutex<HashMap<Key, Vector>>> = OnceLock::new();
    MEMO.get_or_init(|| {
        Mutex::new(
            decode(SHIPPED, identity)
                .unwrap_or_default()
                .into_iter()
                .collect(),
        )
    })
}

/// `MAGIC`, the identity's length (u32 LE) and bytes, then entries of a
/// 16-byte key and `DIMENSIONS` f32 (LE).
pub fn encode(entries: &[(Key, Vector)], identity: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(16 + identity.len() + entries.len() * (16 + DIMENSIONS * 4));
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&(identity.len() as u32).to_le_bytes());
    out.extend_from_slice(identity.as_bytes());
    for (k, v) in entries {
        out.extend_from_slice(k);
        for x in v.iter() {
            out.extend_from_slice(&x.to_le_bytes());
        }
    }
    out
}

/// The entries of a cache made by the same model; `None` for another
/// model's cache or a damaged one.
fn decode(bytes: &[u8], identity: &str) -> Option<Vec<(Key, Vector)>> {
    let rest = bytes.strip_prefix(MAGIC)?;
    let (len, rest) = rest.split_first_chunk::<4>()?;
    let len = u32::from_le_bytes(*len) as usize;
    if rest.get(..len)? != identity.as_bytes() {
        return None;
    }
    let body = &rest[len..];
    let entry = 16 + DIMENSIONS * 4;
    if body.len() % entry != 0 {
        return None;
    }
    Some(
        body.chunks_exact(entry)
            .map(|c| {
                let mut k = [0u8; 16];
                k.copy_from_slice(&c[..16]);
                let v: Vector = c[16..]
                    .chunks_exact(4)
                    .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                    .collect();
                (k, v)
            })
            .collect(),
    )
}

/// The shipped cache for `texts`, embedded afresh (what
/// `councilgate examples embed` writes).
pub fn shipped_cache(model: &Model, texts: &[&str]) -> Result<Vec<u8>, SemanticError> {
    let vectors = model.embed(texts)?;
    let entries: Vec<(Key, Vector)> = texts
        .iter()
        .map(|t| key(&model.identity, t))
        .zip(vectors)
        .collect();
    Ok(encode(&entries, &model.identity))
}

/// How many of `texts` the shipped cache lacks (a test keeps it at zero).
pub fn missing_from_shipped(texts: &[&str]) -> usize {
    let id = identity();
    let shipped: std::collections::HashSet<Key> = decode(SHIPPED, &id)
        .unwrap_or_default()
        .into_iter()
        .map(|(k, _)| k)
        .collect();
    texts
        .iter()
        .filter(|t| !shipped.contains(&key(&id, t)))
        .count()
}

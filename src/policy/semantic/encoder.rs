//! The sentence encoder, run batched: paraphrase-MiniLM-L3-v2 with the
//! weights, tokenizer and configuration the `pocket-encoder` crate bundles
//! (copied unchanged into `models/minilm-l3-q4/`, compiled in), on candle's
//! CPU backend.
//!
//! pocket-encoder runs one sentence per pass; a message's sentences are
//! known together, so here they go through the model in batches, shortest
//! first, each batch padded to its longest sentence and masked: the
//! matrix products are then large enough to run at the CPU's speed (ten
//! sentences in about half the time; BENCHMARKS.md). Run on the base
//! weights alone, the vectors are pocket-encoder's (a test compares them);
//! with the tuned layers, they are the tuning script's (a test compares
//! them with the vectors it recorded, `probe.json`).

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use candle_transformers::models::bert::{BertModel, Config};
use tokenizers::{Tokenizer, TruncationParams};

const WEIGHTS: &[u8] = include_bytes!("../../../models/minilm-l3-q4/model.safetensors");
const SHAPES: &str = include_str!("../../../models/minilm-l3-q4/shapes.json");
const CONFIG: &str = include_str!("../../../models/minilm-l3-q4/config.json");
const TOKENIZER: &[u8] = include_bytes!("../../../models/minilm-l3-q4/tokenizer.json");
/// The tuned transformer layers (matrices F16, vectors F32), laid over the
/// base weights.
const TUNED: &[u8] = include_bytes!("../../../models/minilm-l3-council/layers.safetensors");

/// The name of the tuned model; its identity's hash covers the base weights
/// and the tuned layers.
const NAME: &str = "councilgate/minilm-l3-q4-council-v1";
/// Word pieces read of one sentence (special tokens included); the rest
/// is cut, as pocket-encoder does.
pub const MAX_TOKENS: usize = 128;
/// Sentences per pass: bounds the activations (16 × 128 tokens at most).
const BATCH: usize = 16;
/// Longest text accepted, as pocket-encoder.
const MAX_TEXT: usize = 64 * 1024;

pub struct Encoder {
    model: BertModel,
    tokenizer: Tokenizer,
}

/// The name and the SHA-256 of the base weights followed by the tuned
/// layers: "councilgate/minilm-l3-q4-council-v1 sha256:…".
pub fn identity() -> &'static str {
    static ID: OnceLock<String> = OnceLock::new();
    ID.get_or_init(|| format!("{NAME} sha256:{}", sha256_hex(&[WEIGHTS, TUNED])))
}

/// The SHA-256 of `parts` one after another, in lower-case hex.
fn sha256_hex(parts: &[&[u8]]) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    for p in parts {
        h.update(p);
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

impl Encoder {
    /// The process's encoder, loaded on first use (about 70 MB of F32
    /// weights, expanded from the 4-bit storage).
    pub fn shared() -> Result<Arc<Encoder>, String> {
        static SHARED: OnceLock<Result<Arc<Encoder>, String>> = OnceLock::new();
        SHARED
            .get_or_init(|| Encoder::load(Some(TUNED)).map(Arc::new))
            .clone()
    }

    /// The base weights with `tuned` layers laid over them, if any.
    fn load(tuned: Option<&[u8]>) -> Result<Encoder, String> {
        let err = |e: &dyn std::fmt::Display| format!("the bundled encoder does not load: {e}");
        let mut weights = weights()?;
        if let Some(tuned) = tuned {
            overlay(&mut weights, tuned)?;
        }
        let tensors = weights
            .into_iter()
            .map(|(name, (shape, data))| {
                Tensor::from_vec(data, shape, &Device::Cpu)
                    .map(|t| (name, t))
                    .map_err(|e| err(&e))
            })
            .collect::<Result<HashMap<_, _>, _>>()?;
        let config: Config = serde_json::from_str(CONFIG).map_err(|e| err(&e))?;
        let model = BertModel::load(
            VarBuilder::from_tensors(tensors, DType::F32, &Device::Cpu),
            &config,
        )
        .map_err(|e| err(&e))?;
        let mut tokenizer = Tokenizer::from_bytes(TOKENIZER).map_err(|e| err(&e))?;
        tokenizer.with_padding(None);
        tokenizer
            .with_truncation(Some(TruncationParams {
                max_length: MAX_TOKENS,
                ..Default::default()
            }))
            .map_err(|e| err(&e))?;
        Ok(Encoder { model, tokenizer })
    }

    /// One unit vector per text, in order. A blank text or one over 64 KiB
    /// is refused.
    pub fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, String> {
        let mut pieces = Vec::with_capacity(texts.len());
        for text in texts {
            if text.trim().is_empty() {
                return Err("the encoder was given an empty text".into());
            }
            if text.len() > MAX_TEXT {
                return Err("the encoder was given a text over 64 KiB".into());
            }
            let e = self
                .tokenizer
                .encode(*text, true)
                .map_err(|e| format!("tokenizer: {e}"))?;
            pieces.push(e.get_ids().to_vec());
        }
        // Shortest first: each batch pads to little beyond its sentences.
        let mut order: Vec<usize> = (0..texts.len()).collect();
        order.sort_by_key(|&i| pieces[i].len());
        let mut out: Vec<Vec<f32>> = vec![Vec::new(); texts.len()];
        for batch in order.chunks(BATCH) {
            let rows: Vec<&[u32]> = batch.iter().map(|&i| pieces[i].as_slice()).collect();
            let vectors = self.forward(&rows).map_err(|e| format!("encoder: {e}"))?;
            for (&i, v) in batch.iter().zip(vectors) {
                out[i] = normalise(v)?;
            }
        }
        Ok(out)
    }

    /// The masked sum of the last hidden states of each row.
    fn forward(&self, rows: &[&[u32]]) -> candle_core::Result<Vec<Vec<f32>>> {
        let len = rows.iter().map(|r| r.len()).max().unwrap_or(0);
        let mut ids = Vec::with_capacity(rows.len() * len);
        let mut mask = Vec::with_capacity(rows.len() * len);
        for r in rows {
            ids.extend_from_slice(r);
            ids.resize(ids.len() + len - r.len(), 0);
            mask.extend(std::iter::repeat_n(1u32, r.len()));
            mask.resize(mask.len() + len - r.len(), 0);
        }
        let shape = (rows.len(), len);
        let ids = Tensor::from_vec(ids, shape, &Device::Cpu)?;
        let types = ids.zeros_like()?;
        let mask = Tensor::from_vec(mask, shape, &Device::Cpu)?;
        let hidden = self.model.forward(&ids, &types, Some(&mask))?;
        hidden
            .broadcast_mul(&mask.to_dtype(DType::F32)?.unsqueeze(2)?)?
            .sum(1)?
            .to_vec2::<f32>()
    }
}

fn normalise(v: Vec<f32>) -> Result<Vec<f32>, String> {
    let norm = v.iter().map(|x| (*x as f64).powi(2)).sum::<f64>().sqrt();
    if !norm.is_finite() || norm <= 0.0 {
        return Err("the encoder gave a zero or non-finite vector".into());
    }
    Ok(v.into_iter().map(|x| (x as f64 / norm) as f32).collect())
}

type Weights = HashMap<String, (Vec<usize>, Vec<f32>)>;

/// The weights expanded to F32: 1-D tensors as stored, matrices from
/// symmetric 4-bit values (low nibble first, value − 8) times an F16 scale
/// per group of 32 — pocket-encoder's storage format.
fn weights() -> Result<Weights, String> {
    let err = |e: &dyn std::fmt::Display| format!("the bundled weights do not read: {e}");
    let file = safetensors::SafeTensors::deserialize(WEIGHTS).map_err(|e| err(&e))?;
    let shapes: HashMap<String, Vec<usize>> = serde_json::from_str(SHAPES).map_err(|e| err(&e))?;
    let mut out = HashMap::new();
    for (name, shape) in shapes {
        let count = shape.iter().product::<usize>();
        let data: Vec<f32> = if shape.len() < 2 {
            f32s(file.tensor(&name).map_err(|e| err(&e))?.data())
        } else {
            let packed = file.tensor(&format!("{name}.q4")).map_err(|e| err(&e))?;
            let scales = f16s(
                file.tensor(&format!("{name}.scales"))
                    .map_err(|e| err(&e))?
                    .data(),
            );
            let packed = packed.data();
            if packed.len() * 2 < count || scales.len() * 32 < count {
                return Err(err(&format!("{name}: fewer values than its shape")));
            }
            (0..count)
                .map(|i| {
                    let nibble = (packed[i / 2] >> ((i % 2) * 4)) & 15;
                    (nibble as i16 - 8) as f32 * scales[i / 32]
                })
                .collect()
        };
        if data.len() != count {
            return Err(err(&format!("{name}: length does not match its shape")));
        }
        out.insert(name, (shape, data));
    }
    Ok(out)
}

/// Replaces base tensors by the tuned ones of `bytes` (a safetensors file:
/// F16 or F32, each named and shaped as a base tensor).
fn overlay(weights: &mut Weights, bytes: &[u8]) -> Result<(), String> {
    use safetensors::Dtype;
    let err = |e: &dyn std::fmt::Display| format!("the tuned layers do not read: {e}");
    let file = safetensors::SafeTensors::deserialize(bytes).map_err(|e| err(&e))?;
    for (name, view) in file.tensors() {
        let Some((shape, data)) = weights.get_mut(&name) else {
            return Err(err(&format!("{name} is not a tensor of the base model")));
        };
        if view.shape() != shape.as_slice() {
            return Err(err(&format!("{name}: shape differs from the base model's")));
        }
        *data = match view.dtype() {
            Dtype::F16 => f16s(view.data()),
            Dtype::F32 => f32s(view.data()),
            other => return Err(err(&format!("{name}: unexpected type {other:?}"))),
        };
    }
    Ok(())
}

/// Little-endian F32 values.
fn f32s(bytes: &[u8]) -> Vec<f32> {
    bytes
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect()
}

/// Little-endian F16 values, widened.
fn f16s(bytes: &[u8]) -> Vec<f32> {
    bytes
        .chunks_exact(2)
        .map(|b| half::f16::from_bits(u16::from_le_bytes([b[0], b[1]])).to_f32())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// On the base weights, the batched vectors are pocket-encoder's,
    /// sentence by sentence: batching, padding and masking change nothing,
    /// and the weights in `models/minilm-l3-q4/` are the ones it bundles.
    #[test]
    fn batched_vectors_are_pocket_encoder_s() {
        let long = "word ".repeat(300);
        let texts = [
            "Thanks.",
            "I expect the recommendation to be changed before the papers go out.",
            "Could you let me know how many bookings we have for the hall in December?",
            "Siân asked whether the café's licence covers the green.",
            long.as_str(),
            "Please strim plot 4 on Friday.",
        ];
        let ours = Encoder::load(None)
            .expect("loads")
            .embed(&texts)
            .expect("embeds");
        let theirs = pocket_encoder::Encoder::new()
            .expect("loads")
            .embed(&texts)
            .expect("embeds");
        for ((a, b), t) in ours.iter().zip(&theirs).zip(texts) {
            let cos: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
            assert!(cos > 0.99999, "{cos} for {:.40}", t);
        }
        let info = pocket_encoder::model_info();
        assert_eq!(info.revision, format!("sha256:{}", sha256_hex(&[WEIGHTS])));
    }

    /// The tuned vectors are those the tuning script computed and recorded
    /// (`probe.json`): the overlay is read as the script wrote it, and the
    /// script's model is the gateway's.
    #[test]
    fn tuned_vectors_are_the_tuning_script_s() {
        #[derive(serde::Deserialize)]
        struct Probe {
            text: String,
            vector: Vec<f32>,
        }
        #[derive(serde::Deserialize)]
        struct Probes {
            name: String,
            probes: Vec<Probe>,
        }
        let recorded: Probes =
            serde_json::from_str(include_str!("../../../models/minilm-l3-council/probe.json"))
                .expect("probe.json reads");
        assert_eq!(recorded.name, NAME);
        let texts: Vec<&str> = recorded.probes.iter().map(|p| p.text.as_str()).collect();
        let ours = Encoder::shared()
            .expect("loads")
            .embed(&texts)
            .expect("embeds");
        let base = Encoder::load(None)
            .expect("loads")
            .embed(&texts)
            .expect("embeds");
        let cos = |a: &[f32], b: &[f32]| a.iter().zip(b).map(|(x, y)| x * y).sum::<f32>();
        for ((a, p), b) in ours.iter().zip(&recorded.probes).zip(&base) {
            assert!(cos(a, &p.vector) > 0.9999, "{:.40}", p.text);
            // The tuning changed something.
            assert!(
                cos(a, b) < 0.9999,
                "{:.40} reads as the base model reads it",
                p.text
            );
        }
        assert!(identity().starts_with("councilgate/minilm-l3-q4-council-v1 sha256:"));
    }

    #[test]
    fn blank_text_is_refused() {
        let e = Encoder::shared().expect("loads");
        assert!(e.embed(&["fine", "  "]).is_err());
        assert!(e.embed(&[]).expect("nothing to do").is_empty());
    }
}

//! A detector's model: its examples' vectors, read as calibrated nearest
//! examples. A sentence's score is its cosine similarity to the nearest
//! positive example; it counts only when that positive is nearer than
//! every negative example (the detector's hard cases and the ordinary
//! sentences) — the nearest example overall says it is a breach — and the
//! score reaches the detector's threshold. Nothing is fitted that could
//! reach past the examples: a sentence far from all of them scores low,
//! whatever it is, which keeps false alarms on unforeseen mail rare.

use super::model::Vector;

#[derive(Debug, Clone)]
pub struct Head {
    /// Positive examples with their vectors, for the score and "reads
    /// like".
    positives: Vec<(String, Vector)>,
    negatives: Vec<Vector>,
}

fn dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// How a sentence reads against one detector's examples.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Nearest<'h> {
    /// The nearest positive example and its cosine similarity.
    pub positive: &'h str,
    pub score: f32,
    /// The similarity of the nearest negative example.
    pub negative: f32,
}

impl Nearest<'_> {
    /// Whether the nearest example overall is a positive.
    pub fn reads_as_breach(&self) -> bool {
        self.score > self.negative
    }
}

impl Head {
    pub fn new(positives: Vec<(String, Vector)>, negatives: Vec<Vector>) -> Head {
        Head {
            positives,
            negatives,
        }
    }

    pub fn positives(&self) -> usize {
        self.positives.len()
    }

    pub fn negatives(&self) -> usize {
        self.negatives.len()
    }

    /// The nearest positive and negative examples to a sentence's vector.
    pub fn nearest(&self, v: &[f32]) -> Option<Nearest<'_>> {
        let (positive, score) = self
            .positives
            .iter()
            .map(|(t, p)| (t.as_str(), dot(p, v)))
            .max_by(|a, b| a.1.total_cmp(&b.1))?;
        let negative = self
            .negatives
            .iter()
            .map(|n| dot(n, v))
            .max_by(f32::total_cmp)
            .unwrap_or(-1.0);
        Some(Nearest {
            positive,
            score,
            negative,
        })
    }
}

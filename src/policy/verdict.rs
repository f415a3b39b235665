//! The outcome of evaluating one message.

use serde::{Deserialize, Serialize};

use crate::message::envelope::Envelope;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Decision {
    Deliver,
    Hold,
    Reject,
}

impl Decision {
    pub fn as_str(self) -> &'static str {
        match self {
            Decision::Deliver => "deliver",
            Decision::Hold => "hold",
            Decision::Reject => "reject",
        }
    }
}

/// One rule that fired, with its evidence.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RuleHit {
    pub id: String,
    pub action: String,
    /// Sentences or header values that made it fire.
    pub evidence: Vec<String>,
}

/// The evidence that says most about why a rule fired: its first line that
/// is not about who wrote to whom (sender, recipients, period), else its
/// first line.
pub fn headline_evidence(evidence: &[String]) -> Option<&str> {
    const STRUCTURAL: &[&str] = &[
        "sender:",
        "sender verified",
        "sender not verified",
        "period:",
        "recipient:",
        "no recipient is",
        "an exemption",
    ];
    evidence
        .iter()
        .find(|e| !STRUCTURAL.iter().any(|p| e.starts_with(p)))
        .or(evidence.first())
        .map(String::as_str)
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Verdict {
    pub decision: Decision,
    /// Final envelope recipients (copies added, redirected ones removed).
    pub recipients: Vec<String>,
    /// The rewritten message, or `None` when unchanged.
    #[serde(skip)]
    pub message: Option<Vec<u8>>,
    pub rules: Vec<RuleHit>,
    /// Footer and notice texts added to the message.
    pub annotations: Vec<String>,
    /// One-line reason for a rejection (the 550 text).
    pub reject_reason: Option<String>,
    /// Texts to tell the sender (e.g. where a redirected message went).
    pub sender_notices: Vec<String>,
    /// The policy snapshot that decided.
    pub snapshot_version: String,
    /// The sentence encoder the snapshot reads meaning with (name and
    /// weights' hash); `None` when the semantic reading is off.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// The new text, when it was split into sentences and read (only when
    /// a rule that reads text passed its structural conditions): what the
    /// analysis archive keeps, without analysing the message again.
    #[serde(skip)]
    pub read_text: Option<String>,
    /// Whether the sentence encoder read the new text.
    #[serde(skip)]
    pub meaning_read: bool,
    /// Bytes of body text the content rules did not read: what lay beyond
    /// `message::analysis::TEXT_PER_PART` in a long part.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text_unread: Option<usize>,
    /// The new text's language when it is not plainly English: "cy" (mostly
    /// Welsh) or "cy+en" (bilingual); set only when the text was read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
}

impl Verdict {
    /// Whether the new text was read (see [`Verdict::read_text`]).
    pub fn text_read(&self) -> bool {
        self.read_text.is_some()
    }

    pub fn deliver_unchanged(envelope: &Envelope, version: &str, model: Option<&str>) -> Self {
        Verdict {
            decision: Decision::Deliver,
            recipients: envelope.rcpt_to.clone(),
            message: None,
            rules: Vec::new(),
            annotations: Vec::new(),
            reject_reason: None,
            sender_notices: Vec::new(),
            snapshot_version: version.to_string(),
            model: model.map(str::to_string),
            read_text: None,
            meaning_read: false,
            text_unread: None,
            language: None,
        }
    }
}

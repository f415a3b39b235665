//! Proposed examples: sentences a reviewer's decision taught — "not a
//! breach" makes the sentences that held a message negative examples of
//! the rule's detector; a hold confirmed (returned, or sent to the Proper
//! Officer only) makes them positive ones. An administrator accepts or
//! rejects each on the "Proposed examples" page; accepted ones are written
//! to `examples.toml`.

use serde::Serialize;
use sqlx::Row;

use super::{Store, StoreError};
use crate::policy::semantic::Label;

/// Where a proposal stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ProposalState {
    Proposed,
    Accepted,
    Rejected,
}

impl ProposalState {
    pub fn as_str(self) -> &'static str {
        match self {
            ProposalState::Proposed => "proposed",
            ProposalState::Accepted => "accepted",
            ProposalState::Rejected => "rejected",
        }
    }

    fn parse(s: &str) -> Result<Self, StoreError> {
        match s {
            "proposed" => Ok(ProposalState::Proposed),
            "accepted" => Ok(ProposalState::Accepted),
            "rejected" => Ok(ProposalState::Rejected),
            other => Err(StoreError::Data(format!("proposal state {other:?}"))),
        }
    }
}

fn label_str(l: Label) -> &'static str {
    match l {
        Label::Positive => "positive",
        Label::Negative => "negative",
    }
}

fn parse_label(s: &str) -> Result<Label, StoreError> {
    match s {
        "positive" => Ok(Label::Positive),
        "negative" => Ok(Label::Negative),
        other => Err(StoreError::Data(format!("proposal label {other:?}"))),
    }
}

/// One proposed example.
#[derive(Debug, Clone)]
pub struct Proposal {
    pub id: String,
    pub at: i64,
    pub detector: String,
    pub label: Label,
    pub sentence: String,
    /// The held message it came from, its subject and the rule that held it.
    pub held_id: String,
    pub subject: String,
    pub rule: String,
    /// Who decided the message.
    pub proposed_by: String,
    pub state: ProposalState,
    pub decided_by: String,
}

/// A proposal to record.
pub struct NewProposal<'a> {
    pub detector: &'a str,
    pub label: Label,
    pub sentence: &'a str,
    pub held_id: &'a str,
    pub subject: &'a str,
    pub rule: &'a str,
    pub proposed_by: &'a str,
}

fn from_row(r: &sqlx::any::AnyRow) -> Result<Proposal, StoreError> {
    Ok(Proposal {
        id: r.try_get("id")?,
        at: r.try_get("at")?,
        detector: r.try_get("detector")?,
        label: parse_label(&r.try_get::<String, _>("label")?)?,
        sentence: r.try_get("sentence")?,
        held_id: r.try_get("held_id")?,
        subject: r.try_get("subject")?,
        rule: r.try_get("rule")?,
        proposed_by: r.try_get("proposed_by")?,
        state: ProposalState::parse(&r.try_get::<String, _>("state")?)?,
        decided_by: r.try_get("decided_by")?,
    })
}

const COLUMNS: &str =
    "id, at, detector, label, sentence, held_id, subject, rule, proposed_by, state, decided_by";

impl Store {
    /// Records proposals; one already waiting for the same detector, label
    /// and sentence is not proposed twice. Returns how many were new.
    pub async fn propose_examples(
        &self,
        proposals: &[NewProposal<'_>],
        at: i64,
    ) -> Result<usize, StoreError> {
        let mut added = 0;
        for p in proposals {
            let waiting = sqlx::query("SELECT 1 AS one FROM proposed_examples WHERE detector = $1 AND label = $2 AND sentence = $3 AND state = 'proposed'")
                .bind(p.detector)
                .bind(label_str(p.label))
                .bind(p.sentence)
                .fetch_optional(self.pool())
                .await?
                .is_some();
            if waiting {
                continue;
            }
            sqlx::query(
                "INSERT INTO proposed_examples (id, at, detector, label, sentence, held_id, subject, rule, proposed_by, state, decided_by, decided_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'proposed', '', 0)",
            )
            .bind(super::random_hex()[..16].to_string())
            .bind(at)
            .bind(p.detector)
            .bind(label_str(p.label))
            .bind(p.sentence)
            .bind(p.held_id)
            .bind(p.subject)
            .bind(p.rule)
            .bind(p.proposed_by)
            .execute(self.pool())
            .await?;
            added += 1;
        }
        Ok(added)
    }

    /// Proposals in `state`, newest first (at most 500).
    pub async fn proposals(&self, state: ProposalState) -> Result<Vec<Proposal>, StoreError> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM proposed_examples WHERE state = $1 ORDER BY at DESC LIMIT 500"
        )))
        .bind(state.as_str())
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(from_row).collect()
    }

    pub async fn proposal(&self, id: &str) -> Result<Proposal, StoreError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM proposed_examples WHERE id = $1"
        )))
        .bind(id)
        .fetch_optional(self.pool())
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("proposed example {id}")))?;
        from_row(&row)
    }

    /// Accepts or rejects a waiting proposal (`false`: it was no longer
    /// waiting), audited with who did it.
    pub async fn decide_proposal(
        &self,
        id: &str,
        state: ProposalState,
        by: &str,
        at: i64,
    ) -> Result<bool, StoreError> {
        let n = sqlx::query("UPDATE proposed_examples SET state = $1, decided_by = $2, decided_at = $3 WHERE id = $4 AND state = 'proposed'")
            .bind(state.as_str())
            .bind(by)
            .bind(at)
            .bind(id)
            .execute(self.pool())
            .await?
            .rows_affected();
        if n == 1 {
            let p = self.proposal(id).await?;
            self.audit(
                by,
                &format!("example-{}", state.as_str()),
                &p.held_id,
                &format!(
                    "{} example for {}: {:?}",
                    label_str(p.label),
                    p.detector,
                    p.sentence
                ),
            )
            .await?;
        }
        Ok(n == 1)
    }
}

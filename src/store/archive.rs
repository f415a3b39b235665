//! The analysis archive: for mail a content rule could apply to (a
//! councillor or officer writing where the rules' structural conditions
//! held — never a resident's mail to the clerk), the envelope, the visible
//! header fields, the new text the detectors read (no quoted history, no
//! attachments), the verdict and the policy version. `rules diff` and the
//! Proposed examples page judge it again to show what a change would flip —
//! deliveries that would become holds as well as holds that would go.
//! Kept `[store] archive_days` (default 90), then purged by housekeeping.

use sqlx::{AssertSqlSafe, Row};

use super::{Store, StoreError, rows::list, rows::unlist};
use crate::message::envelope::Envelope;

/// One archived message.
#[derive(Debug, Clone)]
pub struct Archived {
    pub id: String,
    pub at: i64,
    pub envelope: Envelope,
    /// Its header fields and new text, as a message.
    pub message: Vec<u8>,
    pub subject: String,
    pub decision: String,
    pub rules: Vec<String>,
    pub policy: String,
}

const COLUMNS: &str = "id, at, envelope, message, subject, decision, rules, policy";

impl Store {
    /// Archives one message's analysis (a second record for the same id
    /// is ignored).
    pub async fn archive_analysis(&self, a: &Archived) -> Result<(), StoreError> {
        sqlx::query("INSERT INTO analysis_archive (id, at, mail_from, envelope, message, subject, decision, rules, policy) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (id) DO NOTHING")
            .bind(&a.id)
            .bind(a.at)
            .bind(&a.envelope.mail_from)
            .bind(serde_json::to_string(&a.envelope).unwrap_or_default())
            .bind(a.message.clone())
            .bind(&a.subject)
            .bind(&a.decision)
            .bind(list(&a.rules))
            .bind(&a.policy)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// The newest archived analyses (at most `limit`).
    pub async fn analysis_archive(&self, limit: i64) -> Result<Vec<Archived>, StoreError> {
        let rows = sqlx::query(AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM analysis_archive ORDER BY at DESC LIMIT $1"
        )))
        .bind(limit)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(Archived {
                    id: r.try_get("id")?,
                    at: r.try_get("at")?,
                    envelope: serde_json::from_str(&r.try_get::<String, _>("envelope")?)
                        .map_err(|e| StoreError::Data(format!("archived envelope: {e}")))?,
                    message: r.try_get("message")?,
                    subject: r.try_get("subject")?,
                    decision: r.try_get("decision")?,
                    rules: unlist(&r.try_get::<String, _>("rules")?),
                    policy: r.try_get("policy")?,
                })
            })
            .collect()
    }

    /// Removes analyses archived before `before`.
    pub async fn purge_analysis(&self, before: i64) -> Result<u64, StoreError> {
        Ok(sqlx::query("DELETE FROM analysis_archive WHERE at < $1")
            .bind(before)
            .execute(self.pool())
            .await?
            .rows_affected())
    }
}

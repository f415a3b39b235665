//! Configuration history and message events.
//!
//! Every configuration that goes live is recorded with its content hash,
//! time, trigger, full texts and its diff from the one before, so any rule
//! change can be traced and reverted. Every message a rule touched is
//! recorded as an event (decision, rules, sender, recipients, subject), for
//! per-rule statistics and the audit search.

use std::collections::BTreeMap;

use serde::Serialize;
use sqlx::Row;

use super::{Store, StoreError, list, unlist};
use crate::policy::PolicyTexts;

#[derive(Debug, Clone, Serialize)]
pub struct ConfigVersion {
    pub seq: i64,
    pub at: i64,
    pub version: String,
    pub trigger: String,
    #[serde(skip)]
    pub texts: PolicyTexts,
    pub diff: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Event {
    pub id: String,
    pub at: i64,
    pub decision: String,
    /// Enforced rules that fired.
    pub rules: Vec<String>,
    /// Rules in monitor mode that would have fired.
    pub monitored: Vec<String>,
    pub mail_from: String,
    pub recipients: Vec<String>,
    pub subject: String,
    pub policy: String,
}

/// What one rule did over a period, and what reviewers made of it.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct RuleStats {
    pub fired: u64,
    pub monitored: u64,
    pub held: u64,
    /// Held messages reviewers released unchanged.
    pub released: u64,
    pub returned: u64,
    pub deleted: u64,
    pub sent_to_proper_officer: u64,
    pub expired: u64,
}

impl RuleStats {
    /// Released unchanged out of everything reviewers decided: the best
    /// signal of false alarms. `None` until something was decided.
    pub fn override_rate(&self) -> Option<f64> {
        let decided = self.released + self.returned + self.deleted + self.sent_to_proper_officer;
        (decided > 0).then(|| self.released as f64 / decided as f64)
    }
}

fn diff_text(name: &str, old: &str, new: &str) -> String {
    if old == new {
        return String::new();
    }
    similar::TextDiff::from_lines(old, new)
        .unified_diff()
        .context_radius(2)
        .header(&format!("a/{name}"), &format!("b/{name}"))
        .to_string()
}

fn config_from(r: &sqlx::any::AnyRow) -> Result<ConfigVersion, StoreError> {
    Ok(ConfigVersion {
        seq: r.try_get("seq")?,
        at: r.try_get("at")?,
        version: r.try_get("version")?,
        trigger: r.try_get("trigger_")?,
        texts: PolicyTexts {
            directory: r.try_get("directory")?,
            rules: r.try_get("rules")?,
            wordlists: r.try_get("wordlists")?,
            examples: r.try_get("examples")?,
            protocol: r.try_get("protocol")?,
        },
        diff: r.try_get("diff")?,
    })
}

fn event_from(r: &sqlx::any::AnyRow) -> Result<Event, StoreError> {
    Ok(Event {
        id: r.try_get("id")?,
        at: r.try_get("at")?,
        decision: r.try_get("decision")?,
        rules: unlist(&r.try_get::<String, _>("rules")?),
        monitored: unlist(&r.try_get::<String, _>("monitored")?),
        mail_from: r.try_get("mail_from")?,
        recipients: unlist(&r.try_get::<String, _>("recipients")?),
        subject: r.try_get("subject")?,
        policy: r.try_get("policy")?,
    })
}

impl Store {
    /// Records a configuration going live, unless it is the one already
    /// live. Returns the new entry (or `None` when nothing changed).
    pub async fn record_config(
        &self,
        version: &str,
        trigger: &str,
        texts: &PolicyTexts,
        at: i64,
    ) -> Result<Option<ConfigVersion>, StoreError> {
        let last = self.config_history(1).await?.into_iter().next();
        if last.as_ref().is_some_and(|l| l.version == version) {
            return Ok(None);
        }
        let prev = last.as_ref().map(|l| l.texts.clone()).unwrap_or_default();
        let diff = [
            diff_text("directory.toml", &prev.directory, &texts.directory),
            diff_text("rules.toml", &prev.rules, &texts.rules),
            diff_text("wordlists.toml", &prev.wordlists, &texts.wordlists),
            diff_text("examples.toml", &prev.examples, &texts.examples),
            diff_text("protocol.toml", &prev.protocol, &texts.protocol),
        ]
        .concat();
        // Numbered by primary key: two gateways recording at once conflict
        // and the loser retries.
        for _ in 0..5 {
            let seq = last.as_ref().map(|l| l.seq).unwrap_or(0) + 1;
            let seq = match sqlx::query("SELECT seq FROM config_history ORDER BY seq DESC LIMIT 1")
                .fetch_optional(self.pool())
                .await?
            {
                Some(r) => r.try_get::<i64, _>("seq")? + 1,
                None => seq,
            };
            let inserted = sqlx::query("INSERT INTO config_history (seq, at, version, trigger_, directory, rules, wordlists, examples, protocol, diff) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)")
                .bind(seq)
                .bind(at)
                .bind(version)
                .bind(trigger)
                .bind(&texts.directory)
                .bind(&texts.rules)
                .bind(&texts.wordlists)
                .bind(&texts.examples)
                .bind(&texts.protocol)
                .bind(&diff)
                .execute(self.pool())
                .await;
            if inserted.is_ok() {
                self.audit(
                    "config",
                    "config-live",
                    "-",
                    &format!("policy {version} live ({trigger})"),
                )
                .await?;
                return Ok(Some(ConfigVersion {
                    seq,
                    at,
                    version: version.to_string(),
                    trigger: trigger.to_string(),
                    texts: texts.clone(),
                    diff,
                }));
            }
        }
        Err(StoreError::Data(
            "could not record the configuration".into(),
        ))
    }

    /// The most recent configurations, newest first.
    pub async fn config_history(&self, limit: i64) -> Result<Vec<ConfigVersion>, StoreError> {
        let rows = sqlx::query("SELECT seq, at, version, trigger_, directory, rules, wordlists, examples, protocol, diff FROM config_history ORDER BY seq DESC LIMIT $1")
            .bind(limit)
            .fetch_all(self.pool())
            .await?;
        rows.iter().map(config_from).collect()
    }

    pub async fn config_version(&self, seq: i64) -> Result<ConfigVersion, StoreError> {
        let row = sqlx::query("SELECT seq, at, version, trigger_, directory, rules, wordlists, examples, protocol, diff FROM config_history WHERE seq = $1")
            .bind(seq)
            .fetch_optional(self.pool())
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("configuration #{seq}")))?;
        config_from(&row)
    }

    pub async fn record_event(&self, e: &Event) -> Result<(), StoreError> {
        sqlx::query("INSERT INTO events (id, at, decision, rules, monitored, mail_from, recipients, subject, policy) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)")
            .bind(&e.id)
            .bind(e.at)
            .bind(&e.decision)
            .bind(list(&e.rules))
            .bind(list(&e.monitored))
            .bind(&e.mail_from)
            .bind(list(&e.recipients))
            .bind(&e.subject)
            .bind(&e.policy)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// Events since `since`, newest first, at most `limit`.
    pub async fn events_since(&self, since: i64, limit: i64) -> Result<Vec<Event>, StoreError> {
        let rows = sqlx::query("SELECT id, at, decision, rules, monitored, mail_from, recipients, subject, policy FROM events WHERE at >= $1 ORDER BY at DESC, id DESC LIMIT $2")
            .bind(since)
            .bind(limit)
            .fetch_all(self.pool())
            .await?;
        rows.iter().map(event_from).collect()
    }

    /// Per rule since `since`: what fired, what was held, and what
    /// reviewers then did with the held messages.
    pub async fn rule_stats(&self, since: i64) -> Result<BTreeMap<String, RuleStats>, StoreError> {
        let mut out: BTreeMap<String, RuleStats> = BTreeMap::new();
        for e in self.events_since(since, i64::MAX).await? {
            for r in &e.rules {
                let s = out.entry(r.clone()).or_default();
                s.fired += 1;
                if e.decision == "hold" {
                    s.held += 1;
                }
            }
            for r in &e.monitored {
                out.entry(r.clone()).or_default().monitored += 1;
            }
        }
        let rows =
            sqlx::query("SELECT rules, state FROM held WHERE created >= $1 AND state <> 'held'")
                .bind(since)
                .fetch_all(self.pool())
                .await?;
        for row in rows {
            let state: String = row.try_get("state")?;
            for r in unlist(&row.try_get::<String, _>("rules")?) {
                let s = out.entry(r).or_default();
                match state.as_str() {
                    "released" => s.released += 1,
                    "returned" => s.returned += 1,
                    "deleted" => s.deleted += 1,
                    "sent-to-proper-officer" => s.sent_to_proper_officer += 1,
                    "expired" => s.expired += 1,
                    _ => {}
                }
            }
        }
        Ok(out)
    }
}

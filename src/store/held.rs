//! Held messages: holding, listing, deciding (one winner among concurrent
//! deciders), the effects of decisions, expiry, reminders and the records
//! policy.

use sqlx::{AssertSqlSafe, Row};

use super::rows::{HELD_COLUMNS, held_from, list};
use super::{Earlier, Held, HeldState, ReviewDecision, Store, StoreError, audit};

impl Store {
    /// Stores a held message (in state `held`, whatever `h` says) and its
    /// audit entry, in one transaction.
    pub async fn hold(&self, h: &Held) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("INSERT INTO held (id, created, expires, mail_from, recipients, envelope, subject, rules, verdict, message, original, state, reviewers, barred, effect_done, reminded) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, 'held', $12, $13, 1, 0)")
            .bind(&h.id)
            .bind(h.created)
            .bind(h.expires)
            .bind(&h.mail_from)
            .bind(list(&h.recipients))
            .bind(serde_json::to_string(&h.envelope).unwrap_or_default())
            .bind(&h.subject)
            .bind(list(&h.rules))
            .bind(serde_json::to_string(&h.verdict).unwrap_or_default())
            .bind(h.message.clone())
            .bind(h.original.clone())
            .bind(list(&h.reviewers))
            .bind(list(&h.barred))
            .execute(&mut *tx)
            .await?;
        // The evidence goes with the record: each rule's sentence (or
        // header), its score and nearest example when meaning was read, and
        // the policy and model that decided.
        let evidence: Vec<String> = h
            .verdict
            .rules
            .iter()
            .filter_map(|r| {
                crate::policy::verdict::headline_evidence(&r.evidence).map(|e| {
                    let e: String = e.chars().take(300).collect();
                    format!("{}: {}", r.id, crate::message::visible::visible(&e))
                })
            })
            .collect();
        let detail = format!(
            "held under {} for {}; evidence: {}; policy {}{}",
            h.rules.join(", "),
            h.recipients.join(", "),
            evidence.join(" | "),
            h.verdict.snapshot_version,
            h.verdict
                .model
                .as_deref()
                .map(|m| format!(", meaning read by {m}"))
                .unwrap_or_default()
        );
        audit::append(&mut tx, "gateway", "held", &h.id, &detail).await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn get(&self, id: &str) -> Result<Held, StoreError> {
        let row = sqlx::query(AssertSqlSafe(format!(
            "SELECT {HELD_COLUMNS} FROM held WHERE id = $1"
        )))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?
        .ok_or_else(|| StoreError::NotFound(id.to_string()))?;
        held_from(&row)
    }

    /// How many messages wait for review.
    pub async fn count_held(&self) -> Result<i64, StoreError> {
        let row = sqlx::query("SELECT COUNT(*) AS n FROM held WHERE state = 'held'")
            .fetch_one(&self.pool)
            .await?;
        Ok(row.try_get::<i64, _>("n")?)
    }

    /// Every stored message, newest first (the archive `rules diff` reads).
    pub async fn archive(&self, limit: i64) -> Result<Vec<Held>, StoreError> {
        let rows = sqlx::query(AssertSqlSafe(format!("SELECT {HELD_COLUMNS} FROM held WHERE length(original) > 0 ORDER BY created DESC LIMIT $1")))
            .bind(limit)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(held_from).collect()
    }

    /// Messages in a state (`held` for the review queue), oldest first.
    pub async fn list(&self, state: HeldState) -> Result<Vec<Held>, StoreError> {
        let rows = sqlx::query(AssertSqlSafe(format!(
            "SELECT {HELD_COLUMNS} FROM held WHERE state = $1 ORDER BY created, id"
        )))
        .bind(state.as_str())
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(held_from).collect()
    }

    /// Decides a held message. Exactly one of several concurrent deciders
    /// wins; the others get [`StoreError::AlreadyDecided`] naming who won.
    pub async fn decide(
        &self,
        id: &str,
        decision: &ReviewDecision,
        now: i64,
    ) -> Result<Held, StoreError> {
        let ReviewDecision {
            action,
            actor,
            reason,
            note,
            withheld,
        } = decision;
        let action = *action;
        let mut tx = self.pool.begin().await?;
        let changed = sqlx::query("UPDATE held SET state = $1, decided_by = $2, decided_at = $3, reason = $4, note = $5, withheld = $6, effect_done = 0, effect_claimed = 0 WHERE id = $7 AND state = 'held'")
            .bind(action.state().as_str())
            .bind(actor)
            .bind(now)
            .bind(reason)
            .bind(note)
            .bind(list(withheld))
            .bind(id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if changed != 1 {
            tx.rollback().await?;
            let held = self.get(id).await?;
            return Err(StoreError::AlreadyDecided {
                id: id.to_string(),
                state: held.state.to_string(),
                by: held.decided_by.unwrap_or_else(|| "someone else".into()),
            });
        }
        let mut detail = format!("{}; reason: {reason}", action.state());
        if !withheld.is_empty() {
            detail.push_str(&format!("; not delivered to: {}", withheld.join(", ")));
        }
        if !note.trim().is_empty() {
            detail.push_str(&format!("; note: {}", note.trim()));
        }
        audit::append(&mut tx, actor, action.state().as_str(), id, &detail).await?;
        tx.commit().await?;
        self.get(id).await
    }

    /// Undoes a deletion: a deleted message whose text the records policy
    /// has not yet removed waits for review again, and the audit log says
    /// who restored it.
    pub async fn restore(&self, id: &str, actor: &str) -> Result<Held, StoreError> {
        let mut tx = self.pool.begin().await?;
        let changed = sqlx::query("UPDATE held SET state = 'held', decided_by = NULL, decided_at = NULL, reason = NULL, note = NULL, withheld = '[]', effect_done = 1, effect_claimed = 0 WHERE id = $1 AND state = 'deleted' AND length(message) > 0")
            .bind(id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if changed != 1 {
            tx.rollback().await?;
            let held = self.get(id).await?;
            return Err(StoreError::Refused(if held.state == HeldState::Deleted {
                "its text has been removed under the records policy, so it cannot be restored"
                    .into()
            } else {
                format!("it is {}, not deleted", held.state)
            }));
        }
        audit::append(
            &mut tx,
            actor,
            "restored",
            id,
            "deletion undone; waiting for review again",
        )
        .await?;
        tx.commit().await?;
        self.get(id).await
    }

    /// The ids of the messages waiting for review, oldest first (the
    /// review page's previous and next).
    pub async fn waiting_ids(&self) -> Result<Vec<String>, StoreError> {
        let rows = sqlx::query("SELECT id FROM held WHERE state = 'held' ORDER BY created, id")
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| Ok(r.try_get::<String, _>("id")?))
            .collect()
    }

    /// The sender's other held messages since `since`, newest first (at
    /// most `limit`): the review page's pattern.
    pub async fn earlier_from(
        &self,
        mail_from: &str,
        since: i64,
        except: &str,
        limit: i64,
    ) -> Result<Vec<Earlier>, StoreError> {
        let rows = sqlx::query("SELECT id, created, subject, state, rules FROM held WHERE lower(mail_from) = lower($1) AND created >= $2 AND id <> $3 ORDER BY created DESC LIMIT $4")
            .bind(mail_from)
            .bind(since)
            .bind(except)
            .bind(limit)
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| {
                let state: String = r.try_get("state")?;
                Ok(Earlier {
                    id: r.try_get("id")?,
                    created: r.try_get("created")?,
                    subject: r.try_get("subject")?,
                    state: HeldState::parse(&state).ok_or_else(|| {
                        StoreError::Data(format!("held message: no state {state:?}"))
                    })?,
                    rules: super::rows::unlist(&r.try_get::<String, _>("rules")?),
                })
            })
            .collect()
    }

    /// Claims a decision's effect for this process: only the claimer carries
    /// it out, so two gateways sharing the store never both deliver a
    /// release. A claim older than `stale_after` seconds (its claimer died)
    /// can be taken over.
    pub async fn claim_effect(
        &self,
        id: &str,
        now: i64,
        stale_after: i64,
    ) -> Result<bool, StoreError> {
        let won = sqlx::query("UPDATE held SET effect_claimed = $1 WHERE id = $2 AND state <> 'held' AND effect_done = 0 AND (effect_claimed = 0 OR effect_claimed < $3)")
            .bind(now)
            .bind(id)
            .bind(now - stale_after)
            .execute(&self.pool)
            .await?
            .rows_affected();
        Ok(won == 1)
    }

    /// Records that a decision's effect (delivery, notice) is done.
    pub async fn effect_done(&self, id: &str) -> Result<(), StoreError> {
        sqlx::query("UPDATE held SET effect_done = 1 WHERE id = $1")
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Decided messages whose effect was not recorded as done (a crash in
    /// between): to be done again.
    pub async fn pending_effects(&self) -> Result<Vec<Held>, StoreError> {
        let rows = sqlx::query(AssertSqlSafe(format!("SELECT {HELD_COLUMNS} FROM held WHERE state <> 'held' AND effect_done = 0 ORDER BY decided_at")))
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(held_from).collect()
    }

    /// Held messages past their expiry.
    pub async fn expired(&self, now: i64) -> Result<Vec<Held>, StoreError> {
        let rows = sqlx::query(AssertSqlSafe(format!(
            "SELECT {HELD_COLUMNS} FROM held WHERE state = 'held' AND expires <= $1"
        )))
        .bind(now)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(held_from).collect()
    }

    /// Held messages expiring before `before` whose reviewers have not yet
    /// been reminded; each is marked reminded as it is returned (one
    /// gateway of several wins each).
    pub async fn take_due_reminders(&self, before: i64) -> Result<Vec<Held>, StoreError> {
        let rows = sqlx::query(AssertSqlSafe(format!("SELECT {HELD_COLUMNS} FROM held WHERE state = 'held' AND reminded = 0 AND expires <= $1")))
            .bind(before)
            .fetch_all(&self.pool)
            .await?;
        let mut out = Vec::new();
        for row in rows {
            let h = held_from(&row)?;
            let won = sqlx::query("UPDATE held SET reminded = 1 WHERE id = $1 AND reminded = 0")
                .bind(&h.id)
                .execute(&self.pool)
                .await?
                .rows_affected()
                == 1;
            if won {
                out.push(h);
            }
        }
        Ok(out)
    }

    /// Removes the raw message of decided messages older than `before`
    /// (records policy); the row and its audit history stay.
    pub async fn purge_decided(&self, before: i64) -> Result<u64, StoreError> {
        let r = sqlx::query("UPDATE held SET message = $1, original = $2 WHERE state <> 'held' AND effect_done = 1 AND decided_at < $3 AND length(message) > 0")
            .bind(Vec::<u8>::new())
            .bind(Vec::<u8>::new())
            .bind(before)
            .execute(&self.pool)
            .await?;
        Ok(r.rows_affected())
    }
}

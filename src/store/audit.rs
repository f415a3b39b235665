//! The append-only, hash-chained audit log.
//!
//! Each entry carries the hash of the one before; its own hash covers its
//! sequence number, time, actor, action, message and detail together with
//! that previous hash. Changing, removing or reordering any entry breaks
//! every hash after it, which `councilgate audit verify` reports. Entries
//! are numbered by a primary key, so two gateways appending at once
//! conflict and the loser retries on the new end of the chain rather than
//! forking it.

use serde::Serialize;
use sha2::{Digest, Sha256};
use sqlx::any::Any;
use sqlx::{AnyPool, Row, Transaction};

use super::StoreError;

#[derive(Debug, Clone, Serialize)]
pub struct AuditEntry {
    pub seq: i64,
    pub at: i64,
    pub actor: String,
    pub action: String,
    pub message_id: String,
    pub detail: String,
    pub prev_hash: String,
    pub hash: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct ChainReport {
    pub entries: u64,
    /// The first entry whose hash does not follow, with why.
    pub broken: Option<(i64, String)>,
}

pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

pub fn entry_hash(
    seq: i64,
    at: i64,
    actor: &str,
    action: &str,
    message_id: &str,
    detail: &str,
    prev: &str,
) -> String {
    let mut h = Sha256::new();
    for part in [
        seq.to_string().as_str(),
        at.to_string().as_str(),
        actor,
        action,
        message_id,
        detail,
        prev,
    ] {
        h.update((part.len() as u64).to_be_bytes());
        h.update(part.as_bytes());
    }
    hex::encode(h.finalize())
}

/// Appends inside the caller's transaction (so an entry commits with the
/// change it records).
pub async fn append(
    tx: &mut Transaction<'_, Any>,
    actor: &str,
    action: &str,
    message_id: &str,
    detail: &str,
) -> Result<(), StoreError> {
    let last = sqlx::query("SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1")
        .fetch_optional(&mut **tx)
        .await?;
    let (seq, prev) = match last {
        Some(r) => (
            r.try_get::<i64, _>("seq")? + 1,
            r.try_get::<String, _>("hash")?,
        ),
        None => (1, GENESIS.to_string()),
    };
    let at = chrono::Utc::now().timestamp();
    let hash = entry_hash(seq, at, actor, action, message_id, detail, &prev);
    sqlx::query("INSERT INTO audit (seq, at, actor, action, message_id, detail, prev_hash, hash) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)")
        .bind(seq)
        .bind(at)
        .bind(actor)
        .bind(action)
        .bind(message_id)
        .bind(detail)
        .bind(&prev)
        .bind(&hash)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

fn entry(r: &sqlx::any::AnyRow) -> Result<AuditEntry, StoreError> {
    Ok(AuditEntry {
        seq: r.try_get("seq")?,
        at: r.try_get("at")?,
        actor: r.try_get("actor")?,
        action: r.try_get("action")?,
        message_id: r.try_get("message_id")?,
        detail: r.try_get("detail")?,
        prev_hash: r.try_get("prev_hash")?,
        hash: r.try_get("hash")?,
    })
}

pub async fn for_message(pool: &AnyPool, message_id: &str) -> Result<Vec<AuditEntry>, StoreError> {
    let rows = sqlx::query("SELECT seq, at, actor, action, message_id, detail, prev_hash, hash FROM audit WHERE message_id = $1 ORDER BY seq")
        .bind(message_id)
        .fetch_all(pool)
        .await?;
    rows.iter().map(entry).collect()
}

pub async fn between(
    pool: &AnyPool,
    from: i64,
    to: i64,
    limit: i64,
) -> Result<Vec<AuditEntry>, StoreError> {
    let rows = sqlx::query("SELECT seq, at, actor, action, message_id, detail, prev_hash, hash FROM audit WHERE at >= $1 AND at < $2 ORDER BY seq DESC LIMIT $3")
        .bind(from)
        .bind(to)
        .bind(limit)
        .fetch_all(pool)
        .await?;
    rows.iter().map(entry).collect()
}

pub async fn verify(pool: &AnyPool) -> Result<ChainReport, StoreError> {
    let rows = sqlx::query("SELECT seq, at, actor, action, message_id, detail, prev_hash, hash FROM audit ORDER BY seq")
        .fetch_all(pool)
        .await?;
    let mut prev = GENESIS.to_string();
    let mut n = 0;
    for (expected_seq, r) in (1i64..).zip(rows.iter()) {
        let e = entry(r)?;
        n += 1;
        if e.seq != expected_seq {
            return Ok(ChainReport {
                entries: n,
                broken: Some((e.seq, format!("entry {expected_seq} is missing"))),
            });
        }
        if e.prev_hash != prev {
            return Ok(ChainReport {
                entries: n,
                broken: Some((e.seq, "does not follow the entry before it".into())),
            });
        }
        let h = entry_hash(
            e.seq,
            e.at,
            &e.actor,
            &e.action,
            &e.message_id,
            &e.detail,
            &e.prev_hash,
        );
        if h != e.hash {
            return Ok(ChainReport {
                entries: n,
                broken: Some((e.seq, "its content was changed".into())),
            });
        }
        prev = e.hash;
    }
    Ok(ChainReport {
        entries: n,
        broken: None,
    })
}

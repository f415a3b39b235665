//! What the gateways sharing a store share besides the mail: secrets (the
//! key that signs action links), the action links already used, and which
//! day's digest has gone out.

use sqlx::Row;

use super::{Store, StoreError};

impl Store {
    /// The secret called `name`: made (32 random bytes) the first time it
    /// is asked for, then the same for every gateway on this store.
    pub async fn secret(&self, name: &str) -> Result<Vec<u8>, StoreError> {
        // Two gateways starting together: one insert wins, both read it.
        sqlx::query(
            "INSERT INTO secrets (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING",
        )
        .bind(name)
        .bind(super::random_hex())
        .execute(&self.pool)
        .await?;
        let row = sqlx::query("SELECT value FROM secrets WHERE name = $1")
            .bind(name)
            .fetch_one(&self.pool)
            .await?;
        let hex_value: String = row.try_get("value")?;
        hex::decode(hex_value.trim()).map_err(|e| StoreError::Data(format!("secret {name}: {e}")))
    }

    /// Records an action link's nonce as used; `false` when it already was
    /// (one of two concurrent uses wins).
    pub async fn use_link(&self, nonce: &str, held: &str, now: i64) -> Result<bool, StoreError> {
        let n = sqlx::query("INSERT INTO used_links (nonce, held_id, at) VALUES ($1, $2, $3) ON CONFLICT (nonce) DO NOTHING")
            .bind(nonce)
            .bind(held)
            .bind(now)
            .execute(&self.pool)
            .await?
            .rows_affected();
        Ok(n == 1)
    }

    /// Whether an action link's nonce has been used.
    pub async fn link_used(&self, nonce: &str) -> Result<bool, StoreError> {
        Ok(
            sqlx::query("SELECT 1 AS one FROM used_links WHERE nonce = $1")
                .bind(nonce)
                .fetch_optional(&self.pool)
                .await?
                .is_some(),
        )
    }

    /// Forgets used links recorded before `before` (they have expired).
    pub async fn purge_used_links(&self, before: i64) -> Result<u64, StoreError> {
        Ok(sqlx::query("DELETE FROM used_links WHERE at < $1")
            .bind(before)
            .execute(&self.pool)
            .await?
            .rows_affected())
    }

    /// Claims the sending of `day`'s digest for this gateway: `true` for
    /// exactly one of the gateways on this store.
    pub async fn claim_digest(&self, day: &str, now: i64) -> Result<bool, StoreError> {
        let n = sqlx::query(
            "INSERT INTO digests (day, at) VALUES ($1, $2) ON CONFLICT (day) DO NOTHING",
        )
        .bind(day)
        .bind(now)
        .execute(&self.pool)
        .await?
        .rows_affected();
        Ok(n == 1)
    }
}

//! The review store: held messages, the audit log, users and web sessions.
//!
//! One code path for both backends through `sqlx::Any`: an SQLite file in
//! the data folder by default, or PostgreSQL (`store.url = "postgres://…"`)
//! so that several gateways share one queue of held messages and one audit
//! log. Placeholders are `$1…` (both accept them); only the column type of
//! raw messages differs (BLOB / BYTEA).
//!
//! A state change is one transaction: a conditional `UPDATE … WHERE state =
//! 'held'` and its audit entry. When two reviewers (or two gateways) act on
//! one message at once exactly one update matches; the other is told who
//! acted first. What the decision entails (queueing a release, a notice) is
//! done after the commit and then marked done; at start-up anything decided
//! but not yet done is done again, so a crash can repeat an effect but never
//! lose one.

pub mod archive;
pub mod audit;
mod held;
pub mod proposals;
pub mod records;
mod rows;
mod secrets;
mod users;

use std::sync::Once;

use sqlx::any::AnyPoolOptions;
// Dynamic SQL below only joins constant column lists and DDL chosen by
// backend; every value is bound.
use sqlx::{AnyPool, AssertSqlSafe};

pub use audit::{AuditEntry, ChainReport};
pub use records::{ConfigVersion, Event, RuleStats};
pub use rows::{
    Action, Earlier, Held, HeldState, Login, ReviewDecision, Session, SessionInfo, SessionStage,
    User, UserRole,
};
pub use rows::{NewSession, SecondFactor};
pub(crate) use rows::{list, unlist};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("store {url}: {source}")]
    Connect { url: String, source: sqlx::Error },
    #[error("store: {0}")]
    Db(#[from] sqlx::Error),
    #[error("store: stored data is not readable: {0}")]
    Data(String),
    #[error("no held message {0}")]
    NotFound(String),
    #[error("message {id} was already {state} by {by}")]
    AlreadyDecided {
        id: String,
        state: String,
        by: String,
    },
    #[error("{0}")]
    Refused(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

#[derive(Clone)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
}

static DRIVERS: Once = Once::new();

impl Store {
    /// Opens (creating the schema when needed) the store at `url`:
    /// `sqlite://PATH?mode=rwc` or `postgres://…`.
    pub async fn open(url: &str) -> Result<Store, StoreError> {
        DRIVERS.call_once(sqlx::any::install_default_drivers);
        let backend = if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Backend::Postgres
        } else {
            Backend::Sqlite
        };
        let mut options =
            AnyPoolOptions::new().max_connections(if backend == Backend::Sqlite { 4 } else { 10 });
        if backend == Backend::Sqlite {
            // WAL lets the web pages read while the gateway writes; a busy
            // timeout makes writers wait for each other instead of failing.
            options = options.after_connect(|conn, _| {
                Box::pin(async move {
                    sqlx::query("PRAGMA journal_mode = WAL")
                        .execute(&mut *conn)
                        .await?;
                    sqlx::query("PRAGMA busy_timeout = 10000")
                        .execute(&mut *conn)
                        .await?;
                    sqlx::query("PRAGMA synchronous = FULL")
                        .execute(&mut *conn)
                        .await?;
                    Ok(())
                })
            });
        }
        let pool = options
            .connect(url)
            .await
            .map_err(|source| StoreError::Connect {
                url: redact(url),
                source,
            })?;
        let store = Store { pool, backend };
        store.migrate().await?;
        Ok(store)
    }

    /// The default store: an SQLite file in the data folder.
    pub fn default_url(data_dir: &std::path::Path) -> String {
        format!(
            "sqlite://{}?mode=rwc",
            data_dir.join("councilgate.db").display()
        )
    }

    /// The connection pool, for tools and tests that need raw access.
    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    async fn migrate(&self) -> Result<(), StoreError> {
        let blob = match self.backend {
            Backend::Sqlite => "BLOB",
            Backend::Postgres => "BYTEA",
        };
        let statements = [
            format!(
                "CREATE TABLE IF NOT EXISTS held (id TEXT PRIMARY KEY, created BIGINT NOT NULL, expires BIGINT NOT NULL, mail_from TEXT NOT NULL, recipients TEXT NOT NULL, envelope TEXT NOT NULL, subject TEXT NOT NULL, rules TEXT NOT NULL, verdict TEXT NOT NULL, message {blob} NOT NULL, original {blob} NOT NULL, state TEXT NOT NULL, reviewers TEXT NOT NULL, barred TEXT NOT NULL, decided_by TEXT, decided_at BIGINT, reason TEXT, note TEXT, effect_done BIGINT NOT NULL DEFAULT 0, effect_claimed BIGINT NOT NULL DEFAULT 0, reminded BIGINT NOT NULL DEFAULT 0)"
            ),
            "CREATE INDEX IF NOT EXISTS held_state ON held (state, created)".to_string(),
            "CREATE TABLE IF NOT EXISTS audit (seq BIGINT PRIMARY KEY, at BIGINT NOT NULL, actor TEXT NOT NULL, action TEXT NOT NULL, message_id TEXT NOT NULL, detail TEXT NOT NULL, prev_hash TEXT NOT NULL, hash TEXT NOT NULL)".to_string(),
            "CREATE INDEX IF NOT EXISTS audit_message ON audit (message_id)".to_string(),
            "CREATE TABLE IF NOT EXISTS users (name TEXT PRIMARY KEY, role TEXT NOT NULL, password_hash TEXT NOT NULL, created BIGINT NOT NULL)".to_string(),
            "CREATE TABLE IF NOT EXISTS smtp_logins (name TEXT PRIMARY KEY, password_hash TEXT NOT NULL, created BIGINT NOT NULL)".to_string(),
            "CREATE TABLE IF NOT EXISTS sessions (token_hash TEXT PRIMARY KEY, user_name TEXT NOT NULL, csrf TEXT NOT NULL, expires BIGINT NOT NULL)".to_string(),
            "CREATE TABLE IF NOT EXISTS config_history (seq BIGINT PRIMARY KEY, at BIGINT NOT NULL, version TEXT NOT NULL, trigger_ TEXT NOT NULL, directory TEXT NOT NULL, rules TEXT NOT NULL, wordlists TEXT NOT NULL, diff TEXT NOT NULL)".to_string(),
            "CREATE TABLE IF NOT EXISTS events (id TEXT PRIMARY KEY, at BIGINT NOT NULL, decision TEXT NOT NULL, rules TEXT NOT NULL, monitored TEXT NOT NULL, mail_from TEXT NOT NULL, recipients TEXT NOT NULL, subject TEXT NOT NULL, policy TEXT NOT NULL)".to_string(),
            "CREATE INDEX IF NOT EXISTS events_at ON events (at)".to_string(),
            "CREATE TABLE IF NOT EXISTS secrets (name TEXT PRIMARY KEY, value TEXT NOT NULL)".to_string(),
            "CREATE TABLE IF NOT EXISTS used_links (nonce TEXT PRIMARY KEY, held_id TEXT NOT NULL, at BIGINT NOT NULL)".to_string(),
            "CREATE TABLE IF NOT EXISTS digests (day TEXT PRIMARY KEY, at BIGINT NOT NULL)".to_string(),
            "CREATE TABLE IF NOT EXISTS proposed_examples (id TEXT PRIMARY KEY, at BIGINT NOT NULL, detector TEXT NOT NULL, label TEXT NOT NULL, sentence TEXT NOT NULL, held_id TEXT NOT NULL, subject TEXT NOT NULL, rule TEXT NOT NULL, proposed_by TEXT NOT NULL, state TEXT NOT NULL, decided_by TEXT NOT NULL, decided_at BIGINT NOT NULL)".to_string(),
            "CREATE INDEX IF NOT EXISTS proposed_examples_state ON proposed_examples (state, at)".to_string(),
            format!(
                "CREATE TABLE IF NOT EXISTS analysis_archive (id TEXT PRIMARY KEY, at BIGINT NOT NULL, mail_from TEXT NOT NULL, envelope TEXT NOT NULL, message {blob} NOT NULL, subject TEXT NOT NULL, decision TEXT NOT NULL, rules TEXT NOT NULL, policy TEXT NOT NULL)"
            ),
            "CREATE INDEX IF NOT EXISTS analysis_archive_at ON analysis_archive (at)".to_string(),
        ];
        // Two gateways starting together may race to create a table; the
        // loser's error is harmless once the table exists.
        for attempt in 0..3 {
            let mut failed = None;
            for st in &statements {
                if let Err(e) = sqlx::query(AssertSqlSafe(st.clone()))
                    .execute(&self.pool)
                    .await
                {
                    failed = Some(e);
                    break;
                }
            }
            match failed {
                None => return self.add_columns().await,
                Some(e) if attempt == 2 => return Err(e.into()),
                Some(_) => tokio::time::sleep(std::time::Duration::from_millis(200)).await,
            }
        }
        Ok(())
    }

    /// Columns added since a table was first made: added to a store made
    /// before them (found missing by selecting them), with a default.
    async fn add_columns(&self) -> Result<(), StoreError> {
        const ADDED: &[(&str, &str, &str)] = &[
            ("config_history", "examples", "TEXT NOT NULL DEFAULT ''"),
            ("config_history", "protocol", "TEXT NOT NULL DEFAULT ''"),
            ("users", "disabled", "BIGINT NOT NULL DEFAULT 0"),
            ("users", "last_sign_in", "BIGINT NOT NULL DEFAULT 0"),
            ("smtp_logins", "disabled", "BIGINT NOT NULL DEFAULT 0"),
            ("held", "withheld", "TEXT NOT NULL DEFAULT '[]'"),
            ("users", "totp_secret", "TEXT NOT NULL DEFAULT ''"),
            ("users", "totp_pending", "TEXT NOT NULL DEFAULT ''"),
            ("users", "totp_step", "BIGINT NOT NULL DEFAULT 0"),
            ("users", "recovery_codes", "TEXT NOT NULL DEFAULT '[]'"),
            ("sessions", "stage", "TEXT NOT NULL DEFAULT 'full'"),
            ("sessions", "created", "BIGINT NOT NULL DEFAULT 0"),
            ("sessions", "ip", "TEXT NOT NULL DEFAULT ''"),
            ("sessions", "failures", "BIGINT NOT NULL DEFAULT 0"),
        ];
        for (table, column, kind) in ADDED {
            let probe = format!("SELECT {column} FROM {table} LIMIT 0");
            if sqlx::query(AssertSqlSafe(probe))
                .execute(&self.pool)
                .await
                .is_ok()
            {
                continue;
            }
            let add = format!("ALTER TABLE {table} ADD COLUMN {column} {kind}");
            if let Err(e) = sqlx::query(AssertSqlSafe(add)).execute(&self.pool).await {
                // Another gateway may have added it first.
                let probe = format!("SELECT {column} FROM {table} LIMIT 0");
                if sqlx::query(AssertSqlSafe(probe))
                    .execute(&self.pool)
                    .await
                    .is_err()
                {
                    return Err(e.into());
                }
            }
        }
        Ok(())
    }

    /// Whether the store answers (for `/readyz`).
    pub async fn ping(&self) -> bool {
        sqlx::query("SELECT 1").execute(&self.pool).await.is_ok()
    }

    // ---------------------------------------------------------- audit

    /// Appends an audit entry on its own.
    pub async fn audit(
        &self,
        actor: &str,
        action: &str,
        message_id: &str,
        detail: &str,
    ) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        audit::append(&mut tx, actor, action, message_id, detail).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Audit entries between two times, newest first.
    pub async fn audit_between(
        &self,
        from: i64,
        to: i64,
        limit: i64,
    ) -> Result<Vec<AuditEntry>, StoreError> {
        audit::between(&self.pool, from, to, limit).await
    }

    pub async fn audit_for(&self, message_id: &str) -> Result<Vec<AuditEntry>, StoreError> {
        audit::for_message(&self.pool, message_id).await
    }

    pub async fn verify_audit(&self) -> Result<ChainReport, StoreError> {
        audit::verify(&self.pool).await
    }
}

/// A store URL without its password, for messages and logs.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &url[s + 3..at];
            match creds.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..s + 3], &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

/// 256 random bits, hex: new secrets and record ids (as
/// the session tokens of `auth`, without the store depending on it).
pub(crate) fn random_hex() -> String {
    let a: u128 = rand::random();
    let b: u128 = rand::random();
    format!("{a:032x}{b:032x}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_redacted() {
        assert_eq!(
            redact("postgres://cg:secret@db:5432/cg"),
            "postgres://cg:***@db:5432/cg"
        );
        assert_eq!(redact("postgres://db/cg"), "postgres://db/cg");
    }
}

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

pub mod audit;
pub mod records;

use std::sync::Once;

use serde::{Deserialize, Serialize};
use sqlx::any::{AnyPoolOptions, AnyRow};
// Dynamic SQL below only joins constant column lists and DDL chosen by
// backend; every value is bound.
use sqlx::{AnyPool, AssertSqlSafe, Row};

pub use audit::{AuditEntry, ChainReport};
pub use records::{ConfigVersion, Event, RuleStats};

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

/// What a reviewer (or the expiry) does with a held message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    Release,
    SendToProperOfficer,
    Return,
    Delete,
    Expire,
}

impl Action {
    /// The state the message ends in.
    pub fn state(self) -> &'static str {
        match self {
            Action::Release => "released",
            Action::SendToProperOfficer => "sent-to-proper-officer",
            Action::Return => "returned",
            Action::Delete => "deleted",
            Action::Expire => "expired",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Action::Release => "Release",
            Action::SendToProperOfficer => "Send to the Proper Officer only",
            Action::Return => "Return to sender",
            Action::Delete => "Delete",
            Action::Expire => "Expire",
        }
    }

    pub fn parse(s: &str) -> Option<Action> {
        match s {
            "release" => Some(Action::Release),
            "send-to-proper-officer" => Some(Action::SendToProperOfficer),
            "return" => Some(Action::Return),
            "delete" => Some(Action::Delete),
            "expire" => Some(Action::Expire),
            _ => None,
        }
    }
}

/// A message to hold.
#[derive(Debug, Clone)]
pub struct NewHeld {
    pub id: String,
    pub created: i64,
    pub expires: i64,
    pub mail_from: String,
    /// Final recipients, copies and redirects applied.
    pub recipients: Vec<String>,
    /// The envelope as received, JSON.
    pub envelope: String,
    pub subject: String,
    pub rules: Vec<String>,
    /// The verdict with evidence, JSON.
    pub verdict: String,
    /// The message with its pending changes applied.
    pub message: Vec<u8>,
    /// The message as received (for re-evaluation under a candidate policy).
    pub original: Vec<u8>,
    /// Who is told about it (addresses).
    pub reviewers: Vec<String>,
    /// Who must not act on it: the Proper Officer when a party to it.
    pub barred: Vec<String>,
}

/// A held message as stored.
#[derive(Debug, Clone, Serialize)]
pub struct Held {
    pub id: String,
    pub created: i64,
    pub expires: i64,
    pub mail_from: String,
    pub recipients: Vec<String>,
    pub envelope: String,
    pub subject: String,
    pub rules: Vec<String>,
    pub verdict: String,
    #[serde(skip)]
    pub message: Vec<u8>,
    #[serde(skip)]
    pub original: Vec<u8>,
    pub state: String,
    pub reviewers: Vec<String>,
    pub barred: Vec<String>,
    pub decided_by: Option<String>,
    pub decided_at: Option<i64>,
    pub reason: Option<String>,
    pub note: Option<String>,
    pub effect_done: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct User {
    pub name: String,
    pub role: String,
    #[serde(skip)]
    pub password_hash: String,
}

#[derive(Debug, Clone)]
pub struct Session {
    pub user: String,
    pub role: String,
    pub csrf: String,
    pub expires: i64,
}

#[derive(Clone)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
}

static DRIVERS: Once = Once::new();

pub(crate) fn list(v: &[String]) -> String {
    serde_json::to_string(v).unwrap_or_else(|_| "[]".into())
}

pub(crate) fn unlist(s: &str) -> Vec<String> {
    serde_json::from_str(s).unwrap_or_default()
}

const HELD_COLUMNS: &str = "id, created, expires, mail_from, recipients, envelope, subject, rules, verdict, message, original, state, reviewers, barred, decided_by, decided_at, reason, note, effect_done";

fn held_from(row: &AnyRow) -> Result<Held, StoreError> {
    let get_s = |c: &str| row.try_get::<String, _>(c);
    Ok(Held {
        id: get_s("id")?,
        created: row.try_get("created")?,
        expires: row.try_get("expires")?,
        mail_from: get_s("mail_from")?,
        recipients: unlist(&get_s("recipients")?),
        envelope: get_s("envelope")?,
        subject: get_s("subject")?,
        rules: unlist(&get_s("rules")?),
        verdict: get_s("verdict")?,
        message: row.try_get::<Vec<u8>, _>("message")?,
        original: row.try_get::<Vec<u8>, _>("original")?,
        state: get_s("state")?,
        reviewers: unlist(&get_s("reviewers")?),
        barred: unlist(&get_s("barred")?),
        decided_by: row.try_get::<Option<String>, _>("decided_by")?,
        decided_at: row.try_get::<Option<i64>, _>("decided_at")?,
        reason: row.try_get::<Option<String>, _>("reason")?,
        note: row.try_get::<Option<String>, _>("note")?,
        effect_done: row.try_get::<i64, _>("effect_done")? != 0,
    })
}

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
                None => return Ok(()),
                Some(e) if attempt == 2 => return Err(e.into()),
                Some(_) => tokio::time::sleep(std::time::Duration::from_millis(200)).await,
            }
        }
        Ok(())
    }

    /// Whether the store answers (for `/readyz`).
    pub async fn ping(&self) -> bool {
        sqlx::query("SELECT 1").execute(&self.pool).await.is_ok()
    }

    // ---------------------------------------------------------- held

    /// Stores a held message and its audit entry, in one transaction.
    pub async fn hold(&self, h: &NewHeld) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("INSERT INTO held (id, created, expires, mail_from, recipients, envelope, subject, rules, verdict, message, original, state, reviewers, barred, effect_done, reminded) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, 'held', $12, $13, 1, 0)")
            .bind(&h.id)
            .bind(h.created)
            .bind(h.expires)
            .bind(&h.mail_from)
            .bind(list(&h.recipients))
            .bind(&h.envelope)
            .bind(&h.subject)
            .bind(list(&h.rules))
            .bind(&h.verdict)
            .bind(h.message.clone())
            .bind(h.original.clone())
            .bind(list(&h.reviewers))
            .bind(list(&h.barred))
            .execute(&mut *tx)
            .await?;
        let detail = format!(
            "held under {} for {}",
            h.rules.join(", "),
            h.recipients.join(", ")
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
    pub async fn list(&self, state: &str) -> Result<Vec<Held>, StoreError> {
        let rows = sqlx::query(AssertSqlSafe(format!(
            "SELECT {HELD_COLUMNS} FROM held WHERE state = $1 ORDER BY created, id"
        )))
        .bind(state)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(held_from).collect()
    }

    /// Decides a held message. Exactly one of several concurrent deciders
    /// wins; the others get [`StoreError::AlreadyDecided`] naming who won.
    pub async fn decide(
        &self,
        id: &str,
        action: Action,
        actor: &str,
        reason: &str,
        note: &str,
        now: i64,
    ) -> Result<Held, StoreError> {
        let mut tx = self.pool.begin().await?;
        let changed = sqlx::query("UPDATE held SET state = $1, decided_by = $2, decided_at = $3, reason = $4, note = $5, effect_done = 0, effect_claimed = 0 WHERE id = $6 AND state = 'held'")
            .bind(action.state())
            .bind(actor)
            .bind(now)
            .bind(reason)
            .bind(note)
            .bind(id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if changed != 1 {
            tx.rollback().await?;
            let held = self.get(id).await?;
            return Err(StoreError::AlreadyDecided {
                id: id.to_string(),
                state: held.state,
                by: held.decided_by.unwrap_or_else(|| "someone else".into()),
            });
        }
        let mut detail = format!("{}; reason: {reason}", action.state());
        if !note.trim().is_empty() {
            detail.push_str(&format!("; note: {}", note.trim()));
        }
        audit::append(&mut tx, actor, action.state(), id, &detail).await?;
        tx.commit().await?;
        self.get(id).await
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

    // ---------------------------------------------------------- users

    pub async fn add_user(
        &self,
        name: &str,
        role: &str,
        password_hash: &str,
    ) -> Result<(), StoreError> {
        let existing = sqlx::query("SELECT name FROM users WHERE name = $1")
            .bind(name)
            .fetch_optional(&self.pool)
            .await?;
        if existing.is_some() {
            sqlx::query("UPDATE users SET role = $1, password_hash = $2 WHERE name = $3")
                .bind(role)
                .bind(password_hash)
                .bind(name)
                .execute(&self.pool)
                .await?;
        } else {
            sqlx::query(
                "INSERT INTO users (name, role, password_hash, created) VALUES ($1, $2, $3, $4)",
            )
            .bind(name)
            .bind(role)
            .bind(password_hash)
            .bind(chrono::Utc::now().timestamp())
            .execute(&self.pool)
            .await?;
        }
        self.audit(
            name,
            "user-saved",
            "-",
            &format!("user {name} saved with role {role}"),
        )
        .await
    }

    pub async fn user(&self, name: &str) -> Result<Option<User>, StoreError> {
        let row = sqlx::query("SELECT name, role, password_hash FROM users WHERE name = $1")
            .bind(name)
            .fetch_optional(&self.pool)
            .await?;
        Ok(match row {
            Some(r) => Some(User {
                name: r.try_get("name")?,
                role: r.try_get("role")?,
                password_hash: r.try_get("password_hash")?,
            }),
            None => None,
        })
    }

    /// Gives `name` (an address of a directory person or a council
    /// mailbox) an SMTP submission password, or replaces it.
    pub async fn set_smtp_password(
        &self,
        name: &str,
        password_hash: &str,
    ) -> Result<(), StoreError> {
        let name = name.to_lowercase();
        let updated = sqlx::query("UPDATE smtp_logins SET password_hash = $1 WHERE name = $2")
            .bind(password_hash)
            .bind(&name)
            .execute(&self.pool)
            .await?;
        if updated.rows_affected() == 0 {
            sqlx::query(
                "INSERT INTO smtp_logins (name, password_hash, created) VALUES ($1, $2, $3)",
            )
            .bind(&name)
            .bind(password_hash)
            .bind(chrono::Utc::now().timestamp())
            .execute(&self.pool)
            .await?;
        }
        self.audit(
            &name,
            "smtp-login-saved",
            "-",
            &format!("SMTP submission password saved for {name}"),
        )
        .await
    }

    /// The stored hash of `name`'s SMTP password, if they have one.
    pub async fn smtp_password_hash(&self, name: &str) -> Result<Option<String>, StoreError> {
        let row = sqlx::query("SELECT password_hash FROM smtp_logins WHERE name = $1")
            .bind(name.to_lowercase())
            .fetch_optional(&self.pool)
            .await?;
        Ok(match row {
            Some(r) => Some(r.try_get("password_hash")?),
            None => None,
        })
    }

    // ---------------------------------------------------------- sessions

    pub async fn create_session(
        &self,
        token_hash: &str,
        user: &str,
        csrf: &str,
        expires: i64,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO sessions (token_hash, user_name, csrf, expires) VALUES ($1, $2, $3, $4)",
        )
        .bind(token_hash)
        .bind(user)
        .bind(csrf)
        .bind(expires)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn session(&self, token_hash: &str, now: i64) -> Result<Option<Session>, StoreError> {
        let row = sqlx::query("SELECT s.user_name, s.csrf, s.expires, u.role FROM sessions s JOIN users u ON u.name = s.user_name WHERE s.token_hash = $1 AND s.expires > $2")
            .bind(token_hash)
            .bind(now)
            .fetch_optional(&self.pool)
            .await?;
        Ok(match row {
            Some(r) => Some(Session {
                user: r.try_get("user_name")?,
                role: r.try_get("role")?,
                csrf: r.try_get("csrf")?,
                expires: r.try_get("expires")?,
            }),
            None => None,
        })
    }

    pub async fn end_session(&self, token_hash: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM sessions WHERE token_hash = $1")
            .bind(token_hash)
            .execute(&self.pool)
            .await?;
        Ok(())
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

//! Users of the review pages (with their roles), SMTP submission logins,
//! and web sessions.

use sqlx::Row;

use super::rows::{NewSession, SecondFactor};
use super::{Login, Session, SessionInfo, SessionStage, Store, StoreError, User, UserRole};

fn role_from(s: &str) -> Result<UserRole, StoreError> {
    s.parse().map_err(StoreError::Data)
}

impl Store {
    /// Adds a user of the review pages, or changes their role and password
    /// (a reset); `actor` is who did it, for the audit log.
    pub async fn add_user(
        &self,
        name: &str,
        role: UserRole,
        password_hash: &str,
        actor: &str,
    ) -> Result<(), StoreError> {
        let existing = sqlx::query("SELECT name FROM users WHERE name = $1")
            .bind(name)
            .fetch_optional(&self.pool)
            .await?;
        if existing.is_some() {
            sqlx::query("UPDATE users SET role = $1, password_hash = $2 WHERE name = $3")
                .bind(role.as_str())
                .bind(password_hash)
                .bind(name)
                .execute(&self.pool)
                .await?;
        } else {
            sqlx::query(
                "INSERT INTO users (name, role, password_hash, created) VALUES ($1, $2, $3, $4)",
            )
            .bind(name)
            .bind(role.as_str())
            .bind(password_hash)
            .bind(chrono::Utc::now().timestamp())
            .execute(&self.pool)
            .await?;
        }
        self.audit(
            actor,
            "user-saved",
            "-",
            &format!("user {name} saved with role {role}"),
        )
        .await
    }

    pub async fn user(&self, name: &str) -> Result<Option<User>, StoreError> {
        // A disabled user is no user: the sign-in fails as for a stranger.
        let row = sqlx::query(
            "SELECT name, role, password_hash FROM users WHERE name = $1 AND disabled = 0",
        )
        .bind(name)
        .fetch_optional(&self.pool)
        .await?;
        Ok(match row {
            Some(r) => Some(User {
                name: r.try_get("name")?,
                role: role_from(&r.try_get::<String, _>("role")?)?,
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
        actor: &str,
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
            actor,
            "smtp-login-saved",
            "-",
            &format!("SMTP submission password saved for {name}"),
        )
        .await
    }

    /// The stored hash of `name`'s SMTP password, if they have one.
    pub async fn smtp_password_hash(&self, name: &str) -> Result<Option<String>, StoreError> {
        let row =
            sqlx::query("SELECT password_hash FROM smtp_logins WHERE name = $1 AND disabled = 0")
                .bind(name.to_lowercase())
                .fetch_optional(&self.pool)
                .await?;
        Ok(match row {
            Some(r) => Some(r.try_get("password_hash")?),
            None => None,
        })
    }

    /// Every login: review-page users and SMTP logins, by name.
    pub async fn logins(&self) -> Result<Vec<Login>, StoreError> {
        let mut out: std::collections::BTreeMap<String, Login> = Default::default();
        for r in sqlx::query("SELECT name, role, created, last_sign_in, disabled FROM users")
            .fetch_all(&self.pool)
            .await?
        {
            let name: String = r.try_get("name")?;
            out.insert(
                name.to_lowercase(),
                Login {
                    name,
                    role: Some(role_from(&r.try_get::<String, _>("role")?)?),
                    smtp: false,
                    created: r.try_get("created")?,
                    last_sign_in: r.try_get("last_sign_in")?,
                    disabled: r.try_get::<i64, _>("disabled")? != 0,
                },
            );
        }
        for r in sqlx::query("SELECT name, created, disabled FROM smtp_logins")
            .fetch_all(&self.pool)
            .await?
        {
            let name: String = r.try_get("name")?;
            let disabled = r.try_get::<i64, _>("disabled")? != 0;
            let created: i64 = r.try_get("created")?;
            out.entry(name.to_lowercase())
                .and_modify(|l| {
                    l.smtp = true;
                    l.disabled |= disabled;
                })
                .or_insert(Login {
                    name,
                    role: None,
                    smtp: true,
                    created,
                    last_sign_in: 0,
                    disabled,
                });
        }
        Ok(out.into_values().collect())
    }

    /// Disables (or enables again) `name`'s review-page and SMTP logins;
    /// disabling ends their sessions. False when there is no such login.
    pub async fn set_login_disabled(
        &self,
        name: &str,
        disabled: bool,
        actor: &str,
    ) -> Result<bool, StoreError> {
        let mut changed = 0;
        // SMTP login names are stored in lower case; review-page ones as given.
        for statement in [
            "UPDATE users SET disabled = $1 WHERE lower(name) = $2",
            "UPDATE smtp_logins SET disabled = $1 WHERE name = $2",
        ] {
            changed += sqlx::query(statement)
                .bind(i64::from(disabled))
                .bind(name.to_lowercase())
                .execute(&self.pool)
                .await?
                .rows_affected();
        }
        if changed == 0 {
            return Ok(false);
        }
        if disabled {
            self.end_sessions_of(name).await?;
        }
        let (action, what) = if disabled {
            ("user-disabled", "disabled")
        } else {
            ("user-enabled", "enabled again")
        };
        self.audit(actor, action, "-", &format!("login {name} {what}"))
            .await?;
        Ok(true)
    }

    /// Removes `name`'s review-page and SMTP logins and ends their
    /// sessions. False when there is no such login.
    pub async fn remove_login(&self, name: &str, actor: &str) -> Result<bool, StoreError> {
        self.end_sessions_of(name).await?;
        let users = sqlx::query("DELETE FROM users WHERE lower(name) = $1")
            .bind(name.to_lowercase())
            .execute(&self.pool)
            .await?
            .rows_affected();
        let smtp = sqlx::query("DELETE FROM smtp_logins WHERE name = $1")
            .bind(name.to_lowercase())
            .execute(&self.pool)
            .await?
            .rows_affected();
        if users + smtp == 0 {
            return Ok(false);
        }
        self.audit(actor, "user-removed", "-", &format!("login {name} removed"))
            .await?;
        Ok(true)
    }

    /// Notes a successful sign-in to the review pages.
    pub async fn record_sign_in(&self, name: &str, at: i64) -> Result<(), StoreError> {
        sqlx::query("UPDATE users SET last_sign_in = $1 WHERE name = $2")
            .bind(at)
            .bind(name)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn end_sessions_of(&self, name: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM sessions WHERE lower(user_name) = $1")
            .bind(name.to_lowercase())
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    // ---------------------------------------------------------- sessions

    pub async fn create_session(&self, n: &NewSession<'_>) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO sessions (token_hash, user_name, csrf, expires, stage, created, ip) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(n.token_hash)
        .bind(n.user)
        .bind(n.csrf)
        .bind(n.expires)
        .bind(n.stage.as_str())
        .bind(n.created)
        .bind(n.ip)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Moves a session on (second factor given).
    pub async fn set_session_stage(
        &self,
        token_hash: &str,
        stage: SessionStage,
        expires: i64,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE sessions SET stage = $1, expires = $2, failures = 0 WHERE token_hash = $3",
        )
        .bind(stage.as_str())
        .bind(expires)
        .bind(token_hash)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Counts a wrong code on a session; returns how many there have been.
    pub async fn session_failure(&self, token_hash: &str) -> Result<i64, StoreError> {
        sqlx::query("UPDATE sessions SET failures = failures + 1 WHERE token_hash = $1")
            .bind(token_hash)
            .execute(&self.pool)
            .await?;
        let row = sqlx::query("SELECT failures FROM sessions WHERE token_hash = $1")
            .bind(token_hash)
            .fetch_optional(&self.pool)
            .await?;
        Ok(match row {
            Some(r) => r.try_get("failures")?,
            None => i64::MAX,
        })
    }

    /// A user's live sessions, newest first.
    pub async fn sessions_of(&self, user: &str, now: i64) -> Result<Vec<SessionInfo>, StoreError> {
        let rows = sqlx::query("SELECT token_hash, created, expires, ip FROM sessions WHERE user_name = $1 AND expires > $2 AND stage = 'full' ORDER BY created DESC")
            .bind(user)
            .bind(now)
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| {
                let h: String = r.try_get("token_hash")?;
                Ok(SessionInfo {
                    id: h.chars().take(16).collect(),
                    created: r.try_get("created")?,
                    expires: r.try_get("expires")?,
                    ip: r.try_get("ip")?,
                })
            })
            .collect()
    }

    /// Ends one of `user`'s sessions by its [`SessionInfo::id`]; whether
    /// there was one.
    pub async fn end_session_of(&self, user: &str, id: &str) -> Result<bool, StoreError> {
        if id.len() != 16 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Ok(false);
        }
        let n = sqlx::query("DELETE FROM sessions WHERE user_name = $1 AND token_hash LIKE $2")
            .bind(user)
            .bind(format!("{id}%"))
            .execute(&self.pool)
            .await?
            .rows_affected();
        Ok(n > 0)
    }

    /// A user's second factor.
    pub async fn second_factor(&self, user: &str) -> Result<SecondFactor, StoreError> {
        let row = sqlx::query("SELECT totp_secret, totp_pending, totp_step, recovery_codes FROM users WHERE name = $1")
            .bind(user)
            .fetch_optional(&self.pool)
            .await?;
        Ok(match row {
            Some(r) => SecondFactor {
                secret: r.try_get("totp_secret")?,
                pending: r.try_get("totp_pending")?,
                step: r.try_get("totp_step")?,
                recovery: super::unlist(&r.try_get::<String, _>("recovery_codes")?),
            },
            None => SecondFactor::default(),
        })
    }

    /// Keeps a secret shown for enrolment until a code confirms it.
    pub async fn set_totp_pending(&self, user: &str, secret: &str) -> Result<(), StoreError> {
        sqlx::query("UPDATE users SET totp_pending = $1 WHERE name = $2")
            .bind(secret)
            .bind(user)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Enrols the pending secret (confirmed by a code of `step`), with new
    /// recovery codes (hashes).
    pub async fn enrol_totp(
        &self,
        user: &str,
        step: i64,
        recovery: &[String],
    ) -> Result<(), StoreError> {
        let n = sqlx::query("UPDATE users SET totp_secret = totp_pending, totp_pending = '', totp_step = $1, recovery_codes = $2 WHERE name = $3 AND totp_pending <> ''")
            .bind(step)
            .bind(super::list(recovery))
            .bind(user)
            .execute(&self.pool)
            .await?
            .rows_affected();
        if n != 1 {
            return Err(StoreError::Refused("no enrolment was started".into()));
        }
        self.audit(
            user,
            "second-factor",
            "-",
            &format!("{user} enrolled an authenticator app"),
        )
        .await
    }

    /// Accepts a TOTP step once: `false` when it (or a later one) was.
    pub async fn accept_totp_step(&self, user: &str, step: i64) -> Result<bool, StoreError> {
        let n = sqlx::query("UPDATE users SET totp_step = $1 WHERE name = $2 AND totp_step < $1")
            .bind(step)
            .bind(user)
            .execute(&self.pool)
            .await?
            .rows_affected();
        Ok(n == 1)
    }

    /// Uses a recovery code (its hash) once: `false` when it is not one of
    /// the user's unused codes.
    pub async fn use_recovery_code(&self, user: &str, hash: &str) -> Result<bool, StoreError> {
        let before = self.second_factor(user).await?.recovery;
        if !before.iter().any(|h| h == hash) {
            return Ok(false);
        }
        let after: Vec<String> = before.iter().filter(|h| *h != hash).cloned().collect();
        // Only if nobody used a code in between.
        let n = sqlx::query(
            "UPDATE users SET recovery_codes = $1 WHERE name = $2 AND recovery_codes = $3",
        )
        .bind(super::list(&after))
        .bind(user)
        .bind(super::list(&before))
        .execute(&self.pool)
        .await?
        .rows_affected();
        Ok(n == 1)
    }

    /// Removes a user's second factor (an administrator's reset, for a lost
    /// phone); they enrol again at their next sign-in where one is needed.
    pub async fn reset_second_factor(&self, user: &str, actor: &str) -> Result<bool, StoreError> {
        let n = sqlx::query("UPDATE users SET totp_secret = '', totp_pending = '', totp_step = 0, recovery_codes = '[]' WHERE name = $1")
            .bind(user)
            .execute(&self.pool)
            .await?
            .rows_affected();
        if n == 1 {
            sqlx::query("DELETE FROM sessions WHERE user_name = $1")
                .bind(user)
                .execute(&self.pool)
                .await?;
            self.audit(
                actor,
                "second-factor-reset",
                "-",
                &format!("second factor of {user} removed; their sessions ended"),
            )
            .await?;
        }
        Ok(n == 1)
    }

    pub async fn session(&self, token_hash: &str, now: i64) -> Result<Option<Session>, StoreError> {
        let row = sqlx::query("SELECT s.user_name, s.csrf, s.expires, s.stage, u.role FROM sessions s JOIN users u ON u.name = s.user_name WHERE s.token_hash = $1 AND s.expires > $2 AND u.disabled = 0")
            .bind(token_hash)
            .bind(now)
            .fetch_optional(&self.pool)
            .await?;
        Ok(match row {
            Some(r) => Some(Session {
                user: r.try_get("user_name")?,
                role: role_from(&r.try_get::<String, _>("role")?)?,
                csrf: r.try_get("csrf")?,
                expires: r.try_get("expires")?,
                stage: {
                    let st: String = r.try_get("stage")?;
                    SessionStage::parse(&st)
                        .ok_or_else(|| StoreError::Data(format!("session stage {st:?}")))?
                },
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

//! Users of the review pages (with their roles), SMTP submission logins,
//! and web sessions.

use sqlx::Row;

use super::{Login, Session, Store, StoreError, User, UserRole};

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
        let row = sqlx::query("SELECT s.user_name, s.csrf, s.expires, u.role FROM sessions s JOIN users u ON u.name = s.user_name WHERE s.token_hash = $1 AND s.expires > $2 AND u.disabled = 0")
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

//! Users of the review pages (with their roles), SMTP submission logins,
//! and web sessions.

use sqlx::Row;

use super::{Session, Store, StoreError, User, UserRole};

fn role_from(s: &str) -> Result<UserRole, StoreError> {
    s.parse().map_err(StoreError::Data)
}

impl Store {
    pub async fn add_user(
        &self,
        name: &str,
        role: UserRole,
        password_hash: &str,
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

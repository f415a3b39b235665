//! Who may send through submission: SMTP logins (checked against the
//! store, with the failure throttle) and the addresses a login may use.

use tracing::warn;

use super::reply::Reply;
use crate::gateway::Gateway;

impl Gateway {
    /// Checks an SMTP login (after the failure throttle): the login name,
    /// lower case, or the reply that refuses it.
    pub async fn login(
        &self,
        peer: std::net::IpAddr,
        credentials: crate::smtp::sasl::Credentials,
    ) -> Result<String, Reply> {
        let user = credentials.user.trim().to_lowercase();
        let ip_key = format!("smtp-ip:{peer}");
        let user_key = format!("smtp-user:{user}");
        let throttle = &self.login_throttle;
        if let Some(wait) = throttle.wait(&ip_key).or_else(|| throttle.wait(&user_key)) {
            warn!(%peer, %user, "SMTP login refused: too many failures");
            crate::metrics::login_refused("throttled");
            return Err(Reply::new(
                454,
                "4.7.0",
                format!(
                    "Too many failed logins; try again in {} seconds",
                    wait.as_secs().max(1)
                ),
            ));
        }
        let hash = match self.store.smtp_password_hash(&user).await {
            Ok(h) => h,
            Err(e) => {
                warn!(error = %e, "cannot read SMTP logins");
                return Err(Reply::new(454, "4.7.0", "Temporary authentication failure"));
            }
        };
        let password = credentials.password;
        let ok = tokio::task::spawn_blocking(move || match hash {
            Some(h) => crate::auth::verify_password(&password, &h),
            None => {
                crate::auth::dummy_verify(&password);
                false
            }
        })
        .await
        .unwrap_or(false);
        if ok {
            throttle.succeed(&ip_key);
            throttle.succeed(&user_key);
            Ok(user)
        } else {
            throttle.fail(&ip_key);
            throttle.fail(&user_key);
            warn!(%peer, %user, "SMTP login failed");
            crate::metrics::login_refused("invalid");
            Err(Reply::new(
                535,
                "5.7.8",
                "Authentication credentials invalid",
            ))
        }
    }

    /// Whether the login `user` may send as `address`: their own, another
    /// address of the same directory person, or a delegation.
    pub fn may_send_as(&self, user: &str, address: &str) -> bool {
        if address.eq_ignore_ascii_case(user) {
            return true;
        }
        let snapshot = self.policy.load();
        let dir = &snapshot.directory;
        if let (Some(a), Some(b)) = (dir.person_id(user), dir.person_id(address))
            && a == b
        {
            return true;
        }
        let domain = crate::policy::directory::domain_of(address);
        self.settings
            .smtp
            .delegates
            .iter()
            .filter(|d| d.user.trim().eq_ignore_ascii_case(user))
            .flat_map(|d| &d.send_as)
            .any(|s| match s.trim().strip_prefix('@') {
                Some(d) => d.eq_ignore_ascii_case(domain),
                None => s.trim().eq_ignore_ascii_case(address),
            })
    }

    /// The first From header address that `user` may not send as.
    pub fn foreign_from(&self, user: &str, message: &[u8]) -> Option<String> {
        let parsed = mail_parser::MessageParser::default().parse_headers(message)?;
        parsed
            .from()?
            .iter()
            .filter_map(|a| a.address())
            .find(|a| !self.may_send_as(user, a))
            .map(str::to_string)
    }
}

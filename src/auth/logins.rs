//! Who may send through submission: SMTP logins (checked against the
//! store, with the failure throttle) and the addresses a login may use.
//! The SMTP session turns a [`Refused`] into its reply; the pipeline asks
//! [`Logins::foreign_from`] of the message it parsed.

use std::sync::Arc;

use tracing::warn;

use super::{Attempt, Throttle};
use crate::message::View;
use crate::policy::PolicyHandle;
use crate::settings::Delegate;
use crate::store::Store;

/// Why a login was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refused {
    /// Too many failures from this address or for this user lately.
    Throttled { secs: u64 },
    /// The store cannot be read.
    Unavailable,
    /// Unknown user or wrong password.
    Invalid,
}

/// SMTP logins: the users in the store, the failure throttle, and who may
/// send as whom (the directory's people and the configured delegates).
pub struct Logins {
    store: Store,
    policy: Arc<PolicyHandle>,
    delegates: Vec<Delegate>,
    throttle: Throttle,
}

impl Logins {
    pub fn new(store: Store, policy: Arc<PolicyHandle>, delegates: Vec<Delegate>) -> Logins {
        Logins {
            store,
            policy,
            delegates,
            throttle: Throttle::default(),
        }
    }

    /// Checks an SMTP login (after the failure throttle): the login name,
    /// lower case, or why it is refused.
    pub async fn login(
        &self,
        peer: std::net::IpAddr,
        user: &str,
        password: String,
    ) -> Result<String, Refused> {
        let user = user.trim().to_lowercase();
        let ip_key = format!("smtp-ip:{peer}");
        let user_key = format!("smtp-user:{user}");
        // A throttled client or user costs no look-up at all.
        if let Some(wait) = self.throttle.waiting(&ip_key, &user_key) {
            warn!(%peer, %user, "SMTP login refused: too many failures");
            crate::metrics::login_refused("throttled");
            return Err(Refused::Throttled {
                secs: wait.as_secs().max(1),
            });
        }
        let hash = match self.store.smtp_password_hash(&user).await {
            Ok(h) => h,
            Err(e) => {
                warn!(error = %e, "cannot read SMTP logins");
                return Err(Refused::Unavailable);
            }
        };
        match self
            .throttle
            .attempt(&ip_key, &user_key, password, hash)
            .await
        {
            Attempt::Accepted => Ok(user),
            Attempt::Throttled(wait) => {
                warn!(%peer, %user, "SMTP login refused: too many failures");
                crate::metrics::login_refused("throttled");
                Err(Refused::Throttled {
                    secs: wait.as_secs().max(1),
                })
            }
            Attempt::Wrong => {
                warn!(%peer, %user, "SMTP login failed");
                crate::metrics::login_refused("invalid");
                Err(Refused::Invalid)
            }
            Attempt::Busy => {
                warn!(%peer, %user, "SMTP login not checked: too many checks waiting");
                crate::metrics::login_refused("busy");
                Err(Refused::Unavailable)
            }
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
        self.delegates
            .iter()
            .filter(|d| d.user.trim().eq_ignore_ascii_case(user))
            .flat_map(|d| &d.send_as)
            .any(|s| match s.trim().strip_prefix('@') {
                Some(d) => d.eq_ignore_ascii_case(domain),
                None => s.trim().eq_ignore_ascii_case(address),
            })
    }

    /// The first From header address that `user` may not send as.
    pub fn foreign_from(&self, user: &str, message: &View<'_>) -> Option<String> {
        message
            .from_addresses()
            .into_iter()
            .find(|a| !self.may_send_as(user, a))
    }
}

//! AUTH PLAIN and LOGIN (RFC 4954) against the SMTP logins.

use tokio::io::{AsyncRead, AsyncWrite};

use super::{Session, SessionError};
use crate::smtp::reply::Reply;
use tracing::info;

use crate::auth::logins::Refused;
use crate::message::envelope::ListenerKind;
use crate::smtp::sasl;

impl<S: AsyncRead + AsyncWrite + Unpin> Session<S> {
    /// Sends a `334` challenge and reads the client's response line;
    /// `None` when the line was too long.
    pub(super) async fn challenge(&mut self, prompt: &str) -> Result<Option<String>, SessionError> {
        self.out
            .extend_from_slice(format!("334 {prompt}\r\n").as_bytes());
        Ok(self
            .read_line()
            .await?
            .map(|l| String::from_utf8_lossy(&l).trim_end().to_string()))
    }

    /// AUTH PLAIN or LOGIN (RFC 4954) against the SMTP logins in the store.
    /// `None`: the session must end.
    pub(super) async fn auth(
        &mut self,
        mechanism: u64,
        initial: String,
    ) -> Result<Option<Reply>, SessionError> {
        if self.config.listener != ListenerKind::Submission {
            return Ok(Some(Reply::new(
                502,
                "5.5.1",
                "AUTH is not available on this listener; use the submission port",
            )));
        }
        if !self.esmtp {
            return Ok(Some(Reply::new(503, "5.5.1", "Send EHLO first")));
        }
        if self.authenticated.is_some() {
            return Ok(Some(Reply::new(503, "5.5.1", "Already authenticated")));
        }
        if self.tx.is_some() {
            return Ok(Some(Reply::new(
                503,
                "5.5.1",
                "AUTH is not allowed during a mail transaction",
            )));
        }
        if !self.auth_offered() {
            return Ok(Some(Reply::new(
                538,
                "5.7.11",
                "Encryption required for requested authentication mechanism: send STARTTLS first",
            )));
        }
        let too_long = || Reply::new(500, "5.5.2", "Authentication response too long");
        let credentials = match mechanism {
            smtp_proto::AUTH_PLAIN => {
                let response = if initial.is_empty() {
                    match self.challenge("").await? {
                        Some(r) => r,
                        None => return Ok(Some(too_long())),
                    }
                } else {
                    initial
                };
                sasl::plain(&response)
            }
            smtp_proto::AUTH_LOGIN => {
                let user = if initial.is_empty() {
                    match self.challenge(sasl::LOGIN_USER_PROMPT).await? {
                        Some(r) => r,
                        None => return Ok(Some(too_long())),
                    }
                } else {
                    initial
                };
                match sasl::decode(&user) {
                    Ok(user) => match self.challenge(sasl::LOGIN_PASSWORD_PROMPT).await? {
                        Some(p) => {
                            sasl::decode(&p).map(|password| sasl::Credentials { user, password })
                        }
                        None => return Ok(Some(too_long())),
                    },
                    Err(e) => Err(e),
                }
            }
            _ => {
                return Ok(Some(Reply::new(
                    504,
                    "5.5.4",
                    "Unrecognised authentication mechanism; use PLAIN or LOGIN",
                )));
            }
        };
        let credentials = match credentials {
            Ok(c) => c,
            Err(sasl::SaslError::Cancelled) => {
                return Ok(Some(Reply::new(501, "5.0.0", "Authentication cancelled")));
            }
            Err(e) => {
                return Ok(Some(Reply::new(
                    501,
                    "5.5.2",
                    format!("Cannot decode the authentication response: {e}"),
                )));
            }
        };
        let sasl::Credentials { user, password } = credentials;
        match self.context.logins.login(self.peer, &user, password).await {
            Ok(user) => {
                info!(%user, "authenticated");
                self.authenticated = Some(user);
                Ok(Some(Reply::new(235, "2.7.0", "Authentication succeeded")))
            }
            Err(Refused::Throttled { secs }) => Ok(Some(Reply::new(
                454,
                "4.7.0",
                format!("Too many failed logins; try again in {secs} seconds"),
            ))),
            Err(Refused::Unavailable) => Ok(Some(Reply::new(
                454,
                "4.7.0",
                "Temporary authentication failure",
            ))),
            Err(Refused::Invalid) => Ok(Some(Reply::new(
                535,
                "5.7.8",
                "Authentication credentials invalid",
            ))),
        }
    }
}

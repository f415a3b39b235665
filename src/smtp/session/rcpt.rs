//! RCPT TO: the council's domains on the inbound listener, anywhere for
//! logins and trusted networks on submission; at a council domain, only
//! addresses that exist (the directory's people and mailboxes, or, with
//! `unknown_recipients = "verify"`, what the council's mail host accepts).

use tokio::io::{AsyncRead, AsyncWrite};

use super::Session;
use super::mail::plausible_address;
use crate::delivery::verify::Answer;
use crate::message::envelope::ListenerKind;
use crate::policy::directory::{UnknownRecipients, domain_of};
use crate::smtp::reply::Reply;

impl<S: AsyncRead + AsyncWrite + Unpin> Session<S> {
    pub(super) async fn rcpt(&mut self, address: &str, max_rcpts: usize) -> Reply {
        let address = if address.eq_ignore_ascii_case("postmaster") {
            self.context.postmaster.clone()
        } else {
            address.to_string()
        };
        let Some(tx) = self.tx.as_ref() else {
            return Reply::new(503, "5.5.1", "Send MAIL first");
        };
        if tx.rcpt_to.len() >= max_rcpts {
            return Reply::new(
                452,
                "4.5.3",
                format!("Too many recipients (at most {max_rcpts} per message)"),
            );
        }
        if !plausible_address(&address) {
            return Reply::new(501, "5.1.3", format!("Bad recipient address <{address}>"));
        }
        let domain = domain_of(&address).to_ascii_lowercase();
        let policy = self.context.policy.load();
        let council_domain = policy.directory.is_council_domain(&domain);
        let allowed = match self.config.listener {
            ListenerKind::Inbound => council_domain,
            ListenerKind::Submission => self.config.trusted || self.authenticated.is_some(),
        };
        if !allowed {
            return match self.config.listener {
                ListenerKind::Inbound => Reply::new(
                    550,
                    "5.7.1",
                    format!(
                        "Relay access denied: this gateway accepts mail only for the council's domains, not {domain}"
                    ),
                ),
                ListenerKind::Submission => Reply::new(
                    550,
                    "5.7.1",
                    "Relay access denied: submission needs AUTH or a trusted network",
                ),
            };
        }
        if council_domain && !policy.directory.mailbox_exists(&address) {
            let verify = policy.directory.unknown_recipients == UnknownRecipients::Verify;
            drop(policy);
            let answer = match (&self.context.recipients, verify) {
                (Some(v), true) => v.check(&address).await,
                _ => Answer::Unknown(String::new()),
            };
            match answer {
                Answer::Exists => {}
                Answer::Unknown(_) => {
                    return Reply::new(
                        550,
                        "5.1.1",
                        format!("<{address}>: no such mailbox at the council"),
                    );
                }
                Answer::Unsure(why) => {
                    tracing::warn!(%address, %why, "could not verify a recipient with the council's mail host");
                    return Reply::new(
                        450,
                        "4.1.1",
                        format!("<{address}>: cannot check this mailbox now; try again later"),
                    );
                }
            }
        }
        if let Some(tx) = self.tx.as_mut() {
            if tx.rcpt_to.iter().any(|r| r.eq_ignore_ascii_case(&address)) {
                return Reply::new(250, "2.1.5", "Recipient OK (duplicate ignored)");
            }
            tx.rcpt_to.push(address);
        }
        Reply::new(250, "2.1.5", "Recipient OK")
    }
}

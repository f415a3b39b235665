//! MAIL FROM: who may send, and the size they announce.

use tokio::io::{AsyncRead, AsyncWrite};

use super::{Session, Transaction};
use crate::message::envelope::ListenerKind;
use crate::smtp::reply::Reply;

impl<S: AsyncRead + AsyncWrite + Unpin> Session<S> {
    pub(super) fn mail(&mut self, from: smtp_proto::MailFrom<String>, max_size: usize) -> Reply {
        if self.helo.is_none() {
            return Reply::new(503, "5.5.1", "Send EHLO or HELO first");
        }
        if self.config.listener == ListenerKind::Submission
            && !self.config.trusted
            && self.authenticated.is_none()
        {
            return Reply::new(
                530,
                "5.7.0",
                "Authentication required: send STARTTLS, then AUTH, to use submission",
            );
        }
        if let Some(user) = &self.authenticated
            && !from.address.is_empty()
            && !self.context.logins.may_send_as(user, &from.address)
        {
            return Reply::new(
                550,
                "5.7.1",
                format!(
                    "Sender <{}> is not an address of the authenticated user {user}",
                    from.address
                ),
            );
        }
        if self.tx.is_some() {
            return Reply::new(503, "5.5.1", "Nested MAIL command; send RSET first");
        }
        if from.size > max_size {
            return Reply::new(
                552,
                "5.3.4",
                format!("Message size exceeds the limit of {max_size} bytes"),
            );
        }
        if !from.address.is_empty() && !plausible_address(&from.address) {
            return Reply::new(
                501,
                "5.1.7",
                format!("Bad sender address <{}>", from.address),
            );
        }
        self.tx = Some(Transaction {
            mail_from: from.address,
            rcpt_to: Vec::new(),
        });
        Reply::new(250, "2.1.0", "Sender OK")
    }
}

pub(super) fn plausible_address(a: &str) -> bool {
    match a.rsplit_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && !domain.is_empty()
                && a.len() <= 320
                && !a.bytes().any(|b| b.is_ascii_control() || b == b' ')
        }
        None => false,
    }
}

//! The SMTP envelope of one message, as received.

use std::net::IpAddr;

use serde::{Deserialize, Serialize};

/// Which listener a message came in on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ListenerKind {
    /// The MX role: mail for the council's domains.
    Inbound,
    /// Staff and councillors sending out.
    Submission,
}

impl ListenerKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ListenerKind::Inbound => "inbound",
            ListenerKind::Submission => "submission",
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Envelope {
    /// Reverse path; empty for the null sender `<>`.
    pub mail_from: String,
    /// Forward paths in the order given.
    pub rcpt_to: Vec<String>,
    pub listener: ListenerKind,
    pub peer: IpAddr,
    pub helo: String,
    /// The SMTP login that sent it (AUTH), lower case.
    #[serde(default)]
    pub authenticated: Option<String>,
    /// The client relayed from a trusted network.
    #[serde(default)]
    pub trusted: bool,
    /// Who the From header names is known to have sent it: the sender
    /// logged in (and may send as that From), came from a trusted network,
    /// or DMARC passed. Unverified claims earn no trust from the rules.
    #[serde(default)]
    pub sender_verified: bool,
}

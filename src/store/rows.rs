//! The rows of the store, typed: a held message (its state, envelope and
//! verdict as Rust types, not strings), users and their roles, web
//! sessions, and the decisions a reviewer can make.

use serde::{Deserialize, Serialize};
use sqlx::Row;
use sqlx::any::AnyRow;

use super::StoreError;
use crate::message::envelope::Envelope;
use crate::policy::Verdict;

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
    pub fn state(self) -> HeldState {
        match self {
            Action::Release => HeldState::Released,
            Action::SendToProperOfficer => HeldState::SentToProperOfficer,
            Action::Return => HeldState::Returned,
            Action::Delete => HeldState::Deleted,
            Action::Expire => HeldState::Expired,
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

/// A reviewer's decision on a held message (or the expiry's).
#[derive(Debug, Clone)]
pub struct ReviewDecision {
    pub action: Action,
    /// Who decided: a reviewer's user name, `expiry`, or `cli:USER`.
    pub actor: String,
    /// The protocol clause or reason given.
    pub reason: String,
    /// A note (sent to the sender when returning).
    pub note: String,
    /// For a release: recipients the reviewer chose not to deliver to
    /// (a release to some recipients); empty releases to all.
    pub withheld: Vec<String>,
}

impl ReviewDecision {
    pub fn new(action: Action, actor: &str, reason: &str, note: &str) -> Self {
        ReviewDecision {
            action,
            actor: actor.to_string(),
            reason: reason.to_string(),
            note: note.to_string(),
            withheld: Vec::new(),
        }
    }

    /// The same decision, delivered to all recipients but `withheld`.
    pub fn withholding(mut self, withheld: Vec<String>) -> Self {
        self.withheld = withheld;
        self
    }
}

/// Where a held message stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum HeldState {
    /// Waiting for a reviewer.
    Held,
    Released,
    SentToProperOfficer,
    Returned,
    Deleted,
    Expired,
}

impl HeldState {
    pub const ALL: [HeldState; 6] = [
        HeldState::Held,
        HeldState::Released,
        HeldState::SentToProperOfficer,
        HeldState::Returned,
        HeldState::Deleted,
        HeldState::Expired,
    ];

    /// The word stored, shown and used in links.
    pub fn as_str(self) -> &'static str {
        match self {
            HeldState::Held => "held",
            HeldState::Released => "released",
            HeldState::SentToProperOfficer => "sent-to-proper-officer",
            HeldState::Returned => "returned",
            HeldState::Deleted => "deleted",
            HeldState::Expired => "expired",
        }
    }

    pub fn parse(s: &str) -> Option<HeldState> {
        HeldState::ALL.into_iter().find(|x| x.as_str() == s)
    }
}

impl std::fmt::Display for HeldState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl PartialEq<&str> for HeldState {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

/// What a user of the review pages may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum UserRole {
    /// Reviews held messages.
    Clerk,
    /// Also tunes the rules and reads the audit log.
    Admin,
}

impl UserRole {
    pub fn as_str(self) -> &'static str {
        match self {
            UserRole::Clerk => "clerk",
            UserRole::Admin => "admin",
        }
    }
}

impl std::str::FromStr for UserRole {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "clerk" => Ok(UserRole::Clerk),
            "admin" => Ok(UserRole::Admin),
            other => Err(format!("no role {other:?}: clerk or admin")),
        }
    }
}

impl std::fmt::Display for UserRole {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl PartialEq<&str> for UserRole {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

/// A held message: as it is held ([`super::Store::hold`] stores one in
/// state `held`, undecided) and as it is read back.
#[derive(Debug, Clone, Serialize)]
pub struct Held {
    pub id: String,
    pub created: i64,
    pub expires: i64,
    pub mail_from: String,
    /// Final recipients, copies and redirects applied.
    pub recipients: Vec<String>,
    /// The envelope as received.
    pub envelope: Envelope,
    pub subject: String,
    pub rules: Vec<String>,
    /// The verdict with its evidence (its message is in `message`).
    pub verdict: Verdict,
    /// The message with its pending changes applied.
    #[serde(skip)]
    pub message: Vec<u8>,
    /// The message as received (for re-evaluation under a candidate policy).
    #[serde(skip)]
    pub original: Vec<u8>,
    pub state: HeldState,
    /// Who is told about it (addresses).
    pub reviewers: Vec<String>,
    /// Who must not act on it: the Proper Officer when a party to it.
    pub barred: Vec<String>,
    pub decided_by: Option<String>,
    pub decided_at: Option<i64>,
    pub reason: Option<String>,
    pub note: Option<String>,
    pub effect_done: bool,
    /// Recipients a release did not deliver to (the reviewer's choice).
    pub withheld: Vec<String>,
}

impl Held {
    /// Who a release delivers to: the recipients the reviewer kept.
    pub fn delivered_to(&self) -> Vec<String> {
        self.recipients
            .iter()
            .filter(|r| !self.withheld.iter().any(|w| w.eq_ignore_ascii_case(r)))
            .cloned()
            .collect()
    }
}

/// A sender's other held message, for the review page's pattern.
#[derive(Debug, Clone)]
pub struct Earlier {
    pub id: String,
    pub created: i64,
    pub subject: String,
    pub state: HeldState,
    pub rules: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct User {
    pub name: String,
    pub role: UserRole,
    #[serde(skip)]
    pub password_hash: String,
}

/// A login as `user list` and the Users page show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Login {
    pub name: String,
    /// The review pages' role; `None` for an SMTP login only.
    pub role: Option<UserRole>,
    pub smtp: bool,
    pub created: i64,
    /// 0 when never signed in to the review pages.
    pub last_sign_in: i64,
    pub disabled: bool,
}

#[derive(Debug, Clone)]
pub struct Session {
    pub user: String,
    pub role: UserRole,
    pub csrf: String,
    pub expires: i64,
    /// How far signing in has got: only a `Full` session opens the pages.
    pub stage: SessionStage,
}

/// A session as it is started.
#[derive(Debug, Clone)]
pub struct NewSession<'a> {
    /// The hash of the cookie's token (never the token).
    pub token_hash: &'a str,
    pub user: &'a str,
    pub csrf: &'a str,
    pub expires: i64,
    pub stage: SessionStage,
    pub created: i64,
    /// Where it signed in from.
    pub ip: &'a str,
}

/// How far a session's sign-in has got.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionStage {
    /// Password and (where needed) second factor given.
    Full,
    /// Password given; the code from the authenticator app is next.
    SecondFactor,
    /// Password given; the user must enrol a second factor first.
    Enrol,
}

impl SessionStage {
    pub fn as_str(self) -> &'static str {
        match self {
            SessionStage::Full => "full",
            SessionStage::SecondFactor => "second-factor",
            SessionStage::Enrol => "enrol",
        }
    }

    pub fn parse(s: &str) -> Option<SessionStage> {
        [
            SessionStage::Full,
            SessionStage::SecondFactor,
            SessionStage::Enrol,
        ]
        .into_iter()
        .find(|x| x.as_str() == s)
    }
}

/// A user's session as their Account page lists it.
#[derive(Debug, Clone)]
pub struct SessionInfo {
    /// The first characters of the token's hash: names it for revoking
    /// without revealing anything that opens it.
    pub id: String,
    pub created: i64,
    pub expires: i64,
    pub ip: String,
}

/// A user's second factor as the store keeps it.
#[derive(Debug, Clone, Default)]
pub struct SecondFactor {
    /// The enrolled TOTP secret (base32); empty when not enrolled.
    pub secret: String,
    /// A secret shown for enrolment, not yet confirmed with a code.
    pub pending: String,
    /// The last TOTP step accepted (a code works once).
    pub step: i64,
    /// Hashes of the unused recovery codes.
    pub recovery: Vec<String>,
}

pub(crate) fn list(v: &[String]) -> String {
    serde_json::to_string(v).unwrap_or_else(|_| "[]".into())
}

pub(crate) fn unlist(s: &str) -> Vec<String> {
    serde_json::from_str(s).unwrap_or_default()
}

pub(super) const HELD_COLUMNS: &str = "id, created, expires, mail_from, recipients, envelope, subject, rules, verdict, message, original, state, reviewers, barred, decided_by, decided_at, reason, note, effect_done, withheld";

fn json<T: serde::de::DeserializeOwned>(what: &str, id: &str, text: &str) -> Result<T, StoreError> {
    serde_json::from_str(text)
        .map_err(|e| StoreError::Data(format!("held message {id}: {what}: {e}")))
}

pub(super) fn held_from(row: &AnyRow) -> Result<Held, StoreError> {
    let get_s = |c: &str| row.try_get::<String, _>(c);
    let id = get_s("id")?;
    let state = get_s("state")?;
    Ok(Held {
        envelope: json("envelope", &id, &get_s("envelope")?)?,
        verdict: json("verdict", &id, &get_s("verdict")?)?,
        state: HeldState::parse(&state)
            .ok_or_else(|| StoreError::Data(format!("held message {id}: no state {state:?}")))?,
        id,
        created: row.try_get("created")?,
        expires: row.try_get("expires")?,
        mail_from: get_s("mail_from")?,
        recipients: unlist(&get_s("recipients")?),
        subject: get_s("subject")?,
        rules: unlist(&get_s("rules")?),
        message: row.try_get::<Vec<u8>, _>("message")?,
        original: row.try_get::<Vec<u8>, _>("original")?,
        reviewers: unlist(&get_s("reviewers")?),
        barred: unlist(&get_s("barred")?),
        decided_by: row.try_get::<Option<String>, _>("decided_by")?,
        decided_at: row.try_get::<Option<i64>, _>("decided_at")?,
        reason: row.try_get::<Option<String>, _>("reason")?,
        note: row.try_get::<Option<String>, _>("note")?,
        effect_done: row.try_get::<i64, _>("effect_done")? != 0,
        withheld: unlist(&get_s("withheld")?),
    })
}

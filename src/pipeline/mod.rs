//! The path of one accepted message, from the end of DATA to its outcome.
//! Read it top to bottom; each stage is a call on the line below it:
//!
//! ```text
//! receive        the SMTP session: DATA decoded, size and header limits,
//!                a `Received:` field; hands over a Received
//! mark           message::mark: every X-Councilgate-Mark removed; one with
//!                our secret means we checked it already → commit unchanged
//! authenticate   sender_auth: SPF, DKIM, DMARC and the ARC chain of mail
//!                from outside → SenderAuth (stamped as Authentication-Results)
//! parse once     message::View: header fields, end of the header section,
//!                MIME parts; every later stage reads this one parse
//! bind           a login may only send as its own addresses (auth::Logins)
//! evaluate       policy::Snapshot::judge → Verdict + Changes
//! rewrite        message::rewrite::apply(view, changes)
//! seal           an ARC set over a changed message (DKIM signing happens
//!                as it leaves: delivery::sign)
//! commit         deliver → the spool; hold → the review store;
//!                reject → nothing kept; what the content rules read of
//!                councillor and officer mail → the analysis archive
//! Outcome        the session turns it into an SMTP reply
//! ```
//!
//! Nothing is acknowledged before it is on disk: [`Outcome::Queued`] and
//! [`Outcome::Held`] are returned only once the spool or the store has the
//! message. Nothing here knows SMTP reply codes.

mod commit;
pub mod sender_auth;

use std::borrow::Cow;
use std::sync::Arc;
use std::time::Instant;

use chrono::Utc;

use crate::auth::Logins;
use crate::delivery::sign::Signer;
use crate::message::envelope::{Envelope, ListenerKind};
use crate::message::{View, mark, rewrite};
use crate::policy::PolicyHandle;
use crate::queue::Queue;
use crate::review::Review;
use sender_auth::{Parsed, Verifier};

/// What the session hands over: a message it accepted the data of.
pub struct Received {
    pub envelope: Envelope,
    /// The message with our `Received:` field on top.
    pub message: Vec<u8>,
    /// The id the message keeps in the spool, the store and the logs.
    pub queue_id: String,
}

/// What became of a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// On the spool, for delivery.
    Queued { id: String },
    /// In the review store, for the Proper Officer; `rules` held it.
    Held { id: String, rules: Vec<String> },
    /// Refused under the council protocol; nothing kept.
    Rejected { reason: String },
    /// The From names an address the login may not send as.
    ForeignFrom { from: String, user: String },
    /// Neither the spool nor the store could take it: try again later.
    NotStored,
}

/// The stages' shared parts. Built once at start (`server::App::new`);
/// cheap to share.
pub struct Pipeline {
    /// Our name: the authserv-id of the `Authentication-Results` we write.
    pub hostname: String,
    pub policy: Arc<PolicyHandle>,
    pub queue: Arc<Queue>,
    pub review: Review,
    pub logins: Arc<Logins>,
    /// SPF, DKIM and DMARC of inbound mail; `None` when switched off.
    pub sender_auth: Option<Verifier>,
    /// DKIM keys and the ARC sealer.
    pub signer: Arc<Signer>,
    /// `hairpin.mark_secret`: the value of our mark (empty: none is valid).
    pub mark_secret: crate::settings::Secret,
    /// Keep the analysis archive (`[store] archive_days` > 0).
    pub archive: bool,
}

impl Pipeline {
    /// The sender-authentication stage's verifier, when it is on.
    pub fn verifier(&self) -> Option<&Verifier> {
        self.sender_auth.as_ref()
    }

    /// Runs every stage on one message.
    pub async fn run(&self, received: Received) -> Outcome {
        let Received {
            mut envelope,
            mut message,
            queue_id,
        } = received;

        // mark: mail the gateway returned to the council's tenant carries
        // our mark; back here (a loop, a misrouted rule) it is not judged
        // twice. A mark without our secret is forged: removed, ignored.
        let (unmarked, found) = mark::take(&message, self.mark_secret.expose().trim());
        let unmarked = match unmarked {
            Cow::Owned(m) => Some(m),
            Cow::Borrowed(_) => None,
        };
        if let Some(m) = unmarked {
            message = m;
        }
        match found {
            mark::Found::Valid => {
                tracing::info!(id = %queue_id, "carries this gateway's mark: checked already, passed on unchanged");
                let snapshot = self.policy.load();
                let view = View::parse(&message);
                let verdict =
                    crate::policy::Verdict::deliver_unchanged(&envelope, &snapshot.version, None);
                return self
                    .commit(&envelope, &view, &snapshot, verdict, &queue_id)
                    .await;
            }
            mark::Found::Forged => {
                tracing::warn!(id = %queue_id, "removed a gateway mark that does not carry the secret (forged or stale); the message is judged as usual");
            }
            mark::Found::None => {}
        }

        // authenticate: mail from outside. Only we may say what we
        // verified, and DMARC decides whether its From is who it claims.
        let from_outside = !envelope.trusted && envelope.authenticated.is_none();
        if from_outside
            && let Cow::Owned(stripped) =
                sender_auth::strip_forged_results(&message, &self.hostname)
        {
            message = stripped;
        }
        let verifier = self
            .sender_auth
            .as_ref()
            .filter(|_| from_outside && envelope.listener == ListenerKind::Inbound);
        let checked = verifier.map(|v| (v, Parsed::new(&message)));
        let auth = match &checked {
            Some((v, parsed)) => Some(v.verify(&envelope, parsed).await),
            None => None,
        };
        if let Some(a) = &auth {
            envelope.sender_verified = a.verified();
        }
        let stamped: Cow<'_, [u8]> = match &auth {
            Some(a) => Cow::Owned(a.stamp(&message)),
            None => Cow::Borrowed(&message),
        };

        // parse once
        let view = View::parse(&stamped);

        // bind: a login sends only as its own addresses.
        if let Some(user) = &envelope.authenticated
            && let Some(from) = self.logins.foreign_from(user, &view)
        {
            return Outcome::ForeignFrom {
                from,
                user: user.clone(),
            };
        }

        // evaluate, then rewrite
        let snapshot = self.policy.load();
        let started = Instant::now();
        let (mut verdict, changes) = snapshot.judge(&envelope, &view, Utc::now());
        if !changes.is_empty() {
            verdict.message = Some(rewrite::apply(&view, &changes));
        }
        crate::metrics::policy_time(started.elapsed());
        if verdict.text_read() {
            crate::metrics::text_read();
        }

        // seal: a changed message gets an ARC set over what we verified.
        if let (Some(a), Some(changed)) = (&auth, verdict.message.as_deref())
            && let Some(sealed) = a.seal(&self.signer, changed)
        {
            verdict.message = Some(sealed);
        }

        // commit
        self.commit(&envelope, &view, &snapshot, verdict, &queue_id)
            .await
    }
}

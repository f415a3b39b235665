//! DATA: the message read through the sans-I/O decoder, checked against the size and header limits, stamped with `Received:`, and handed to the pipeline; its [`Outcome`] becomes the reply.

use tokio::io::{AsyncRead, AsyncWrite};

use super::{Next, Session, SessionError};
use crate::smtp::reply::Reply;
use std::time::Duration;

use tracing::{Instrument, info, info_span};

use crate::message::envelope::Envelope;
use crate::pipeline::{Outcome, Received};
use crate::queue::spool::new_id;
use crate::smtp::data::{DataDecoder, Progress, header_exceeds};

impl<S: AsyncRead + AsyncWrite + Unpin> Session<S> {
    pub(super) async fn data(&mut self) -> Result<Next, SessionError> {
        let Some(tx) = self.tx.as_ref() else {
            return self
                .answer(Reply::new(503, "5.5.1", "Send MAIL first"))
                .await;
        };
        if tx.rcpt_to.is_empty() {
            return self
                .answer(Reply::new(554, "5.5.1", "No valid recipients"))
                .await;
        }
        let ctx = self.context.clone();
        self.send(Reply::new(
            354,
            "2.0.0",
            "Start mail input; end with <CRLF>.<CRLF>",
        ));
        let mut decoder = DataDecoder::new(ctx.settings.max_message_size);
        let timeout = Duration::from_secs(ctx.settings.data_timeout_secs);
        loop {
            if !self.inbuf.is_empty() {
                let input = std::mem::take(&mut self.inbuf);
                match decoder.feed(&input) {
                    Progress::Done { consumed } => {
                        self.inbuf = input[consumed..].to_vec();
                        break;
                    }
                    Progress::More => {}
                }
            }
            // A message in progress is not cut off by shutdown; the grace
            // period bounds it.
            self.fill(timeout, false).await?;
        }
        let Some(tx) = self.tx.take() else {
            return Ok(Next::Continue);
        };
        if decoder.overflowed() {
            return self
                .answer(Reply::new(
                    552,
                    "5.3.4",
                    format!(
                        "Message size exceeds the limit of {} bytes",
                        ctx.settings.max_message_size
                    ),
                ))
                .await;
        }
        if header_exceeds(decoder.message(), ctx.settings.max_header_size) {
            return self
                .answer(Reply::new(
                    552,
                    "5.3.4",
                    format!(
                        "Message header section exceeds the limit of {} bytes",
                        ctx.settings.max_header_size
                    ),
                ))
                .await;
        }
        if decoder.normalised > 0 {
            info!(
                count = decoder.normalised,
                "bare CR or LF in message normalised to CRLF"
            );
        }
        let queue_id = new_id();
        let helo = self.helo.clone().unwrap_or_default();
        let envelope = Envelope {
            mail_from: tx.mail_from,
            rcpt_to: tx.rcpt_to,
            listener: self.config.listener,
            peer: self.peer,
            helo,
            authenticated: self.authenticated.clone(),
            trusted: self.config.trusted,
            // Inbound mail from elsewhere earns this from DMARC (gateway).
            sender_verified: self.config.trusted || self.authenticated.is_some(),
        };
        let body = decoder.into_message();
        let protocol = match (
            self.esmtp,
            self.stream.is_tls(),
            envelope.authenticated.is_some(),
        ) {
            (false, _, _) => "SMTP",
            (true, false, false) => "ESMTP",
            (true, false, true) => "ESMTPA",
            (true, true, false) => "ESMTPS",
            (true, true, true) => "ESMTPSA",
        };
        let mut message = received_header(&self.context.hostname, &envelope, protocol, &queue_id);
        message.extend_from_slice(&body);
        let started = std::time::Instant::now();
        let span = info_span!("message", queue_id = %queue_id, from = %envelope.mail_from, rcpts = envelope.rcpt_to.len(), size = message.len());
        let outcome = self
            .context
            .pipeline
            .run(Received {
                envelope,
                message,
                queue_id,
            })
            .instrument(span)
            .await;
        crate::metrics::acceptance_time(started.elapsed());
        self.answer(reply_to(outcome)).await
    }
}

/// The reply that tells the client what became of its message.
pub(super) fn reply_to(outcome: Outcome) -> Reply {
    match outcome {
        Outcome::Queued { id } => Reply::new(250, "2.0.0", format!("Queued as {id}")),
        Outcome::Held { id, rules } => Reply::new(
            250,
            "2.6.0",
            format!(
                "Held for review by the Proper Officer under the council protocol ({}); id {id}",
                rules.join(", ")
            ),
        ),
        Outcome::Rejected { reason } => Reply::new(550, "5.7.1", reason),
        Outcome::ForeignFrom { from, user } => Reply::new(
            550,
            "5.7.1",
            format!("From: header <{from}> is not an address of the authenticated user {user}"),
        ),
        Outcome::NotStored => Reply::new(
            451,
            "4.3.0",
            "Message could not be stored; please try again later",
        ),
    }
}

/// The trace header (RFC 5321 §4.4). `for` is given only for a single
/// recipient so that no BCC address is disclosed.
/// `with` is the RFC 3848 protocol name (ESMTPS: over TLS; A: authenticated).
pub fn received_header(hostname: &str, env: &Envelope, with: &str, id: &str) -> Vec<u8> {
    let clean = |s: &str| -> String { s.chars().filter(|c| !c.is_control()).take(255).collect() };
    let for_clause = match env.rcpt_to.as_slice() {
        [one] => format!("\r\n\tfor <{}>", clean(one)),
        _ => String::new(),
    };
    format!(
        "Received: from {} ([{}])\r\n\tby {} (councilgate) with {with} id {id}{for_clause};\r\n\t{}\r\n",
        clean(&env.helo),
        env.peer,
        clean(hostname),
        chrono::Utc::now().to_rfc2822()
    )
    .into_bytes()
}

//! One SMTP session, generic over its stream so tests drive it in memory.
//!
//! The grammar of each command line is smtp-proto's; this module holds the
//! session state (greeting, transaction, limits) and the I/O loop. Replies
//! to pipelined commands are batched and flushed whenever the session is
//! about to wait for more input.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use smtp_proto::{Error as ProtoError, Request};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio_util::sync::CancellationToken;
use tracing::{Instrument, debug, info, info_span};

use super::Context;
use super::data::{DataDecoder, Progress, header_exceeds};
use super::reply::Reply;
use super::sasl;
use super::stream::SmtpStream;
use crate::auth::logins::Refused;
use crate::message::envelope::{Envelope, ListenerKind};
use crate::pipeline::{Outcome, Received};
use crate::policy::directory::domain_of;
use crate::queue::spool::new_id;

/// Why a session ended early.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    #[error("client closed the connection")]
    Closed,
    #[error("timed out waiting for the client")]
    Timeout,
    #[error("shutting down")]
    Shutdown,
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
    #[error("TLS handshake: {0}")]
    Tls(String),
}

/// Per-listener facts a session needs.
#[derive(Debug, Clone)]
pub struct SessionConfig {
    pub listener: ListenerKind,
    pub trusted: bool,
}

struct Transaction {
    mail_from: String,
    rcpt_to: Vec<String>,
}

pub struct Session<S> {
    stream: SmtpStream<S>,
    context: Arc<Context>,
    config: SessionConfig,
    peer: IpAddr,
    shutdown: CancellationToken,
    inbuf: Vec<u8>,
    out: Vec<u8>,
    helo: Option<String>,
    esmtp: bool,
    tx: Option<Transaction>,
    errors: usize,
    /// The login that authenticated (SMTP AUTH), lower case.
    authenticated: Option<String>,
}

enum Next {
    Continue,
    Quit,
}

impl<S: AsyncRead + AsyncWrite + Unpin> Session<S> {
    pub fn new(
        stream: S,
        context: Arc<Context>,
        config: SessionConfig,
        peer: IpAddr,
        shutdown: CancellationToken,
    ) -> Self {
        Self::with_stream(SmtpStream::Plain(stream), context, config, peer, shutdown)
    }

    /// A session on a connection that is already TLS (implicit TLS,
    /// port 465).
    pub fn new_tls(
        stream: tokio_rustls::server::TlsStream<S>,
        context: Arc<Context>,
        config: SessionConfig,
        peer: IpAddr,
        shutdown: CancellationToken,
    ) -> Self {
        Self::with_stream(
            SmtpStream::Tls(Box::new(stream)),
            context,
            config,
            peer,
            shutdown,
        )
    }

    fn with_stream(
        stream: SmtpStream<S>,
        context: Arc<Context>,
        config: SessionConfig,
        peer: IpAddr,
        shutdown: CancellationToken,
    ) -> Self {
        Session {
            stream,
            context,
            config,
            peer,
            shutdown,
            inbuf: Vec::with_capacity(4096),
            out: Vec::with_capacity(1024),
            helo: None,
            esmtp: false,
            tx: None,
            errors: 0,
            authenticated: None,
        }
    }

    /// AUTH is offered on submission, over TLS (or, when the development
    /// switch allows it, in clear from loopback), until someone logs in.
    fn auth_offered(&self) -> bool {
        self.config.listener == ListenerKind::Submission
            && self.authenticated.is_none()
            && (self.stream.is_tls()
                || (self.peer.is_loopback() && self.context.settings.allow_plain_auth_on_loopback))
    }

    fn starttls_offered(&self) -> bool {
        self.context.tls.is_some() && !self.stream.is_tls()
    }

    /// Runs the session to its end; errors are logged, never propagated.
    pub async fn run(mut self) {
        let span =
            info_span!("session", peer = %self.peer, listener = self.config.listener.as_str());
        async move {
            debug!("connected");
            match self.serve().await {
                Ok(()) | Err(SessionError::Closed) => debug!("session ended"),
                Err(e) => info!(reason = %e, "session ended"),
            }
        }
        .instrument(span)
        .await
    }

    async fn serve(&mut self) -> Result<(), SessionError> {
        let result = self.converse().await;
        let hostname = self.context.hostname.clone();
        let farewell = match &result {
            Err(SessionError::Timeout) => Some(Reply::new(
                421,
                "4.4.2",
                format!("{hostname} Timeout, closing connection"),
            )),
            Err(SessionError::Shutdown) => Some(Reply::new(
                421,
                "4.3.2",
                format!("{hostname} Service shutting down, closing connection"),
            )),
            _ => None,
        };
        if let Some(reply) = farewell {
            self.send(reply);
            let _ = self.flush().await;
        }
        result
    }

    async fn converse(&mut self) -> Result<(), SessionError> {
        let hostname = self.context.hostname.clone();
        self.send(Reply::new(
            220,
            "2.0.0",
            format!("{hostname} ESMTP councilgate ready"),
        ));
        loop {
            let Some(line) = self.read_line().await? else {
                self.send(Reply::new(500, "5.5.2", "Line too long"));
                if self.count_error().await? {
                    return Ok(());
                }
                continue;
            };
            if let Next::Quit = self.command(&line).await? {
                self.flush().await?;
                return Ok(());
            }
        }
    }

    fn send(&mut self, reply: Reply) {
        reply.write_to(&mut self.out);
    }

    async fn flush(&mut self) -> Result<(), SessionError> {
        if !self.out.is_empty() {
            self.stream.write_all(&self.out).await?;
            self.stream.flush().await?;
            self.out.clear();
        }
        Ok(())
    }

    /// Counts a failed command; true when the session must end.
    async fn count_error(&mut self) -> Result<bool, SessionError> {
        self.errors += 1;
        if self.errors >= self.context.settings.max_errors {
            self.send(Reply::new(
                421,
                "4.7.0",
                "Too many errors, closing connection",
            ));
            self.flush().await?;
            return Ok(true);
        }
        Ok(false)
    }

    /// Sends `reply`; an error reply counts towards `max_errors`, and the
    /// session ends when they are used up.
    async fn answer(&mut self, reply: Reply) -> Result<Next, SessionError> {
        let failed = reply.is_error();
        self.send(reply);
        if failed && self.count_error().await? {
            return Ok(Next::Quit);
        }
        Ok(Next::Continue)
    }

    /// Reads more input, flushing pending replies first (pipelining).
    async fn fill(&mut self, timeout: Duration, cancellable: bool) -> Result<(), SessionError> {
        self.flush().await?;
        let mut chunk = [0u8; 16 * 1024];
        let read = tokio::time::timeout(timeout, self.stream.read(&mut chunk));
        let n = if cancellable {
            tokio::select! {
                r = read => r,
                _ = self.shutdown.cancelled() => return Err(SessionError::Shutdown),
            }
        } else {
            read.await
        };
        match n {
            Err(_) => Err(SessionError::Timeout),
            Ok(Err(e)) => Err(e.into()),
            Ok(Ok(0)) => Err(SessionError::Closed),
            Ok(Ok(n)) => {
                self.inbuf.extend_from_slice(&chunk[..n]);
                Ok(())
            }
        }
    }

    /// The next command line including its LF; `None` when it was too long
    /// (the rest of it is discarded).
    async fn read_line(&mut self) -> Result<Option<Vec<u8>>, SessionError> {
        let max = self.context.settings.max_line_length;
        let timeout = Duration::from_secs(self.context.settings.command_timeout_secs);
        let mut too_long = false;
        loop {
            if let Some(pos) = self.inbuf.iter().position(|&b| b == b'\n') {
                let line: Vec<u8> = self.inbuf.drain(..=pos).collect();
                if too_long || line.len() > max {
                    return Ok(None);
                }
                return Ok(Some(line));
            }
            if self.inbuf.len() > max {
                too_long = true;
                self.inbuf.clear();
            }
            self.fill(timeout, true).await?;
        }
    }

    async fn command(&mut self, line: &[u8]) -> Result<Next, SessionError> {
        // smtp-proto wants a line ending in LF; make a bare-CR-free copy.
        let parsed = Request::parse(&mut line.iter()).map(Request::into_owned);
        let reply = match parsed {
            Ok(request) => match self.request(request).await? {
                Ok(reply) => reply,
                Err(next) => return Ok(next),
            },
            Err(e) => protocol_error(e),
        };
        self.answer(reply).await
    }

    /// Handles one parsed command. `Err(next)` means the reply has already
    /// been written (DATA, QUIT).
    async fn request(
        &mut self,
        request: Request<String>,
    ) -> Result<Result<Reply, Next>, SessionError> {
        let ctx = self.context.clone();
        let reply = match request {
            Request::Ehlo { host } => {
                self.helo = Some(host);
                self.esmtp = true;
                self.tx = None;
                let mut text = format!("{} Hello {}\n", self.context.hostname, self.peer);
                text.push_str("PIPELINING\n8BITMIME\nSMTPUTF8\nENHANCEDSTATUSCODES\n");
                if self.starttls_offered() {
                    text.push_str("STARTTLS\n");
                }
                if self.auth_offered() {
                    text.push_str("AUTH PLAIN LOGIN\n");
                }
                text.push_str(&format!("SIZE {}", ctx.settings.max_message_size));
                // EHLO's reply carries no enhanced code on its lines by
                // convention; write it by hand.
                let lines: Vec<&str> = text.lines().collect();
                for (i, l) in lines.iter().enumerate() {
                    let sep = if i + 1 == lines.len() { ' ' } else { '-' };
                    self.out
                        .extend_from_slice(format!("250{sep}{l}\r\n").as_bytes());
                }
                return Ok(Err(Next::Continue));
            }
            Request::Helo { host } => {
                self.helo = Some(host);
                self.esmtp = false;
                self.tx = None;
                Reply::new(250, "2.0.0", self.context.hostname.clone())
            }
            Request::Lhlo { .. } => Reply::new(500, "5.5.1", "LHLO is for LMTP; use EHLO"),
            Request::Mail { from } => self.mail(from, ctx.settings.max_message_size),
            Request::Rcpt { to } => self.rcpt(&to.address, ctx.settings.max_recipients),
            Request::Data => return self.data().await.map(Err),
            Request::Rset => {
                self.tx = None;
                Reply::new(250, "2.0.0", "Reset")
            }
            Request::Noop { .. } => Reply::new(250, "2.0.0", "OK"),
            Request::Quit => {
                self.send(Reply::new(
                    221,
                    "2.0.0",
                    format!("{} closing connection", self.context.hostname),
                ));
                return Ok(Err(Next::Quit));
            }
            Request::Vrfy { .. } => Reply::new(
                252,
                "2.5.0",
                "Cannot VRFY user, but will accept message and attempt delivery",
            ),
            Request::Expn { .. } => Reply::new(502, "5.5.1", "EXPN is not available"),
            Request::Help { .. } => Reply::new(
                214,
                "2.0.0",
                "councilgate: commands EHLO HELO MAIL RCPT DATA RSET NOOP QUIT VRFY HELP\nSee the council's mail policy for what this gateway enforces",
            ),
            Request::StartTls => return self.starttls().await.map(Err),
            Request::Auth {
                mechanism,
                initial_response,
            } => match self.auth(mechanism, initial_response).await? {
                Some(reply) => reply,
                None => return Ok(Err(Next::Quit)),
            },
            Request::Bdat { .. } => Reply::new(502, "5.5.1", "CHUNKING is not supported; use DATA"),
            Request::Etrn { .. } | Request::Atrn { .. } | Request::Burl { .. } => {
                Reply::new(502, "5.5.1", "Command not implemented")
            }
        };
        Ok(Ok(reply))
    }

    /// STARTTLS (RFC 3207): the 220, then a TLS handshake over the same
    /// connection, and the session starts afresh.
    async fn starttls(&mut self) -> Result<Next, SessionError> {
        if self.stream.is_tls() {
            return self
                .answer(Reply::new(503, "5.5.1", "TLS is already active"))
                .await;
        }
        let Some(acceptor) = self.context.tls.clone() else {
            return self
                .answer(Reply::new(502, "5.5.1", "STARTTLS is not available"))
                .await;
        };
        self.send(Reply::new(220, "2.0.0", "Ready to start TLS"));
        self.flush().await?;
        // Commands pipelined in clear after STARTTLS are dropped, never
        // run inside the TLS session (RFC 3207 §4.2; CVE-2011-0411).
        if !self.inbuf.is_empty() {
            info!(
                bytes = self.inbuf.len(),
                "plaintext pipelined after STARTTLS discarded"
            );
            self.inbuf.clear();
        }
        let SmtpStream::Plain(plain) = std::mem::replace(&mut self.stream, SmtpStream::Gone) else {
            return Err(SessionError::Tls("no plain stream to upgrade".into()));
        };
        let timeout = Duration::from_secs(self.context.settings.command_timeout_secs);
        let tls = match tokio::time::timeout(timeout, acceptor.accept(plain)).await {
            Err(_) => return Err(SessionError::Timeout),
            Ok(Err(e)) => return Err(SessionError::Tls(e.to_string())),
            Ok(Ok(tls)) => tls,
        };
        self.stream = SmtpStream::Tls(Box::new(tls));
        // Nothing learnt before TLS carries over: the client greets again.
        self.helo = None;
        self.esmtp = false;
        self.tx = None;
        debug!("TLS started");
        Ok(Next::Continue)
    }

    /// Sends a `334` challenge and reads the client's response line;
    /// `None` when the line was too long.
    async fn challenge(&mut self, prompt: &str) -> Result<Option<String>, SessionError> {
        self.out
            .extend_from_slice(format!("334 {prompt}\r\n").as_bytes());
        Ok(self
            .read_line()
            .await?
            .map(|l| String::from_utf8_lossy(&l).trim_end().to_string()))
    }

    /// AUTH PLAIN or LOGIN (RFC 4954) against the SMTP logins in the store.
    /// `None`: the session must end.
    async fn auth(
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

    fn mail(&mut self, from: smtp_proto::MailFrom<String>, max_size: usize) -> Reply {
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

    fn rcpt(&mut self, address: &str, max_rcpts: usize) -> Reply {
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
        let allowed = match self.config.listener {
            ListenerKind::Inbound => self.context.is_council_domain(&domain),
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
        if let Some(tx) = self.tx.as_mut() {
            if tx.rcpt_to.iter().any(|r| r.eq_ignore_ascii_case(&address)) {
                return Reply::new(250, "2.1.5", "Recipient OK (duplicate ignored)");
            }
            tx.rcpt_to.push(address);
        }
        Reply::new(250, "2.1.5", "Recipient OK")
    }

    async fn data(&mut self) -> Result<Next, SessionError> {
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
fn reply_to(outcome: Outcome) -> Reply {
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

fn plausible_address(a: &str) -> bool {
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

fn protocol_error(e: ProtoError) -> Reply {
    match e {
        ProtoError::UnknownCommand => Reply::new(500, "5.5.1", "Command unrecognised"),
        ProtoError::SyntaxError { syntax } => Reply::new(501, "5.5.4", format!("Syntax: {syntax}")),
        ProtoError::InvalidSenderAddress => Reply::new(501, "5.1.7", "Bad sender address syntax"),
        ProtoError::InvalidRecipientAddress => {
            Reply::new(501, "5.1.3", "Bad recipient address syntax")
        }
        ProtoError::InvalidParameter { param } => {
            Reply::new(501, "5.5.4", format!("Invalid parameter {param}"))
        }
        ProtoError::UnsupportedParameter { param } => {
            Reply::new(555, "5.5.4", format!("Unsupported parameter {param}"))
        }
        ProtoError::NeedsMoreData { .. } => Reply::new(500, "5.5.2", "Incomplete command"),
        ProtoError::ResponseTooLong | ProtoError::InvalidResponse { .. } => {
            Reply::new(500, "5.5.2", "Syntax error")
        }
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

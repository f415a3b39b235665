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
mod auth;
mod data;
mod mail;
mod rcpt;
mod starttls;

use super::reply::Reply;
use super::stream::SmtpStream;
use crate::message::envelope::ListenerKind;

/// Why a session ended early.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    #[error("client closed the connection")]
    Closed,
    #[error("timed out waiting for the client")]
    Timeout,
    #[error("shutting down")]
    Shutdown,
    #[error("closed while idle to make room for another client")]
    Evicted,
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
    /// The command being answered is `RCPT TO:<postmaster>`.
    postmaster_line: bool,
    /// This session's place among the open ones (idle, evictable).
    presence: super::pressure::Registered,
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
        let presence = context.pressure.register(peer);
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
            postmaster_line: false,
            presence,
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
            Err(SessionError::Evicted) => Some(Reply::new(
                421,
                "4.3.2",
                format!("{hostname} Too busy: closing an idle connection, try again later"),
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
        // While sessions run short, nobody waits long.
        let timeout = self.context.pressure.timeout(timeout);
        let read = tokio::time::timeout(timeout, self.stream.read(&mut chunk));
        let n = if cancellable {
            // Between commands: idle, so shutdown or a newcomer may end it.
            self.presence.set_idle(true);
            let n = tokio::select! {
                r = read => r,
                _ = self.shutdown.cancelled() => return Err(SessionError::Shutdown),
                _ = self.presence.evict.cancelled() => return Err(SessionError::Evicted),
            };
            self.presence.set_idle(false);
            n
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
        self.postmaster_line = names_postmaster(line);
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
            // smtp-proto reads `<postmaster>` as an empty address, as it
            // reads `<>`; only the first is a recipient (RFC 5321 §4.5.1).
            Request::Rcpt { to } if to.address.is_empty() && self.postmaster_line => {
                self.rcpt("postmaster", ctx.settings.max_recipients).await
            }
            Request::Rcpt { to } => self.rcpt(&to.address, ctx.settings.max_recipients).await,
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
}

/// Whether a command line is `RCPT TO:<Postmaster>` (any case), the one
/// forward-path without a domain that every server must accept (RFC 5321
/// §4.5.1).
fn names_postmaster(line: &[u8]) -> bool {
    let line = line.trim_ascii_start();
    if !line
        .get(..4)
        .is_some_and(|v| v.eq_ignore_ascii_case(b"rcpt"))
    {
        return false;
    }
    line.iter()
        .position(|&b| b == b'<')
        .and_then(|i| line.get(i + 1..))
        .map(<[u8]>::trim_ascii_start)
        .and_then(|rest| rest.get(..11))
        .is_some_and(|v| v.eq_ignore_ascii_case(b"postmaster>"))
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

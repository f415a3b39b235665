//! STARTTLS (RFC 3207): the stream is swapped for TLS in place.

use tokio::io::{AsyncRead, AsyncWrite};

use super::{Next, Session, SessionError};
use crate::smtp::reply::Reply;
use crate::smtp::stream::SmtpStream;
use std::time::Duration;
use tracing::{debug, info};

impl<S: AsyncRead + AsyncWrite + Unpin> Session<S> {
    /// STARTTLS (RFC 3207): the 220, then a TLS handshake over the same
    /// connection, and the session starts afresh.
    pub(super) async fn starttls(&mut self) -> Result<Next, SessionError> {
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
}

//! Relaying to an SMTP next hop with lettre's async connection.
//!
//! lettre's one-shot `send` fails the whole message when one recipient is
//! refused, so the transaction is driven command by command here to get a
//! reply for each recipient.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use lettre::address::Address;
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{AsyncSmtpConnection, TlsParameters};
use lettre::transport::smtp::commands::{Data, Mail, Rcpt};
use lettre::transport::smtp::extension::{ClientId, Extension, MailBodyParameter, MailParameter};

use super::Outcome;
use crate::settings::{Route, TlsMode};

fn describe(e: &lettre::transport::smtp::Error) -> String {
    let text = e.to_string();
    match e.status() {
        Some(code) => format!("{code} {text}"),
        None => text,
    }
}

fn classify(e: &lettre::transport::smtp::Error) -> Outcome {
    if e.is_permanent() {
        Outcome::Permanent(describe(e))
    } else {
        Outcome::Temporary(describe(e))
    }
}

fn all(rcpts: &[String], outcome: Outcome) -> Vec<Outcome> {
    rcpts.iter().map(|_| outcome.clone()).collect()
}

/// Idle connections to next hops, kept for the next message to the same
/// route (as Postfix's connection cache does): a message then costs one
/// SMTP transaction, not a TCP connect, EHLO, STARTTLS and AUTH as well.
#[derive(Default)]
pub struct Pool {
    idle: Mutex<HashMap<String, Vec<Idle>>>,
}

struct Idle {
    conn: AsyncSmtpConnection,
    since: Instant,
    /// Transactions already sent over it.
    used: u32,
}

/// An idle connection is closed after this long unused.
pub const IDLE_LIMIT: Duration = Duration::from_secs(5);
/// A connection is closed after this many messages (a fresh one is made).
pub const REUSE_LIMIT: u32 = 100;
/// At most this many idle connections are kept per route.
const IDLE_PER_ROUTE: usize = 32;

/// Routes that share a pool entry: same host, port, TLS and login.
fn pool_key(route: &Route) -> String {
    format!(
        "{}:{}:{:?}:{}:{}",
        route.host,
        route.port,
        route.tls,
        route.tls_insecure,
        route.username.as_deref().unwrap_or("")
    )
}

impl Pool {
    fn take(&self, key: &str) -> Option<Idle> {
        let mut idle = self.idle.lock().ok()?;
        let list = idle.get_mut(key)?;
        while let Some(i) = list.pop() {
            if i.since.elapsed() < IDLE_LIMIT {
                return Some(i);
            }
        }
        None
    }

    /// Keeps a connection after a clean transaction, or gives it back to be
    /// closed when there is no room or it has served enough.
    fn put(
        &self,
        key: String,
        conn: AsyncSmtpConnection,
        used: u32,
    ) -> Option<AsyncSmtpConnection> {
        if used >= REUSE_LIMIT || conn.has_broken() {
            return Some(conn);
        }
        let Ok(mut idle) = self.idle.lock() else {
            return Some(conn);
        };
        let list = idle.entry(key).or_default();
        if list.len() >= IDLE_PER_ROUTE {
            return Some(conn);
        }
        list.push(Idle {
            conn,
            since: Instant::now(),
            used,
        });
        None
    }

    /// Closes (QUIT) the connections idle longer than [`IDLE_LIMIT`].
    pub async fn close_idle(&self) {
        self.close_older_than(IDLE_LIMIT).await
    }

    /// Closes every idle connection (shutdown).
    pub async fn close_all(&self) {
        self.close_older_than(Duration::ZERO).await
    }

    async fn close_older_than(&self, age: Duration) {
        let expired: Vec<AsyncSmtpConnection> = match self.idle.lock() {
            Ok(mut idle) => {
                let mut out = Vec::new();
                for list in idle.values_mut() {
                    let (old, keep): (Vec<Idle>, Vec<Idle>) =
                        list.drain(..).partition(|i| i.since.elapsed() >= age);
                    *list = keep;
                    out.extend(old.into_iter().map(|i| i.conn));
                }
                idle.retain(|_, l| !l.is_empty());
                out
            }
            Err(_) => Vec::new(),
        };
        for conn in expired {
            close(conn).await;
        }
    }
}

/// An attempt that has not finished in this time is given up as a temporary
/// failure (RFC 5321 §4.5.3.2 allows a server 10 minutes after the data).
pub const ATTEMPT_LIMIT: Duration = Duration::from_secs(600);

/// Delivers one message to `rcpts` through `route`; one outcome per
/// recipient. Uses an idle connection to the route when there is one; if
/// that turns out to have been closed by the peer before it answered, the
/// message goes over a fresh connection instead. An upstream that stops
/// answering is given up after [`ATTEMPT_LIMIT`].
pub async fn deliver(
    pool: &Pool,
    route: &Route,
    hostname: &str,
    timeout: Duration,
    from: &str,
    rcpts: &[String],
    message: &[u8],
) -> Vec<Outcome> {
    let attempt = async {
        let key = pool_key(route);
        let (mut conn, mut used, reused) = match pool.take(&key) {
            Some(i) => (i.conn, i.used, true),
            None => match open(route, hostname, timeout).await {
                Ok(c) => (c, 0, false),
                Err(outcome) => return all(rcpts, outcome),
            },
        };
        let mut sent = send(&mut conn, from, rcpts, message, reused).await;
        if matches!(sent, Sent::Stale) {
            conn = match open(route, hostname, timeout).await {
                Ok(c) => c,
                Err(outcome) => return all(rcpts, outcome),
            };
            used = 0;
            sent = send(&mut conn, from, rcpts, message, false).await;
        }
        match sent {
            Sent::Done { outcomes, reusable } => {
                if reusable {
                    if let Some(c) = pool.put(key, conn, used + 1) {
                        close(c).await;
                    }
                } else {
                    close(conn).await;
                }
                outcomes
            }
            // Only a reused connection can be stale, and the retry is fresh.
            Sent::Stale => all(
                rcpts,
                Outcome::Temporary(format!("connection to {} closed", route.host)),
            ),
        }
    };
    match tokio::time::timeout(ATTEMPT_LIMIT, attempt).await {
        Ok(outcomes) => outcomes,
        Err(_) => all(
            rcpts,
            Outcome::Temporary(format!(
                "{} did not finish the transaction within {} s",
                route.host,
                ATTEMPT_LIMIT.as_secs()
            )),
        ),
    }
}

/// Says QUIT and closes, giving a peer that does not answer 5 seconds.
async fn close(mut conn: AsyncSmtpConnection) {
    let _ = tokio::time::timeout(Duration::from_secs(5), conn.abort()).await;
}

/// A new connection to the route's next hop: connect, EHLO, STARTTLS and
/// AUTH as the route says.
pub(crate) async fn open(
    route: &Route,
    hostname: &str,
    timeout: Duration,
) -> Result<AsyncSmtpConnection, Outcome> {
    let client_id = ClientId::Domain(hostname.to_string());
    let tls = if route.tls == TlsMode::None {
        None
    } else {
        match TlsParameters::builder(route.host.clone())
            .dangerous_accept_invalid_certs(route.tls_insecure)
            .dangerous_accept_invalid_hostnames(route.tls_insecure)
            .build_rustls()
        {
            Ok(t) => Some(t),
            Err(e) => return Err(Outcome::Temporary(format!("TLS setup: {e}"))),
        }
    };
    let implicit = if route.tls == TlsMode::Tls {
        tls.clone()
    } else {
        None
    };
    let connect_error =
        |e: String| Outcome::Temporary(format!("connect to {}:{}: {e}", route.host, route.port));
    let mut conn = if implicit.is_some() {
        AsyncSmtpConnection::connect_tokio1(
            (route.host.as_str(), route.port),
            Some(timeout),
            &client_id,
            implicit,
            None,
        )
        .await
        .map_err(|e| connect_error(describe(&e)))?
    } else {
        // Our own socket, so Nagle's algorithm is off: lettre writes a
        // message and its final "." separately, and the second write would
        // otherwise wait for the peer's delayed ACK (40 ms on Linux).
        let tcp = tokio::time::timeout(
            timeout,
            tokio::net::TcpStream::connect((route.host.as_str(), route.port)),
        )
        .await
        .map_err(|_| connect_error(format!("no answer within {} s", timeout.as_secs())))?
        .map_err(|e| connect_error(e.to_string()))?;
        let _ = tcp.set_nodelay(true);
        tokio::time::timeout(
            timeout,
            AsyncSmtpConnection::connect_with_transport(Box::new(tcp), &client_id),
        )
        .await
        .map_err(|_| connect_error(format!("no greeting within {} s", timeout.as_secs())))?
        .map_err(|e| connect_error(describe(&e)))?
    };
    if route.tls == TlsMode::Starttls {
        if !conn.can_starttls() {
            close(conn).await;
            return Err(Outcome::Temporary(format!(
                "{} does not offer STARTTLS, which the route requires",
                route.host
            )));
        }
        if let Some(tls) = tls
            && let Err(e) = conn.starttls(tls, &client_id).await
        {
            // A failed TLS handshake leaves lettre's connection without a
            // stream (using it panics): drop it unused.
            return Err(Outcome::Temporary(format!(
                "STARTTLS with {}: {}",
                route.host,
                describe(&e)
            )));
        }
    }
    if let (Some(user), Some(pass)) = (&route.username, &route.password) {
        let creds = Credentials::new(user.clone(), pass.expose().to_string());
        if let Err(e) = conn
            .auth(&[Mechanism::Plain, Mechanism::Login], &creds)
            .await
        {
            // Never log the password; the error text does not contain it.
            close(conn).await;
            return Err(classify(&e));
        }
    }
    Ok(conn)
}

/// What one transaction came to.
enum Sent {
    Done {
        outcomes: Vec<Outcome>,
        /// The peer is ready for another transaction on this connection.
        reusable: bool,
    },
    /// A reused connection failed at MAIL, before any recipient was given:
    /// it had been closed while idle. Nothing was delivered.
    Stale,
}

/// A message's content already dot-stuffed, with the end-of-data line.
struct Stuffed<'a>(&'a str);

impl std::fmt::Display for Stuffed<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0)?;
        f.write_str("\r\n.\r\n")
    }
}

/// MAIL, RCPT per recipient and DATA.
async fn send(
    conn: &mut AsyncSmtpConnection,
    from: &str,
    rcpts: &[String],
    message: &[u8],
    reused: bool,
) -> Sent {
    let done = |outcomes: Vec<Outcome>, reusable: bool| Sent::Done { outcomes, reusable };
    let sender = if from.is_empty() {
        None
    } else {
        match from.parse::<Address>() {
            Ok(a) => Some(a),
            Err(e) => {
                return done(
                    all(
                        rcpts,
                        Outcome::Permanent(format!("sender <{from}> is not usable: {e}")),
                    ),
                    true,
                );
            }
        }
    };
    let mut params = Vec::new();
    if !message.is_ascii() && conn.server_info().supports_feature(Extension::EightBitMime) {
        params.push(MailParameter::Body(MailBodyParameter::EightBitMime));
    }
    let non_ascii = !from.is_ascii() || rcpts.iter().any(|r| !r.is_ascii());
    if non_ascii {
        if conn.server_info().supports_feature(Extension::SmtpUtfEight) {
            params.push(MailParameter::SmtpUtfEight);
        } else {
            return done(
                all(
                    rcpts,
                    Outcome::Permanent("upstream lacks SMTPUTF8 for a non-ASCII address".into()),
                ),
                true,
            );
        }
    }
    if let Err(e) = conn.command(Mail::new(sender, params)).await {
        // A reused connection that fails here, or whose peer answers 421
        // (a server timing out idle clients says so before it hangs up),
        // was closed while idle: nothing was sent, so a fresh one is tried.
        if reused && (e.status().is_none() || route_says_closing(&e)) {
            return Sent::Stale;
        }
        // Refused with a reply: no transaction is open.
        let reusable = e.status().is_some() && !route_says_closing(&e);
        return done(all(rcpts, classify(&e)), reusable);
    }
    let mut outcomes: Vec<Option<Outcome>> = Vec::with_capacity(rcpts.len());
    for r in rcpts {
        let outcome = match r.parse::<Address>() {
            Err(e) => Some(Outcome::Permanent(format!(
                "recipient <{r}> is not usable: {e}"
            ))),
            Ok(addr) => match conn.command(Rcpt::new(addr, vec![])).await {
                Ok(_) => None,
                Err(e) => {
                    if e.status().is_none() {
                        // The connection itself failed: nothing more on it.
                        let failed = classify(&e);
                        let mut rest: Vec<Outcome> = outcomes
                            .into_iter()
                            .map(|o| o.unwrap_or_else(|| failed.clone()))
                            .collect();
                        rest.resize(rcpts.len(), failed);
                        return done(rest, false);
                    }
                    Some(classify(&e))
                }
            },
        };
        outcomes.push(outcome);
    }
    if outcomes.iter().all(Option::is_some) {
        // The transaction is still open (MAIL was accepted): not reused.
        return done(outcomes.into_iter().flatten().collect(), false);
    }
    // lettre appends CRLF.CRLF itself; the stored message already ends with
    // the CRLF of its last line, so hand over all but that CRLF to keep the
    // body byte-identical.
    let body = message.strip_suffix(b"\r\n").unwrap_or(message);
    let result = match conn.command(Data).await {
        Ok(_) => {
            // Stuffed in one pass and written with the terminator; lettre
            // writes a command's text as it is. Its own codec (a byte at a
            // time) stays for the rare message that is not UTF-8.
            let stuffed = super::stuffing::dot_stuff(body);
            match std::str::from_utf8(&stuffed) {
                Ok(text) => conn.command(Stuffed(text)).await,
                Err(_) => conn.message(body).await,
            }
        }
        Err(e) => Err(e),
    };
    // After the reply to the message (or to DATA) the transaction is over.
    let reusable = match &result {
        Ok(_) => true,
        Err(e) => e.status().is_some() && !route_says_closing(e),
    };
    let accepted = match result {
        Ok(resp) => Outcome::Delivered(format!(
            "{} {}",
            resp.code(),
            resp.message().collect::<Vec<_>>().join(" ")
        )),
        Err(e) => classify(&e),
    };
    done(
        outcomes
            .into_iter()
            .map(|o| o.unwrap_or_else(|| accepted.clone()))
            .collect(),
        reusable,
    )
}

/// 421: the peer is closing the connection.
fn route_says_closing(e: &lettre::transport::smtp::Error) -> bool {
    e.status().is_some_and(|c| c.to_string() == "421")
}

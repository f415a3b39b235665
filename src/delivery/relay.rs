//! Relaying to an SMTP next hop with lettre's async connection.
//!
//! lettre's one-shot `send` fails the whole message when one recipient is
//! refused, so the transaction is driven command by command here to get a
//! reply for each recipient.

use std::time::Duration;

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

/// Delivers one message to `rcpts` through `route`; one outcome per recipient.
pub async fn deliver(
    route: &Route,
    hostname: &str,
    timeout: Duration,
    from: &str,
    rcpts: &[String],
    message: &[u8],
) -> Vec<Outcome> {
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
            Err(e) => return all(rcpts, Outcome::Temporary(format!("TLS setup: {e}"))),
        }
    };
    let implicit = if route.tls == TlsMode::Tls {
        tls.clone()
    } else {
        None
    };
    let mut conn = match AsyncSmtpConnection::connect_tokio1(
        (route.host.as_str(), route.port),
        Some(timeout),
        &client_id,
        implicit,
        None,
    )
    .await
    {
        Ok(c) => c,
        Err(e) => {
            return all(
                rcpts,
                Outcome::Temporary(format!(
                    "connect to {}:{}: {}",
                    route.host,
                    route.port,
                    describe(&e)
                )),
            );
        }
    };
    match transaction(&mut conn, route, tls, &client_id, from, rcpts, message).await {
        Ok(outcomes) => {
            let _ = conn.quit().await;
            outcomes
        }
        // A failed TLS handshake leaves lettre's connection without a
        // stream (using it panics): drop it unused.
        Err(outcomes) => outcomes,
    }
}

/// One transaction; `Err` when the connection must not be used again
/// (the STARTTLS handshake failed).
async fn transaction(
    conn: &mut AsyncSmtpConnection,
    route: &Route,
    tls: Option<TlsParameters>,
    client_id: &ClientId,
    from: &str,
    rcpts: &[String],
    message: &[u8],
) -> Result<Vec<Outcome>, Vec<Outcome>> {
    if route.tls == TlsMode::Starttls {
        if !conn.can_starttls() {
            return Ok(all(
                rcpts,
                Outcome::Temporary(format!(
                    "{} does not offer STARTTLS, which the route requires",
                    route.host
                )),
            ));
        }
        if let Some(tls) = tls
            && let Err(e) = conn.starttls(tls, client_id).await
        {
            return Err(all(
                rcpts,
                Outcome::Temporary(format!("STARTTLS with {}: {}", route.host, describe(&e))),
            ));
        }
    }
    Ok(send(conn, route, from, rcpts, message).await)
}

/// AUTH when the route has credentials, then MAIL, RCPT per recipient
/// and DATA.
async fn send(
    conn: &mut AsyncSmtpConnection,
    route: &Route,
    from: &str,
    rcpts: &[String],
    message: &[u8],
) -> Vec<Outcome> {
    if let (Some(user), Some(pass)) = (&route.username, &route.password) {
        let creds = Credentials::new(user.clone(), pass.expose().to_string());
        if let Err(e) = conn
            .auth(&[Mechanism::Plain, Mechanism::Login], &creds)
            .await
        {
            // Never log the password; the error text does not contain it.
            return all(rcpts, classify(&e));
        }
    }
    let sender = if from.is_empty() {
        None
    } else {
        match from.parse::<Address>() {
            Ok(a) => Some(a),
            Err(e) => {
                return all(
                    rcpts,
                    Outcome::Permanent(format!("sender <{from}> is not usable: {e}")),
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
            return all(
                rcpts,
                Outcome::Permanent("upstream lacks SMTPUTF8 for a non-ASCII address".into()),
            );
        }
    }
    if let Err(e) = conn.command(Mail::new(sender, params)).await {
        return all(rcpts, classify(&e));
    }
    let mut outcomes: Vec<Option<Outcome>> = Vec::with_capacity(rcpts.len());
    for r in rcpts {
        let outcome = match r.parse::<Address>() {
            Err(e) => Some(Outcome::Permanent(format!(
                "recipient <{r}> is not usable: {e}"
            ))),
            Ok(addr) => match conn.command(Rcpt::new(addr, vec![])).await {
                Ok(_) => None,
                Err(e) => Some(classify(&e)),
            },
        };
        outcomes.push(outcome);
    }
    if outcomes.iter().all(Option::is_some) {
        return outcomes.into_iter().flatten().collect();
    }
    // lettre appends CRLF.CRLF itself; the stored message already ends with
    // the CRLF of its last line, so hand over all but that CRLF to keep the
    // body byte-identical.
    let body = message.strip_suffix(b"\r\n").unwrap_or(message);
    let result = match conn.command(Data).await {
        Ok(_) => conn.message(body).await,
        Err(e) => Err(e),
    };
    let accepted = match result {
        Ok(resp) => Outcome::Delivered(format!(
            "{} {}",
            resp.code(),
            resp.message().collect::<Vec<_>>().join(" ")
        )),
        Err(e) => classify(&e),
    };
    outcomes
        .into_iter()
        .map(|o| o.unwrap_or_else(|| accepted.clone()))
        .collect()
}

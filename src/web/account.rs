//! The second factor and the user's own sessions: the code asked for after
//! the password, enrolling an authenticator app (a QR code on the page, and
//! recovery codes shown once), and the Account page listing where the user
//! is signed in, each revocable.

use askama::Template;
use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use chrono::Utc;
use serde::Deserialize;

use super::extract::{CsrfOnly, CsrfToken, SignedForm, SignedIn, Signing, SigningForm};
use super::login::signed_in;
use super::render::{Chrome, council, error_page, local_path, render, unavailable, when};
use super::{Shared, client_ip, harden};
use crate::auth::{self, second_factor};
use crate::store::{Session, SessionStage};

/// Wrong codes a sign-in may give before it must start again.
const MAX_CODE_FAILURES: i64 = 5;

#[derive(Template)]
#[template(path = "login_code.html")]
struct CodePage {
    chrome: Chrome,
    error: String,
    next: String,
}

#[derive(Template)]
#[template(path = "enrol.html")]
struct EnrolPage {
    chrome: Chrome,
    error: String,
    next: String,
    enrolled: bool,
    required: bool,
    qr_svg: String,
    secret: String,
    secret_grouped: String,
}

#[derive(Template)]
#[template(path = "recovery.html")]
struct RecoveryPage {
    chrome: Chrome,
    codes: Vec<String>,
    next: String,
}

#[derive(Template)]
#[template(path = "account.html")]
struct AccountPage {
    chrome: Chrome,
    flash: String,
    enrolled: bool,
    recovery_left: usize,
    /// (id, signed in, from, ends, this one).
    sessions: Vec<(String, String, String, String, bool)>,
}

#[derive(Deserialize, Default)]
pub struct NextQuery {
    #[serde(default)]
    next: String,
    #[serde(default)]
    done: String,
}

#[derive(Deserialize)]
pub struct CodeForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    code: String,
    #[serde(default)]
    next: String,
}

impl CsrfToken for CodeForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

fn go(to: &str) -> Response {
    let mut resp = Redirect::to(to).into_response();
    harden(&mut resp, "default-src 'none'");
    resp
}

fn next_of(next: &str) -> String {
    local_path(next).unwrap_or("/").to_string()
}

fn chrome(state: &Shared, s: &Session) -> Chrome {
    Chrome::new(council(state), Some(s))
}

/// The session promoted to a finished sign-in, for the full lifetime.
async fn finish(
    state: &Shared,
    token: &str,
    s: &Session,
    ip: &str,
    how: &str,
) -> Result<(), Response> {
    let expires = Utc::now().timestamp() + state.web.session_hours as i64 * 3600;
    state
        .review
        .store
        .set_session_stage(&auth::token_hash(token), SessionStage::Full, expires)
        .await
        .map_err(|_| unavailable(state, s))?;
    signed_in(state, &s.user, ip, how).await;
    Ok(())
}

pub async fn code_form(
    State(state): State<Shared>,
    Signing { session: s, .. }: Signing,
    Query(q): Query<NextQuery>,
) -> Response {
    if s.stage != SessionStage::SecondFactor {
        return go(&next_of(&q.next));
    }
    render(
        &CodePage {
            chrome: chrome(&state, &s),
            error: String::new(),
            next: next_of(&q.next),
        },
        StatusCode::OK,
    )
}

pub async fn code(
    State(state): State<Shared>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    SigningForm {
        user: Signing { token, session: s },
        form,
    }: SigningForm<CodeForm>,
) -> Response {
    let next = next_of(&form.next);
    if s.stage != SessionStage::SecondFactor {
        return go(&next);
    }
    let store = &state.review.store;
    let factor = match store.second_factor(&s.user).await {
        Ok(f) => f,
        Err(_) => return unavailable(&state, &s),
    };
    let now = Utc::now().timestamp();
    let by_app = match second_factor::check(&factor.secret, &form.code, now) {
        // A code works once: its step must be newer than the last.
        Some(step) => store
            .accept_totp_step(&s.user, step as i64)
            .await
            .unwrap_or(false),
        None => false,
    };
    let by_recovery = !by_app
        && store
            .use_recovery_code(&s.user, &second_factor::recovery_hash(&form.code))
            .await
            .unwrap_or(false);
    if by_app || by_recovery {
        let how = if by_recovery {
            " with a recovery code"
        } else {
            " with an authenticator code"
        };
        let ip = client_ip(&addr).to_string();
        if let Err(r) = finish(&state, &token, &s, &ip, how).await {
            return r;
        }
        return go(&next);
    }
    let failures = store
        .session_failure(&auth::token_hash(&token))
        .await
        .unwrap_or(i64::MAX);
    tracing::info!(user = %s.user, "second factor refused");
    if failures >= MAX_CODE_FAILURES {
        let _ = store.end_session(&auth::token_hash(&token)).await;
        return error_page(
            &state,
            None,
            StatusCode::UNAUTHORIZED,
            "Too many wrong codes",
            "Sign in again with your password, then type the code your app shows now.",
        );
    }
    render(
        &CodePage {
            chrome: chrome(&state, &s),
            error: "That code is not right, or was used already. Type the code your app shows now."
                .into(),
            next,
        },
        StatusCode::UNAUTHORIZED,
    )
}

/// "ABCD EFGH …": a key easier to type.
fn grouped(secret: &str) -> String {
    secret
        .as_bytes()
        .chunks(4)
        .map(|c| String::from_utf8_lossy(c).to_string())
        .collect::<Vec<_>>()
        .join(" ")
}

async fn enrol_page(
    state: &Shared,
    s: &Session,
    next: &str,
    error: &str,
    status: StatusCode,
) -> Response {
    let store = &state.review.store;
    let factor = match store.second_factor(&s.user).await {
        Ok(f) => f,
        Err(_) => return unavailable(state, s),
    };
    let enrolled = !factor.secret.is_empty();
    // The key shown stays the same until confirmed, so a reload does not
    // undo a scan.
    let secret = if enrolled {
        String::new()
    } else if factor.pending.is_empty() {
        let fresh = second_factor::new_secret();
        if store.set_totp_pending(&s.user, &fresh).await.is_err() {
            return unavailable(state, s);
        }
        fresh
    } else {
        factor.pending
    };
    let council = council(state);
    let qr_svg = if enrolled {
        String::new()
    } else {
        second_factor::otpauth_url(&secret, &s.user, &council)
            .and_then(|u| second_factor::qr_svg(&u))
            .unwrap_or_default()
    };
    render(
        &EnrolPage {
            chrome: chrome(state, s),
            error: error.to_string(),
            next: next_of(next),
            enrolled,
            required: s.stage == SessionStage::Enrol,
            qr_svg,
            secret_grouped: grouped(&secret),
            secret,
        },
        status,
    )
}

pub async fn enrol_form(
    State(state): State<Shared>,
    Signing { session: s, .. }: Signing,
    Query(q): Query<NextQuery>,
) -> Response {
    if s.stage == SessionStage::SecondFactor {
        return go("/login/code");
    }
    enrol_page(&state, &s, &q.next, "", StatusCode::OK).await
}

pub async fn enrol(
    State(state): State<Shared>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    SigningForm {
        user: Signing { token, session: s },
        form,
    }: SigningForm<CodeForm>,
) -> Response {
    if s.stage == SessionStage::SecondFactor {
        return go("/login/code");
    }
    let store = &state.review.store;
    let factor = match store.second_factor(&s.user).await {
        Ok(f) => f,
        Err(_) => return unavailable(&state, &s),
    };
    let now = Utc::now().timestamp();
    let Some(step) = second_factor::check(&factor.pending, &form.code, now) else {
        return enrol_page(
            &state,
            &s,
            &form.next,
            "That code is not right. Check the app shows the account for this council, and type the code it shows now.",
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    };
    let codes = second_factor::recovery_codes();
    let hashes: Vec<String> = codes
        .iter()
        .map(|c| second_factor::recovery_hash(c))
        .collect();
    if store
        .enrol_totp(&s.user, step as i64, &hashes)
        .await
        .is_err()
    {
        return enrol_page(
            &state,
            &s,
            &form.next,
            "The setup had expired. Scan the new code below.",
            StatusCode::CONFLICT,
        )
        .await;
    }
    if s.stage == SessionStage::Enrol
        && let Err(r) = finish(
            &state,
            &token,
            &s,
            &client_ip(&addr).to_string(),
            " after enrolling an authenticator app",
        )
        .await
    {
        return r;
    }
    render(
        &RecoveryPage {
            chrome: chrome(&state, &s),
            codes,
            next: next_of(&form.next),
        },
        StatusCode::OK,
    )
}

pub async fn account(
    State(state): State<Shared>,
    SignedIn {
        token, session: s, ..
    }: SignedIn,
    Query(q): Query<NextQuery>,
) -> Response {
    let store = &state.review.store;
    let now = Utc::now().timestamp();
    let (factor, sessions) = match (
        store.second_factor(&s.user).await,
        store.sessions_of(&s.user, now).await,
    ) {
        (Ok(f), Ok(l)) => (f, l),
        _ => return unavailable(&state, &s),
    };
    let mine: String = auth::token_hash(&token).chars().take(16).collect();
    render(
        &AccountPage {
            chrome: chrome(&state, &s),
            flash: if q.done == "ended" {
                "That session has been signed out.".into()
            } else {
                String::new()
            },
            enrolled: !factor.secret.is_empty(),
            recovery_left: factor.recovery.len(),
            sessions: sessions
                .into_iter()
                .map(|x| {
                    let this = x.id == mine;
                    (
                        x.id,
                        if x.created > 0 {
                            when(x.created)
                        } else {
                            "earlier".into()
                        },
                        x.ip,
                        when(x.expires),
                        this,
                    )
                })
                .collect(),
        },
        StatusCode::OK,
    )
}

pub async fn end_session(
    State(state): State<Shared>,
    Path(id): Path<String>,
    SignedForm {
        user: SignedIn { session: s, .. },
        ..
    }: SignedForm<CsrfOnly>,
) -> Response {
    match state.review.store.end_session_of(&s.user, &id).await {
        Ok(true) => {
            let _ = state
                .review
                .store
                .audit(&s.user, "session-ended", "-", "signed out another session")
                .await;
            go("/account?done=ended")
        }
        Ok(false) => error_page(
            &state,
            Some(&s),
            StatusCode::NOT_FOUND,
            "Not found",
            "There is no such session of yours.",
        ),
        Err(_) => unavailable(&state, &s),
    }
}

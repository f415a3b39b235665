//! Signing in and out: the login form, the password check with its throttle, the session cookie, and looking a session up.

use std::net::SocketAddr;

use askama::Template;
use axum::extract::{ConnectInfo, Form, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use chrono::Utc;
use serde::Deserialize;

use super::extract::{CsrfOnly, Signing, SigningForm};
use super::render::{Chrome, council, encode_path, local_path, render};
use super::{LOGIN_COOKIE, SESSION_COOKIE, Shared, client_ip, harden};
use crate::auth;
use crate::store::{Session, SessionStage};

pub(super) fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_string())
}

pub(super) async fn session(state: &Shared, headers: &HeaderMap) -> Option<(String, Session)> {
    let token = cookie(headers, SESSION_COOKIE)?;
    if token.len() != 64 || !token.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let s = state
        .review
        .store
        .session(&auth::token_hash(&token), Utc::now().timestamp())
        .await
        .ok()??;
    Some((token, s))
}

/// Constant-time comparison for tokens.
pub(super) fn same(a: &str, b: &str) -> bool {
    auth::same(a.as_bytes(), b.as_bytes())
}

pub(super) fn session_cookie(state: &Shared, value: &str, max_age: i64) -> HeaderValue {
    let secure = if state.web.secure_cookies {
        "; Secure"
    } else {
        ""
    };
    HeaderValue::from_str(&format!(
        "{SESSION_COOKIE}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age}{secure}"
    ))
    .unwrap_or_else(|_| HeaderValue::from_static("cg_session=; Max-Age=0"))
}

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    chrome: Chrome,
    error: String,
    /// The page to go to after signing in (a path on this site).
    next: String,
    next_encoded: String,
    /// The council's account provider's name, when sign-in with it is on.
    oidc_name: String,
}

#[derive(Deserialize, Default)]
pub struct LoginQuery {
    #[serde(default)]
    next: String,
}

pub async fn login_form(
    State(state): State<Shared>,
    headers: HeaderMap,
    Query(q): Query<LoginQuery>,
) -> Response {
    login_page(&state, &headers, "", &q.next, StatusCode::OK)
}

/// The login form. Its CSRF token is kept while the cookie lives, so a
/// second view (the browser fetching /favicon.ico is sent here too) does
/// not invalidate a form already on screen.
pub(super) fn login_page(
    state: &Shared,
    headers: &HeaderMap,
    error: &str,
    next: &str,
    status: StatusCode,
) -> Response {
    let token = cookie(headers, LOGIN_COOKIE)
        .filter(|t| t.len() == 64 && t.bytes().all(|b| b.is_ascii_hexdigit()))
        .unwrap_or_else(auth::token);
    let mut resp = render(
        &LoginPage {
            chrome: Chrome {
                csrf: token.clone(),
                ..Chrome::new(council(state), None)
            },
            error: error.to_string(),
            next: local_path(next).unwrap_or_default().to_string(),
            next_encoded: encode_path(local_path(next).unwrap_or_default()),
            oidc_name: state
                .oidc
                .as_ref()
                .map(|o| o.name.clone())
                .unwrap_or_default(),
        },
        status,
    );
    if let Ok(v) = HeaderValue::from_str(&format!(
        "{LOGIN_COOKIE}={token}; Path=/login; HttpOnly; SameSite=Strict; Max-Age=900"
    )) {
        resp.headers_mut().append(header::SET_COOKIE, v);
    }
    resp
}

#[derive(Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    next: String,
}

pub async fn login(
    State(state): State<Shared>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Form(form): Form<LoginForm>,
) -> Response {
    let expected = cookie(&headers, LOGIN_COOKIE).unwrap_or_default();
    if expected.is_empty() || !same(&expected, &form.csrf) {
        return login_page(
            &state,
            &headers,
            "The form had expired. Please try again.",
            &form.next,
            StatusCode::FORBIDDEN,
        );
    }
    let ip_key = format!("ip:{}", client_ip(&addr));
    let user_key = format!("user:{}", form.name.to_lowercase());
    let throttled = state.throttle.waiting(&ip_key, &user_key);
    // A throttled client or user costs no look-up at all.
    let user = match throttled {
        Some(_) => None,
        None => state.review.store.user(&form.name).await.ok().flatten(),
    };
    let hash = user.as_ref().map(|u| u.password_hash.clone());
    match state
        .throttle
        .attempt(&ip_key, &user_key, form.password.clone(), hash)
        .await
    {
        auth::Attempt::Accepted => {}
        auth::Attempt::Throttled(wait) => {
            return login_page(
                &state,
                &headers,
                &format!(
                    "Too many failed attempts. Try again in {} seconds.",
                    wait.as_secs().max(1)
                ),
                &form.next,
                StatusCode::TOO_MANY_REQUESTS,
            );
        }
        auth::Attempt::Wrong => {
            // The user name is logged, never the password.
            tracing::info!(user = %form.name, ip = %client_ip(&addr), "login refused");
            return login_page(
                &state,
                &headers,
                "The user name or password is not right.",
                &form.next,
                StatusCode::UNAUTHORIZED,
            );
        }
        auth::Attempt::Busy => {
            return login_page(
                &state,
                &headers,
                "Too many sign-ins are being checked just now. Please try again in a moment.",
                &form.next,
                StatusCode::SERVICE_UNAVAILABLE,
            );
        }
    }
    let Some(user) = user else {
        return login_page(
            &state,
            &headers,
            "The user name or password is not right.",
            &form.next,
            StatusCode::UNAUTHORIZED,
        );
    };
    let Ok((token, to)) =
        begin_session(&state, &user, &client_ip(&addr).to_string(), &form.next, "").await
    else {
        return login_page(
            &state,
            &headers,
            "Logging in failed; please try again.",
            &form.next,
            StatusCode::SERVICE_UNAVAILABLE,
        );
    };
    let hours = state.web.session_hours as i64;
    // Back to the page that sent the reader to sign in (a notice's link).
    let mut resp = Redirect::to(&to).into_response();
    resp.headers_mut().append(
        header::SET_COOKIE,
        session_cookie(&state, &token, hours * 3600),
    );
    if let Ok(v) = HeaderValue::from_str(&format!("{LOGIN_COOKIE}=; Path=/login; Max-Age=0")) {
        resp.headers_mut().append(header::SET_COOKIE, v);
    }
    harden(&mut resp, "default-src 'none'");
    resp
}

/// Starts the session of a user who has proved who they are (a password,
/// or the council's account provider; `how` says which, for the audit
/// log): finished at once, or — where the user has or must have a second
/// factor — waiting for it (ten minutes). Returns the session's token and
/// where the reader goes next. A store that cannot answer lets nobody in.
pub(super) async fn begin_session(
    state: &Shared,
    user: &crate::store::User,
    ip: &str,
    next: &str,
    how: &str,
) -> Result<(String, String), crate::store::StoreError> {
    let factor = state.review.store.second_factor(&user.name).await?;
    let must = user.role == crate::store::UserRole::Admin
        || state.web.second_factor == crate::settings::SecondFactorPolicy::Everyone;
    let stage = if !factor.secret.is_empty() {
        SessionStage::SecondFactor
    } else if must {
        SessionStage::Enrol
    } else {
        SessionStage::Full
    };
    let token = auth::token();
    let now = Utc::now().timestamp();
    let expires = now
        + if stage == SessionStage::Full {
            state.web.session_hours as i64 * 3600
        } else {
            600
        };
    state
        .review
        .store
        .create_session(&crate::store::NewSession {
            token_hash: &auth::token_hash(&token),
            user: &user.name,
            csrf: &auth::token(),
            expires,
            stage,
            created: now,
            ip,
        })
        .await
        .inspect_err(|e| tracing::warn!(error = %e, "cannot start a session"))?;
    let next = local_path(next).unwrap_or("/");
    let to = match stage {
        SessionStage::Full => {
            signed_in(state, &user.name, ip, how).await;
            next.to_string()
        }
        SessionStage::SecondFactor => format!("/login/code?next={}", encode_path(next)),
        SessionStage::Enrol => format!("/account/second-factor?next={}", encode_path(next)),
    };
    Ok((token, to))
}

/// Records a finished sign-in: the user's last sign-in, and the audit log.
pub(super) async fn signed_in(state: &Shared, user: &str, ip: &str, how: &str) {
    let _ = state
        .review
        .store
        .record_sign_in(user, Utc::now().timestamp())
        .await;
    let _ = state
        .review
        .store
        .audit(user, "login", "-", &format!("logged in from {ip}{how}"))
        .await;
}

pub async fn logout(
    State(state): State<Shared>,
    // Any session may end, finished or not; the form must be this site's.
    SigningForm {
        user: Signing { token, .. },
        ..
    }: SigningForm<CsrfOnly>,
) -> Response {
    let _ = state
        .review
        .store
        .end_session(&auth::token_hash(&token))
        .await;
    let mut resp = Redirect::to("/login").into_response();
    resp.headers_mut()
        .append(header::SET_COOKIE, session_cookie(&state, "", 0));
    harden(&mut resp, "default-src 'none'");
    resp
}

//! Handlers of the review pages.

use std::net::SocketAddr;

use askama::Template;
use axum::extract::{ConnectInfo, Form, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use chrono::Utc;
use mail_parser::{MessageParser, MimeHeaders, PartType};
use serde::Deserialize;

use super::extract::{CsrfOnly, SignedForm, SignedIn};
use super::{CSS, LOGIN_COOKIE, SESSION_COOKIE, Shared, client_ip, harden, page_csp};
use crate::auth;
use crate::review;
use crate::store::{Action, Held, Session, StoreError};

// ------------------------------------------------------------- helpers

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
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

pub(super) fn render<T: Template>(t: &T, status: StatusCode) -> Response {
    let mut resp = match t.render() {
        Ok(html) => (
            status,
            [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
            html,
        )
            .into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "page could not be rendered");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "The page could not be shown.",
            )
                .into_response()
        }
    };
    harden(&mut resp, &page_csp());
    resp
}

pub(super) fn council(state: &Shared) -> String {
    state.review.policy.load().directory.council_name.clone()
}

pub(super) fn error_page(
    state: &Shared,
    s: Option<&Session>,
    status: StatusCode,
    title: &str,
    message: &str,
) -> Response {
    render(
        &ErrorPage {
            council: council(state),
            css: CSS,
            user: s.map(|s| s.user.clone()).unwrap_or_default(),
            csrf: s.map(|s| s.csrf.clone()).unwrap_or_default(),
            admin: s.is_some_and(|s| s.role == "admin"),
            title: title.to_string(),
            message: message.to_string(),
        },
        status,
    )
}

/// Not logged in: pages send the reader to log in; actions are refused.
pub(super) fn refuse(get: bool) -> Response {
    let mut resp = if get {
        Redirect::to("/login").into_response()
    } else {
        (StatusCode::FORBIDDEN, "Log in first.").into_response()
    };
    harden(&mut resp, "default-src 'none'");
    resp
}

fn session_cookie(state: &Shared, value: &str, max_age: i64) -> HeaderValue {
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

pub(super) fn when(ts: i64) -> String {
    chrono::DateTime::from_timestamp(ts, 0)
        .map(|t| {
            t.with_timezone(&chrono_tz::Europe::London)
                .format("%a %-d %b %Y, %H:%M")
                .to_string()
        })
        .unwrap_or_default()
}

fn age(ts: i64) -> String {
    let secs = (Utc::now().timestamp() - ts).max(0);
    match secs {
        s if s < 3600 => format!("{} min", s / 60),
        s if s < 86_400 => format!("{} h", s / 3600),
        s => format!("{} d", s / 86_400),
    }
}

pub(super) fn escape(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            c => o.push(c),
        }
    }
    o
}

/// The new text, escaped, with each evidence sentence marked.
pub fn highlight(text: &str, evidence: &[String]) -> String {
    let mut html = escape(text);
    for e in evidence {
        // Evidence is "sentence (why)"; mark the sentence.
        let sentence = match e.rfind(" (") {
            Some(i) if e.ends_with(')') => &e[..i],
            _ => e.as_str(),
        };
        if sentence.len() < 8 {
            continue;
        }
        let needle = escape(sentence);
        if let Some(pos) = html.find(&needle)
            && !html[..pos].ends_with("<mark>")
        {
            html.replace_range(pos..pos + needle.len(), &format!("<mark>{needle}</mark>"));
        }
    }
    html
}

/// Safe for a Content-Disposition filename.
fn safe_filename(name: &str) -> String {
    let s: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') {
                c
            } else {
                '_'
            }
        })
        .take(100)
        .collect();
    let s = s.trim_start_matches('.').to_string();
    if s.is_empty() { "attachment".into() } else { s }
}

fn size(n: usize) -> String {
    match n {
        n if n < 1024 => format!("{n} bytes"),
        n if n < 1024 * 1024 => format!("{:.0} KB", n as f64 / 1024.0),
        n => format!("{:.1} MB", n as f64 / 1024.0 / 1024.0),
    }
}

// ------------------------------------------------------------- templates

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    council: String,
    css: &'static str,
    user: String,
    csrf: String,
    admin: bool,
    error: String,
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage {
    council: String,
    css: &'static str,
    user: String,
    csrf: String,
    admin: bool,
    title: String,
    message: String,
}

struct Row {
    id: String,
    age: String,
    expires: String,
    from: String,
    from_role: String,
    to: Vec<(String, String)>,
    subject: String,
    rules: Vec<String>,
}

#[derive(Template)]
#[template(path = "queue.html")]
struct QueuePage {
    council: String,
    css: &'static str,
    user: String,
    csrf: String,
    admin: bool,
    total: usize,
    flash: String,
    rules: Vec<(String, bool)>,
    sort: String,
    rows: Vec<Row>,
}

struct RuleView {
    id: String,
    title: String,
    action: String,
    source: String,
    reference: String,
    evidence: Vec<String>,
}

#[derive(Template)]
#[template(path = "message.html")]
struct MessagePage {
    council: String,
    css: &'static str,
    user: String,
    csrf: String,
    admin: bool,
    id: String,
    subject: String,
    error: String,
    state: String,
    from: String,
    from_role: String,
    to: Vec<(String, String)>,
    held_at: String,
    expires: String,
    reviewers: String,
    rules: Vec<RuleView>,
    body_html: String,
    has_html: bool,
    attachments: Vec<(usize, String, String, String)>,
    headers: String,
    may_act: bool,
    reasons: Vec<String>,
    history: Vec<(String, String, String, String)>,
}

// ------------------------------------------------------------- handlers

pub async fn not_found(State(state): State<Shared>, headers: HeaderMap) -> Response {
    match session(&state, &headers).await {
        Some((_, s)) => error_page(
            &state,
            Some(&s),
            StatusCode::NOT_FOUND,
            "Not found",
            "There is no such page.",
        ),
        None => refuse(true),
    }
}

pub async fn login_form(State(state): State<Shared>, headers: HeaderMap) -> Response {
    login_page(&state, &headers, "", StatusCode::OK)
}

/// The login form. Its CSRF token is kept while the cookie lives, so a
/// second view (the browser fetching /favicon.ico is sent here too) does
/// not invalidate a form already on screen.
fn login_page(state: &Shared, headers: &HeaderMap, error: &str, status: StatusCode) -> Response {
    let token = cookie(headers, LOGIN_COOKIE)
        .filter(|t| t.len() == 64 && t.bytes().all(|b| b.is_ascii_hexdigit()))
        .unwrap_or_else(auth::token);
    let mut resp = render(
        &LoginPage {
            council: council(state),
            css: CSS,
            user: String::new(),
            csrf: token.clone(),
            admin: false,
            error: error.to_string(),
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
            StatusCode::FORBIDDEN,
        );
    }
    let ip_key = format!("ip:{}", client_ip(&addr));
    let user_key = format!("user:{}", form.name.to_lowercase());
    if let Some(wait) = state
        .throttle
        .wait(&ip_key)
        .or_else(|| state.throttle.wait(&user_key))
    {
        return login_page(
            &state,
            &headers,
            &format!(
                "Too many failed attempts. Try again in {} seconds.",
                wait.as_secs().max(1)
            ),
            StatusCode::TOO_MANY_REQUESTS,
        );
    }
    let user = state.review.store.user(&form.name).await.ok().flatten();
    let ok = match &user {
        Some(u) => auth::verify_password(&form.password, &u.password_hash),
        None => {
            auth::dummy_verify(&form.password);
            false
        }
    };
    if !ok {
        state.throttle.fail(&ip_key);
        state.throttle.fail(&user_key);
        // The user name is logged, never the password.
        tracing::info!(user = %form.name, ip = %client_ip(&addr), "login refused");
        return login_page(
            &state,
            &headers,
            "The user name or password is not right.",
            StatusCode::UNAUTHORIZED,
        );
    }
    state.throttle.succeed(&ip_key);
    state.throttle.succeed(&user_key);
    let Some(user) = user else {
        return login_page(
            &state,
            &headers,
            "The user name or password is not right.",
            StatusCode::UNAUTHORIZED,
        );
    };
    let token = auth::token();
    let csrf = auth::token();
    let hours = state.web.session_hours as i64;
    let expires = Utc::now().timestamp() + hours * 3600;
    if let Err(e) = state
        .review
        .store
        .create_session(&auth::token_hash(&token), &user.name, &csrf, expires)
        .await
    {
        tracing::warn!(error = %e, "cannot create a session");
        return login_page(
            &state,
            &headers,
            "Logging in failed; please try again.",
            StatusCode::SERVICE_UNAVAILABLE,
        );
    }
    let _ = state
        .review
        .store
        .audit(
            &user.name,
            "login",
            "-",
            &format!("logged in from {}", client_ip(&addr)),
        )
        .await;
    let mut resp = Redirect::to("/").into_response();
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

pub async fn logout(
    State(state): State<Shared>,
    SignedForm {
        user: SignedIn { token, .. },
        ..
    }: SignedForm<CsrfOnly>,
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

#[derive(Deserialize, Default)]
pub struct QueueQuery {
    #[serde(default)]
    rule: String,
    #[serde(default)]
    sort: String,
    #[serde(default)]
    done: String,
    #[serde(default)]
    state: String,
}

pub async fn queue(
    State(state): State<Shared>,
    SignedIn { session: s, .. }: SignedIn,
    Query(q): Query<QueueQuery>,
) -> Response {
    let snapshot = state.review.policy.load();
    let mut held = match state.review.store.list("held").await {
        Ok(h) => h,
        Err(e) => {
            tracing::warn!(error = %e, "cannot list held messages");
            return error_page(
                &state,
                Some(&s),
                StatusCode::SERVICE_UNAVAILABLE,
                "Unavailable",
                "The store cannot be reached; please try again.",
            );
        }
    };
    let total = held.len();
    let mut all_rules: Vec<String> = held.iter().flat_map(|h| h.rules.clone()).collect();
    all_rules.sort();
    all_rules.dedup();
    if !q.rule.is_empty() {
        held.retain(|h| h.rules.contains(&q.rule));
    }
    let sort = if q.sort == "newest" {
        "newest"
    } else {
        "oldest"
    };
    if sort == "newest" {
        held.reverse();
    }
    let rows = held
        .iter()
        .map(|h| Row {
            id: h.id.clone(),
            age: age(h.created),
            expires: when(h.expires),
            from: h.mail_from.clone(),
            from_role: review::role_of(&snapshot, &h.mail_from),
            to: h
                .recipients
                .iter()
                .map(|r| (r.clone(), review::role_of(&snapshot, r)))
                .collect(),
            subject: h.subject.clone(),
            rules: h.rules.clone(),
        })
        .collect();
    let flash = if q.done.is_empty() {
        String::new()
    } else {
        format!("Message {} is now {}.", q.done, q.state)
    };
    render(
        &QueuePage {
            council: snapshot.directory.council_name.clone(),
            css: CSS,
            user: s.user.clone(),
            csrf: s.csrf.clone(),
            admin: s.role == "admin",
            total,
            flash,
            rules: all_rules
                .into_iter()
                .map(|r| (r.clone(), r == q.rule))
                .collect(),
            sort: sort.to_string(),
            rows,
        },
        StatusCode::OK,
    )
}

async fn load(state: &Shared, s: &Session, id: &str) -> Result<Held, Response> {
    match state.review.store.get(id).await {
        Ok(h) => Ok(h),
        Err(StoreError::NotFound(_)) => Err(error_page(
            state,
            Some(s),
            StatusCode::NOT_FOUND,
            "Not found",
            "There is no such held message.",
        )),
        Err(e) => {
            tracing::warn!(error = %e, "cannot read a held message");
            Err(error_page(
                state,
                Some(s),
                StatusCode::SERVICE_UNAVAILABLE,
                "Unavailable",
                "The store cannot be reached; please try again.",
            ))
        }
    }
}

fn message_page(
    state: &Shared,
    s: &Session,
    held: &Held,
    history: Vec<(String, String, String, String)>,
    error: &str,
    status: StatusCode,
) -> Response {
    let snapshot = state.review.policy.load();
    let verdict: serde_json::Value = serde_json::from_str(&held.verdict).unwrap_or_default();
    let mut evidence_all = Vec::new();
    let mut rules = Vec::new();
    let mut reasons: Vec<String> = Vec::new();
    for r in verdict["rules"].as_array().into_iter().flatten() {
        let id = r["id"].as_str().unwrap_or("").to_string();
        let evidence: Vec<String> = r["evidence"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|e| e.as_str().map(str::to_string))
            .collect();
        evidence_all.extend(evidence.iter().cloned());
        let def = snapshot
            .rules
            .iter()
            .find(|x| x.def.id == id)
            .map(|x| &x.def);
        let title = def.map(|d| d.title.clone()).unwrap_or_default();
        if !title.is_empty() {
            reasons.push(format!("{id}: {title}"));
        }
        rules.push(RuleView {
            id,
            title,
            action: r["action"].as_str().unwrap_or("").to_string(),
            source: def.map(|d| d.source.clone()).unwrap_or_default(),
            reference: def
                .map(|d| d.reference.trim().to_string())
                .unwrap_or_default(),
            evidence,
        });
    }
    // What held or refused it first, then what changed it.
    let weight = |a: &str| {
        ["reject", "hold", "redirect", "copy", "annotate", "flag"]
            .iter()
            .position(|x| a == *x)
            .unwrap_or(9)
    };
    rules.sort_by_key(|r| weight(&r.action));
    reasons.push("The message is in order: routine matter".into());
    reasons.push("Other (see note)".into());
    let disclaimer = snapshot.lexicon.list("disclaimer.phrases");
    let is_disclaimer = |p: &str| disclaimer.is_match(&crate::policy::lexicon::normalise(p));
    let analysis = crate::message::Analysis::new(&held.message, &is_disclaimer);
    let text = if analysis.split.new_text.is_empty() {
        analysis.body.clone()
    } else {
        analysis.split.new_text.clone()
    };
    let parsed = MessageParser::default().parse(&held.message);
    let has_html = parsed.as_ref().is_some_and(|m| {
        m.html_body.iter().any(|&i| {
            matches!(
                m.parts.get(i as usize).map(|p| &p.body),
                Some(PartType::Html(_))
            )
        })
    });
    let attachments = parsed
        .as_ref()
        .map(|m| {
            m.attachments()
                .enumerate()
                .map(|(i, p)| {
                    let ct = p
                        .content_type()
                        .map(|c| format!("{}/{}", c.ctype(), c.subtype().unwrap_or("")))
                        .unwrap_or_else(|| "application/octet-stream".into());
                    (
                        i,
                        p.attachment_name().unwrap_or("(unnamed)").to_string(),
                        ct,
                        size(p.contents().len()),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    let head_end = crate::message::header_section_len(&held.message);
    let headers = String::from_utf8_lossy(&held.message[..head_end]).to_string();
    render(
        &MessagePage {
            council: snapshot.directory.council_name.clone(),
            css: CSS,
            user: s.user.clone(),
            csrf: s.csrf.clone(),
            admin: s.role == "admin",
            id: held.id.clone(),
            subject: held.subject.clone(),
            error: error.to_string(),
            state: held.state.clone(),
            from: held.mail_from.clone(),
            from_role: review::role_of(&snapshot, &held.mail_from),
            to: held
                .recipients
                .iter()
                .map(|r| (r.clone(), review::role_of(&snapshot, r)))
                .collect(),
            held_at: when(held.created),
            expires: when(held.expires),
            reviewers: held.reviewers.join(", "),
            rules,
            body_html: highlight(&text, &evidence_all),
            has_html,
            attachments,
            headers,
            may_act: review::may_act(&snapshot, held, &s.user),
            reasons,
            history,
        },
        status,
    )
}

async fn history(state: &Shared, id: &str) -> Vec<(String, String, String, String)> {
    state
        .review
        .store
        .audit_for(id)
        .await
        .unwrap_or_default()
        .into_iter()
        .map(|e| (when(e.at), e.actor, e.action, e.detail))
        .collect()
}

pub async fn message(
    State(state): State<Shared>,
    SignedIn { session: s, .. }: SignedIn,
    Path(id): Path<String>,
) -> Response {
    let held = match load(&state, &s, &id).await {
        Ok(h) => h,
        Err(r) => return r,
    };
    let h = history(&state, &id).await;
    message_page(&state, &s, &held, h, "", StatusCode::OK)
}

/// The sanitised HTML part, for the sandboxed iframe.
pub async fn preview(
    State(state): State<Shared>,
    SignedIn { session: s, .. }: SignedIn,
    Path(id): Path<String>,
) -> Response {
    let held = match load(&state, &s, &id).await {
        Ok(h) => h,
        Err(r) => return r,
    };
    let html = MessageParser::default()
        .parse(&held.message)
        .and_then(|m| {
            m.html_body
                .iter()
                .find_map(|&i| match m.parts.get(i as usize).map(|p| &p.body) {
                    Some(PartType::Html(h)) => Some(h.to_string()),
                    _ => None,
                })
        })
        .unwrap_or_default();
    let clean = sanitise(&html);
    let mut resp = (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        clean,
    )
        .into_response();
    resp.headers_mut().insert(
        header::X_FRAME_OPTIONS,
        HeaderValue::from_static("SAMEORIGIN"),
    );
    harden(
        &mut resp,
        "default-src 'none'; img-src data:; style-src 'unsafe-inline'; frame-ancestors 'self'; sandbox",
    );
    resp
}

/// HTML from email, made inert: ammonia's allow-list, and images only from
/// data: URLs (remote images are tracking pixels).
pub fn sanitise(html: &str) -> String {
    ammonia::Builder::default()
        .attribute_filter(|element, attribute, value| {
            if element == "img"
                && attribute == "src"
                && !value.trim_start().to_ascii_lowercase().starts_with("data:")
            {
                None
            } else {
                Some(value.into())
            }
        })
        .clean(html)
        .to_string()
}

pub async fn attachment(
    State(state): State<Shared>,
    SignedIn { session: s, .. }: SignedIn,
    Path((id, n)): Path<(String, usize)>,
) -> Response {
    let held = match load(&state, &s, &id).await {
        Ok(h) => h,
        Err(r) => return r,
    };
    let part = MessageParser::default().parse(&held.message).and_then(|m| {
        m.attachments().nth(n).map(|p| {
            (
                p.attachment_name().unwrap_or("attachment").to_string(),
                p.contents().to_vec(),
            )
        })
    });
    let Some((name, bytes)) = part else {
        return error_page(
            &state,
            Some(&s),
            StatusCode::NOT_FOUND,
            "Not found",
            "There is no such attachment.",
        );
    };
    let mut resp = (StatusCode::OK, bytes).into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    if let Ok(v) = HeaderValue::from_str(&format!(
        "attachment; filename=\"{}\"",
        safe_filename(&name)
    )) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    harden(&mut resp, "default-src 'none'; sandbox");
    resp
}

#[derive(Deserialize)]
pub struct DecideForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    action: String,
    #[serde(default)]
    reason: String,
    #[serde(default)]
    note: String,
}

impl super::extract::CsrfToken for DecideForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

pub async fn decide(
    State(state): State<Shared>,
    Path(id): Path<String>,
    SignedForm {
        user: SignedIn { session: s, .. },
        form,
    }: SignedForm<DecideForm>,
) -> Response {
    let Some(action) = Action::parse(&form.action).filter(|a| *a != Action::Expire) else {
        return error_page(
            &state,
            Some(&s),
            StatusCode::BAD_REQUEST,
            "Not understood",
            "Choose release, send to the Proper Officer, return or delete.",
        );
    };
    let note: String = form.note.chars().take(4000).collect();
    let reason: String = form.reason.chars().take(300).collect();
    match state
        .review
        .decide(&id, action, &s.user, &reason, &note)
        .await
    {
        Ok(held) => {
            let mut resp =
                Redirect::to(&format!("/?done={}&state={}", held.id, held.state)).into_response();
            harden(&mut resp, "default-src 'none'");
            resp
        }
        Err(StoreError::AlreadyDecided { state: st, by, .. }) => {
            let held = match load(&state, &s, &id).await {
                Ok(h) => h,
                Err(r) => return r,
            };
            let h = history(&state, &id).await;
            message_page(
                &state,
                &s,
                &held,
                h,
                &format!("{by} acted first: this message was already {st}."),
                StatusCode::CONFLICT,
            )
        }
        Err(StoreError::Refused(why)) => error_page(
            &state,
            Some(&s),
            StatusCode::FORBIDDEN,
            "Not yours to decide",
            &why,
        ),
        Err(StoreError::NotFound(_)) => error_page(
            &state,
            Some(&s),
            StatusCode::NOT_FOUND,
            "Not found",
            "There is no such held message.",
        ),
        Err(e) => {
            tracing::warn!(error = %e, "decision failed");
            error_page(
                &state,
                Some(&s),
                StatusCode::SERVICE_UNAVAILABLE,
                "Unavailable",
                "The decision could not be recorded; please try again.",
            )
        }
    }
}

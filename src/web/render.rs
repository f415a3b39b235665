//! What every page shares: rendering a template with the security headers, the error page, the refusal for a reader who is not signed in, and the small formatting helpers (dates, sizes, escaping, evidence highlighted, safe file names).

use askama::Template;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use chrono::Utc;

use super::login::session;
use super::{CSS, Shared, harden, page_csp};
use crate::store::{Session, UserRole};

/// What every page shows around its content: the council's name, the
/// stylesheet, and for a signed-in reader their name, the CSRF token of the
/// log-out form and whether the admin pages are theirs.
#[derive(Default)]
pub(super) struct Chrome {
    pub council: String,
    pub css: &'static str,
    pub user: String,
    pub csrf: String,
    pub admin: bool,
    /// Signing in is finished (no second factor still to give or enrol):
    /// the sections are shown.
    pub finished: bool,
}

impl Chrome {
    pub fn new(council: String, s: Option<&Session>) -> Chrome {
        Chrome {
            council,
            css: CSS,
            user: s.map(|s| s.user.clone()).unwrap_or_default(),
            csrf: s.map(|s| s.csrf.clone()).unwrap_or_default(),
            admin: s.is_some_and(|s| s.role == UserRole::Admin),
            finished: s.is_some_and(|s| s.stage == crate::store::SessionStage::Full),
        }
    }
}

/// The reply when the store cannot be reached.
pub(super) fn unavailable(state: &Shared, s: &Session) -> Response {
    error_page(
        state,
        Some(s),
        StatusCode::SERVICE_UNAVAILABLE,
        "Unavailable",
        "The store cannot be reached.",
    )
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
            chrome: Chrome::new(council(state), s),
            title: title.to_string(),
            message: message.to_string(),
        },
        status,
    )
}

/// Not logged in: pages send the reader to log in, and back to `next`
/// (the page asked for) after; actions are refused.
pub(super) fn refuse(get: bool, next: &str) -> Response {
    let mut resp = if get {
        match local_path(next) {
            Some(p) if p != "/" => Redirect::to(&format!("/login?next={}", encode_path(p))),
            _ => Redirect::to("/login"),
        }
        .into_response()
    } else {
        (StatusCode::FORBIDDEN, "Log in first.").into_response()
    };
    harden(&mut resp, "default-src 'none'");
    resp
}

/// `p` when it is a path on this site (so a link cannot send a reader who
/// signs in to another site): one leading slash, no backslash, no scheme,
/// short, printable.
pub(super) fn local_path(p: &str) -> Option<&str> {
    let ok = p.starts_with('/')
        && !p.starts_with("//")
        && p.len() <= 600
        && p.bytes()
            .all(|b| b.is_ascii_graphic() && b != b'\\' && b != b'"' && b != b'<' && b != b'>');
    ok.then_some(p)
}

/// A path as a query value.
pub(super) fn encode_path(p: &str) -> String {
    let mut o = String::with_capacity(p.len());
    for b in p.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'/' | b'-' | b'_' | b'.') {
            o.push(b as char);
        } else {
            o.push_str(&format!("%{b:02X}"));
        }
    }
    o
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

pub(super) fn age(ts: i64) -> String {
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
pub(super) fn safe_filename(name: &str) -> String {
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

pub(super) fn size(n: usize) -> String {
    match n {
        n if n < 1024 => format!("{n} bytes"),
        n if n < 1024 * 1024 => format!("{:.0} KB", n as f64 / 1024.0),
        n => format!("{:.1} MB", n as f64 / 1024.0 / 1024.0),
    }
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage {
    chrome: Chrome,
    title: String,
    message: String,
}

pub async fn not_found(State(state): State<Shared>, headers: HeaderMap) -> Response {
    match session(&state, &headers).await {
        Some((_, s)) => error_page(
            &state,
            Some(&s),
            StatusCode::NOT_FOUND,
            "Not found",
            "There is no such page.",
        ),
        None => refuse(true, "/"),
    }
}

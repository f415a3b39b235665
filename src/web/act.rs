//! One tap from the notice: the signed action links a reviewer's notice
//! carries (see [`crate::review::links`]). Following one shows what it will
//! do and one button; a GET never changes anything. The POST checks the
//! link again, records it used (it works once) and decides. A link that was
//! used, has expired, was changed or was sent to another reviewer gets a
//! page that says which.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use chrono::Utc;

use super::decide::refused;
use super::extract::{CsrfOnly, SignedForm, SignedIn};
use super::message::load;
use super::render::{Chrome, error_page, render};
use super::{Shared, harden};
use crate::message::visible::visible;
use crate::review::{self, links::LinkAction, links::LinkError};
use crate::store::{Action, HeldState, ReviewDecision, Session};

#[derive(Template)]
#[template(path = "act.html")]
struct ActPage {
    chrome: Chrome,
    token: String,
    id: String,
    action: String,
    verb: String,
    verb_lower: String,
    effect: String,
    from: String,
    to: String,
    subject: String,
    holding: String,
    evidence: String,
    note: String,
}

/// The page for a link that does not work.
fn link_refused(state: &Shared, s: &Session, e: &LinkError) -> Response {
    let (status, title, text) = match e {
        LinkError::Tampered => (
            StatusCode::BAD_REQUEST,
            "This link does not work",
            "This link is not one the gateway made, or part of it was changed (a mail program may have broken it across lines). Open the message from the held mail list instead.",
        ),
        LinkError::Expired => (
            StatusCode::GONE,
            "This link has expired",
            "Links in a notice work for seven days at most, and never after the message's hold ends. Open the message from the held mail list instead.",
        ),
        LinkError::Used => (
            StatusCode::GONE,
            "This link has been used",
            "Each link in a notice works once, and this one has been used. The message's page shows what was decided.",
        ),
        LinkError::OtherReviewer => (
            StatusCode::FORBIDDEN,
            "This link was sent to another reviewer",
            "Links in a notice work only for the reviewer the notice was sent to. Sign in as yourself and open the message from the held mail list.",
        ),
    };
    error_page(state, Some(s), status, title, text)
}

/// The link in `token`, checked for the signed-in reviewer (signature,
/// expiry, whose, unused), and the message it names; or the page saying
/// why not.
async fn checked(
    state: &Shared,
    s: &Session,
    token: &str,
) -> Result<(review::links::ActionLink, crate::store::Held), Response> {
    let Some(links) = state.review.notices.links() else {
        return Err(error_page(
            state,
            Some(s),
            StatusCode::NOT_FOUND,
            "Not found",
            "There is no such page.",
        ));
    };
    let link = links
        .check(token, Utc::now().timestamp(), &s.user)
        .map_err(|e| link_refused(state, s, &e))?;
    match state.review.store.link_used(&link.nonce).await {
        Ok(false) => {}
        Ok(true) => return Err(link_refused(state, s, &LinkError::Used)),
        Err(_) => return Err(super::render::unavailable(state, s)),
    }
    let held = load(state, s, &link.held).await?;
    Ok((link, held))
}

pub async fn confirm(
    State(state): State<Shared>,
    SignedIn { session: s, .. }: SignedIn,
    Path(token): Path<String>,
) -> Response {
    let (link, held) = match checked(&state, &s, &token).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    if held.state != HeldState::Held {
        return error_page(
            &state,
            Some(&s),
            StatusCode::CONFLICT,
            "Already decided",
            &format!(
                "This message was already {} by {}.",
                held.state,
                held.decided_by.as_deref().unwrap_or("someone else")
            ),
        );
    }
    let snapshot = state.review.policy.load();
    let hit = review::holding_rule(&held.verdict);
    let (verb, effect, note) = match link.action {
        LinkAction::Release => (
            "Release",
            "It is delivered to every recipient, with the copies the rules add.".to_string(),
            String::new(),
        ),
        LinkAction::Return => (
            "Return",
            "It is not delivered; the sender gets it back with the standard note below."
                .to_string(),
            review::template_note(&snapshot, hit.map_or("", |r| r.id.as_str())),
        ),
    };
    render(
        &ActPage {
            chrome: Chrome::new(snapshot.directory.council_name.clone(), Some(&s)),
            token,
            id: held.id.clone(),
            action: link.action.as_str().to_string(),
            verb: verb.to_string(),
            verb_lower: verb.to_lowercase(),
            effect,
            from: review::role_of(&snapshot, &held.mail_from),
            to: held
                .recipients
                .iter()
                .map(|r| review::role_of(&snapshot, r))
                .collect::<Vec<_>>()
                .join("; "),
            subject: visible(&held.subject),
            holding: hit
                .and_then(|r| snapshot.rules.iter().find(|x| x.def.id == r.id))
                .map(|x| x.def.title.clone())
                .unwrap_or_else(|| held.rules.join(", ")),
            evidence: hit
                .and_then(|r| review::headline_evidence(&r.evidence))
                .map(visible)
                .unwrap_or_default(),
            note,
        },
        StatusCode::OK,
    )
}

pub async fn act(
    State(state): State<Shared>,
    Path(token): Path<String>,
    SignedForm {
        user: SignedIn { session: s, .. },
        ..
    }: SignedForm<CsrfOnly>,
) -> Response {
    let (link, held) = match checked(&state, &s, &token).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    // Recorded used first: of two taps, one acts.
    match state
        .review
        .store
        .use_link(&link.nonce, &held.id, Utc::now().timestamp())
        .await
    {
        Ok(true) => {}
        Ok(false) => return link_refused(&state, &s, &LinkError::Used),
        Err(_) => return super::render::unavailable(&state, &s),
    }
    let snapshot = state.review.policy.load();
    let rule = review::holding_rule(&held.verdict).map(|r| r.id.clone());
    let reason = rule
        .as_deref()
        .and_then(|r| review::rule_reason(&snapshot, r))
        .unwrap_or_default();
    let (action, note) = match link.action {
        LinkAction::Release => (Action::Release, String::new()),
        LinkAction::Return => (
            Action::Return,
            review::template_note(&snapshot, rule.as_deref().unwrap_or("")),
        ),
    };
    let decision = ReviewDecision::new(action, &s.user, &reason, &note);
    match state.review.decide(&held.id, &decision).await {
        Ok(h) => {
            let mut resp =
                Redirect::to(&format!("/?done={}&state={}", h.id, h.state)).into_response();
            harden(&mut resp, "default-src 'none'");
            resp
        }
        Err(e) => refused(&state, &s, &held.id, e).await,
    }
}

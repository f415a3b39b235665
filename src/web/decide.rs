//! Deciding on held messages from their page: release (to all or some
//! recipients), send to the Proper Officer, return (with a note), delete
//! (asked first) and its undo; who may decide ([`decidable`]); and the
//! page for a decision the store refused.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::extract::{SignedForm, SignedIn};
use super::message::{Around, load, message_page};
use super::render::{Chrome, council, error_page, render};
use super::{Shared, harden};
use crate::message::visible::visible;
use crate::review;
use crate::store::{Action, Held, HeldState, ReviewDecision, Session, StoreError, UserRole};

/// The decision form. Read as the list of its fields, because the
/// recipients to deliver to are one repeated field (`deliver`).
#[derive(Deserialize, Default)]
#[serde(from = "Vec<(String, String)>")]
pub struct DecideForm {
    csrf: String,
    action: String,
    reason: String,
    note: String,
    /// "yes" once the reviewer has confirmed a deletion.
    confirm: String,
    /// "yes" when the form offered the recipients to choose from.
    choose: String,
    /// The recipients ticked.
    deliver: Vec<String>,
}

impl From<Vec<(String, String)>> for DecideForm {
    fn from(fields: Vec<(String, String)>) -> Self {
        let mut f = DecideForm::default();
        for (k, v) in fields {
            match k.as_str() {
                "csrf" => f.csrf = v,
                "action" => f.action = v,
                "reason" => f.reason = v,
                "note" => f.note = v,
                "confirm" => f.confirm = v,
                "choose" => f.choose = v,
                "deliver" if f.deliver.len() < 1000 => f.deliver.push(v),
                _ => {}
            }
        }
        f
    }
}

/// Asks before a message is deleted.
#[derive(Template)]
#[template(path = "confirm_delete.html")]
struct ConfirmDelete {
    chrome: Chrome,
    id: String,
    from: String,
    subject: String,
    reason: String,
    note: String,
}

impl super::extract::CsrfToken for DecideForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

/// The held message's page again, with a line saying what went wrong.
async fn again(
    state: &Shared,
    s: &Session,
    held: &Held,
    why: &str,
    status: StatusCode,
) -> Response {
    let around = Around::of(state, held).await.error(why);
    message_page(state, s, held, around, status)
}

/// Whether the signed-in reviewer may decide `held` (see
/// [`review::may_decide`]).
pub(super) fn decidable(state: &Shared, held: &Held, s: &Session) -> Result<(), String> {
    review::may_decide(
        &state.review.policy.load(),
        held,
        &s.user,
        s.role == UserRole::Admin,
    )
}

/// The page for a decision the store refused.
pub(super) async fn refused(state: &Shared, s: &Session, id: &str, e: StoreError) -> Response {
    match e {
        StoreError::AlreadyDecided { state: st, by, .. } => match load(state, s, id).await {
            Ok(held) => {
                again(
                    state,
                    s,
                    &held,
                    &format!("{by} acted first: this message was already {st}."),
                    StatusCode::CONFLICT,
                )
                .await
            }
            Err(r) => r,
        },
        StoreError::Refused(why) => error_page(
            state,
            Some(s),
            StatusCode::FORBIDDEN,
            "Not yours to decide",
            &why,
        ),
        StoreError::NotFound(_) => error_page(
            state,
            Some(s),
            StatusCode::NOT_FOUND,
            "Not found",
            "There is no such held message.",
        ),
        e => {
            tracing::warn!(error = %e, "decision failed");
            error_page(
                state,
                Some(s),
                StatusCode::SERVICE_UNAVAILABLE,
                "Unavailable",
                "The decision could not be recorded; please try again.",
            )
        }
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
    let held = match load(&state, &s, &id).await {
        Ok(h) => h,
        Err(r) => return r,
    };
    // A message already decided gets its own answer from the store below.
    if held.state == HeldState::Held {
        // Only the message's reviewers (and administrators) decide it.
        if let Err(why) = decidable(&state, &held, &s) {
            return error_page(
                &state,
                Some(&s),
                StatusCode::FORBIDDEN,
                "Not yours to decide",
                &why,
            );
        }
        if action == Action::Delete && form.confirm != "yes" {
            return render(
                &ConfirmDelete {
                    chrome: Chrome::new(council(&state), Some(&s)),
                    id: held.id.clone(),
                    from: visible(&held.mail_from),
                    subject: visible(&held.subject),
                    reason,
                    note,
                },
                StatusCode::OK,
            );
        }
    }
    if action == Action::Return && note.trim().is_empty() {
        // The sender is told why in the reviewer's words; an empty return
        // tells them nothing.
        return again(
            &state,
            &s,
            &held,
            "Returning the message tells the sender why: write a note for them first.",
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    }
    let mut decision = ReviewDecision::new(action, &s.user, &reason, &note);
    if action == Action::Release && form.choose == "yes" {
        // A release to some recipients: the ticked ones must be among the
        // message's own, and at least one.
        let unknown = form
            .deliver
            .iter()
            .any(|d| !held.recipients.iter().any(|r| r.eq_ignore_ascii_case(d)));
        if unknown {
            return error_page(
                &state,
                Some(&s),
                StatusCode::BAD_REQUEST,
                "Not understood",
                "A recipient chosen is not one of the message's recipients.",
            );
        }
        if form.deliver.is_empty() {
            return again(
                &state,
                &s,
                &held,
                "Tick at least one recipient to release to, or return or delete the message.",
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await;
        }
        let withheld: Vec<String> = held
            .recipients
            .iter()
            .filter(|r| !form.deliver.iter().any(|d| d.eq_ignore_ascii_case(r)))
            .cloned()
            .collect();
        decision = decision.withholding(withheld);
    }
    match state.review.decide(&id, &decision).await {
        Ok(held) => {
            let mut resp =
                Redirect::to(&format!("/?done={}&state={}", held.id, held.state)).into_response();
            harden(&mut resp, "default-src 'none'");
            resp
        }
        Err(e) => refused(&state, &s, &id, e).await,
    }
}

/// Undoes a deletion while the message's text is kept.
pub async fn restore(
    State(state): State<Shared>,
    Path(id): Path<String>,
    SignedForm {
        user: SignedIn { session: s, .. },
        ..
    }: SignedForm<super::extract::CsrfOnly>,
) -> Response {
    let held = match load(&state, &s, &id).await {
        Ok(h) => h,
        Err(r) => return r,
    };
    if let Err(why) = decidable(&state, &held, &s) {
        return error_page(
            &state,
            Some(&s),
            StatusCode::FORBIDDEN,
            "Not yours to decide",
            &why,
        );
    }
    match state.review.store.restore(&id, &s.user).await {
        Ok(_) => {
            let mut resp = Redirect::to(&format!("/held/{id}?done=restored")).into_response();
            harden(&mut resp, "default-src 'none'");
            resp
        }
        Err(e) => refused(&state, &s, &id, e).await,
    }
}

//! The queue: held messages awaiting review, filtered and sorted.

use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;

use super::Shared;
use super::extract::SignedIn;
use super::render::{Chrome, age, error_page, render, when};
use crate::message::visible::visible;
use crate::review;

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
    chrome: Chrome,
    total: usize,
    flash: String,
    rules: Vec<(String, bool)>,
    sort: String,
    rows: Vec<Row>,
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
    let mut held = match state.review.store.list(crate::store::HeldState::Held).await {
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
            from: visible(&h.mail_from),
            from_role: review::role_of(&snapshot, &h.mail_from),
            to: h
                .recipients
                .iter()
                .map(|r| (r.clone(), review::role_of(&snapshot, r)))
                .collect(),
            subject: visible(&h.subject),
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
            chrome: Chrome::new(snapshot.directory.council_name.clone(), Some(&s)),
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

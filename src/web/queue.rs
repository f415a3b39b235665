//! The queue: held messages awaiting review, with the rule that held each
//! and a snippet of its evidence, filtered and sorted; and decisions on many
//! at once (release, return or delete the selected, after a confirmation
//! naming the count; each decision audited on its own).

use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use chrono::Utc;
use serde::Deserialize;

use super::extract::{CsrfToken, SignedForm, SignedIn};
use super::render::{Chrome, age, error_page, render, when};
use super::{Shared, harden};
use crate::message::visible::visible;
use crate::review;
use crate::store::{Action, HeldState, ReviewDecision, StoreError};

/// A message expiring within this many seconds is marked.
const EXPIRING_SOON: i64 = 86_400;
/// The most messages one bulk decision takes.
const BULK_MAX: usize = 500;

struct Row {
    id: String,
    age: String,
    expires: String,
    expiring: bool,
    from: String,
    from_role: String,
    to: String,
    subject: String,
    /// The title of the rule that held it.
    holding: String,
    /// The start of that rule's first evidence.
    snippet: String,
}

#[derive(Template)]
#[template(path = "queue.html")]
struct QueuePage {
    chrome: Chrome,
    total: usize,
    flash: String,
    /// A message just deleted, whose page offers the undo.
    undo: String,
    rules: Vec<(String, bool)>,
    rule: String,
    sort: String,
    expiring: bool,
    filtered: bool,
    rows: Vec<Row>,
}

#[derive(Deserialize, Default)]
pub struct QueueQuery {
    #[serde(default)]
    rule: String,
    #[serde(default)]
    sort: String,
    #[serde(default)]
    expiring: String,
    #[serde(default)]
    done: String,
    #[serde(default)]
    state: String,
    /// After a bulk decision: how many were decided, and how many not.
    #[serde(default)]
    count: Option<usize>,
    #[serde(default)]
    skipped: Option<usize>,
}

/// A snippet of at most `n` characters.
fn snippet(s: &str, n: usize) -> String {
    let s = visible(s.trim());
    if s.chars().count() <= n {
        s
    } else {
        let cut: String = s.chars().take(n).collect();
        format!("{}…", cut.trim_end())
    }
}

pub async fn queue(
    State(state): State<Shared>,
    SignedIn { session: s, .. }: SignedIn,
    Query(q): Query<QueueQuery>,
) -> Response {
    let snapshot = state.review.policy.load();
    let mut held = match state.review.store.list(HeldState::Held).await {
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
    let now = Utc::now().timestamp();
    let mut all_rules: Vec<String> = held.iter().flat_map(|h| h.rules.clone()).collect();
    all_rules.sort();
    all_rules.dedup();
    // Only a rule some message was held by is kept as a filter (the value
    // goes back into links).
    let rule = if all_rules.contains(&q.rule) {
        q.rule.clone()
    } else {
        String::new()
    };
    if !rule.is_empty() {
        held.retain(|h| h.rules.contains(&rule));
    }
    let expiring = q.expiring == "yes";
    if expiring {
        held.retain(|h| h.expires - now < EXPIRING_SOON);
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
        .map(|h| {
            let hit = review::holding_rule(&h.verdict);
            let holding = hit
                .and_then(|r| snapshot.rules.iter().find(|x| x.def.id == r.id))
                .map(|x| x.def.title.clone())
                .or_else(|| hit.map(|r| r.id.clone()))
                .unwrap_or_else(|| h.rules.join(", "));
            let first = hit
                .and_then(|r| review::headline_evidence(&r.evidence))
                .map_or("", |e| match e.rfind(" (") {
                    Some(i) if e.ends_with(')') => &e[..i],
                    _ => e,
                });
            Row {
                id: h.id.clone(),
                age: age(h.created),
                expires: when(h.expires),
                expiring: h.expires - now < EXPIRING_SOON,
                from: visible(&h.mail_from),
                from_role: review::role_of(&snapshot, &h.mail_from),
                to: h
                    .recipients
                    .iter()
                    .map(|r| review::role_of(&snapshot, r))
                    .collect::<Vec<_>>()
                    .join("; "),
                subject: visible(&h.subject),
                holding,
                snippet: snippet(first, 120),
            }
        })
        .collect();
    let mut undo = String::new();
    let flash = match (q.count, q.done.is_empty()) {
        (Some(n), _) => {
            let mut f = format!(
                "{n} {} {}.",
                if n == 1 {
                    "message is now"
                } else {
                    "messages are now"
                },
                visible(&q.state)
            );
            if let Some(k) = q.skipped.filter(|k| *k > 0) {
                f.push_str(&format!(
                    " {k} could not be: decided by someone else first, or not yours to decide."
                ));
            }
            f
        }
        (None, false) => {
            if q.state == "deleted"
                && q.done
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
            {
                undo = q.done.clone();
            }
            format!("Message {} is now {}.", visible(&q.done), visible(&q.state))
        }
        (None, true) => String::new(),
    };
    render(
        &QueuePage {
            chrome: Chrome::new(snapshot.directory.council_name.clone(), Some(&s)),
            total,
            flash,
            undo,
            rules: all_rules
                .into_iter()
                .map(|r| {
                    let chosen = r == rule;
                    (r, chosen)
                })
                .collect(),
            filtered: !rule.is_empty() || expiring,
            rule,
            sort: sort.to_string(),
            expiring,
            rows,
        },
        StatusCode::OK,
    )
}

/// The bulk form: the selected messages (`id`, repeated), the action, a
/// note, the confirmation, and the queue's filters to return to.
#[derive(Deserialize, Default)]
#[serde(from = "Vec<(String, String)>")]
pub struct BulkForm {
    csrf: String,
    action: String,
    note: String,
    confirm: String,
    rule: String,
    sort: String,
    expiring: String,
    ids: Vec<String>,
}

impl From<Vec<(String, String)>> for BulkForm {
    fn from(fields: Vec<(String, String)>) -> Self {
        let mut f = BulkForm::default();
        for (k, v) in fields {
            match k.as_str() {
                "csrf" => f.csrf = v,
                "action" => f.action = v,
                "note" => f.note = v,
                "confirm" => f.confirm = v,
                "rule" => f.rule = v,
                "sort" => f.sort = v,
                "expiring" => f.expiring = v,
                "id" if f.ids.len() < BULK_MAX && !f.ids.contains(&v) => f.ids.push(v),
                _ => {}
            }
        }
        f
    }
}

impl CsrfToken for BulkForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

#[derive(Template)]
#[template(path = "confirm_bulk.html")]
struct ConfirmBulk {
    chrome: Chrome,
    action: String,
    verb: String,
    verb_lower: String,
    effect: String,
    count: usize,
    /// (id, sender, subject).
    messages: Vec<(String, String, String)>,
    note: String,
    rule: String,
    sort: String,
    expiring: String,
}

/// Only values the queue itself writes go back into its links.
fn filter_value(v: &str) -> String {
    if v.len() <= 100
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        v.to_string()
    } else {
        String::new()
    }
}

pub async fn decide_many(
    State(state): State<Shared>,
    SignedForm {
        user: SignedIn { session: s, .. },
        form,
    }: SignedForm<BulkForm>,
) -> Response {
    let (verb, effect) = match Action::parse(&form.action) {
        Some(Action::Release) => (
            "Release",
            "Each message is delivered to all its recipients, and each release is recorded in the audit log.",
        ),
        Some(Action::Return) => (
            "Return",
            "Each message goes back to its sender, not delivered, with your note.",
        ),
        Some(Action::Delete) => (
            "Delete",
            "Each message is not delivered and its sender is not told. A deletion can be undone from the message's page until the records policy removes its text.",
        ),
        _ => {
            return error_page(
                &state,
                Some(&s),
                StatusCode::BAD_REQUEST,
                "Not understood",
                "Choose release, return or delete for the selected messages.",
            );
        }
    };
    let action = Action::parse(&form.action).unwrap_or(Action::Release);
    let (rule, sort, expiring) = (
        filter_value(&form.rule),
        filter_value(&form.sort),
        filter_value(&form.expiring),
    );
    if form.ids.is_empty() {
        return error_page(
            &state,
            Some(&s),
            StatusCode::UNPROCESSABLE_ENTITY,
            "Nothing selected",
            "Tick the messages first, then choose what to do with them.",
        );
    }
    let note: String = form.note.chars().take(4000).collect();
    if action == Action::Return && note.trim().is_empty() {
        return error_page(
            &state,
            Some(&s),
            StatusCode::UNPROCESSABLE_ENTITY,
            "Write a note first",
            "Returning messages tells each sender why: go back, write a note for them, and choose Return again.",
        );
    }
    if form.confirm != "yes" {
        let mut messages = Vec::new();
        for id in &form.ids {
            if let Ok(h) = state.review.store.get(id).await {
                messages.push((h.id.clone(), visible(&h.mail_from), visible(&h.subject)));
            }
        }
        let snapshot = state.review.policy.load();
        return render(
            &ConfirmBulk {
                chrome: Chrome::new(snapshot.directory.council_name.clone(), Some(&s)),
                action: form.action.clone(),
                verb: verb.to_string(),
                verb_lower: verb.to_lowercase(),
                effect: effect.to_string(),
                count: messages.len(),
                messages,
                note,
                rule,
                sort,
                expiring,
            },
            StatusCode::OK,
        );
    }
    let snapshot = state.review.policy.load();
    let (mut done, mut skipped) = (0usize, 0usize);
    for id in &form.ids {
        // Each message's reason is the rule that held it, as on its page;
        // one the reviewer may not decide is left.
        let reason = match state.review.store.get(id).await {
            Ok(h) if super::decide::decidable(&state, &h, &s).is_ok() => {
                review::holding_rule(&h.verdict)
                    .and_then(|r| review::rule_reason(&snapshot, &r.id))
                    .unwrap_or_default()
            }
            _ => {
                skipped += 1;
                continue;
            }
        };
        match state
            .review
            .decide(id, &ReviewDecision::new(action, &s.user, &reason, &note))
            .await
        {
            Ok(_) => done += 1,
            Err(StoreError::AlreadyDecided { .. } | StoreError::Refused(_)) => skipped += 1,
            Err(e) => {
                tracing::warn!(id = %id, error = %e, "bulk decision failed");
                skipped += 1;
            }
        }
    }
    let mut resp = Redirect::to(&format!(
        "/?rule={rule}&sort={sort}&expiring={expiring}&count={done}&skipped={skipped}&state={}",
        action.state()
    ))
    .into_response();
    harden(&mut resp, "default-src 'none'");
    resp
}

//! The admin's "Proposed examples" page: sentences reviewers' decisions
//! taught (see [`crate::review::teaching`]), each with the message it came
//! from; what accepting one would change on the fixtures and the archived
//! held mail; and accept (written to `examples.toml`, live on reload, in the
//! configuration history) or reject, audited with the admin.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::extract::{Admin, CsrfToken, SignedForm, SignedIn};
use super::render::{Chrome, error_page, render, unavailable, when};
use super::{Shared, harden};
use crate::policy::semantic::{Label, examples};
use crate::store::proposals::{Proposal, ProposalState};

struct Row {
    id: String,
    when: String,
    detector: String,
    label: &'static str,
    sentence: String,
    held_id: String,
    subject: String,
    rule: String,
    by: String,
}

fn label_word(l: Label) -> &'static str {
    match l {
        Label::Positive => "a breach",
        Label::Negative => "not a breach",
    }
}

fn row(p: &Proposal) -> Row {
    Row {
        id: p.id.clone(),
        when: when(p.at),
        detector: p.detector.clone(),
        label: label_word(p.label),
        sentence: p.sentence.clone(),
        held_id: p.held_id.clone(),
        subject: crate::message::visible::visible(&p.subject),
        rule: p.rule.clone(),
        by: p.proposed_by.clone(),
    }
}

#[derive(Template)]
#[template(path = "admin_examples.html")]
struct ExamplesPage {
    chrome: Chrome,
    flash: String,
    rows: Vec<Row>,
}

#[derive(Deserialize, Default)]
pub struct ExamplesQuery {
    #[serde(default)]
    done: String,
}

pub async fn list(
    State(state): State<Shared>,
    SignedIn { session: s, .. }: SignedIn<Admin>,
    Query(q): Query<ExamplesQuery>,
) -> Response {
    let Ok(waiting) = state.review.store.proposals(ProposalState::Proposed).await else {
        return unavailable(&state, &s);
    };
    let flash = match q.done.as_str() {
        "accepted" => "Accepted: the example is in examples.toml and live.",
        "rejected" => "Rejected: the example was not added.",
        "already" => "Someone else decided that proposal first.",
        _ => "",
    };
    render(
        &ExamplesPage {
            chrome: Chrome::new(super::render::council(&state), Some(&s)),
            flash: flash.to_string(),
            rows: waiting.iter().map(row).collect(),
        },
        StatusCode::OK,
    )
}

struct Flip {
    name: String,
    before: String,
    after: String,
}

#[derive(Template)]
#[template(path = "admin_example_whatif.html")]
struct WhatIfPage {
    chrome: Chrome,
    row: Row,
    compared: usize,
    /// The oldest archived mail not judged in the time a page has.
    not_judged: usize,
    flips: Vec<Flip>,
    error: String,
}

/// The examples file of the config folder with `p` added.
fn candidate_examples(live: &str, p: &Proposal) -> String {
    examples::with_added(
        live,
        &p.detector,
        p.label,
        std::slice::from_ref(&p.sentence),
    )
}

/// What accepting `id` would change: the fixtures and the archived held
/// mail judged by the live policy and by the policy with the example.
pub async fn what_if(
    State(state): State<Shared>,
    SignedIn { session: s, .. }: SignedIn<Admin>,
    Path(id): Path<String>,
) -> Response {
    let store = &state.review.store;
    let Ok(p) = store.proposal(&id).await else {
        return no_such_proposal(&state, &s);
    };
    let (Ok(held), Ok(archived)) = (
        store.archive(2_000).await,
        store.analysis_archive(5_000).await,
    ) else {
        return unavailable(&state, &s);
    };
    let real = crate::tuning::samples(held, archived);
    let live = state.review.policy.load();
    let options = state.reloader.options().clone();
    let fixtures = state.reloader.config_dir().join("fixtures");
    let proposal = p.clone();
    let computed = tokio::task::spawn_blocking(move || {
        let t = &live.texts;
        let examples_text = candidate_examples(&t.examples, &proposal);
        let candidate = crate::policy::Snapshot::compile_with(
            (&t.directory, "directory.toml"),
            (&t.wordlists, "wordlists.toml"),
            (&t.rules, "rules.toml"),
            (&examples_text, "examples.toml (with the proposed example)"),
            (&t.protocol, "protocol.toml"),
            &options,
        )
        .map_err(|e| e.to_string())?;
        // A page must answer: the newest mail first, for 20 seconds.
        let until = std::time::Instant::now() + std::time::Duration::from_secs(20);
        crate::tuning::what_if(&live, &candidate, &fixtures, &real, Some(until))
            .map_err(|e| e.to_string())
    })
    .await;
    let result = match computed {
        Ok(Ok(w)) => Ok(w),
        Ok(Err(e)) => Err(e),
        Err(e) => Err(e.to_string()),
    };
    let (compared, not_judged, flips, error) = match result {
        Ok(w) => (
            w.compared,
            w.not_judged,
            w.changes
                .into_iter()
                .map(|c| Flip {
                    name: crate::message::visible::visible(&c.name),
                    before: c.before,
                    after: c.after,
                })
                .collect(),
            String::new(),
        ),
        Err(e) => (0, 0, Vec::new(), e),
    };
    render(
        &WhatIfPage {
            chrome: Chrome::new(super::render::council(&state), Some(&s)),
            row: row(&p),
            compared,
            not_judged,
            flips,
            error,
        },
        StatusCode::OK,
    )
}

#[derive(Deserialize)]
pub struct DecideForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    action: String,
}

impl CsrfToken for DecideForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

/// Accepts (writes the example, reloads) or rejects a proposal.
pub async fn decide(
    State(state): State<Shared>,
    Path(id): Path<String>,
    SignedForm {
        user: SignedIn { session: s, .. },
        form,
    }: SignedForm<DecideForm, Admin>,
) -> Response {
    let store = &state.review.store;
    let Ok(p) = store.proposal(&id).await else {
        return no_such_proposal(&state, &s);
    };
    let now = chrono::Utc::now().timestamp();
    match form.action.as_str() {
        "reject" => {
            if store
                .decide_proposal(&id, ProposalState::Rejected, &s.user, now)
                .await
                .is_err()
            {
                return unavailable(&state, &s);
            }
            done("rejected")
        }
        "accept" => {
            let _one_at_a_time = state.reloader.lock.lock().await;
            // Another admin may have decided it while this one waited.
            if !matches!(store.proposal(&id).await, Ok(q) if q.state == ProposalState::Proposed) {
                return done("already");
            }
            let path = state.reloader.config_dir().join(examples::EXAMPLES_FILE);
            let live = state.review.policy.load().texts.examples.clone();
            let updated = candidate_examples(&live, &p);
            if let Err(e) = crate::policy::semantic::Examples::parse(&updated, "examples.toml") {
                return error_page(
                    &state,
                    Some(&s),
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "Cannot add this example",
                    &format!("The examples file would not be valid with it: {e}"),
                );
            }
            let written = tokio::task::spawn_blocking(move || {
                crate::policy::write_atomic(&path, updated.as_bytes())
            })
            .await;
            if !matches!(written, Ok(Ok(()))) {
                return error_page(
                    &state,
                    Some(&s),
                    StatusCode::SERVICE_UNAVAILABLE,
                    "Cannot accept",
                    "The configuration folder cannot be written.",
                );
            }
            if let Err(e) = state
                .reloader
                .reload_locked(&format!("example accepted by {}", s.user))
                .await
            {
                return error_page(
                    &state,
                    Some(&s),
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "Not live",
                    &format!("The example was written but the configuration did not compile: {e}"),
                );
            }
            if store
                .decide_proposal(&id, ProposalState::Accepted, &s.user, now)
                .await
                .is_err()
            {
                return unavailable(&state, &s);
            }
            done("accepted")
        }
        _ => error_page(
            &state,
            Some(&s),
            StatusCode::BAD_REQUEST,
            "Not understood",
            "Choose accept or reject.",
        ),
    }
}

fn no_such_proposal(state: &Shared, s: &crate::store::Session) -> Response {
    error_page(
        state,
        Some(s),
        StatusCode::NOT_FOUND,
        "Not found",
        "There is no such proposed example.",
    )
}

fn done(what: &str) -> Response {
    let mut resp = Redirect::to(&format!("/admin/examples?done={what}")).into_response();
    harden(&mut resp, "default-src 'none'");
    resp
}

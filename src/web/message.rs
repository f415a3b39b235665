//! One held message: why it was held (rules, evidence, the protocol's words), its text, the sanitised HTML preview, attachments, history, and the decision.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use mail_parser::{MessageParser, MimeHeaders, PartType};
use serde::Deserialize;

use super::extract::{SignedForm, SignedIn};
use super::render::{Chrome, error_page, highlight, render, safe_filename, size, when};
use super::{Shared, harden};
use crate::message::visible::{extension, visible};
use crate::review;
use crate::store::{Action, Held, ReviewDecision, Session, StoreError};

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
    chrome: Chrome,
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
    /// (index, name made visible, real extension, content type, size).
    attachments: Vec<(usize, String, String, String, String)>,
    headers: String,
    may_act: bool,
    reasons: Vec<String>,
    history: Vec<(String, String, String, String)>,
}

pub(super) async fn load(state: &Shared, s: &Session, id: &str) -> Result<Held, Response> {
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

/// The reason a reviewer gives when the rule was wrong about a message.
pub const NOT_A_BREACH: &str = "In order — not a breach";

pub(super) fn message_page(
    state: &Shared,
    s: &Session,
    held: &Held,
    history: Vec<(String, String, String, String)>,
    error: &str,
    status: StatusCode,
) -> Response {
    let snapshot = state.review.policy.load();
    let mut evidence_all = Vec::new();
    let mut rules = Vec::new();
    for r in &held.verdict.rules {
        let id = r.id.clone();
        let evidence = r.evidence.clone();
        evidence_all.extend(evidence.iter().cloned());
        let def = snapshot
            .rules
            .iter()
            .find(|x| x.def.id == id)
            .map(|x| &x.def);
        let title = def.map(|d| d.title.clone()).unwrap_or_default();
        rules.push(RuleView {
            id,
            title,
            action: r.action.clone(),
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
    // The rule that held it is the first reason, so the default never
    // tells the sender a copy rule's reason; "not a breach" is its own.
    let mut reasons: Vec<String> = rules
        .iter()
        .filter(|r| !r.title.is_empty())
        .map(|r| format!("{}: {}", r.id, r.title))
        .collect();
    reasons.push(NOT_A_BREACH.into());
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
                    let name = p.attachment_name().unwrap_or("(unnamed)");
                    (
                        i,
                        visible(name),
                        extension(name),
                        visible(&ct),
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
            chrome: Chrome::new(snapshot.directory.council_name.clone(), Some(s)),
            id: held.id.clone(),
            subject: visible(&held.subject),
            error: error.to_string(),
            state: held.state.to_string(),
            from: visible(&held.mail_from),
            from_role: review::role_of(&snapshot, &held.mail_from),
            to: held
                .recipients
                .iter()
                .map(|r| (visible(r), review::role_of(&snapshot, r)))
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

pub(super) async fn history(state: &Shared, id: &str) -> Vec<(String, String, String, String)> {
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
) -> Result<Response, Response> {
    let held = load(&state, &s, &id).await?;
    let h = history(&state, &id).await;
    Ok(message_page(&state, &s, &held, h, "", StatusCode::OK))
}

/// The sanitised HTML part, for the sandboxed iframe.
pub async fn preview(
    State(state): State<Shared>,
    SignedIn { session: s, .. }: SignedIn,
    Path(id): Path<String>,
) -> Result<Response, Response> {
    let held = load(&state, &s, &id).await?;
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
    Ok(resp)
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
) -> Result<Response, Response> {
    let held = load(&state, &s, &id).await?;
    let part = MessageParser::default().parse(&held.message).and_then(|m| {
        m.attachments().nth(n).map(|p| {
            (
                p.attachment_name().unwrap_or("attachment").to_string(),
                p.contents().to_vec(),
            )
        })
    });
    let Some((name, bytes)) = part else {
        return Err(error_page(
            &state,
            Some(&s),
            StatusCode::NOT_FOUND,
            "Not found",
            "There is no such attachment.",
        ));
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
    Ok(resp)
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
    /// "yes" once the reviewer has confirmed a deletion.
    #[serde(default)]
    confirm: String,
}

/// Asks before a message is deleted.
#[derive(askama::Template)]
#[template(path = "confirm_delete.html")]
struct ConfirmDelete {
    chrome: super::render::Chrome,
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
    if action == Action::Delete && form.confirm != "yes" {
        let held = match load(&state, &s, &id).await {
            Ok(h) => h,
            Err(r) => return r,
        };
        // Already decided, or not theirs to decide: the decision below
        // says so.
        if held.state == crate::store::HeldState::Held
            && review::may_act(&state.review.policy.load(), &held, &s.user)
        {
            let council = state.review.policy.load().directory.council_name.clone();
            return super::render::render(
                &ConfirmDelete {
                    chrome: super::render::Chrome::new(council, Some(&s)),
                    id: held.id.clone(),
                    from: crate::message::visible::visible(&held.mail_from),
                    subject: crate::message::visible::visible(&held.subject),
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
        let held = match load(&state, &s, &id).await {
            Ok(h) => h,
            Err(r) => return r,
        };
        let h = history(&state, &id).await;
        return message_page(
            &state,
            &s,
            &held,
            h,
            "Returning the message tells the sender why: write a note for them first.",
            StatusCode::UNPROCESSABLE_ENTITY,
        );
    }
    match state
        .review
        .decide(&id, &ReviewDecision::new(action, &s.user, &reason, &note))
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

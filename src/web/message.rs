//! One held message: why it was held (rules, evidence, the protocol's words), its text and thread, the sender's pattern, the sanitised HTML preview, attachments and history. The decisions on it are in [`super::decide`].

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use mail_parser::{MessageParser, MimeHeaders, PartType};
use serde::Deserialize;

use super::extract::SignedIn;
use super::render::{Chrome, error_page, highlight, render, safe_filename, size, when};
use super::{Shared, harden};
use crate::message::visible::{extension, visible};
use crate::review;
use crate::store::{Held, Session, StoreError, UserRole};

struct RuleView {
    id: String,
    title: String,
    action: String,
    source: String,
    reference: String,
    evidence: Vec<String>,
}

/// The rule that held (or refused) the message, as the top of the page
/// shows it: its title, one line of the protocol's words, and the sentence.
struct Holding {
    title: String,
    action: String,
    /// The first sentence of the protocol's words.
    why: String,
    source: String,
    /// The evidence sentence, escaped, marked.
    sentence_html: String,
    /// Why the sentence counts (the evidence's bracketed part).
    detail: String,
}

#[derive(Template)]
#[template(path = "message.html")]
struct MessagePage {
    chrome: Chrome,
    id: String,
    subject: String,
    error: String,
    flash: String,
    /// "Mark Patel, councillor", and the same for the recipients.
    from_name: String,
    to_names: String,
    age: String,
    holding: Option<Holding>,
    /// Two or more other held messages from the sender in 30 days.
    pattern: bool,
    /// (id, when, subject, state, rules).
    earlier: Vec<(String, String, String, String, String)>,
    /// A deleted message whose text is still kept.
    restorable: bool,
    quoted: String,
    quoted_lines: usize,
    previous: String,
    next: String,
    withheld: String,
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
    /// Why the reader may not decide it; empty when they may.
    refusal: String,
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
pub use crate::review::teaching::NOT_A_BREACH;

/// What the page shows besides the message: its history, the sender's
/// other held messages, and a line at the top.
#[derive(Default)]
pub(super) struct Around {
    pub history: Vec<(String, String, String, String)>,
    pub earlier: Vec<crate::store::Earlier>,
    pub error: String,
    pub flash: String,
    /// The waiting messages before and after this one in the queue.
    pub previous: String,
    pub next: String,
}

impl Around {
    pub(super) async fn of(state: &Shared, held: &Held) -> Around {
        let since = held.created - 30 * 86_400;
        let ids = state.review.store.waiting_ids().await.unwrap_or_default();
        let at = ids.iter().position(|i| *i == held.id);
        let (previous, next) = match at {
            Some(i) => (
                i.checked_sub(1).and_then(|j| ids.get(j)).cloned(),
                ids.get(i + 1).cloned(),
            ),
            // Decided: the oldest waiting one is next.
            None => (None, ids.first().cloned()),
        };
        Around {
            previous: previous.unwrap_or_default(),
            next: next.unwrap_or_default(),
            history: history(state, &held.id).await,
            earlier: state
                .review
                .store
                .earlier_from(&held.mail_from, since, &held.id, 20)
                .await
                .unwrap_or_default(),
            ..Around::default()
        }
    }

    pub(super) fn error(mut self, e: &str) -> Around {
        self.error = e.to_string();
        self
    }
}

/// The first sentence of a protocol's words, for the one line of why.
fn first_sentence(text: &str) -> String {
    let t = text.trim();
    let end = t
        .char_indices()
        .find(|&(i, c)| {
            matches!(c, '.' | ';' | '!' | '?')
                && t[i + 1..].chars().next().is_none_or(char::is_whitespace)
        })
        .map(|(i, _)| i + 1)
        .unwrap_or(t.len());
    let one = &t[..end];
    if one.chars().count() > 240 {
        let cut: String = one.chars().take(240).collect();
        format!("{}…", cut.trim_end())
    } else {
        one.to_string()
    }
}

use crate::review::teaching::evidence_parts;

pub(super) fn message_page(
    state: &Shared,
    s: &Session,
    held: &Held,
    around: Around,
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
    rules.sort_by_key(|r| review::action_weight(&r.action));
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
    let analysis = crate::message::Text::of(&held.message, &is_disclaimer);
    let text = if analysis.split.new_text.is_empty() {
        analysis.body.clone()
    } else {
        analysis.split.new_text.clone()
    };
    // The rule that held it, its sentence marked as the text shows it.
    let holding = rules.first().map(|r| {
        let shown = r
            .evidence
            .iter()
            .map(|e| evidence_parts(e))
            .find(|(sentence, _)| sentence.len() >= 8 && text.contains(sentence));
        let headline = review::headline_evidence(&r.evidence);
        let (sentence_html, detail) = match (shown, headline) {
            (Some((sentence, why)), _) => (
                format!("<mark>{}</mark>", super::render::escape(sentence)),
                why.to_string(),
            ),
            (None, Some(e)) => (super::render::escape(e), String::new()),
            (None, None) => (String::new(), String::new()),
        };
        Holding {
            title: if r.title.is_empty() {
                r.id.clone()
            } else {
                r.title.clone()
            },
            action: r.action.clone(),
            why: first_sentence(&r.reference),
            source: r.source.clone(),
            sentence_html,
            detail,
        }
    });
    let quoted = analysis.split.quoted.trim().to_string();
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
            error: around.error,
            flash: around.flash,
            from_name: review::role_of(&snapshot, &held.mail_from),
            to_names: held
                .recipients
                .iter()
                .map(|r| review::role_of(&snapshot, r))
                .collect::<Vec<_>>()
                .join("; "),
            age: super::render::age(held.created),
            holding,
            pattern: around.earlier.len() >= 2,
            earlier: around
                .earlier
                .iter()
                .map(|e| {
                    (
                        e.id.clone(),
                        when(e.created),
                        visible(&e.subject),
                        e.state.to_string(),
                        e.rules.join(", "),
                    )
                })
                .collect(),
            restorable: held.state == crate::store::HeldState::Deleted && !held.message.is_empty(),
            quoted_lines: quoted.lines().count(),
            previous: around.previous,
            next: around.next,
            quoted: visible(&quoted),
            withheld: held.withheld.join(", "),
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
            refusal: review::may_decide(&snapshot, held, &s.user, s.role == UserRole::Admin)
                .err()
                .unwrap_or_default(),
            reasons,
            history: around.history,
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

#[derive(Deserialize, Default)]
pub struct MessageQuery {
    #[serde(default)]
    done: String,
}

pub async fn message(
    State(state): State<Shared>,
    SignedIn { session: s, .. }: SignedIn,
    Path(id): Path<String>,
    Query(q): Query<MessageQuery>,
) -> Result<Response, Response> {
    let held = load(&state, &s, &id).await?;
    let mut around = Around::of(&state, &held).await;
    around.flash = match q.done.as_str() {
        "restored" => "The deletion was undone: the message waits for review again.".into(),
        _ => String::new(),
    };
    Ok(message_page(&state, &s, &held, around, StatusCode::OK))
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

//! The admin pages (role `admin`): rules with their statistics, the
//! adopted protocol rule by rule, the directory as loaded, try-a-message, the audit log, and the configuration
//! history with diffs and revert.

use askama::Template;
use axum::extract::{Multipart, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use chrono::{NaiveDate, TimeZone, Utc};
use serde::Deserialize;

use super::extract::{Admin, CsrfOnly, SignedForm, SignedIn};
use super::render::{Chrome, error_page, render, unavailable, when};
use super::{Shared, harden};
use crate::store::Session;

struct RuleRow {
    id: String,
    title: String,
    enabled: bool,
    mode: String,
    action: String,
    reference: String,
    source: String,
    fired7: u64,
    fired30: u64,
    held7: u64,
    held30: u64,
    released: u64,
    returned: u64,
    deleted: u64,
    override_rate: String,
}

#[derive(Template)]
#[template(path = "admin_rules.html")]
struct RulesPage {
    chrome: Chrome,
    version: String,
    error: String,
    rules: Vec<RuleRow>,
}

fn last_error(state: &Shared) -> String {
    state
        .reloader
        .status()
        .last_error
        .map(|(at, trigger, why)| format!("{} ({trigger}): {why}", when(at)))
        .unwrap_or_default()
}

pub async fn rules(
    State(state): State<Shared>,
    SignedIn { session: s, .. }: SignedIn<Admin>,
) -> Response {
    let snapshot = state.review.policy.load();
    let now = Utc::now().timestamp();
    let (week, month) = match (
        state.review.store.rule_stats(now - 7 * 86_400).await,
        state.review.store.rule_stats(now - 30 * 86_400).await,
    ) {
        (Ok(w), Ok(m)) => (w, m),
        _ => {
            return unavailable(&state, &s);
        }
    };
    let rules = snapshot
        .rules
        .iter()
        .map(|r| {
            let w = week.get(&r.def.id).cloned().unwrap_or_default();
            let m = month.get(&r.def.id).cloned().unwrap_or_default();
            RuleRow {
                id: r.def.id.clone(),
                title: r.def.title.clone(),
                enabled: r.def.enabled,
                mode: format!("{:?}", r.def.mode).to_lowercase(),
                action: r.def.action.as_str().to_string(),
                reference: r.def.reference.trim().to_string(),
                source: r.def.source.clone(),
                fired7: w.fired + w.monitored,
                fired30: m.fired + m.monitored,
                held7: w.held,
                held30: m.held,
                released: m.released,
                returned: m.returned,
                deleted: m.deleted,
                override_rate: m
                    .override_rate()
                    .map(|x| format!("{:.0}%", x * 100.0))
                    .unwrap_or_else(|| "–".into()),
            }
        })
        .collect();
    render(
        &RulesPage {
            chrome: Chrome::new(snapshot.directory.council_name.clone(), Some(&s)),
            version: snapshot.version.clone(),
            error: last_error(&state),
            rules,
        },
        StatusCode::OK,
    )
}

#[derive(Template)]
#[template(path = "admin_protocol.html")]
struct ProtocolPage {
    chrome: Chrome,
    name: String,
    adopted: String,
    review: String,
    pack: String,
    warnings: Vec<String>,
    rows: Vec<crate::policy::protocol::Coverage>,
}

/// The adopted protocol: rule by rule, the clause it enforces (the table
/// of `councilgate protocol coverage`).
pub async fn protocol(
    State(state): State<Shared>,
    SignedIn { session: s, .. }: SignedIn<Admin>,
) -> Response {
    let snapshot = state.review.policy.load();
    let p = &snapshot.protocol;
    let council = &snapshot.directory.council_name;
    render(
        &ProtocolPage {
            chrome: Chrome::new(council.clone(), Some(&s)),
            name: p.name(council),
            adopted: p.adopted.clone(),
            review: p.review.clone(),
            pack: p.pack.clone(),
            warnings: crate::policy::protocol::foreign_councils(council, p, &snapshot.rules),
            rows: p.coverage(&snapshot.rules),
        },
        StatusCode::OK,
    )
}

#[derive(Template)]
#[template(path = "admin_directory.html")]
struct DirectoryPage {
    chrome: Chrome,
    domains: String,
    media: String,
    people: Vec<(String, String, String, String, String)>,
    exemptions: Vec<String>,
    periods: Vec<String>,
}

pub async fn directory(
    State(state): State<Shared>,
    SignedIn { session: s, .. }: SignedIn<Admin>,
) -> Response {
    let snapshot = state.review.policy.load();
    let d = &snapshot.directory;
    render(
        &DirectoryPage {
            chrome: Chrome::new(d.council_name.clone(), Some(&s)),
            domains: d.domains.join(", "),
            media: d.media_domains.join(", "),
            people: d
                .people
                .iter()
                .map(|p| {
                    (
                        p.name.clone(),
                        p.role.as_str().to_string(),
                        p.positions
                            .iter()
                            .map(|x| x.as_str())
                            .collect::<Vec<_>>()
                            .join(", "),
                        p.addresses.join(", "),
                        p.manager.clone().unwrap_or_default(),
                    )
                })
                .collect(),
            exemptions: d
                .exemptions
                .iter()
                .map(|e| {
                    format!(
                        "{} may write directly to {} about \"{}\" until {}",
                        d.person(e.councillor).name,
                        d.person(e.officer).name,
                        e.matter,
                        e.until
                    )
                })
                .collect(),
            periods: d
                .periods
                .iter()
                .map(|p| format!("{} ({}): {} to {}", p.name, p.kind, p.start, p.end))
                .collect(),
        },
        StatusCode::OK,
    )
}

#[derive(Template)]
#[template(path = "admin_try.html")]
struct TryPage {
    chrome: Chrome,
    error: String,
    mail_from: String,
    rcpt: String,
    at: String,
    source: String,
    result: String,
    preview: String,
}

fn try_page(state: &Shared, s: &Session, form: TryPage, status: StatusCode) -> Response {
    render(
        &TryPage {
            chrome: Chrome::new(
                state.review.policy.load().directory.council_name.clone(),
                Some(s),
            ),
            ..form
        },
        status,
    )
}

fn empty_try() -> TryPage {
    TryPage {
        chrome: Chrome::default(),
        error: String::new(),
        mail_from: String::new(),
        rcpt: String::new(),
        at: String::new(),
        source: String::new(),
        result: String::new(),
        preview: String::new(),
    }
}

pub async fn try_form(
    State(state): State<Shared>,
    SignedIn { session: s, .. }: SignedIn<Admin>,
) -> Response {
    try_page(&state, &s, empty_try(), StatusCode::OK)
}

pub async fn try_message(
    State(state): State<Shared>,
    user: SignedIn<Admin>,
    mut multipart: Multipart,
) -> Response {
    let mut form = empty_try();
    let (mut csrf, mut file) = (String::new(), Vec::new());
    while let Ok(Some(field)) = multipart.next_field().await {
        let name = field.name().unwrap_or("").to_string();
        let Ok(bytes) = field.bytes().await else {
            break;
        };
        let text = || String::from_utf8_lossy(&bytes).trim().to_string();
        match name.as_str() {
            "csrf" => csrf = text(),
            "mail_from" => form.mail_from = text(),
            "rcpt" => form.rcpt = text(),
            "at" => form.at = text(),
            "source" => form.source = String::from_utf8_lossy(&bytes).to_string(),
            "file" => file = bytes.to_vec(),
            _ => {}
        }
    }
    if let Some(refused) = user.csrf_refusal(&state, &csrf) {
        return refused;
    }
    let s = user.session;
    let raw = if file.is_empty() {
        form.source.clone().into_bytes()
    } else {
        file
    };
    let rcpts: Vec<String> = form
        .rcpt
        .split([',', ' ', ';'])
        .map(str::trim)
        .filter(|r| !r.is_empty())
        .map(String::from)
        .collect();
    if raw.is_empty() || form.mail_from.is_empty() || rcpts.is_empty() {
        form.error = "Give a sender, at least one recipient, and a message.".into();
        return try_page(&state, &s, form, StatusCode::BAD_REQUEST);
    }
    let at = if form.at.is_empty() {
        Utc::now()
    } else {
        match chrono::DateTime::parse_from_rfc3339(&form.at) {
            Ok(t) => t.with_timezone(&Utc),
            Err(_) => {
                form.error = format!(
                    "{:?} is not an RFC 3339 time such as 2027-04-01T09:00:00+01:00",
                    form.at
                );
                return try_page(&state, &s, form, StatusCode::BAD_REQUEST);
            }
        }
    };
    let raw = crate::message::crlf(&raw);
    let snapshot = state.review.policy.load();
    let envelope = crate::tuning::check::envelope(&form.mail_from, &rcpts);
    let verdict = snapshot.evaluate(&envelope, &raw, at);
    form.result = format!(
        "{}\n\nAs JSON (councilgate check --json):\n{}",
        crate::tuning::check::explain(&snapshot, &envelope, &verdict),
        crate::tuning::check::to_json(&verdict)
    );
    let rewritten = verdict.message.as_deref().unwrap_or(&raw);
    form.preview =
        String::from_utf8_lossy(&rewritten[..rewritten.len().min(64 * 1024)]).to_string();
    try_page(&state, &s, form, StatusCode::OK)
}

#[derive(Deserialize, Default)]
pub struct AuditQuery {
    #[serde(default)]
    sender: String,
    #[serde(default)]
    recipient: String,
    #[serde(default)]
    rule: String,
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
}

type EventRow = (String, String, String, String, String, String);
type EntryRow = (i64, String, String, String, String, String);

#[derive(Template)]
#[template(path = "admin_audit.html")]
struct AuditPage {
    chrome: Chrome,
    sender: String,
    recipient: String,
    rule: String,
    from: String,
    to: String,
    chain: String,
    events: Vec<EventRow>,
    entries: Vec<EntryRow>,
}

fn day_start(s: &str) -> Option<i64> {
    let d = NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d").ok()?;
    chrono_tz::Europe::London
        .from_local_datetime(&d.and_hms_opt(0, 0, 0)?)
        .earliest()
        .map(|t| t.timestamp())
}

pub async fn audit(
    State(state): State<Shared>,
    SignedIn { session: s, .. }: SignedIn<Admin>,
    Query(q): Query<AuditQuery>,
) -> Response {
    let from = day_start(&q.from).unwrap_or(0);
    let to = day_start(&q.to).map(|t| t + 86_400).unwrap_or(i64::MAX);
    let store = &state.review.store;
    let (events, entries, chain) = match (
        store.events_since(from, 2000).await,
        store.audit_between(from, to, 2000).await,
        store.verify_audit().await,
    ) {
        (Ok(e), Ok(a), Ok(c)) => (e, a, c),
        _ => {
            return unavailable(&state, &s);
        }
    };
    let has = |hay: &str, needle: &str| {
        needle.is_empty() || hay.to_lowercase().contains(&needle.trim().to_lowercase())
    };
    let events: Vec<_> = events
        .into_iter()
        .filter(|e| e.at < to)
        .filter(|e| has(&e.mail_from, &q.sender))
        .filter(|e| has(&e.recipients.join(" "), &q.recipient))
        .filter(|e| {
            q.rule.trim().is_empty()
                || e.rules
                    .iter()
                    .chain(e.monitored.iter())
                    .any(|r| r == q.rule.trim())
        })
        .collect();
    let filtered = !(q.sender.is_empty() && q.recipient.is_empty() && q.rule.is_empty());
    let ids: std::collections::HashSet<&str> = events.iter().map(|e| e.id.as_str()).collect();
    let entries: Vec<EntryRow> = entries
        .into_iter()
        .filter(|a| !filtered || ids.contains(a.message_id.as_str()))
        .map(|a| (a.seq, when(a.at), a.actor, a.action, a.message_id, a.detail))
        .collect();
    let chain = match chain.broken {
        None => format!(
            "The audit log's hash chain is intact ({} entries).",
            chain.entries
        ),
        Some((seq, why)) => format!("The audit log's hash chain is BROKEN at entry {seq}: {why}."),
    };
    render(
        &AuditPage {
            chrome: Chrome::new(
                state.review.policy.load().directory.council_name.clone(),
                Some(&s),
            ),
            sender: q.sender.clone(),
            recipient: q.recipient.clone(),
            rule: q.rule.clone(),
            from: q.from.clone(),
            to: q.to.clone(),
            chain,
            events: events
                .iter()
                .map(|e| {
                    let mut rules = e.rules.join(", ");
                    if !e.monitored.is_empty() {
                        rules.push_str(&format!(" (monitor: {})", e.monitored.join(", ")));
                    }
                    (
                        when(e.at),
                        e.decision.clone(),
                        rules,
                        e.mail_from.clone(),
                        e.recipients.join(", "),
                        crate::message::visible::visible(&e.subject),
                    )
                })
                .collect(),
            entries,
        },
        StatusCode::OK,
    )
}

#[derive(Template)]
#[template(path = "admin_config.html")]
struct ConfigPage {
    chrome: Chrome,
    flash: String,
    version: String,
    since: String,
    trigger: String,
    error: String,
    history: Vec<(i64, String, String, String, String)>,
}

#[derive(Deserialize, Default)]
pub struct FlashQuery {
    #[serde(default)]
    flash: String,
}

pub async fn config(
    State(state): State<Shared>,
    SignedIn { session: s, .. }: SignedIn<Admin>,
    Query(q): Query<FlashQuery>,
) -> Response {
    let status = state.reloader.status();
    let history = match state.review.store.config_history(50).await {
        Ok(h) => h,
        Err(_) => {
            return unavailable(&state, &s);
        }
    };
    let flash = match q.flash.as_str() {
        "" => String::new(),
        f if f.starts_with("reverted-") => {
            format!("Reverted to configuration #{}.", &f["reverted-".len()..])
        }
        _ => String::new(),
    };
    render(
        &ConfigPage {
            chrome: Chrome::new(
                state.review.policy.load().directory.council_name.clone(),
                Some(&s),
            ),
            flash,
            version: state.review.policy.load().version.clone(),
            since: when(status.at),
            trigger: status.trigger.clone(),
            error: last_error(&state),
            history: history
                .into_iter()
                .map(|h| (h.seq, h.version, when(h.at), h.trigger, h.diff))
                .collect(),
        },
        StatusCode::OK,
    )
}

pub async fn revert(
    State(state): State<Shared>,
    Path(seq): Path<i64>,
    SignedForm {
        user: SignedIn { session: s, .. },
        ..
    }: SignedForm<CsrfOnly, Admin>,
) -> Response {
    let version = match state.review.store.config_version(seq).await {
        Ok(v) => v,
        Err(_) => {
            return error_page(
                &state,
                Some(&s),
                StatusCode::NOT_FOUND,
                "Not found",
                "There is no such configuration.",
            );
        }
    };
    let dir = state.reloader.config_dir().to_path_buf();
    let texts = version.texts.clone();
    let _one_at_a_time = state.reloader.lock.lock().await;
    let written = tokio::task::spawn_blocking(move || -> std::io::Result<()> {
        use crate::policy::write_atomic;
        write_atomic(
            &dir.join(crate::policy::directory::DIRECTORY_FILE),
            texts.directory.as_bytes(),
        )?;
        write_atomic(
            &dir.join(crate::policy::rules::RULES_FILE),
            texts.rules.as_bytes(),
        )?;
        write_atomic(
            &dir.join(crate::policy::lexicon::WORDLISTS_FILE),
            texts.wordlists.as_bytes(),
        )?;
        // A version recorded before examples (or the protocol) were kept
        // has none: that file is left as it is.
        for (text, file) in [
            (
                &texts.examples,
                crate::policy::semantic::examples::EXAMPLES_FILE,
            ),
            (&texts.protocol, crate::policy::protocol::PROTOCOL_FILE),
        ] {
            if !text.is_empty() {
                write_atomic(&dir.join(file), text.as_bytes())?;
            }
        }
        Ok(())
    })
    .await;
    if !matches!(written, Ok(Ok(()))) {
        return error_page(
            &state,
            Some(&s),
            StatusCode::SERVICE_UNAVAILABLE,
            "Cannot revert",
            "The configuration folder cannot be written.",
        );
    }
    match state
        .reloader
        .reload_locked(&format!("revert to #{seq} by {}", s.user))
        .await
    {
        Ok(_) => {
            let mut resp =
                Redirect::to(&format!("/admin/config?flash=reverted-{seq}")).into_response();
            harden(&mut resp, "default-src 'none'");
            resp
        }
        Err(why) => error_page(
            &state,
            Some(&s),
            StatusCode::UNPROCESSABLE_ENTITY,
            "Revert refused",
            &why,
        ),
    }
}

//! The admin's Users page: every login with its role, whether it is a
//! person in the directory, its second factor, last sign-in and state; and
//! disabling, enabling, removing a login or resetting its second factor —
//! each asked once (remove, reset), audited with the admin as the actor. An
//! admin cannot lock themselves out from here.

use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::extract::{Admin, CsrfToken, SignedForm, SignedIn};
use super::render::{Chrome, error_page, render, unavailable, when};
use super::{Shared, harden};

struct UserRow {
    name: String,
    role: String,
    person: String,
    second_factor: bool,
    last: String,
    disabled: bool,
    yourself: bool,
}

#[derive(Template)]
#[template(path = "admin_users.html")]
struct UsersPage {
    chrome: Chrome,
    flash: String,
    users: Vec<UserRow>,
}

#[derive(Template)]
#[template(path = "confirm_user.html")]
struct ConfirmUser {
    chrome: Chrome,
    question: String,
    effect: String,
    name: String,
    action: String,
    verb: String,
}

#[derive(Deserialize, Default)]
pub struct UsersQuery {
    #[serde(default)]
    done: String,
}

pub async fn users(
    State(state): State<Shared>,
    SignedIn { session: s, .. }: SignedIn<Admin>,
    Query(q): Query<UsersQuery>,
) -> Response {
    let store = &state.review.store;
    let Ok(logins) = store.logins().await else {
        return unavailable(&state, &s);
    };
    let snapshot = state.review.policy.load();
    let mut users = Vec::new();
    for l in logins {
        let Some(role) = l.role else { continue };
        let second_factor = store
            .second_factor(&l.name)
            .await
            .map(|f| !f.secret.is_empty())
            .unwrap_or(false);
        users.push(UserRow {
            person: if snapshot.directory.person_id(&l.name).is_some() {
                crate::review::role_of(&snapshot, &l.name)
            } else {
                "no (not a person in the directory)".into()
            },
            yourself: l.name.eq_ignore_ascii_case(&s.user),
            role: role.to_string(),
            second_factor,
            last: if l.last_sign_in > 0 {
                when(l.last_sign_in)
            } else {
                "never".into()
            },
            disabled: l.disabled,
            name: l.name,
        });
    }
    let flash = match q.done.as_str() {
        "disable" => "The user is disabled: they cannot sign in or send, and their sessions ended.",
        "enable" => "The user can sign in again.",
        "remove" => "The user is removed.",
        "reset-second-factor" => {
            "The second factor is removed; they set up an authenticator app again at their next sign-in."
        }
        _ => "",
    };
    render(
        &UsersPage {
            chrome: Chrome::new(snapshot.directory.council_name.clone(), Some(&s)),
            flash: flash.to_string(),
            users,
        },
        StatusCode::OK,
    )
}

#[derive(Deserialize)]
pub struct UserForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    action: String,
    #[serde(default)]
    confirm: String,
}

impl CsrfToken for UserForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

pub async fn change(
    State(state): State<Shared>,
    SignedForm {
        user: SignedIn { session: s, .. },
        form,
    }: SignedForm<UserForm, Admin>,
) -> Response {
    if form.name.eq_ignore_ascii_case(&s.user) {
        return error_page(
            &state,
            Some(&s),
            StatusCode::FORBIDDEN,
            "Not your own login",
            "An administrator cannot disable, remove or reset their own login here (so nobody locks the council out by mistake). Another administrator, or `councilgate user` on the server, can.",
        );
    }
    let asks = match form.action.as_str() {
        "remove" => Some((
            format!("Remove {}?", form.name),
            "They can no longer sign in or send by SMTP, and their sessions end. The audit log keeps what they did.",
            "remove",
        )),
        "reset-second-factor" => Some((
            format!("Reset the second factor of {}?", form.name),
            "Their authenticator app and recovery codes stop working and their sessions end; they set up an app again at their next sign-in.",
            "reset",
        )),
        "disable" | "enable" => None,
        _ => {
            return error_page(
                &state,
                Some(&s),
                StatusCode::BAD_REQUEST,
                "Not understood",
                "Choose disable, enable, remove or reset the second factor.",
            );
        }
    };
    if let Some((question, effect, verb)) = asks
        && form.confirm != "yes"
    {
        return render(
            &ConfirmUser {
                chrome: Chrome::new(super::render::council(&state), Some(&s)),
                question,
                effect: effect.to_string(),
                name: form.name.clone(),
                action: form.action.clone(),
                verb: verb.to_string(),
            },
            StatusCode::OK,
        );
    }
    let store = &state.review.store;
    let actor = s.user.as_str();
    let done = match form.action.as_str() {
        "disable" => store.set_login_disabled(&form.name, true, actor).await,
        "enable" => store.set_login_disabled(&form.name, false, actor).await,
        "remove" => store.remove_login(&form.name, actor).await,
        _ => store.reset_second_factor(&form.name, actor).await,
    };
    match done {
        Ok(true) => {
            let mut resp =
                Redirect::to(&format!("/admin/users?done={}", form.action)).into_response();
            harden(&mut resp, "default-src 'none'");
            resp
        }
        Ok(false) => error_page(
            &state,
            Some(&s),
            StatusCode::NOT_FOUND,
            "Not found",
            "There is no such user.",
        ),
        Err(_) => unavailable(&state, &s),
    }
}

//! Who is asking: the one extractor every handler uses. [`SignedIn`] is
//! the signed-in user (the session cookie looked up in the store), for
//! pages; [`SignedForm`] is the same user with a form whose CSRF token is
//! that session's, for actions. The role marker says who may: anyone
//! signed in ([`Anyone`]) or administrators only ([`Admin`]). A page asked
//! for without a session sends the reader to log in; an action without one
//! is refused.

use std::marker::PhantomData;

use axum::extract::{Form, FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;

use super::Shared;
use super::login::{same, session};
use super::render::{error_page, refuse};
use crate::store::{Session, SessionStage};

/// Who a handler is for.
pub trait Role: Send + Sync + 'static {
    const ADMIN: bool;
}

/// Anyone signed in: reviewers, clerks, admins.
pub struct Anyone;
impl Role for Anyone {
    const ADMIN: bool = false;
}

/// The council's administrators only.
pub struct Admin;
impl Role for Admin {
    const ADMIN: bool = true;
}

/// The signed-in user of this request.
pub struct SignedIn<R: Role = Anyone> {
    /// The session cookie's token (its hash is what the store keeps).
    pub token: String,
    pub session: Session,
    role: PhantomData<R>,
}

impl<R: Role> SignedIn<R> {
    /// The refusal when `given` is not this session's CSRF token (`None`
    /// when it is); for a form the handler reads itself (multipart uploads).
    pub fn csrf_refusal(&self, state: &Shared, given: &str) -> Option<Response> {
        (!same(&self.session.csrf, given)).then(|| {
            error_page(
                state,
                Some(&self.session),
                StatusCode::FORBIDDEN,
                "Refused",
                "The form was not from this site. Reload the page and try again.",
            )
        })
    }
}

impl<R: Role> FromRequestParts<Shared> for SignedIn<R> {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &Shared) -> Result<Self, Response> {
        let page = parts.method == Method::GET || parts.method == Method::HEAD;
        let next = parts.uri.path_and_query().map_or("/", |p| p.as_str());
        let Some((token, session)) = session(state, &parts.headers).await else {
            return Err(refuse(page, next));
        };
        // Signing in is not finished until the second factor is given (or
        // enrolled where it must be): only those pages are open till then.
        if session.stage != SessionStage::Full {
            return Err(unfinished(page, session.stage, next));
        }
        if R::ADMIN && session.role != crate::store::UserRole::Admin {
            return Err(error_page(
                state,
                Some(&session),
                StatusCode::FORBIDDEN,
                "Admins only",
                "This page is for the council's administrators.",
            ));
        }
        Ok(SignedIn {
            token,
            session,
            role: PhantomData,
        })
    }
}

/// Where a session whose sign-in is unfinished is sent (GET), or the
/// refusal (an action).
fn unfinished(page: bool, stage: SessionStage, next: &str) -> Response {
    if !page {
        return refuse(false, next);
    }
    let to = match stage {
        SessionStage::Enrol => "/account/second-factor".to_string(),
        _ => match super::render::local_path(next) {
            Some(p) if p != "/" => format!("/login/code?next={}", super::render::encode_path(p)),
            _ => "/login/code".to_string(),
        },
    };
    let mut resp = axum::response::Redirect::to(&to).into_response();
    super::harden(&mut resp, "default-src 'none'");
    resp
}

/// A signed-in user whose sign-in may be unfinished (waiting for the
/// second factor, or to enrol one): for those pages only.
pub struct Signing {
    pub token: String,
    pub session: Session,
}

impl FromRequestParts<Shared> for Signing {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &Shared) -> Result<Self, Response> {
        let page = parts.method == Method::GET || parts.method == Method::HEAD;
        match session(state, &parts.headers).await {
            Some((token, session)) => Ok(Signing { token, session }),
            None => Err(refuse(page, "/")),
        }
    }
}

/// A form that carries the session's CSRF token.
pub trait CsrfToken {
    fn csrf(&self) -> &str;
}

/// A form with nothing but the CSRF token (log out, revert).
#[derive(serde::Deserialize)]
pub struct CsrfOnly {
    #[serde(default)]
    csrf: String,
}

impl CsrfToken for CsrfOnly {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

/// The signed-in user and a form from one of this site's pages.
pub struct SignedForm<T, R: Role = Anyone> {
    pub user: SignedIn<R>,
    pub form: T,
}

impl<T, R> FromRequest<Shared> for SignedForm<T, R>
where
    T: DeserializeOwned + CsrfToken + Send,
    R: Role,
{
    type Rejection = Response;

    async fn from_request(req: Request, state: &Shared) -> Result<Self, Response> {
        let (mut parts, body) = req.into_parts();
        let user = SignedIn::<R>::from_request_parts(&mut parts, state).await?;
        let req = Request::from_parts(parts, body);
        let Form(form) = Form::<T>::from_request(req, state)
            .await
            .map_err(IntoResponse::into_response)?;
        if let Some(refused) = user.csrf_refusal(state, form.csrf()) {
            return Err(refused);
        }
        Ok(SignedForm { user, form })
    }
}

/// A user whose sign-in may be unfinished, with a form from one of this
/// site's pages (its CSRF token is the session's): the code, enrolment and
/// log-out forms.
pub struct SigningForm<T> {
    pub user: Signing,
    pub form: T,
}

impl<T> FromRequest<Shared> for SigningForm<T>
where
    T: DeserializeOwned + CsrfToken + Send,
{
    type Rejection = Response;

    async fn from_request(req: Request, state: &Shared) -> Result<Self, Response> {
        let (mut parts, body) = req.into_parts();
        let user = Signing::from_request_parts(&mut parts, state).await?;
        let req = Request::from_parts(parts, body);
        let Form(form) = Form::<T>::from_request(req, state)
            .await
            .map_err(IntoResponse::into_response)?;
        if !same(&user.session.csrf, form.csrf()) {
            return Err(refuse(false, "/"));
        }
        Ok(SigningForm { user, form })
    }
}

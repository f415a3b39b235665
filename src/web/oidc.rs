//! Sign-in with the council's Microsoft 365 or Google account: OpenID
//! Connect's authorization code flow with PKCE, through the `openidconnect`
//! crate. The provider is found by discovery from `[web] oidc_issuer`; its
//! ID token is checked (signature by the provider's published keys, issuer,
//! audience, expiry, nonce); the account's verified e-mail address (or, for
//! Microsoft Entra, its `preferred_username`) must be an existing, enabled
//! user of the review pages — the provider proves who someone is, the
//! users list says who may review. The second factor rule applies as after
//! a password.
//!
//! A sign-in in progress (state, PKCE verifier, nonce, page to return to)
//! is kept in memory for ten minutes, at most [`MAX_PENDING`] at once: the
//! callback must reach the gateway that started it.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Mutex;

use axum::extract::{ConnectInfo, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use chrono::Utc;
use openidconnect::core::{CoreAuthenticationFlow, CoreClient, CoreProviderMetadata};
use openidconnect::{
    AuthorizationCode, ClientId, ClientSecret, CsrfToken, IssuerUrl, Nonce, OAuth2TokenResponse,
    PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, Scope, TokenResponse,
};
use serde::Deserialize;

use super::login::{begin_session, login_page, session_cookie};
use super::render::local_path;
use super::{Shared, client_ip, harden};
use crate::settings::WebSettings;

/// Sign-ins in progress at once, at most (a flood of starts cannot grow
/// memory without bound; the oldest is dropped).
pub const MAX_PENDING: usize = 1000;
/// How long a sign-in may take at the provider.
const PENDING_SECS: i64 = 600;
/// The cookie that binds a sign-in to the browser that started it.
const OIDC_COOKIE: &str = "cg_oidc";

/// Errors talking to the provider (never shown in detail to the reader).
#[derive(Debug, thiserror::Error)]
pub enum OidcError {
    #[error("OpenID Connect provider: {0}")]
    Http(#[from] reqwest::Error),
    #[error("OpenID Connect provider: {0}")]
    Protocol(String),
}

struct Pending {
    verifier: String,
    nonce: String,
    next: String,
    at: i64,
}

/// The provider this gateway signs in with, and the sign-ins in progress.
pub struct Oidc {
    issuer: String,
    client_id: String,
    client_secret: String,
    /// What the sign-in button says.
    pub name: String,
    redirect: String,
    http: reqwest::Client,
    metadata: tokio::sync::OnceCell<CoreProviderMetadata>,
    pending: Mutex<HashMap<String, Pending>>,
}

impl std::fmt::Debug for Oidc {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The client secret is never printed.
        f.debug_struct("Oidc")
            .field("issuer", &self.issuer)
            .field("client_id", &self.client_id)
            .finish_non_exhaustive()
    }
}

/// An HTTP client for the provider: TLS with ring and the system's roots,
/// no redirects followed (they would open the gateway to SSRF), short
/// timeouts.
fn http_client() -> Result<reqwest::Client, OidcError> {
    // reqwest asks for the process's provider even when given a config:
    // ring, as `main` installs it (a no-op when already installed).
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls_native_certs::load_native_certs().certs {
        let _ = roots.add(cert);
    }
    let tls = rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| OidcError::Protocol(e.to_string()))?
    .with_root_certificates(roots)
    .with_no_client_auth();
    Ok(reqwest::Client::builder()
        .tls_backend_preconfigured(tls)
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(std::time::Duration::from_secs(5))
        .timeout(std::time::Duration::from_secs(15))
        .build()?)
}

/// One HTTP exchange for the `openidconnect` crate.
async fn call(
    http: reqwest::Client,
    req: openidconnect::HttpRequest,
) -> Result<openidconnect::HttpResponse, OidcError> {
    let (parts, body) = req.into_parts();
    let mut r = http.request(parts.method, parts.uri.to_string()).body(body);
    for (k, v) in &parts.headers {
        r = r.header(k, v);
    }
    let resp = r.send().await?;
    let mut out = openidconnect::http::Response::builder().status(resp.status());
    for (k, v) in resp.headers() {
        out = out.header(k, v);
    }
    // A provider's answers are small; a huge one is refused.
    let bytes = resp.bytes().await?;
    if bytes.len() > 1024 * 1024 {
        return Err(OidcError::Protocol("answer larger than 1 MB".into()));
    }
    out.body(bytes.to_vec())
        .map_err(|e| OidcError::Protocol(e.to_string()))
}

impl Oidc {
    /// The provider from the settings, or `None` when sign-in with one is
    /// off.
    pub fn from_settings(web: &WebSettings) -> Result<Option<Oidc>, OidcError> {
        if web.oidc_issuer.trim().is_empty() {
            return Ok(None);
        }
        Ok(Some(Oidc {
            issuer: web.oidc_issuer.trim().to_string(),
            client_id: web.oidc_client_id.clone(),
            client_secret: web.oidc_client_secret.expose().to_string(),
            name: if web.oidc_name.trim().is_empty() {
                "your council account".into()
            } else {
                web.oidc_name.trim().to_string()
            },
            redirect: format!("{}/login/oidc/callback", web.base_url.trim_end_matches('/')),
            http: http_client()?,
            metadata: tokio::sync::OnceCell::new(),
            pending: Mutex::new(HashMap::new()),
        }))
    }

    async fn metadata(&self) -> Result<&CoreProviderMetadata, OidcError> {
        self.metadata
            .get_or_try_init(|| async {
                let issuer = IssuerUrl::new(self.issuer.clone())
                    .map_err(|e| OidcError::Protocol(e.to_string()))?;
                let http = self.http.clone();
                CoreProviderMetadata::discover_async(issuer, &move |r| call(http.clone(), r))
                    .await
                    .map_err(|e| OidcError::Protocol(format!("discovery: {e}")))
            })
            .await
    }

    /// The client for the discovered provider.
    async fn client(
        &self,
    ) -> Result<
        openidconnect::core::CoreClient<
            openidconnect::EndpointSet,
            openidconnect::EndpointNotSet,
            openidconnect::EndpointNotSet,
            openidconnect::EndpointNotSet,
            openidconnect::EndpointMaybeSet,
            openidconnect::EndpointMaybeSet,
        >,
        OidcError,
    > {
        let metadata = self.metadata().await?.clone();
        Ok(CoreClient::from_provider_metadata(
            metadata,
            ClientId::new(self.client_id.clone()),
            Some(ClientSecret::new(self.client_secret.clone())),
        )
        .set_redirect_uri(
            RedirectUrl::new(self.redirect.clone())
                .map_err(|e| OidcError::Protocol(e.to_string()))?,
        ))
    }

    /// Where to send the reader to sign in, and the sign-in's state,
    /// remembering the sign-in.
    async fn start(&self, next: &str) -> Result<(String, String), OidcError> {
        let client = self.client().await?;
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let (url, state, nonce) = client
            .authorize_url(
                CoreAuthenticationFlow::AuthorizationCode,
                CsrfToken::new_random,
                Nonce::new_random,
            )
            .add_scope(Scope::new("email".into()))
            .add_scope(Scope::new("profile".into()))
            .set_pkce_challenge(challenge)
            .url();
        let now = Utc::now().timestamp();
        let mut pending = self
            .pending
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        pending.retain(|_, p| now - p.at < PENDING_SECS);
        if pending.len() >= MAX_PENDING
            && let Some(oldest) = pending
                .iter()
                .min_by_key(|(_, p)| p.at)
                .map(|(k, _)| k.clone())
        {
            pending.remove(&oldest);
        }
        pending.insert(
            state.secret().clone(),
            Pending {
                verifier: verifier.secret().clone(),
                nonce: nonce.secret().clone(),
                next: next.to_string(),
                at: now,
            },
        );
        Ok((url.to_string(), state.secret().clone()))
    }

    /// The account the provider vouches for, after the callback: its
    /// address, and the page to return to.
    async fn finish(&self, state: &str, code: &str) -> Result<(String, String), OidcError> {
        let p = self
            .pending
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(state)
            .filter(|p| Utc::now().timestamp() - p.at < PENDING_SECS)
            .ok_or_else(|| OidcError::Protocol("unknown or expired sign-in".into()))?;
        let client = self.client().await?;
        let http = self.http.clone();
        let token = client
            .exchange_code(AuthorizationCode::new(code.to_string()))
            .map_err(|e| OidcError::Protocol(e.to_string()))?
            .set_pkce_verifier(PkceCodeVerifier::new(p.verifier))
            .request_async(&move |r| call(http.clone(), r))
            .await
            .map_err(|e| OidcError::Protocol(format!("token: {e}")))?;
        let id_token = token
            .id_token()
            .ok_or_else(|| OidcError::Protocol("no ID token".into()))?;
        let claims = id_token
            .claims(&client.id_token_verifier(), &Nonce::new(p.nonce))
            .map_err(|e| OidcError::Protocol(format!("ID token: {e}")))?;
        let from_token = claims
            .email()
            .filter(|_| claims.email_verified() != Some(false))
            .map(|e| e.as_str().to_string())
            .or_else(|| {
                claims
                    .preferred_username()
                    .map(|u| u.as_str().to_string())
                    .filter(|u| u.contains('@'))
            });
        let email = match from_token {
            Some(e) => e,
            // Some providers give the address only at the UserInfo
            // endpoint (for the same subject, checked).
            None => {
                let http = self.http.clone();
                let info: openidconnect::core::CoreUserInfoClaims = client
                    .user_info(token.access_token().clone(), Some(claims.subject().clone()))
                    .map_err(|e| OidcError::Protocol(format!("userinfo: {e}")))?
                    .request_async(&move |r| call(http.clone(), r))
                    .await
                    .map_err(|e| OidcError::Protocol(format!("userinfo: {e}")))?;
                info.email()
                    .filter(|_| info.email_verified() != Some(false))
                    .map(|e| e.as_str().to_string())
                    .ok_or_else(|| OidcError::Protocol("no verified e-mail address".into()))?
            }
        };
        Ok((email.to_lowercase(), p.next))
    }
}

#[derive(Deserialize, Default)]
pub struct StartQuery {
    #[serde(default)]
    next: String,
}

/// The "Sign in with …" button: off to the provider.
pub async fn start(
    State(state): State<Shared>,
    headers: HeaderMap,
    Query(q): Query<StartQuery>,
) -> Response {
    let Some(oidc) = &state.oidc else {
        return login_page(
            &state,
            &headers,
            "Sign-in with a council account is not set up here.",
            &q.next,
            StatusCode::NOT_FOUND,
        );
    };
    let next = local_path(&q.next).unwrap_or("/");
    match oidc.start(next).await {
        Ok((url, st)) => {
            let mut resp = Redirect::to(&url).into_response();
            // The callback must come back to this browser (no one else's
            // sign-in finished here): Lax, so the provider's redirect
            // brings it.
            if let Ok(v) = header::HeaderValue::from_str(&format!(
                "{OIDC_COOKIE}={st}; Path=/login/oidc; HttpOnly; SameSite=Lax; Max-Age={PENDING_SECS}{}",
                if state.web.secure_cookies {
                    "; Secure"
                } else {
                    ""
                }
            )) {
                resp.headers_mut().append(header::SET_COOKIE, v);
            }
            harden(&mut resp, "default-src 'none'");
            resp
        }
        Err(e) => {
            tracing::warn!(error = %e, "cannot start an OpenID Connect sign-in");
            login_page(
                &state,
                &headers,
                &format!(
                    "{} cannot be reached just now. Sign in with your password, or try again later.",
                    oidc.name
                ),
                next,
                StatusCode::BAD_GATEWAY,
            )
        }
    }
}

#[derive(Deserialize, Default)]
pub struct CallbackQuery {
    #[serde(default)]
    code: String,
    #[serde(default)]
    state: String,
    #[serde(default)]
    error: String,
}

/// The provider sends the reader back here.
pub async fn callback(
    State(state): State<Shared>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Query(q): Query<CallbackQuery>,
) -> Response {
    let Some(oidc) = &state.oidc else {
        return login_page(&state, &headers, "", "/", StatusCode::NOT_FOUND);
    };
    let refused = |why: &str| login_page(&state, &headers, why, "/", StatusCode::UNAUTHORIZED);
    if !q.error.is_empty() {
        return refused(&format!("{} did not sign you in.", oidc.name));
    }
    let started_here = super::login::cookie(&headers, OIDC_COOKIE)
        .is_some_and(|c| super::login::same(&c, &q.state));
    if !started_here {
        return refused("That sign-in was not started in this browser. Please try again.");
    }
    let (email, next) = match oidc.finish(&q.state, &q.code).await {
        Ok(x) => x,
        Err(e) => {
            tracing::info!(error = %e, "OpenID Connect sign-in refused");
            return refused("That sign-in could not be checked. Please try again.");
        }
    };
    let ip = client_ip(&addr).to_string();
    let user = match state.review.store.user(&email).await {
        Ok(Some(u)) => u,
        Ok(None) => {
            tracing::info!(user = %email, ip = %ip, "OpenID Connect account is not a user");
            return refused(&format!(
                "{email} is not a user of these pages. Ask the council's administrator to add you."
            ));
        }
        Err(_) => return refused("Logging in failed; please try again."),
    };
    let hours = state.web.session_hours as i64;
    let Ok((token, to)) =
        begin_session(&state, &user, &ip, &next, &format!(" with {}", oidc.name)).await
    else {
        return refused("Logging in failed; please try again.");
    };
    // A page of ours moves on, not a redirect: after the provider's
    // redirect the browser would withhold the SameSite=Strict session
    // cookie from the next page.
    let to = super::render::escape(&to);
    let mut resp = (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        format!(
            "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta http-equiv=\"refresh\" content=\"0;url={to}\"><title>Signed in</title></head><body><p><a href=\"{to}\">Continue</a></p></body></html>"
        ),
    )
        .into_response();
    resp.headers_mut().append(
        header::SET_COOKIE,
        session_cookie(&state, &token, hours * 3600),
    );
    if let Ok(v) =
        header::HeaderValue::from_str(&format!("{OIDC_COOKIE}=; Path=/login/oidc; Max-Age=0"))
    {
        resp.headers_mut().append(header::SET_COOKIE, v);
    }
    harden(&mut resp, "default-src 'none'; frame-ancestors 'none'");
    resp
}

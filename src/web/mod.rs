//! The review pages: the clerk's queue of held messages, one message with
//! the rules and evidence, and the decision. Server-rendered HTML that works
//! without JavaScript.
//!
//! Every page and endpoint but `/login` and `/healthz` needs a session. The
//! session cookie is HttpOnly and SameSite=Strict (and Secure when
//! configured); the store keeps only a hash of its token. Every form carries
//! a CSRF token. Email content is hostile: it is escaped everywhere, its
//! HTML is shown only after ammonia (remote images removed) in a sandboxed
//! iframe whose own response forbids scripts and remote loads, and
//! attachments are downloaded, never rendered.

mod account;
mod act;
mod admin;
mod decide;
mod examples;
pub mod extract;
mod login;
mod message;
pub mod oidc;
mod queue;
mod render;
mod users;

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::Router;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::Response;
use axum::routing::{get, post};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::review::Review;
use crate::settings::WebSettings;
use crate::tuning::reload::Reloader;

pub const SESSION_COOKIE: &str = "cg_session";
pub const LOGIN_COOKIE: &str = "cg_login";

/// The stylesheet, allowed by its hash in the Content-Security-Policy.
pub const CSS: &str = include_str!("style.css");

fn css_hash() -> &'static str {
    static H: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    H.get_or_init(|| {
        use base64::Engine as _;
        use sha2::Digest;
        base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(CSS.as_bytes()))
    })
}

pub use crate::auth::Throttle;

/// What the pages use: the review (held messages, decisions, the store and
/// the live policy), hot reload (the admin's configuration pages), their
/// settings, and the sign-in throttle.
pub struct WebState {
    pub review: Review,
    pub reloader: Arc<Reloader>,
    pub web: WebSettings,
    pub throttle: Throttle,
    /// Sign-in with the council's account, when set up.
    pub oidc: Option<Arc<oidc::Oidc>>,
}

impl WebState {
    pub fn new(
        review: Review,
        reloader: Arc<Reloader>,
        web: WebSettings,
        oidc: Option<Arc<oidc::Oidc>>,
    ) -> Shared {
        Arc::new(WebState {
            review,
            reloader,
            oidc,
            web,
            throttle: Throttle::default(),
        })
    }
}

pub type Shared = Arc<WebState>;

/// Security headers every response carries.
pub fn harden(resp: &mut Response, csp: &str) {
    let h = resp.headers_mut();
    let set = |h: &mut HeaderMap, k: header::HeaderName, v: &str| {
        if let Ok(v) = HeaderValue::from_str(v) {
            h.insert(k, v);
        }
    };
    set(h, header::CONTENT_SECURITY_POLICY, csp);
    set(h, header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    set(h, header::REFERRER_POLICY, "no-referrer");
    set(h, header::CACHE_CONTROL, "no-store");
    if !h.contains_key(header::X_FRAME_OPTIONS) {
        set(h, header::X_FRAME_OPTIONS, "DENY");
    }
}

/// The policy for the pages themselves.
pub fn page_csp() -> String {
    format!(
        "default-src 'none'; style-src 'sha256-{}'; img-src 'self' data:; frame-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        css_hash()
    )
}

pub fn router(state: Shared) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/login", get(login::login_form).post(login::login))
        .route("/logout", post(login::logout))
        .route("/login/code", get(account::code_form).post(account::code))
        .route("/login/oidc", get(oidc::start))
        .route("/login/oidc/callback", get(oidc::callback))
        .route(
            "/account/second-factor",
            get(account::enrol_form).post(account::enrol),
        )
        .route("/account", get(account::account))
        .route("/account/sessions/{id}/end", post(account::end_session))
        .route("/", get(queue::queue))
        .route("/held/{id}", get(message::message))
        .route("/held/{id}/preview", get(message::preview))
        .route("/held/{id}/attachment/{n}", get(message::attachment))
        .route("/held/{id}/decide", post(decide::decide))
        .route("/held/{id}/restore", post(decide::restore))
        .route("/held/decide", post(queue::decide_many))
        .route("/act/{token}", get(act::confirm).post(act::act))
        .route("/admin", get(admin::rules))
        .route("/admin/protocol", get(admin::protocol))
        .route("/admin/examples", get(examples::list))
        .route(
            "/admin/examples/{id}",
            get(examples::what_if).post(examples::decide),
        )
        .route("/admin/directory", get(admin::directory))
        .route("/admin/users", get(users::users).post(users::change))
        .route("/admin/try", get(admin::try_form).post(admin::try_message))
        .route("/admin/audit", get(admin::audit))
        .route("/admin/config", get(admin::config))
        .route("/admin/config/{seq}/revert", post(admin::revert))
        .fallback(render::not_found)
        .with_state(state)
}

/// Serves the review pages until `shutdown`.
pub async fn serve(listener: TcpListener, state: Shared, shutdown: CancellationToken) {
    if let Ok(addr) = listener.local_addr() {
        tracing::info!(%addr, "review pages listening");
    }
    let app = router(state).into_make_service_with_connect_info::<SocketAddr>();
    if let Err(e) = axum::serve(listener, app)
        .with_graceful_shutdown(shutdown.cancelled_owned())
        .await
    {
        tracing::warn!(error = %e, "review pages stopped");
    }
}

/// The client address, for throttling.
pub fn client_ip(addr: &SocketAddr) -> IpAddr {
    addr.ip().to_canonical()
}

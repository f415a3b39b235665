//! The review pages as a test's browser sees them: a cookie-keeping client
//! that does not follow redirects, users, signing in, and reading a page.

use reqwest::StatusCode;

use super::Gateway;

/// The password every test user has.
pub const PASSWORD: &str = "a long enough password";

/// A client that keeps cookies and shows redirects as they are.
pub fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

/// Adds (or updates) a review-page user with [`PASSWORD`].
pub async fn add_user(gw: &Gateway, name: &str, role: &str) {
    let hash = councilgate::auth::hash_password(PASSWORD).expect("hash");
    gw.app
        .store
        .add_user(name, role.parse().expect("role"), &hash, "test")
        .await
        .expect("user");
}

/// The CSRF token of the first form on a page.
pub fn csrf_of(html: &str) -> String {
    let i = html.find("name=\"csrf\" value=\"").expect("csrf field") + 19;
    html[i..i + 64].to_string()
}

/// The body of the page at `url`.
pub async fn page(c: &reqwest::Client, url: impl reqwest::IntoUrl) -> String {
    c.get(url)
        .send()
        .await
        .expect("get")
        .text()
        .await
        .expect("text")
}

/// Signs `user` in with [`PASSWORD`]; checks the session cookie is
/// HttpOnly and SameSite=Strict; returns the CSRF token of the home page.
pub async fn login(c: &reqwest::Client, base: &str, user: &str) -> String {
    let token = csrf_of(&page(c, format!("{base}/login")).await);
    let r = c
        .post(format!("{base}/login"))
        .form(&[
            ("csrf", token.as_str()),
            ("name", user),
            ("password", PASSWORD),
        ])
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "logged in");
    let set = r
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap_or("").to_string())
        .collect::<Vec<_>>()
        .join("\n");
    assert!(
        set.contains("cg_session=") && set.contains("HttpOnly") && set.contains("SameSite=Strict"),
        "{set}"
    );
    csrf_of(&page(c, format!("{base}/")).await)
}

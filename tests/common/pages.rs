//! The review pages as a test's browser sees them: a cookie-keeping client
//! that does not follow redirects, users, signing in, and reading a page.

use reqwest::StatusCode;

use super::Gateway;

/// The password every test user has.
pub const PASSWORD: &str = "a long enough password";

/// A client that keeps cookies and shows redirects as they are.
pub fn browser() -> reqwest::Client {
    super::tls_provider();
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

/// The authenticator secrets tests have enrolled, by (site, user), with the
/// last time a code was made from each (a code works once).
/// Enrolled secrets: (site, user) → (secret, time of the last code made).
type Enrolled = std::sync::Mutex<std::collections::HashMap<(String, String), (String, i64)>>;

fn secrets() -> &'static Enrolled {
    static S: std::sync::OnceLock<Enrolled> = std::sync::OnceLock::new();
    S.get_or_init(Default::default)
}

/// A fresh code for an enrolled `user` at `base`: made for a time past the
/// last code's step, as a second device would.
pub fn next_code(base: &str, user: &str) -> String {
    let mut map = secrets().lock().expect("secrets");
    let (secret, last) = map
        .get(&(base.to_string(), user.to_string()))
        .cloned()
        .expect("enrolled in this test");
    let now = chrono::Utc::now().timestamp();
    let at = now.max(last + 30);
    map.insert((base.to_string(), user.to_string()), (secret.clone(), at));
    councilgate::auth::second_factor::code_at(&secret, at).expect("code")
}

/// The key an enrolment page shows.
pub fn secret_of(html: &str) -> String {
    let i = html.find("data-secret=\"").expect("enrolment key") + 13;
    let j = html[i..].find('"').expect("end of key");
    html[i..i + j].to_string()
}

/// Enrols `user`'s authenticator app from the enrolment page (the test
/// plays the app); returns the recovery codes page.
pub async fn enrol(c: &reqwest::Client, base: &str, user: &str) -> String {
    let form = page(c, format!("{base}/account/second-factor")).await;
    let secret = secret_of(&form);
    let now = chrono::Utc::now().timestamp();
    let code = councilgate::auth::second_factor::code_at(&secret, now).expect("code");
    secrets()
        .lock()
        .expect("secrets")
        .insert((base.to_string(), user.to_string()), (secret, now));
    let r = c
        .post(format!("{base}/account/second-factor"))
        .form(&[("csrf", csrf_of(&form).as_str()), ("code", code.as_str())])
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), StatusCode::OK, "enrolled");
    r.text().await.expect("text")
}

/// Signs `user` in with [`PASSWORD`] (and, for an administrator, the
/// second factor: enrolled the first time, a fresh code after); checks the
/// session cookie is HttpOnly and SameSite=Strict; returns the CSRF token of
/// the home page.
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
    let to = r
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    if to.starts_with("/account/second-factor") {
        enrol(c, base, user).await;
    } else if to.starts_with("/login/code") {
        let form = page(c, format!("{base}{to}")).await;
        let code = next_code(base, user);
        let r = c
            .post(format!("{base}/login/code"))
            .form(&[("csrf", csrf_of(&form).as_str()), ("code", code.as_str())])
            .send()
            .await
            .expect("post");
        assert_eq!(r.status(), StatusCode::SEE_OTHER, "second factor accepted");
    }
    csrf_of(&page(c, format!("{base}/")).await)
}

//! Signing in to the review pages with a second factor (TOTP, the test
//! playing the authenticator app with codes it computes), recovery codes,
//! and the user's own sessions — over HTTP against a running gateway.

mod common;

use common::pages::*;
use common::*;
use reqwest::StatusCode;

fn location(r: &reqwest::Response) -> String {
    r.headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string()
}

/// Gives the password only; returns where the gateway sends the reader.
async fn password(c: &reqwest::Client, base: &str, user: &str, next: &str) -> String {
    let form = page(c, format!("{base}/login?next={next}")).await;
    let r = c
        .post(format!("{base}/login"))
        .form(&[
            ("csrf", csrf_of(&form).as_str()),
            ("name", user),
            ("password", PASSWORD),
            ("next", next),
        ])
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    location(&r)
}

async fn give_code(c: &reqwest::Client, base: &str, code: &str, next: &str) -> reqwest::Response {
    let form = page(c, format!("{base}/login/code?next={next}")).await;
    c.post(format!("{base}/login/code"))
        .form(&[
            ("csrf", csrf_of(&form).as_str()),
            ("code", code),
            ("next", next),
        ])
        .send()
        .await
        .expect("post")
}

const ADMIN: &str = "it@example-tc.gov.uk";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_must_enrol_an_authenticator_app_before_any_page_opens() {
    let (_sink, _cfg, gw) = gateway_with_sink().await;
    add_user(&gw, ADMIN, "admin").await;
    let base = format!("http://{}", gw.web);
    let c = browser();
    let to = password(&c, &base, ADMIN, "/admin").await;
    assert_eq!(to, "/account/second-factor?next=/admin");
    // Nothing else opens till then.
    for path in ["/", "/admin", "/account"] {
        let r = c.get(format!("{base}{path}")).send().await.expect("get");
        assert_eq!(r.status(), StatusCode::SEE_OTHER, "{path}");
        assert!(location(&r).starts_with("/account/second-factor"), "{path}");
    }
    let enrol = page(&c, format!("{base}{to}")).await;
    assert!(
        enrol.contains("<svg") && enrol.contains("QR code"),
        "{enrol}"
    );
    let secret = secret_of(&enrol);
    // A reload shows the same key (a scan is not undone).
    assert_eq!(secret_of(&page(&c, format!("{base}{to}")).await), secret);
    let csrf = csrf_of(&enrol);
    let r = c
        .post(format!("{base}/account/second-factor"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("code", "000000"),
            ("next", "/admin"),
        ])
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let now = chrono::Utc::now().timestamp();
    let code = councilgate::auth::second_factor::code_at(&secret, now).expect("code");
    let r = c
        .post(format!("{base}/account/second-factor"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("code", code.as_str()),
            ("next", "/admin"),
        ])
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), StatusCode::OK);
    let recovery = r.text().await.expect("text");
    assert!(recovery.contains("Your recovery codes"), "{recovery}");
    assert_eq!(recovery.matches("<li><code>").count(), 10);
    assert!(
        recovery.contains("href=\"/admin\""),
        "continues to the page asked for"
    );
    let r = c.get(format!("{base}/admin")).send().await.expect("get");
    assert_eq!(r.status(), StatusCode::OK, "open now");
    let audit = gw
        .app
        .store
        .audit_between(0, i64::MAX, 100)
        .await
        .expect("audit");
    assert!(
        audit
            .iter()
            .any(|e| e.action == "second-factor" && e.actor == ADMIN)
    );
    // The stored secret is never on a page once enrolled.
    let again = page(&c, format!("{base}/account/second-factor")).await;
    assert!(
        !again.contains(&secret) && again.contains("is set up"),
        "{again}"
    );
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signing_in_asks_for_a_fresh_code_after_the_password_and_each_recovery_code_works_once() {
    let (_sink, _cfg, gw) = gateway_with_sink().await;
    add_user(&gw, ADMIN, "admin").await;
    let base = format!("http://{}", gw.web);
    let first = browser();
    let recovery = {
        let to = password(&first, &base, ADMIN, "/").await;
        assert!(to.starts_with("/account/second-factor"));
        enrol(&first, &base, ADMIN).await
    };
    let codes: Vec<String> = recovery
        .split("<li><code>")
        .skip(1)
        .filter_map(|s| s.split("</code>").next().map(String::from))
        .collect();
    assert_eq!(codes.len(), 10);
    // Another device: the password, then the code.
    let c = browser();
    let to = password(&c, &base, ADMIN, "/admin/audit").await;
    assert_eq!(to, "/login/code?next=/admin/audit");
    let r = c.get(format!("{base}/admin")).send().await.expect("get");
    assert!(location(&r).starts_with("/login/code"), "nothing opens yet");
    let r = c
        .post(format!("{base}/logout"))
        .form(&[("csrf", "0".repeat(64).as_str())])
        .send()
        .await
        .expect("post");
    assert_eq!(
        r.status(),
        StatusCode::FORBIDDEN,
        "even log-out needs the form"
    );
    let r = give_code(&c, &base, "123456", "/admin/audit").await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert!(
        r.text()
            .await
            .expect("text")
            .contains("That code is not right")
    );
    let code = next_code(&base, ADMIN);
    let r = give_code(&c, &base, &code, "/admin/audit").await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&r), "/admin/audit");
    assert_eq!(
        c.get(format!("{base}/admin/audit"))
            .send()
            .await
            .expect("get")
            .status(),
        StatusCode::OK
    );
    // The same code again, on a third device: refused (a code works once).
    let d = browser();
    password(&d, &base, ADMIN, "/").await;
    let r = give_code(&d, &base, &code, "/").await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "replayed code");
    // A recovery code instead: once.
    let r = give_code(&d, &base, &codes[3].to_uppercase(), "/").await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "recovery code");
    let e = browser();
    password(&e, &base, ADMIN, "/").await;
    let r = give_code(&e, &base, &codes[3], "/").await;
    assert_eq!(
        r.status(),
        StatusCode::UNAUTHORIZED,
        "a recovery code works once"
    );
    let account = page(&first, format!("{base}/account")).await;
    assert!(account.contains("9 recovery codes are unused"), "{account}");
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_wrong_codes_end_the_sign_in() {
    let (_sink, _cfg, gw) = gateway_with_sink().await;
    add_user(&gw, ADMIN, "admin").await;
    let base = format!("http://{}", gw.web);
    login(&browser(), &base, ADMIN).await;
    let c = browser();
    password(&c, &base, ADMIN, "/").await;
    for n in 1..=4 {
        let r = give_code(&c, &base, "000000", "/").await;
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "attempt {n}");
    }
    let r = give_code(&c, &base, "000000", "/").await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert!(
        r.text()
            .await
            .expect("text")
            .contains("Too many wrong codes")
    );
    // The sign-in is gone: even the right code now needs the password.
    let r = c
        .get(format!("{base}/login/code"))
        .send()
        .await
        .expect("get");
    assert_eq!(location(&r), "/login");
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_sees_where_they_are_signed_in_and_signs_out_another_session() {
    let (_sink, _cfg, gw) = gateway_with_sink().await;
    add_user(&gw, "clerk@example-tc.gov.uk", "clerk").await;
    let base = format!("http://{}", gw.web);
    // A reviewer need not enrol (web.second_factor = "admins").
    let phone = browser();
    login(&phone, &base, "clerk@example-tc.gov.uk").await;
    let desk = browser();
    login(&desk, &base, "clerk@example-tc.gov.uk").await;
    let account = page(&desk, format!("{base}/account")).await;
    assert_eq!(
        account.matches("/account/sessions/").count(),
        1,
        "two sessions, the other one can be ended: {account}"
    );
    assert!(account.contains("(this one)") && account.contains("127.0.0.1"));
    assert!(account.contains("No authenticator app is set up"));
    let i = account
        .find("/account/sessions/")
        .expect("a session to end")
        + 18;
    let id = &account[i..i + 16];
    let r = desk
        .post(format!("{base}/account/sessions/{id}/end"))
        .form(&[("csrf", csrf_of(&account).as_str())])
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let r = phone.get(format!("{base}/")).send().await.expect("get");
    assert_eq!(location(&r), "/login", "the phone is signed out");
    let r = desk.get(format!("{base}/")).send().await.expect("get");
    assert_eq!(r.status(), StatusCode::OK, "this one is not");
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_users_page_lists_logins_and_an_admin_disables_resets_and_removes_them() {
    let (_sink, _cfg, gw) = gateway_with_sink().await;
    add_user(&gw, ADMIN, "admin").await;
    add_user(&gw, "clerk@example-tc.gov.uk", "clerk").await;
    add_user(&gw, "helper@example.org", "clerk").await;
    let base = format!("http://{}", gw.web);
    // The clerk enrols an app of her own (optional for her).
    let clerk = browser();
    login(&clerk, &base, "clerk@example-tc.gov.uk").await;
    enrol(&clerk, &base, "clerk@example-tc.gov.uk").await;
    let admin = browser();
    let csrf = login(&admin, &base, ADMIN).await;
    // Not for reviewers.
    let r = clerk
        .get(format!("{base}/admin/users"))
        .send()
        .await
        .expect("get");
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let p = page(&admin, format!("{base}/admin/users")).await;
    assert!(p.contains("Clara Hughes, Proper Officer"), "{p}");
    assert!(
        p.contains("no (not a person in the directory)"),
        "helper: {p}"
    );
    assert!(p.contains("(you)"), "{p}");
    let post = |action: &'static str, name: &'static str, confirm: bool| {
        let admin = admin.clone();
        let csrf = csrf.clone();
        let base = base.clone();
        async move {
            let mut form = vec![
                ("csrf", csrf),
                ("action", action.into()),
                ("name", name.into()),
            ];
            if confirm {
                form.push(("confirm", "yes".into()));
            }
            admin
                .post(format!("{base}/admin/users"))
                .form(&form)
                .send()
                .await
                .expect("post")
        }
    };
    // Disable: the clerk's session ends at once.
    let r = post("disable", "clerk@example-tc.gov.uk", false).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let r = clerk.get(format!("{base}/")).send().await.expect("get");
    assert_eq!(location(&r), "/login", "signed out");
    assert_eq!(
        post("enable", "clerk@example-tc.gov.uk", false)
            .await
            .status(),
        StatusCode::SEE_OTHER
    );
    // Reset the second factor: asked first.
    let r = post("reset-second-factor", "clerk@example-tc.gov.uk", false).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(
        r.text()
            .await
            .expect("text")
            .contains("Reset the second factor of clerk@example-tc.gov.uk?")
    );
    assert!(
        !gw.app
            .store
            .second_factor("clerk@example-tc.gov.uk")
            .await
            .expect("f")
            .secret
            .is_empty()
    );
    assert_eq!(
        post("reset-second-factor", "clerk@example-tc.gov.uk", true)
            .await
            .status(),
        StatusCode::SEE_OTHER
    );
    assert!(
        gw.app
            .store
            .second_factor("clerk@example-tc.gov.uk")
            .await
            .expect("f")
            .secret
            .is_empty()
    );
    // Remove: asked first, then gone.
    assert_eq!(
        post("remove", "helper@example.org", false).await.status(),
        StatusCode::OK
    );
    assert!(
        gw.app
            .store
            .user("helper@example.org")
            .await
            .expect("u")
            .is_some()
    );
    assert_eq!(
        post("remove", "helper@example.org", true).await.status(),
        StatusCode::SEE_OTHER
    );
    assert!(
        gw.app
            .store
            .user("helper@example.org")
            .await
            .expect("u")
            .is_none()
    );
    // Not oneself.
    assert_eq!(
        post("disable", ADMIN, true).await.status(),
        StatusCode::FORBIDDEN
    );
    let audit = gw
        .app
        .store
        .audit_between(0, i64::MAX, 200)
        .await
        .expect("audit");
    assert!(
        audit
            .iter()
            .any(|e| e.action == "user-removed" && e.actor == ADMIN),
        "{audit:?}"
    );
    assert!(
        audit
            .iter()
            .any(|e| e.action == "second-factor-reset" && e.actor == ADMIN)
    );
    gw.stop().await;
}

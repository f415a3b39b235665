//! The review pages over HTTP: sessions, CSRF, hostile content, decisions,
//! notices, conflicts — against a running gateway with a real store.

mod common;

use std::time::Duration;

use common::pages::*;
use common::*;
use reqwest::StatusCode;

const WAIT: Duration = Duration::from_secs(15);
async fn send(addr: std::net::SocketAddr, from: &str, rcpts: &[&str], message: &str) -> String {
    let mut c = Client::greeted(addr).await;
    c.cmd(&format!("MAIL FROM:<{from}>")).await;
    for r in rcpts {
        c.cmd(&format!("RCPT TO:<{r}>")).await;
    }
    c.cmd("DATA").await;
    let body = message.replace("\r\n", "\n").replace('\n', "\r\n");
    c.send(format!("{body}\r\n.\r\n").as_bytes()).await;
    c.reply().await
}

const INSTRUCTION: &str = "From: Mark Patel <cllr.patel@example-tc.gov.uk>\nTo: Alex Green <alex.green@example-tc.gov.uk>\nSubject: Pavilion doors\nMessage-ID: <pav@test>\n\nAlex,\n\nI need you to repaint the pavilion doors before the fete on Saturday.\n\nMark";

async fn hold_one(gw: &Gateway) -> String {
    let r = send(
        gw.submission,
        "cllr.patel@example-tc.gov.uk",
        &["alex.green@example-tc.gov.uk"],
        INSTRUCTION,
    )
    .await;
    assert!(r.starts_with("250 2.6.0"), "{r}");
    let held = gw.held().await;
    held.last().expect("held").id.clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_without_a_session_is_refused() {
    let cfg = TestConfig::new(None, &[]);
    let gw = Gateway::start(&cfg).await;
    let id = hold_one(&gw).await;
    let base = format!("http://{}", gw.web);
    let c = browser();
    for path in [
        "/",
        &format!("/held/{id}"),
        &format!("/held/{id}/preview"),
        &format!("/held/{id}/attachment/0"),
        "/nonexistent",
        "/account",
        "/account/second-factor",
        "/login/code",
        "/act/abc.def",
    ] {
        let r = c.get(format!("{base}{path}")).send().await.expect("get");
        assert_eq!(r.status(), StatusCode::SEE_OTHER, "{path}");
        let to = r.headers()["location"].to_str().expect("location");
        assert!(
            to == "/login" || to == format!("/login?next={path}"),
            "{path}: {to}"
        );
        let body = r.text().await.expect("text");
        assert!(
            !body.contains("Pavilion"),
            "{path}: no message data without a session"
        );
    }
    for path in [
        format!("/held/{id}/decide"),
        format!("/held/{id}/restore"),
        "/held/decide".to_string(),
        "/act/abc.def".to_string(),
        "/login/code".to_string(),
        "/account/second-factor".to_string(),
        "/account/sessions/0123456789abcdef/end".to_string(),
        "/logout".to_string(),
    ] {
        let r = c
            .post(format!("{base}{path}"))
            .form(&[("action", "release")])
            .send()
            .await
            .expect("post");
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "{path}");
    }
    assert_eq!(
        c.get(format!("{base}/healthz"))
            .send()
            .await
            .expect("h")
            .status(),
        StatusCode::OK
    );
    // A forged session cookie is no session.
    let r = c
        .get(format!("{base}/"))
        .header("cookie", format!("cg_session={}", "a".repeat(64)))
        .send()
        .await
        .expect("get");
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        gw.app.store.get(&id).await.expect("get").state,
        "held",
        "nothing decided"
    );
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn review_and_release_delivers_with_copies_and_records_who() {
    let (sink, _cfg, gw) = gateway_with_sink().await;
    add_user(&gw, "clerk@example-tc.gov.uk", "clerk").await;
    let id = hold_one(&gw).await;
    let base = format!("http://{}", gw.web);
    let c = browser();
    let csrf = login(&c, &base, "clerk@example-tc.gov.uk").await;
    let home = c.get(format!("{base}/")).send().await.expect("home");
    let csp = home.headers()["content-security-policy"]
        .to_str()
        .expect("csp")
        .to_string();
    assert!(
        csp.contains("default-src 'none'") && csp.contains("frame-ancestors 'none'"),
        "{csp}"
    );
    let home = home.text().await.expect("text");
    assert!(
        home.contains("Pavilion doors") && home.contains("instruction-to-staff"),
        "{home}"
    );
    assert!(
        home.contains("class=\"badge\" aria-label=\"1 waiting\""),
        "count badge"
    );
    let page = common::pages::page(&c, format!("{base}/held/{id}")).await;
    assert!(
        page.contains("Councillors must not give instructions to junior staff"),
        "protocol text shown"
    );
    assert!(
        page.contains(
            "<mark>I need you to repaint the pavilion doors before the fete on Saturday.</mark>"
        ),
        "evidence marked: {page}"
    );
    assert!(page.contains("Alex Green, officer (junior)"), "roles shown");
    // Without the CSRF token: refused, nothing happens.
    let r = c
        .post(format!("{base}/held/{id}/decide"))
        .form(&[("action", "release"), ("reason", "x")])
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r = c
        .post(format!("{base}/held/{id}/decide"))
        .form(&[("csrf", "0".repeat(64).as_str()), ("action", "release")])
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert_eq!(gw.app.store.get(&id).await.expect("get").state, "held");
    // With it: released and delivered, with the pending copies.
    let r = c
        .post(format!("{base}/held/{id}/decide"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("action", "release"),
            ("reason", "In order — not a breach"),
            ("note", "fine"),
        ])
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let got = sink.wait_for(4, WAIT).await;
    let released = got
        .iter()
        .find(|d| d.mail_from == "cllr.patel@example-tc.gov.uk")
        .expect("released message delivered");
    assert!(
        released
            .rcpts
            .contains(&"alex.green@example-tc.gov.uk".to_string())
    );
    assert!(
        released
            .rcpts
            .contains(&"clerk@example-tc.gov.uk".to_string()),
        "pending copy applied: {:?}",
        released.rcpts
    );
    let held = gw.app.store.get(&id).await.expect("get");
    assert_eq!(held.state, "released");
    assert_eq!(held.decided_by.as_deref(), Some("clerk@example-tc.gov.uk"));
    // Acting again: told who acted first.
    let r = c
        .post(format!("{base}/held/{id}/decide"))
        .form(&[("csrf", csrf.as_str()), ("action", "delete")])
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), StatusCode::CONFLICT);
    assert!(
        r.text()
            .await
            .expect("text")
            .contains("clerk@example-tc.gov.uk acted first")
    );
    let history = gw.app.store.audit_for(&id).await.expect("audit");
    assert!(history.iter().any(|e| e.action == "released"
        && e.actor == "clerk@example-tc.gov.uk"
        && e.detail.contains("not a breach")));
    // Logging out ends the session.
    let r = c
        .post(format!("{base}/logout"))
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .expect("logout");
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        c.get(format!("{base}/"))
            .send()
            .await
            .expect("get")
            .status(),
        StatusCode::SEE_OTHER
    );
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_content_is_inert() {
    let cfg = TestConfig::new(None, &[]);
    let gw = Gateway::start(&cfg).await;
    add_user(&gw, "clerk@example-tc.gov.uk", "clerk").await;
    let hostile = "From: Mark Patel <cllr.patel@example-tc.gov.uk>\nTo: Alex Green <alex.green@example-tc.gov.uk>\nSubject: <script>alert('subject')</script> doors\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: multipart/alternative; boundary=a\n\n--a\nContent-Type: text/plain\n\nAlex, I need you to repaint the doors <script>alert('body')</script> today.\n--a\nContent-Type: text/html\n\n<html><body><p onclick=\"alert('click')\">Alex, I need you to repaint the doors today.</p><script>alert('html')</script><img src=\"http://evil.example/pixel.gif\" onerror=\"alert('img')\"><a href=\"javascript:alert('link')\">x</a><iframe src=\"http://evil.example/\"></iframe></body></html>\n--a--\n--b\nContent-Type: application/pdf; name=\"\\\"><img src=x onerror=alert(1)>.pdf\"\nContent-Disposition: attachment; filename=\"\\\"><img src=x onerror=alert(1)>.pdf\"\nContent-Transfer-Encoding: base64\n\nJVBERi0xLjQK\n--b--";
    let r = send(
        gw.submission,
        "cllr.patel@example-tc.gov.uk",
        &["alex.green@example-tc.gov.uk"],
        hostile,
    )
    .await;
    assert!(r.starts_with("250 2.6.0"), "{r}");
    let id = gw.held().await[0].id.clone();
    let base = format!("http://{}", gw.web);
    let c = browser();
    login(&c, &base, "clerk@example-tc.gov.uk").await;
    for path in ["/".to_string(), format!("/held/{id}")] {
        let page = common::pages::page(&c, format!("{base}{path}")).await;
        assert!(
            !page.contains("<script>alert"),
            "{path}: no live script: {page}"
        );
        assert!(
            !page.contains("<img src=x"),
            "{path}: attachment name escaped"
        );
        assert!(
            page.contains("&lt;script&gt;alert(") || page.contains("&#60;script&#62;alert("),
            "{path}: shown as text: {page}"
        );
    }
    let preview = c
        .get(format!("{base}/held/{id}/preview"))
        .send()
        .await
        .expect("preview");
    let csp = preview.headers()["content-security-policy"]
        .to_str()
        .expect("csp")
        .to_string();
    assert!(
        csp.contains("sandbox") && csp.contains("default-src 'none'"),
        "{csp}"
    );
    let html = preview.text().await.expect("text");
    for bad in [
        "<script",
        "onclick",
        "onerror",
        "evil.example",
        "javascript:",
        "<iframe",
    ] {
        assert!(
            !html.to_lowercase().contains(bad),
            "preview contains {bad}: {html}"
        );
    }
    assert!(html.contains("repaint the doors"), "{html}");
    let att = c
        .get(format!("{base}/held/{id}/attachment/0"))
        .send()
        .await
        .expect("attachment");
    assert_eq!(att.headers()["content-type"], "application/octet-stream");
    let disp = att.headers()["content-disposition"]
        .to_str()
        .expect("disp")
        .to_string();
    assert!(
        !disp.contains('<') && !disp.contains('>') && disp.matches('"').count() == 2,
        "{disp}"
    );
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repeated_login_failures_are_slowed() {
    let cfg = TestConfig::new(None, &[]);
    let gw = Gateway::start(&cfg).await;
    add_user(&gw, "clerk@example-tc.gov.uk", "clerk").await;
    let base = format!("http://{}", gw.web);
    let c = browser();
    let mut last = StatusCode::OK;
    for _ in 0..6 {
        let page = common::pages::page(&c, format!("{base}/login")).await;
        let token = csrf_of(&page);
        last = c
            .post(format!("{base}/login"))
            .form(&[
                ("csrf", token.as_str()),
                ("name", "clerk@example-tc.gov.uk"),
                ("password", "wrong password!"),
            ])
            .send()
            .await
            .expect("post")
            .status();
    }
    assert_eq!(last, StatusCode::TOO_MANY_REQUESTS);
    // Even the right password waits now.
    let page = common::pages::page(&c, format!("{base}/login")).await;
    let token = csrf_of(&page);
    let r = c
        .post(format!("{base}/login"))
        .form(&[
            ("csrf", token.as_str()),
            ("name", "clerk@example-tc.gov.uk"),
            ("password", PASSWORD),
        ])
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    // A login form without its token is refused.
    let r = browser()
        .post(format!("{base}/login"))
        .form(&[("name", "clerk@example-tc.gov.uk"), ("password", PASSWORD)])
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn return_with_a_note_tells_the_sender() {
    let (sink, _cfg, gw) = gateway_with_sink().await;
    add_user(&gw, "clerk@example-tc.gov.uk", "clerk").await;
    let id = hold_one(&gw).await;
    sink.wait_for(3, WAIT).await; // sender and reviewer notices on hold
    let base = format!("http://{}", gw.web);
    let c = browser();
    let csrf = login(&c, &base, "clerk@example-tc.gov.uk").await;
    // The reason offered first is the rule that held it, not a copy rule.
    let page = c
        .get(format!("{base}/held/{id}"))
        .send()
        .await
        .expect("get")
        .text()
        .await
        .expect("text");
    let first = page
        .split("<option value=\"")
        .nth(1)
        .and_then(|o| o.split('"').next())
        .expect("a reason");
    assert!(first.starts_with("instruction-to-staff:"), "{first}");
    assert!(page.contains("In order — not a breach"));
    // Returning with no note is refused: the sender would be told nothing.
    let r = c
        .post(format!("{base}/held/{id}/decide"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("action", "return"),
            ("reason", first),
            ("note", "  "),
        ])
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        r.text()
            .await
            .expect("text")
            .contains("write a note for them first")
    );
    assert_eq!(gw.app.store.get(&id).await.expect("get").state, "held");
    let r = c
        .post(format!("{base}/held/{id}/decide"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("action", "return"),
            (
                "reason",
                "instruction-to-staff: Councillors do not give instructions to junior staff",
            ),
            ("note", "Please send jobs for Alex to me, Mark."),
        ])
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let got = sink.wait_for(4, WAIT).await;
    let ret = got
        .iter()
        .find(|d| String::from_utf8_lossy(&d.data).contains("Subject: Returned: Pavilion doors"))
        .expect("return notice");
    assert_eq!(ret.rcpts, vec!["cllr.patel@example-tc.gov.uk"]);
    assert!(ret.mail_from.is_empty(), "notices use the null sender");
    let t = String::from_utf8_lossy(&ret.data);
    assert!(t.contains("Please send jobs for Alex to me, Mark."), "{t}");
    assert!(
        t.contains("Auto-Submitted: auto-generated") && t.contains("In-Reply-To: <pav@test>"),
        "{t}"
    );
    assert!(
        !got.iter()
            .any(|d| d.mail_from == "cllr.patel@example-tc.gov.uk"),
        "the message itself is not delivered"
    );
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_proper_officer_cannot_act_on_a_message_about_them() {
    let (sink, _cfg, gw) = gateway_with_sink().await;
    add_user(&gw, "clerk@example-tc.gov.uk", "clerk").await;
    add_user(&gw, "deputy.clerk@example-tc.gov.uk", "clerk").await;
    let criticism = "From: Tom Baker <cllr.baker@example-tc.gov.uk>\nTo: Resident <resident@example.org>\nSubject: Re: the hall\n\nTo be honest our clerk Clara Hughes has been hopeless about the hall bookings.\n\nTom";
    let r = send(
        gw.submission,
        "cllr.baker@example-tc.gov.uk",
        &["resident@example.org"],
        criticism,
    )
    .await;
    assert!(
        r.starts_with("250 2.6.0") && r.contains("criticism-not-private"),
        "{r}"
    );
    let held = gw.held().await;
    let id = held[0].id.clone();
    assert_eq!(
        held[0].reviewers,
        vec!["deputy.clerk@example-tc.gov.uk"],
        "routed to the deputy"
    );
    assert!(
        held[0]
            .barred
            .contains(&"clerk@example-tc.gov.uk".to_string())
    );
    let got = sink.wait_for(2, WAIT).await;
    assert!(
        !got.iter()
            .any(|d| d.rcpts.contains(&"clerk@example-tc.gov.uk".to_string())),
        "the Proper Officer is not sent the review notice"
    );
    let base = format!("http://{}", gw.web);
    let clerk = browser();
    let csrf = login(&clerk, &base, "clerk@example-tc.gov.uk").await;
    let page = common::pages::page(&clerk, format!("{base}/held/{id}")).await;
    assert!(page.contains("You are a party to this message"), "{page}");
    let r = clerk
        .post(format!("{base}/held/{id}/decide"))
        .form(&[("csrf", csrf.as_str()), ("action", "delete")])
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert_eq!(gw.app.store.get(&id).await.expect("get").state, "held");
    let deputy = browser();
    let csrf = login(&deputy, &base, "deputy.clerk@example-tc.gov.uk").await;
    let r = deputy
        .post(format!("{base}/held/{id}/decide"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("action", "return"),
            ("note", "Please raise this privately."),
        ])
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(gw.app.store.get(&id).await.expect("get").state, "returned");
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_gateways_on_one_postgres_held_by_one_released_from_the_other() {
    let Some(url) = pg_store_url().await else {
        return;
    };
    let sink = Sink::start().await;
    let store_line = format!("url = {url:?}");
    let a_cfg = TestConfig::new(Some(sink.addr), &[("url = \"\"", &store_line)]);
    let b_cfg = TestConfig::new(Some(sink.addr), &[("url = \"\"", &store_line)]);
    let a = Gateway::start(&a_cfg).await;
    let b = Gateway::start(&b_cfg).await;
    add_user(&b, "clerk@example-tc.gov.uk", "clerk").await;
    // Held by gateway A…
    let id = hold_one(&a).await;
    sink.wait_for(3, WAIT).await;
    let before = sink.messages().len();
    // …seen and released on gateway B's pages.
    let base = format!("http://{}", b.web);
    let c = browser();
    let csrf = login(&c, &base, "clerk@example-tc.gov.uk").await;
    let page = common::pages::page(&c, format!("{base}/")).await;
    assert!(page.contains("Pavilion doors"), "B lists what A held");
    let r = c
        .post(format!("{base}/held/{id}/decide"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("action", "release"),
            ("reason", "routine"),
        ])
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let got = sink.wait_for(before + 1, WAIT).await;
    // Give gateway A's housekeeping time to (wrongly) deliver it again.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let got = if got.len() > before {
        sink.messages()
    } else {
        got
    };
    let released: Vec<_> = got
        .iter()
        .filter(|d| d.mail_from == "cllr.patel@example-tc.gov.uk")
        .collect();
    assert_eq!(
        released.len(),
        1,
        "delivered exactly once between two gateways: {got:#?}"
    );
    a.assert_audit_intact().await;
    a.stop().await;
    b.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reviewers_are_reminded_once_and_undecided_mail_expires_back_to_its_sender() {
    let (sink, _cfg, gw) = gateway_with_sink().await;
    let id = hold_one(&gw).await;
    sink.wait_for(3, WAIT).await;
    let now = chrono::Utc::now().timestamp();
    // Due within the reminder window (24 hours by default).
    sqlx::query("UPDATE held SET expires = $1 WHERE id = $2")
        .bind(now + 3600)
        .bind(&id)
        .execute(gw.app.store.pool())
        .await
        .expect("update");
    gw.app.review.housekeeping().await.expect("round");
    gw.app.review.housekeeping().await.expect("round again");
    let got = sink.wait_for(5, WAIT).await;
    let reminders: Vec<_> = got
        .iter()
        .filter(|d| {
            String::from_utf8_lossy(&d.data)
                .contains("Subject: Reminder: held message awaiting review: Pavilion doors")
        })
        .collect();
    assert_eq!(
        reminders.len(),
        2,
        "the Proper Officer and the deputy, once each"
    );
    // Past its expiry: returned to the sender, not delivered.
    sqlx::query("UPDATE held SET expires = $1 WHERE id = $2")
        .bind(now - 1)
        .bind(&id)
        .execute(gw.app.store.pool())
        .await
        .expect("update");
    gw.app.review.housekeeping().await.expect("round");
    let held = gw.app.store.get(&id).await.expect("get");
    assert_eq!(held.state, "expired");
    assert_eq!(held.decided_by.as_deref(), Some("expiry"));
    let got = sink.wait_for(6, WAIT).await;
    let notice = got
        .iter()
        .find(|d| {
            String::from_utf8_lossy(&d.data).contains("Subject: Not delivered: Pavilion doors")
        })
        .expect("expiry notice");
    assert_eq!(notice.rcpts, vec!["cllr.patel@example-tc.gov.uk"]);
    assert!(String::from_utf8_lossy(&notice.data).contains("not reviewed within 5 days"));
    assert!(
        !got.iter()
            .any(|d| d.mail_from == "cllr.patel@example-tc.gov.uk"),
        "never delivered"
    );
    gw.stop().await;
}

/// Delete asks first: the first press shows a confirmation page (nothing
/// deleted), "Yes, delete it" deletes, and the audit log has the reviewer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_asks_for_confirmation_before_anything_is_deleted() {
    let (_sink, _cfg, gw) = gateway_with_sink().await;
    add_user(&gw, "clerk@example-tc.gov.uk", "clerk").await;
    let id = hold_one(&gw).await;
    let base = format!("http://{}", gw.web);
    let c = browser();
    let csrf = login(&c, &base, "clerk@example-tc.gov.uk").await;
    let r = c
        .post(format!("{base}/held/{id}/decide"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("action", "delete"),
            ("reason", "Other (see note)"),
            ("note", "spam"),
        ])
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), StatusCode::OK);
    let page = r.text().await.expect("text");
    assert!(
        page.contains("Delete this message?") && page.contains("Pavilion doors"),
        "{page}"
    );
    assert!(page.contains("name=\"confirm\" value=\"yes\""), "{page}");
    assert!(page.contains(&format!("href=\"/held/{id}\"")), "a way back");
    assert_eq!(
        gw.app.store.get(&id).await.expect("get").state,
        "held",
        "nothing deleted yet"
    );
    let r = c
        .post(format!("{base}/held/{id}/decide"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("action", "delete"),
            ("reason", "Other (see note)"),
            ("note", "spam"),
            ("confirm", "yes"),
        ])
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(gw.app.store.get(&id).await.expect("get").state, "deleted");
    let history = gw.app.store.audit_for(&id).await.expect("audit");
    assert!(
        history
            .iter()
            .any(|e| e.action == "deleted" && e.actor == "clerk@example-tc.gov.uk")
    );
    gw.stop().await;
}

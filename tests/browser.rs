//! The review page in a real browser (Debian chromium driven through
//! chromedriver): log in, open a held message, release it, and the
//! upstream receives it.

mod common;

use std::time::Duration;

use common::webdriver::Driver;
use common::*;

/// Submits a councillor's message to a junior officer (`rest`: the subject
/// line onwards) and checks it is held; the clerk gets a review login.
async fn hold(gw: &Gateway, rest: &str) {
    common::pages::add_user(gw, "clerk@example-tc.gov.uk", "clerk").await;
    let mut c = Client::greeted(gw.submission).await;
    c.start_data(
        "cllr.patel@example-tc.gov.uk",
        &["alex.green@example-tc.gov.uk"],
    )
    .await;
    let message = format!(
        "From: Mark Patel <cllr.patel@example-tc.gov.uk>\r\nTo: Alex Green <alex.green@example-tc.gov.uk>\r\n{rest}.\r\n"
    );
    c.send(message.as_bytes()).await;
    let r = c.reply().await;
    assert!(r.starts_with("250 2.6.0"), "{r}");
}

/// Signs the clerk in through the login form, from the queue's redirect.
async fn sign_in(d: &Driver, base: &str) {
    d.goto(&format!("{base}/")).await;
    assert!(d.url().await.ends_with("/login"), "sent to log in");
    d.type_into("#name", "clerk@example-tc.gov.uk").await;
    d.type_into("#password", common::pages::PASSWORD).await;
    d.click("form.stack button[type=submit]").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clerk_logs_in_opens_a_held_message_and_releases_it_in_chromium() {
    if !require("chromium") || !require("chromedriver") {
        return;
    }
    let (sink, _cfg, gw) = gateway_with_sink().await;
    hold(&gw, "Subject: Pavilion doors\r\n\r\nAlex,\r\n\r\nI need you to repaint the pavilion doors before the fete on Saturday.\r\n\r\nMark\r\n").await;
    sink.wait_for(3, Duration::from_secs(15)).await; // notices on hold

    let base = format!("http://{}", gw.web);
    let d = Driver::start().await;
    sign_in(&d, &base).await;
    let home = d.wait_for_source("Pavilion doors").await;
    assert!(home.contains("Pavilion doors"), "queue after login: {home}");
    d.click("table.queue a").await;
    let page = d
        .wait_for_source("<mark>I need you to repaint the pavilion doors")
        .await;
    assert!(
        page.contains("<mark>I need you to repaint the pavilion doors"),
        "{page}"
    );
    if let Ok(dir) = std::env::var("CG_SCREENSHOTS") {
        std::fs::write(format!("{dir}/message.png"), d.screenshot().await).expect("screenshot");
    }
    d.click("button[value=release]").await;
    let after = d.wait_for_source("is now released").await;
    if let Ok(dir) = std::env::var("CG_SCREENSHOTS") {
        std::fs::write(format!("{dir}/after.png"), d.screenshot().await).expect("screenshot");
    }
    assert!(after.contains("is now released"), "{after}");
    let got = sink.wait_for(4, Duration::from_secs(15)).await;
    let released = got
        .iter()
        .find(|m| m.mail_from == "cllr.patel@example-tc.gov.uk")
        .expect("the upstream received the released message");
    assert!(
        released
            .rcpts
            .contains(&"alex.green@example-tc.gov.uk".to_string())
    );
    d.quit().await;
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_names_are_shown_as_what_they_are_and_no_page_is_wider_than_a_phone() {
    if !require("chromium") || !require("chromedriver") {
        return;
    }
    let (_sink, _cfg, gw) = gateway_with_sink().await;
    let long = "N".repeat(900);
    let word = "W".repeat(300);
    let rest = format!(
        "Subject: Doors\u{200B} {word}\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nAlex, I need you to repaint the doors today.\r\n--b\r\nContent-Type: application/octet-stream\r\nContent-Disposition: attachment; filename=\"invoice\u{202E}fdp.exe\"\r\n\r\nMZ\r\n--b\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment; filename*=utf-8''minutes%00.pdf\r\n\r\n%PDF\r\n--b\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment; filename=\"{long}.pdf\"\r\n\r\n%PDF\r\n--b--\r\n"
    );
    hold(&gw, &rest).await;
    let id = gw.held().await[0].id.clone();
    let base = format!("http://{}", gw.web);
    let d = Driver::start().await;
    sign_in(&d, &base).await;
    d.wait_for_source("Doors").await;
    for (width, height) in [(390, 844), (1280, 900)] {
        d.viewport(width, height).await;
        d.goto(&format!("{base}/")).await;
        let queue = d.wait_for_source("Doors").await;
        assert!(queue.contains("Doors[U+200B]"), "zero-width shown: {queue}");
        assert!(d.overflow().await <= 0, "queue wider than {width} px");
        d.goto(&format!("{base}/held/{id}")).await;
        let page = d.wait_for_source("attachment").await;
        assert!(
            page.contains("invoice[U+202E]fdp.exe"),
            "the override is shown, not obeyed: {page}"
        );
        assert!(page.contains(".exe file"), "the real extension, on its own");
        assert!(page.contains("minutes[U+0000].pdf"), "NUL shown");
        assert!(
            !page.contains('\u{202E}') && !page.contains('\0'),
            "nothing raw"
        );
        assert!(
            d.overflow().await <= 0,
            "message page wider than {width} px"
        );
        if let Ok(dir) = std::env::var("CG_SCREENSHOTS") {
            std::fs::write(
                format!("{dir}/hostile-names-{width}.png"),
                d.screenshot().await,
            )
            .expect("screenshot");
        }
    }
    d.quit().await;
    gw.stop().await;
}

/// The serious and critical accessibility violations axe-core finds on the
/// page open in `d` (axe-core from tests/js, which `.ci/run` installs).
async fn axe(d: &Driver, what: &str) {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/js/node_modules/axe-core/axe.min.js"
    );
    let Ok(src) = std::fs::read_to_string(path) else {
        if std::env::var("CI").is_ok() {
            panic!("axe-core is required in CI (.ci/run installs it into tests/js)");
        }
        eprintln!("SKIPPED: the accessibility check (npm ci --prefix tests/js)");
        return;
    };
    d.script(&format!("{src}\nreturn typeof axe;")).await;
    let found = d
        .script(
            "return axe.run(document, {resultTypes: ['violations']}).then(r => r.violations \
             .filter(v => v.impact === 'serious' || v.impact === 'critical') \
             .map(v => v.id + ' (' + v.impact + '): ' + v.nodes.map(n => n.target.join(' ')).join(', ')));",
        )
        .await;
    let list = found.as_array().cloned().unwrap_or_default();
    assert!(
        found.is_array() && list.is_empty(),
        "{what}: accessibility violations: {found}"
    );
}

/// Where an element's bottom edge is, in CSS pixels from the top of the
/// viewport.
async fn bottom_of(d: &Driver, css: &str) -> f64 {
    d.script(&format!(
        "return document.querySelector({css:?}).getBoundingClientRect().bottom;"
    ))
    .await
    .as_f64()
    .unwrap_or(f64::MAX)
}

fn screenshot(name: &str, png: Vec<u8>) {
    if let Ok(dir) = std::env::var("CG_SCREENSHOTS") {
        std::fs::write(format!("{dir}/{name}.png"), png).expect("screenshot");
    }
}

/// The clerk's path on a phone: the notice's link, signing in, and the
/// message's page with Release on the first screen — one tap to release —
/// then the queue and its bulk confirmation on a desktop. Every page is
/// checked with axe-core.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn from_the_notice_link_to_a_released_message_in_one_tap_on_a_phone() {
    if !require("chromium") || !require("chromedriver") {
        return;
    }
    let (sink, _cfg, gw) = gateway_with_sink().await;
    hold(&gw, "Subject: Pavilion doors\r\n\r\nAlex,\r\n\r\nI need you to repaint the pavilion doors before the fete on Saturday. The contractor can start on Monday.\r\n\r\nMark\r\n\r\nOn Tue, 1 Dec 2026 at 09:00, Alex Green <alex.green@example-tc.gov.uk> wrote:\r\n> Which colour should the doors be?\r\n").await;
    let id = gw.held().await[0].id.clone();
    let base = format!("http://{}", gw.web);
    let d = Driver::start().await;
    d.viewport(390, 844).await;
    // The link in the reviewer's notice.
    d.goto(&format!("{base}/held/{id}")).await;
    assert!(d.url().await.contains("/login?next="), "{}", d.url().await);
    d.wait_for_source("Log in").await;
    axe(&d, "login").await;
    d.type_into("#name", "clerk@example-tc.gov.uk").await;
    d.type_into("#password", common::pages::PASSWORD).await;
    d.click("form.stack button[type=submit]").await;
    let page = d
        .wait_for_source("Held: Councillors do not give instructions to junior staff")
        .await;
    assert!(
        d.url().await.ends_with(&format!("/held/{id}")),
        "lands on the message"
    );
    assert!(page.contains("<mark>I need you to repaint"), "{page}");
    let bottom = bottom_of(&d, "button[value=release]").await;
    assert!(
        bottom <= 844.0,
        "Release is on the first screen of a phone (bottom at {bottom} px)"
    );
    assert!(d.overflow().await <= 0, "no wider than a phone");
    axe(&d, "message page (phone)").await;
    screenshot("decision-390", d.screenshot().await);
    d.click("button[value=release]").await;
    d.wait_for_source("is now released").await;
    let got = sink.wait_for(4, Duration::from_secs(15)).await;
    assert!(
        got.iter()
            .any(|m| m.mail_from == "cllr.patel@example-tc.gov.uk"),
        "released and delivered"
    );
    // On a desktop: another held message, the queue, a bulk confirmation.
    hold(&gw, "Subject: Bins\r\n\r\nAlex,\r\n\r\nI want you to empty the bins at the play area today.\r\n\r\nMark\r\n").await;
    let id = gw.held().await[0].id.clone();
    d.viewport(1280, 900).await;
    d.goto(&format!("{base}/held/{id}")).await;
    d.wait_for_source("Held: Councillors do not give instructions to junior staff")
        .await;
    axe(&d, "message page (desktop)").await;
    screenshot("decision-1280", d.screenshot().await);
    d.goto(&format!("{base}/")).await;
    let queue = d.wait_for_source("Bins").await;
    assert!(
        queue.contains("Councillors do not give instructions to junior staff"),
        "{queue}"
    );
    axe(&d, "queue").await;
    screenshot("queue-1280", d.screenshot().await);
    d.click("td.pick input").await;
    d.click("button[value=delete]").await;
    d.wait_for_source("Delete 1 message?").await;
    axe(&d, "bulk confirmation").await;
    d.click("button[value=delete]").await;
    d.wait_for_source("1 message is now deleted").await;
    // The undo, the single Delete's confirmation, and a notice link's
    // confirmation page.
    d.goto(&format!("{base}/held/{id}")).await;
    d.wait_for_source("Undo delete").await;
    axe(&d, "deleted message").await;
    d.click("form.inline button").await;
    d.wait_for_source("The deletion was undone").await;
    d.click("form.decide button[value=delete]").await;
    d.wait_for_source("Delete this message?").await;
    axe(&d, "delete confirmation").await;
    let notice = sink
        .messages()
        .into_iter()
        .rev()
        .find(|m| {
            m.rcpts == ["clerk@example-tc.gov.uk"]
                && String::from_utf8_lossy(&m.data).contains("Held for your review: Bins")
        })
        .expect("the notice");
    let parsed = mail_parser::MessageParser::default()
        .parse(&notice.data)
        .expect("parses");
    let text = parsed.body_text(0).expect("text").to_string();
    let line = text
        .lines()
        .find(|l| l.starts_with("Return it to the sender"))
        .expect("a return link");
    let path = &line[line.find("/act/").expect("link")..];
    d.goto(&format!("{base}{path}")).await;
    d.wait_for_source("Return this message?").await;
    axe(&d, "action link confirmation").await;
    screenshot("act-1280", d.screenshot().await);
    d.goto(&format!("{base}/act/not-a-link")).await;
    d.wait_for_source("This link does not work").await;
    axe(&d, "refused link").await;
    d.quit().await;
    gw.stop().await;
}

async fn admin_signs_in(d: &Driver, base: &str) {
    d.goto(&format!("{base}/admin")).await;
    d.wait_for_source("Log in").await;
    d.type_into("#name", "it@example-tc.gov.uk").await;
    d.type_into("#password", common::pages::PASSWORD).await;
    d.click("form.stack button[type=submit]").await;
}

/// An administrator's first sign-in in Chromium: the enrolment page's QR
/// code and key, the code the test computes as the app would, the recovery
/// codes, the Account page, and the code asked for at the next sign-in —
/// each page checked with axe-core.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_enrols_an_authenticator_app_and_signs_in_with_its_code_in_chromium() {
    if !require("chromium") || !require("chromedriver") {
        return;
    }
    let (_sink, _cfg, gw) = gateway_with_sink().await;
    common::pages::add_user(&gw, "it@example-tc.gov.uk", "admin").await;
    let base = format!("http://{}", gw.web);
    let d = Driver::start().await;
    d.viewport(390, 844).await;
    admin_signs_in(&d, &base).await;
    let enrol = d.wait_for_source("Set up your authenticator app").await;
    assert!(d.url().await.contains("/account/second-factor"));
    assert!(enrol.contains("<svg"), "the QR code is on the page");
    axe(&d, "enrolment").await;
    assert!(d.overflow().await <= 0, "no wider than a phone");
    screenshot("enrol-390", d.screenshot().await);
    let secret = common::pages::secret_of(&enrol);
    let now = chrono::Utc::now().timestamp();
    let code = councilgate::auth::second_factor::code_at(&secret, now).expect("code");
    d.type_into("#code", &code).await;
    d.click("form.stack button[type=submit]").await;
    d.wait_for_source("Your recovery codes").await;
    axe(&d, "recovery codes").await;
    d.click("main a").await;
    d.wait_for_source("Rules").await;
    assert!(d.url().await.ends_with("/admin"), "{}", d.url().await);
    d.goto(&format!("{base}/account")).await;
    d.wait_for_source("Where you are signed in").await;
    axe(&d, "account").await;
    d.goto(&format!("{base}/admin/users")).await;
    d.wait_for_source("Second factor").await;
    axe(&d, "users").await;
    d.goto(&format!("{base}/admin/protocol")).await;
    d.wait_for_source("Example Town Council Councillor–Officer Protocol")
        .await;
    axe(&d, "protocol").await;
    assert!(d.overflow().await <= 0, "the protocol page fits a phone");
    // A proposed example whose sentence is hostile: shown as text, wrapped.
    let hostile = format!(
        "<script>document.title='owned'</script>{} please do it",
        "x".repeat(300)
    );
    gw.app
        .store
        .propose_examples(
            &[councilgate::store::proposals::NewProposal {
                detector: "instruction",
                label: councilgate::policy::semantic::Label::Negative,
                sentence: &hostile,
                held_id: "0000",
                subject: "<img src=x onerror=alert(1)>",
                rule: "instruction-to-staff",
                proposed_by: "clerk@example-tc.gov.uk",
            }],
            now,
        )
        .await
        .expect("propose");
    d.goto(&format!("{base}/admin/examples")).await;
    let list = d.wait_for_source("please do it").await;
    assert!(list.contains("&lt;script&gt;") && !list.contains("<script>document"));
    axe(&d, "proposed examples").await;
    assert!(
        d.overflow().await <= 0,
        "the proposed examples page fits a phone"
    );
    // Signed out, then in again: the code after the password.
    d.click("form.logout button").await;
    d.wait_for_source("Log in").await;
    admin_signs_in(&d, &base).await;
    d.wait_for_source("Code from your authenticator app").await;
    axe(&d, "code").await;
    let code = councilgate::auth::second_factor::code_at(&secret, now + 30).expect("code");
    d.type_into("#code", &code).await;
    d.click("form.stack button[type=submit]").await;
    d.wait_for_source("Rules").await;
    assert!(d.url().await.ends_with("/admin"), "{}", d.url().await);
    d.quit().await;
    gw.stop().await;
}

/// The OpenID Connect provider of tests/js, running on loopback until
/// dropped.
struct Provider {
    child: std::process::Child,
    issuer: String,
}

impl Provider {
    fn start(client_id: &str, secret: &str, redirect: &str) -> Option<Provider> {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/js");
        if !std::path::Path::new(dir)
            .join("node_modules/oidc-provider")
            .exists()
        {
            if std::env::var("CI").is_ok() {
                panic!("oidc-provider is required in CI (.ci/run installs it into tests/js)");
            }
            eprintln!("SKIPPED: no OpenID Connect provider (npm ci --prefix tests/js)");
            return None;
        }
        let port = free_port();
        let mut child = std::process::Command::new("node")
            .arg(format!("{dir}/oidc-provider.mjs"))
            .args([&port.to_string(), client_id, secret, redirect])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("node");
        let mut out = std::io::BufReader::new(child.stdout.take().expect("stdout"));
        let mut line = String::new();
        std::io::BufRead::read_line(&mut out, &mut line).expect("provider output");
        assert_eq!(line.trim(), "ready", "the provider started");
        // Whatever it writes later is read (a closed pipe would end it).
        std::thread::spawn(move || std::io::copy(&mut out, &mut std::io::sink()));
        Some(Provider {
            child,
            issuer: format!("http://127.0.0.1:{port}"),
        })
    }
}

impl Drop for Provider {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Presses the provider's consent button if its consent page comes up.
async fn consent_if_asked(d: &Driver, issuer: &str) {
    for _ in 0..50 {
        let url = d.url().await;
        if !url.starts_with(issuer) {
            return;
        }
        if d.source()
            .await
            .contains("name=\"prompt\" value=\"consent\"")
        {
            d.click("button[type=submit]").await;
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Signing in with the council's account: a real OpenID Connect provider
/// (oidc-provider) on loopback, its own login and consent pages in
/// Chromium, back to the page the notice named — and an account that is
/// not a user of the pages refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reviewer_signs_in_with_the_council_account_through_openid_connect() {
    if !require("chromium") || !require("chromedriver") || !require("node") {
        return;
    }
    let web_port = free_port();
    let base = format!("http://127.0.0.1:{web_port}");
    let Some(provider) = Provider::start(
        "councilgate",
        "a test client secret",
        &format!("{base}/login/oidc/callback"),
    ) else {
        return;
    };
    let sink = sink::Sink::start().await;
    let web_listen = format!("listen = \"127.0.0.1:{web_port}\"    # the review pages");
    let base_url = format!("base_url = \"{base}\"");
    let oidc = format!(
        "second_factor = \"admins\"\noidc_issuer = \"{}\"\noidc_client_id = \"councilgate\"\noidc_client_secret = \"a test client secret\"\noidc_name = \"Example 365\"",
        provider.issuer
    );
    let cfg = TestConfig::new(
        Some(sink.addr),
        &[
            (
                "listen = \"127.0.0.1:0\"    # the review pages",
                &web_listen,
            ),
            ("base_url = \"http://127.0.0.1:8025\"", &base_url),
            ("second_factor = \"admins\"", &oidc),
        ],
    );
    let gw = Gateway::start(&cfg).await;
    hold(&gw, "Subject: Pavilion doors\r\n\r\nAlex,\r\n\r\nI need you to repaint the pavilion doors before the fete on Saturday.\r\n\r\nMark\r\n").await;
    let id = gw.held().await[0].id.clone();
    let d = Driver::start().await;
    // The notice's link; the login page offers the council's account.
    d.goto(&format!("{base}/held/{id}")).await;
    let login = d.wait_for_source("Sign in with Example 365").await;
    assert!(login.contains("/login/oidc?next="), "{login}");
    d.click("a.button").await;
    // The provider's own pages.
    d.wait_for_source("name=\"login\"").await;
    assert!(
        d.url().await.starts_with(&provider.issuer),
        "{}",
        d.url().await
    );
    d.type_into("input[name=login]", "clerk@example-tc.gov.uk")
        .await;
    d.type_into("input[name=password]", "anything").await;
    d.click("button[type=submit]").await;
    consent_if_asked(&d, &provider.issuer).await;
    // Back, signed in, on the message the link named.
    let page = d
        .wait_for_source("Held: Councillors do not give instructions to junior staff")
        .await;
    assert!(
        d.url().await.ends_with(&format!("/held/{id}")),
        "{}: {page}",
        d.url().await
    );
    assert!(
        page.contains("clerk@example-tc.gov.uk"),
        "signed in as the clerk"
    );
    let audit = gw
        .app
        .store
        .audit_between(0, i64::MAX, 100)
        .await
        .expect("audit");
    assert!(
        audit
            .iter()
            .any(|e| e.action == "login" && e.detail.contains("with Example 365")),
        "{audit:?}"
    );
    // Someone the provider knows but the council has not made a user (a
    // new browser: the provider would remember the clerk).
    d.quit().await;
    let d = Driver::start().await;
    d.goto(&format!("{base}/login")).await;
    d.wait_for_source("Sign in with Example 365").await;
    d.click("a.button").await;
    d.wait_for_source("name=\"login\"").await;
    d.type_into("input[name=login]", "stranger@example.org")
        .await;
    d.type_into("input[name=password]", "anything").await;
    d.click("button[type=submit]").await;
    consent_if_asked(&d, &provider.issuer).await;
    let refused = d.wait_for_source("not a user of these pages").await;
    assert!(refused.contains("Log in"), "{refused}");
    d.quit().await;
    gw.stop().await;
    drop(provider);
}

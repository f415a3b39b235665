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

//! The review page in a real browser (Debian chromium driven through
//! chromedriver): log in, open a held message, release it, and the
//! upstream receives it.

mod common;

use std::time::Duration;

use common::webdriver::Driver;
use common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clerk_logs_in_opens_a_held_message_and_releases_it_in_chromium() {
    if !require("chromium") || !require("chromedriver") {
        return;
    }
    let (sink, _cfg, gw) = gateway_with_sink().await;
    let hash = councilgate::auth::hash_password("a long enough password").expect("hash");
    gw.app
        .store
        .add_user(
            "clerk@example-tc.gov.uk",
            councilgate::store::UserRole::Clerk,
            &hash,
        )
        .await
        .expect("user");
    let mut c = Client::greeted(gw.submission).await;
    c.cmd("MAIL FROM:<cllr.patel@example-tc.gov.uk>").await;
    c.cmd("RCPT TO:<alex.green@example-tc.gov.uk>").await;
    c.cmd("DATA").await;
    c.send(b"From: Mark Patel <cllr.patel@example-tc.gov.uk>\r\nTo: Alex Green <alex.green@example-tc.gov.uk>\r\nSubject: Pavilion doors\r\n\r\nAlex,\r\n\r\nI need you to repaint the pavilion doors before the fete on Saturday.\r\n\r\nMark\r\n.\r\n").await;
    assert!(c.reply().await.starts_with("250 2.6.0"));
    sink.wait_for(3, Duration::from_secs(15)).await; // notices on hold

    let base = format!("http://{}", gw.web);
    let d = Driver::start().await;
    d.goto(&format!("{base}/")).await;
    assert!(d.url().await.ends_with("/login"), "sent to log in");
    d.type_into("#name", "clerk@example-tc.gov.uk").await;
    d.type_into("#password", "a long enough password").await;
    d.click("form.stack button[type=submit]").await;
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

//! Admin tuning: hot reload, configuration history, metrics and health.

mod common;

use std::time::Duration;

use common::*;

const WAIT: Duration = Duration::from_secs(15);

fn rules_with_instruction_mode(mode: &str) -> String {
    let rules = std::fs::read_to_string(std::path::Path::new(REPO).join("config/rules.toml"))
        .expect("rules");
    rules.replace(
        "id = \"instruction-to-staff\"\n",
        &format!("id = \"instruction-to-staff\"\nmode = \"{mode}\"\n"),
    )
}

async fn send_on(c: &mut Client, subject: &str) -> String {
    assert!(
        c.cmd("MAIL FROM:<cllr.patel@example-tc.gov.uk>")
            .await
            .starts_with("250")
    );
    assert!(
        c.cmd("RCPT TO:<alex.green@example-tc.gov.uk>")
            .await
            .starts_with("250")
    );
    assert!(c.cmd("DATA").await.starts_with("354"));
    c.send(format!("From: cllr.patel@example-tc.gov.uk\r\nTo: alex.green@example-tc.gov.uk\r\nCc: clerk@example-tc.gov.uk, deputy.clerk@example-tc.gov.uk\r\nSubject: {subject}\r\n\r\nAlex, I need you to repaint the doors today.\r\n.\r\n").as_bytes())
        .await;
    c.reply().await
}

async fn wait_for_version_change(gw: &Gateway, from: &str) -> bool {
    for _ in 0..100 {
        if gw.app.policy.load().version != from {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rule_switched_to_enforce_on_disk_applies_to_the_next_message_without_dropping_the_connection()
 {
    let sink = Sink::start().await;
    let cfg = TestConfig::new(Some(sink.addr), &[]);
    std::fs::write(
        cfg.path().join("rules.toml"),
        rules_with_instruction_mode("monitor"),
    )
    .expect("write");
    let gw = Gateway::start(&cfg).await;
    let mut c = Client::connect(gw.submission).await;
    assert!(c.cmd("EHLO client.example").await.starts_with("250"));
    let r = send_on(&mut c, "first").await;
    assert!(r.starts_with("250 2.0.0"), "monitor mode delivers: {r}");
    let got = sink.wait_for(1, WAIT).await;
    assert!(
        String::from_utf8_lossy(&got[0].data)
            .contains("X-Council-Protocol-Monitor: instruction-to-staff")
    );

    let before = gw.app.policy.load().version.clone();
    std::fs::write(
        cfg.path().join("rules.toml"),
        rules_with_instruction_mode("enforce"),
    )
    .expect("write");
    assert!(
        wait_for_version_change(&gw, &before).await,
        "reloaded after the file changed"
    );
    // The same connection, never dropped: the next message is held.
    let r = send_on(&mut c, "second").await;
    assert!(r.starts_with("250 2.6.0"), "now enforced: {r}");

    // A broken file: refused, reported, the last good rules stay.
    let live = gw.app.policy.load().version.clone();
    std::fs::write(
        cfg.path().join("rules.toml"),
        "[[rules]]\nid = \"broken\"\ntitle = \"t\"\nreference = \"r\"\naction = \"copy\"\n",
    )
    .expect("write");
    let mut reported = None;
    for _ in 0..100 {
        if let Some(e) = gw
            .app
            .reload_status
            .lock()
            .expect("lock")
            .last_error
            .clone()
        {
            reported = Some(e);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (_, _, why) = reported.expect("the refusal is reported");
    assert!(
        why.contains("rule broken") && why.contains("needs `to`"),
        "{why}"
    );
    assert_eq!(
        gw.app.policy.load().version,
        live,
        "the last good policy stays in force"
    );
    let r = send_on(&mut c, "third").await;
    assert!(r.starts_with("250 2.6.0"), "old rules still enforced: {r}");
    assert!(
        c.cmd("NOOP").await.starts_with("250"),
        "connection alive throughout"
    );

    // History: the start and the reload, with the diff of the change.
    let history = gw.app.store.config_history(10).await.expect("history");
    assert_eq!(
        history.len(),
        2,
        "{:?}",
        history.iter().map(|h| &h.trigger).collect::<Vec<_>>()
    );
    assert_eq!(history[0].trigger, "file change");
    assert!(
        history[0].diff.contains("-mode = \"monitor\"")
            && history[0].diff.contains("+mode = \"enforce\""),
        "{}",
        history[0].diff
    );
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_parse_as_prometheus_text_and_health_answers() {
    let sink = Sink::start().await;
    let cfg = TestConfig::new(
        Some(sink.addr),
        &[("token = \"\"", "token = \"s3cret-metrics-token\"")],
    );
    let gw = Gateway::start(&cfg).await;
    let mut c = Client::connect(gw.submission).await;
    c.cmd("EHLO client.example").await;
    send_on(&mut c, "metrics").await;
    sink.wait_for(1, WAIT).await;
    let http = reqwest::Client::new();
    let base = format!("http://{}", gw.ops);
    assert_eq!(
        http.get(format!("{base}/healthz"))
            .send()
            .await
            .expect("h")
            .status(),
        200
    );
    let ready = http.get(format!("{base}/readyz")).send().await.expect("r");
    assert_eq!(ready.status(), 200);
    assert_eq!(
        ready.text().await.expect("t"),
        "listeners ok\nstore ok\nqueue ok\n"
    );
    assert_eq!(
        http.get(format!("{base}/metrics"))
            .send()
            .await
            .expect("m")
            .status(),
        401,
        "token required"
    );
    let text = http
        .get(format!("{base}/metrics"))
        .bearer_auth("s3cret-metrics-token")
        .send()
        .await
        .expect("m")
        .text()
        .await
        .expect("t");
    let lines = text.lines().map(|l| Ok(l.to_string()));
    let scrape = prometheus_parse::Scrape::parse(lines).expect("valid Prometheus text format");
    let names: Vec<&str> = scrape.samples.iter().map(|s| s.metric.as_str()).collect();
    for want in [
        "councilgate_messages_total",
        "councilgate_rule_fired_total",
        "councilgate_smtp_sessions_total",
        "councilgate_queue_depth",
        "councilgate_held_messages",
    ] {
        assert!(names.contains(&want), "{want} missing from {names:?}");
    }
    for h in [
        "councilgate_policy_evaluation_seconds",
        "councilgate_acceptance_seconds",
    ] {
        let sample = scrape
            .samples
            .iter()
            .find(|s| s.metric == h)
            .unwrap_or_else(|| panic!("{h} missing"));
        assert!(
            matches!(sample.value, prometheus_parse::Value::Histogram(_)),
            "{h} is a histogram"
        );
    }
    let held = scrape.samples.iter().find(|s| {
        s.metric == "councilgate_messages_total" && s.labels.get("verdict") == Some("deliver")
    });
    assert!(held.is_some(), "messages by verdict");
    // The review pages do not serve metrics: they send a stranger to log in.
    let no_redirect = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let r = no_redirect
        .get(format!("http://{}/metrics", gw.web))
        .send()
        .await
        .expect("web");
    assert_eq!(r.status(), 303);
    assert!(!r.text().await.expect("t").contains("councilgate_"));
    gw.stop().await;
}

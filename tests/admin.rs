//! Admin tuning: hot reload, configuration history, metrics and health.

mod common;

use std::time::Duration;

use common::pages::{add_user, browser};
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

/// Waits until a configuration other than `from` is live and recorded in the
/// history (the reloader swaps the snapshot first, then records it).
async fn wait_for_version_change(gw: &Gateway, from: &str) -> bool {
    for _ in 0..100 {
        let live = gw.app.policy.load().version.clone();
        if live != from {
            let recorded = gw.app.store.config_history(1).await.unwrap_or_default();
            if recorded.first().is_some_and(|c| c.version == live) {
                return true;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}

/// Waits for the reloader to report a refused configuration; returns why.
async fn wait_for_refusal(gw: &Gateway) -> String {
    for _ in 0..100 {
        if let Some((_, _, why)) = gw.app.reloader.status().last_error {
            return why;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the refusal is reported");
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
    let why = wait_for_refusal(&gw).await;
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
    let mut c = Client::greeted(gw.submission).await;
    let r = send_on(&mut c, "metrics").await;
    assert!(r.starts_with("250 2.6.0"), "held: {r}");
    sink.wait_for(1, WAIT).await;
    common::tls_provider();
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
    // This test's own message (an instruction to a junior officer) was
    // held; other tests in this process may add other verdicts.
    let held = scrape.samples.iter().find(|s| {
        s.metric == "councilgate_messages_total" && s.labels.get("verdict") == Some("hold")
    });
    assert!(held.is_some(), "messages by verdict");
    // The review pages do not serve metrics: they send a stranger to log in.
    common::tls_provider();
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

async fn login(gw: &Gateway, user: &str, role: &str) -> (reqwest::Client, String) {
    add_user(gw, user, role).await;
    let c = browser();
    let csrf = common::pages::login(&c, &format!("http://{}", gw.web), user).await;
    (c, csrf)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn statistics_show_the_override_rate_from_real_review_actions() {
    let (_sink, cfg, gw) = gateway_with_sink().await;
    let mut c = Client::greeted(gw.submission).await;
    for subject in ["one", "two", "three", "four"] {
        assert!(send_on(&mut c, subject).await.starts_with("250 2.6.0"));
    }
    let held = gw.held().await;
    assert_eq!(held.len(), 4);
    // Reviewers release three unchanged and return one: a 75% override rate.
    for (h, action) in held.iter().zip([
        councilgate::store::Action::Release,
        councilgate::store::Action::Release,
        councilgate::store::Action::Release,
        councilgate::store::Action::Return,
    ]) {
        gw.app
            .review
            .decide(
                &h.id,
                &councilgate::store::ReviewDecision::new(
                    action,
                    "clerk@example-tc.gov.uk",
                    "reviewed",
                    "",
                ),
            )
            .await
            .expect("decide");
    }
    // Events are recorded in the background: wait for them.
    for _ in 0..50 {
        let n = gw
            .app
            .store
            .events_since(0, 100)
            .await
            .expect("events")
            .len();
        if n == 4 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let stats = gw.app.store.rule_stats(0).await.expect("stats");
    let s = &stats["instruction-to-staff"];
    assert_eq!((s.fired, s.held, s.released, s.returned), (4, 4, 3, 1));
    assert_eq!(s.override_rate(), Some(0.75));

    let (clerk, _) = login(&gw, "clerk@example-tc.gov.uk", "clerk").await;
    let base = format!("http://{}", gw.web);
    assert_eq!(
        clerk
            .get(format!("{base}/admin"))
            .send()
            .await
            .expect("get")
            .status(),
        403,
        "admins only"
    );
    let (admin, _) = login(&gw, "it@example-tc.gov.uk", "admin").await;
    let page = common::pages::page(&admin, format!("{base}/admin")).await;
    let row = page
        .split("<tr>")
        .find(|r| r.contains("instruction-to-staff"))
        .expect("row");
    assert!(row.contains("75%"), "override rate shown: {row}");
    assert!(row.contains("4 / 4"), "fired and held counts: {row}");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_councilgate"))
        .arg("--config")
        .arg(cfg.path())
        .arg("stats")
        .output()
        .expect("stats");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.lines()
            .any(|l| l.starts_with("instruction-to-staff") && l.contains("75%")),
        "{text}"
    );
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn try_a_message_audit_search_and_revert_from_history() {
    let cfg = TestConfig::new(None, &[]);
    let gw = Gateway::start(&cfg).await;
    let (admin, csrf) = login(&gw, "it@example-tc.gov.uk", "admin").await;
    let base = format!("http://{}", gw.web);
    // Try a message: the same explanation as `check`.
    let form = reqwest::multipart::Form::new()
        .text("csrf", csrf.clone())
        .text("mail_from", "cllr.smith@example-tc.gov.uk")
        .text("rcpt", "alex.green@example-tc.gov.uk")
        .text("at", "")
        .text("source", "")
        .part(
            "file",
            reqwest::multipart::Part::bytes(b"From: cllr.smith@example-tc.gov.uk\nTo: alex.green@example-tc.gov.uk\nSubject: Bins\n\nAlex, please empty the bins today.\n".to_vec())
                .file_name("bins.eml"),
        );
    let page = admin
        .post(format!("{base}/admin/try"))
        .multipart(form)
        .send()
        .await
        .expect("post")
        .text()
        .await
        .expect("t");
    assert!(page.contains("Verdict: HOLD"), "{page}");
    assert!(
        page.contains("instruction-to-staff")
            && page.contains("&quot;verdict&quot;:&quot;hold&quot;")
            || page.contains("&#34;verdict&#34;:&#34;hold&#34;"),
        "{page}"
    );
    let no_csrf = reqwest::multipart::Form::new()
        .text("mail_from", "a@b.org")
        .text("rcpt", "c@d.org")
        .text("source", "x");
    assert_eq!(
        admin
            .post(format!("{base}/admin/try"))
            .multipart(no_csrf)
            .send()
            .await
            .expect("post")
            .status(),
        403
    );

    // Switch a rule off on disk, then revert to the first configuration.
    let first = gw.app.policy.load().version.clone();
    std::fs::write(
        cfg.path().join("rules.toml"),
        rules_with_instruction_mode("monitor"),
    )
    .expect("write");
    assert!(wait_for_version_change(&gw, &first).await);
    let page = common::pages::page(&admin, format!("{base}/admin/config")).await;
    assert!(
        page.contains("+mode = &quot;monitor&quot;") || page.contains("+mode = &#34;monitor&#34;"),
        "diff shown: {page}"
    );
    let r = admin
        .post(format!("{base}/admin/config/1/revert"))
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .expect("revert");
    assert_eq!(r.status(), 303);
    assert_eq!(
        gw.app.policy.load().version,
        first,
        "the first configuration is live again"
    );
    let history = gw.app.store.config_history(10).await.expect("history");
    assert!(
        history[0]
            .trigger
            .starts_with("revert to #1 by it@example-tc.gov.uk"),
        "{}",
        history[0].trigger
    );

    // The audit search finds the message by rule.
    let mut c = Client::greeted(gw.submission).await;
    send_on(&mut c, "searchable").await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let page = common::pages::page(
        &admin,
        format!("{base}/admin/audit?rule=instruction-to-staff"),
    )
    .await;
    assert!(
        page.contains("searchable") && page.contains("hash chain is intact"),
        "{page}"
    );
    let page = common::pages::page(&admin, format!("{base}/admin/audit?rule=press-contact")).await;
    assert!(!page.contains("searchable"), "filtered out");
    gw.stop().await;
}

#[test]
fn rules_test_passes_the_shipped_fixtures_and_fails_readably_on_a_wrong_one() {
    let bin = env!("CARGO_BIN_EXE_councilgate");
    let config = std::path::Path::new(REPO).join("config");
    let out = std::process::Command::new(bin)
        .arg("--config")
        .arg(&config)
        .args(["rules", "test"])
        .output()
        .expect("run");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("fixtures: 30 passed, 0 failed"), "{text}");
    // A fixture made wrong: expects no rule where one fires.
    let tmp = tempfile::tempdir().expect("tmp");
    for f in [
        "007-instruction-to-staff.eml",
        "007-instruction-to-staff.toml",
    ] {
        std::fs::copy(config.join("fixtures").join(f), tmp.path().join(f)).expect("copy");
    }
    let sidecar = tmp.path().join("007-instruction-to-staff.toml");
    let t = std::fs::read_to_string(&sidecar).expect("read");
    std::fs::write(
        &sidecar,
        t.replace("verdict = \"hold\"", "verdict = \"deliver\"")
            .replace("\"instruction-to-staff\", ", "")
            .replace("[\"instruction-to-staff\"]", "[]"),
    )
    .expect("write");
    let out = std::process::Command::new(bin)
        .arg("--config")
        .arg(&config)
        .args(["rules", "test"])
        .arg(tmp.path())
        .output()
        .expect("run");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success());
    assert!(text.contains("FAIL  007-instruction-to-staff"), "{text}");
    assert!(
        text.contains("verdict: expected deliver, got hold"),
        "{text}"
    );
    assert!(
        text.contains(
            "rule instruction-to-staff: fired unexpectedly on: Could you repaint the pavilion doors"
        ),
        "{text}"
    );
    // After a directory change, the fixtures naming someone who left are
    // reported as such, not as failures.
    let moved = tempfile::tempdir().expect("moved");
    for entry in std::fs::read_dir(&config).expect("config") {
        let p = entry.expect("entry").path();
        if p.is_file() {
            std::fs::copy(&p, moved.path().join(p.file_name().expect("name"))).expect("copy");
        }
    }
    let d = std::fs::read_to_string(moved.path().join("directory.toml")).expect("read");
    assert!(d.contains("\"cllr.okafor@example-tc.gov.uk\""));
    std::fs::write(
        moved.path().join("directory.toml"),
        d.replace(
            "\"cllr.okafor@example-tc.gov.uk\"",
            "\"cllr.okafor-new@example-tc.gov.uk\"",
        ),
    )
    .expect("write");
    let out = std::process::Command::new(bin)
        .arg("--config")
        .arg(moved.path())
        .args(["rules", "test"])
        .arg(config.join("fixtures"))
        .output()
        .expect("run");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains("names cllr.okafor@example-tc.gov.uk, not in the directory"),
        "{text}"
    );
    assert!(
        text.contains("0 failed,")
            && text.contains("not run (they name people no longer in the directory)"),
        "{text}"
    );
    assert!(!text.contains("FAIL "), "{text}");
    // A candidate that switches the rule off changes exactly the fixtures it held.
    let cand = tempfile::tempdir().expect("cand");
    std::fs::copy(
        config.join("directory.toml"),
        cand.path().join("directory.toml"),
    )
    .expect("copy");
    let rules = std::fs::read_to_string(config.join("rules.toml")).expect("rules");
    std::fs::write(
        cand.path().join("rules.toml"),
        rules.replace(
            "id = \"instruction-to-staff\"\n",
            "id = \"instruction-to-staff\"\nenabled = false\n",
        ),
    )
    .expect("write");
    let data = tempfile::tempdir().expect("data");
    // The shipped config folder, with its data folder (relative: inside
    // the config folder) moved out of the repository.
    let out = std::process::Command::new(bin)
        .env("COUNCILGATE__SERVER__DATA_DIR", data.path())
        .arg("--config")
        .arg(&config)
        .args(["rules", "diff", "--candidate"])
        .arg(cand.path())
        .output()
        .expect("run");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains("Compared 30 messages: 1 would change."),
        "{text}"
    );
    assert!(
        text.contains("fixture 007-instruction-to-staff")
            && text.contains("now:       hold")
            && text.contains("candidate: deliver"),
        "{text}"
    );
}

/// Sends one message from a councillor to the Proper Officer's deputy (a
/// senior officer: no copy or instruction rule needs it held) on an open
/// session; returns the reply to the end of DATA.
async fn send_text(c: &mut Client, text: &str) -> String {
    assert!(
        c.cmd("MAIL FROM:<cllr.patel@example-tc.gov.uk>")
            .await
            .starts_with("250")
    );
    assert!(
        c.cmd("RCPT TO:<deputy.clerk@example-tc.gov.uk>")
            .await
            .starts_with("250")
    );
    assert!(c.cmd("DATA").await.starts_with("354"));
    c.send(format!("From: cllr.patel@example-tc.gov.uk\r\nTo: deputy.clerk@example-tc.gov.uk\r\nSubject: The regatta\r\n\r\nHi Sam,\r\n\r\n{text}\r\n\r\nRegards,\r\nPriya\r\n.\r\n").as_bytes())
        .await;
    c.reply().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_example_added_on_disk_changes_the_verdict_and_a_broken_examples_file_is_refused() {
    let sink = Sink::start().await;
    let cfg = TestConfig::new(Some(sink.addr), &[]);
    let gw = Gateway::start(&cfg).await;
    let mut c = Client::connect(gw.submission).await;
    assert!(c.cmd("EHLO client.example").await.starts_with("250"));
    // Veiled pressure that neither the word lists nor the shipped examples
    // foresaw: delivered.
    let veiled = "The regatta committee has a long memory for officers who get in its way over the mooring fees.";
    let r = send_text(&mut c, veiled).await;
    assert!(r.starts_with("250 2.0.0"), "not foreseen, delivered: {r}");

    // The admin adds a positive example, the same threat in a few other
    // words; the reload embeds it.
    let before = gw.app.policy.load().version.clone();
    let examples = councilgate::policy::semantic::examples::DEFAULT_EXAMPLES.replace(
        "[undue-pressure]\npositive = [\n",
        "[undue-pressure]\npositive = [\n  \"The regatta committee has a long memory for any officer who gets in its way over mooring fees.\",\n",
    );
    std::fs::write(cfg.path().join("examples.toml"), &examples).expect("write");
    assert!(
        wait_for_version_change(&gw, &before).await,
        "reloaded after examples.toml changed"
    );
    let r = send_text(&mut c, veiled).await;
    assert!(
        r.starts_with("250 2.6.0"),
        "now read as pressure and held: {r}"
    );
    let held = gw.held().await;
    let hit = held[0]
        .verdict
        .rules
        .iter()
        .find(|h| h.id == "undue-pressure")
        .expect("undue-pressure held it");
    assert!(
        hit.evidence.iter().any(|e| e.contains(
            "(meaning: reads like \"The regatta committee has a long memory for any officer"
        )),
        "{:?}",
        hit.evidence
    );
    assert!(
        held[0]
            .verdict
            .model
            .as_deref()
            .is_some_and(|m| m.starts_with("councilgate/minilm-l3-q4-council-v1 "))
    );
    let history = gw.app.store.config_history(1).await.expect("history");
    assert!(
        history[0]
            .diff
            .contains("+  \"The regatta committee has a long memory for any officer"),
        "{}",
        history[0].diff
    );
    assert!(
        cfg.data_dir().join("examples.embeddings").exists(),
        "the admin's examples are cached in the data folder"
    );

    // A broken examples file: refused with file, line and detector; the
    // last good policy stays live.
    let live = gw.app.policy.load().version.clone();
    std::fs::write(
        cfg.path().join("examples.toml"),
        "[criticism]\npositive = [\n  \"The clerk is hopeless.\",\n]\nnegative = [\n  \"the clerk is  hopeless.\",\n]\n",
    )
    .expect("write");
    let why = wait_for_refusal(&gw).await;
    assert!(
        why.contains("examples.toml:6:")
            && why.contains("[criticism]")
            && why.contains("both a positive and a negative"),
        "{why}"
    );
    assert_eq!(
        gw.app.policy.load().version,
        live,
        "the last good policy stays"
    );
    gw.stop().await;
}

/// The analysis archive keeps what the content rules read of councillor
/// and officer mail — new text, not the quoted history — and never a
/// resident's mail; a what-if on it shows a delivered message that a
/// candidate example would hold.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_analysis_archive_keeps_councillor_mail_and_shows_what_a_change_would_hold() {
    let (_sink, _cfg, gw) = gateway_with_sink().await;
    let send = |from: &'static str, rcpt: &'static str, body: &'static str, addr| async move {
        let mut c = Client::greeted(addr).await;
        c.cmd(&format!("MAIL FROM:<{from}>")).await;
        c.cmd(&format!("RCPT TO:<{rcpt}>")).await;
        c.cmd("DATA").await;
        c.send(format!("{}\r\n.\r\n", body.replace('\n', "\r\n")).as_bytes())
            .await;
        c.reply().await
    };
    let r = send(
        "resident@example.org",
        "clerk@example-tc.gov.uk",
        "From: resident@example.org\nTo: clerk@example-tc.gov.uk\nSubject: Pothole\n\nThere is a pothole on Mill Lane.\n",
        gw.inbound,
    )
    .await;
    assert!(r.starts_with("250"), "{r}");
    let sentence = "Do you know when the small hall is free next week?";
    let r = send(
        "cllr.patel@example-tc.gov.uk",
        "alex.green@example-tc.gov.uk",
        "From: Mark Patel <cllr.patel@example-tc.gov.uk>\nTo: Alex Green <alex.green@example-tc.gov.uk>\nSubject: Hall\n\nAlex,\n\nDo you know when the small hall is free next week?\n\nMark\n\n> On Monday Alex wrote:\n> The quoted history is not archived.\n",
        gw.submission,
    )
    .await;
    assert!(r.starts_with("250 2.0.0"), "delivered: {r}");
    let mut archived = Vec::new();
    assert!(
        wait_until(Duration::from_secs(10), || {
            archived = tokio::task::block_in_place(|| {
                tokio::runtime::Handle::current()
                    .block_on(gw.app.store.analysis_archive(10))
                    .expect("archive")
            });
            !archived.is_empty()
        })
        .await
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    let archived = gw.app.store.analysis_archive(10).await.expect("archive");
    assert_eq!(archived.len(), 1, "the resident's mail is not archived");
    let text = String::from_utf8_lossy(&archived[0].message).to_string();
    assert!(
        text.contains(sentence) && text.contains("Subject: Hall"),
        "{text}"
    );
    assert!(!text.contains("quoted history"), "{text}");
    assert_eq!(archived[0].decision, "deliver");

    // A candidate with that sentence as a positive example of instruction
    // would hold it: the what-if says so.
    let live = gw.app.policy.load();
    let t = &live.texts;
    let examples = councilgate::policy::semantic::examples::with_added(
        &t.examples,
        "instruction",
        councilgate::policy::semantic::Label::Positive,
        &[sentence.to_string()],
    );
    let candidate = councilgate::policy::Snapshot::compile_with(
        (&t.directory, "d"),
        (&t.wordlists, "w"),
        (&t.rules, "r"),
        (&examples, "e"),
        (&t.protocol, "p"),
        &Default::default(),
    )
    .expect("candidate");
    let real = councilgate::tuning::samples(Vec::new(), archived);
    let councilgate::tuning::WhatIf {
        compared, changes, ..
    } = councilgate::tuning::what_if(
        &live,
        &candidate,
        std::path::Path::new("/nonexistent"),
        &real,
        None,
    )
    .expect("what if");
    assert_eq!(compared, 1);
    assert_eq!(changes.len(), 1, "{changes:?}");
    assert!(
        changes[0].name.starts_with("archived ") && changes[0].after.starts_with("hold"),
        "{changes:?}"
    );
    gw.stop().await;
}

//! Each policy action end to end through the SMTP listener.

mod common;

use std::time::Duration;

use common::*;

const WAIT: Duration = Duration::from_secs(15);

async fn send(addr: std::net::SocketAddr, from: &str, rcpts: &[&str], message: &str) -> String {
    let mut c = Client::greeted(addr).await;
    let r = c.cmd(&format!("MAIL FROM:<{from}>")).await;
    assert!(r.starts_with("250"), "{r}");
    for rc in rcpts {
        let r = c.cmd(&format!("RCPT TO:<{rc}>")).await;
        assert!(r.starts_with("250"), "{rc}: {r}");
    }
    assert!(c.cmd("DATA").await.starts_with("354"));
    let body = message.replace("\r\n", "\n").replace('\n', "\r\n");
    c.send(format!("{body}\r\n.\r\n").as_bytes()).await;
    let reply = c.reply().await;
    c.cmd("QUIT").await;
    reply
}

fn text(d: &Delivered) -> String {
    String::from_utf8_lossy(&d.data).to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn annotate_bcc_councillor_named_at_the_foot() {
    let (sink, _cfg, gw) = gateway_with_sink().await;
    let reply = send(
        gw.submission,
        "clerk@example-tc.gov.uk",
        &["cllr.smith@example-tc.gov.uk", "cllr.llewellyn@example-tc.gov.uk"],
        "From: Clara Hughes <clerk@example-tc.gov.uk>\nTo: Jane Smith <cllr.smith@example-tc.gov.uk>\nSubject: Your question about the allotment waiting list\nContent-Type: text/plain; charset=utf-8\n\nDear Jane,\n\nThere are 14 people on the waiting list.\n\nClara",
    )
    .await;
    assert!(reply.starts_with("250 2.0.0"), "{reply}");
    let got = sink.wait_for(1, WAIT).await;
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].rcpts.len(), 2, "both delivered");
    let t = text(&got[0]);
    assert!(t.contains("X-Council-Protocol: silent-copy"), "{t}");
    // The 7-bit part carries a non-ASCII name: it is now quoted-printable.
    let parsed = mail_parser::MessageParser::default()
        .parse(&got[0].data)
        .expect("parses");
    let body = parsed.body_text(0).expect("text body");
    assert!(
        body.contains("There are 14 people on the waiting list."),
        "{body}"
    );
    assert!(
        body.trim_end().ends_with("CC councillor Siân Llewellyn"),
        "{body}"
    );
    assert!(!body.contains("Tom Baker"));
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn copy_proper_officer_and_manager_visibly() {
    let (sink, _cfg, gw) = gateway_with_sink().await;
    let reply = send(
        gw.submission,
        "cllr.baker@example-tc.gov.uk",
        &["priya.shah@example-tc.gov.uk"],
        "From: Tom Baker <cllr.baker@example-tc.gov.uk>\nTo: Priya Shah <priya.shah@example-tc.gov.uk>\nSubject: Thanks\n\nHi Priya,\n\nThank you for the hall booking figures, they were very helpful.\n\nTom",
    )
    .await;
    assert!(reply.starts_with("250 2.0.0"), "{reply}");
    let got = sink.wait_for(1, WAIT).await;
    assert_eq!(got.len(), 1);
    let rcpts = &got[0].rcpts;
    assert!(rcpts.contains(&"priya.shah@example-tc.gov.uk".to_string()));
    assert!(
        rcpts.contains(&"clerk@example-tc.gov.uk".to_string()),
        "{rcpts:?}"
    );
    let t = text(&got[0]);
    assert!(
        t.contains("X-Council-Protocol: route-via-proper-officer"),
        "{t}"
    );
    assert!(
        t.contains("Cc: Clara Hughes <clerk@example-tc.gov.uk>"),
        "no silent copy: {t}"
    );
    assert!(t.contains("Clara Hughes has been copied in"), "{t}");
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redirect_staffing_matter_to_proper_officer_and_tell_sender() {
    let (sink, _cfg, gw) = gateway_with_sink().await;
    let reply = send(
        gw.submission,
        "cllr.okafor@example-tc.gov.uk",
        &["alex.green@example-tc.gov.uk", "clerk@example-tc.gov.uk"],
        "From: Ruth Okafor <cllr.okafor@example-tc.gov.uk>\nTo: Alex Green <alex.green@example-tc.gov.uk>\nCc: Clara Hughes <clerk@example-tc.gov.uk>\nSubject: Caretaker\nMessage-ID: <staff1@test>\n\nHi Alex,\n\nI've had a complaint about the caretaker's timekeeping - he was late opening the hall three times last week.\n\nRuth",
    )
    .await;
    assert!(reply.starts_with("250"), "{reply}");
    let got = sink.wait_for(2, WAIT).await;
    let original = got
        .iter()
        .find(|d| d.mail_from == "cllr.okafor@example-tc.gov.uk")
        .expect("the message");
    assert_eq!(
        original.rcpts,
        vec!["clerk@example-tc.gov.uk", "deputy.clerk@example-tc.gov.uk"],
        "junior officer removed; his manager still copied (RULES-NOTES, 001 §1.09)"
    );
    assert!(text(original).contains("staffing-matters"));
    assert!(
        text(original).contains("Dafydd Rees <deputy.clerk@example-tc.gov.uk>"),
        "no silent copy: the manager is in the Cc header"
    );
    assert!(text(original).contains("has been sent to Clara Hughes instead"));
    let notice = got
        .iter()
        .find(|d| d.mail_from.is_empty())
        .expect("a notice to the sender");
    assert_eq!(notice.rcpts, vec!["cllr.okafor@example-tc.gov.uk"]);
    let n = text(notice);
    assert!(n.contains("Auto-Submitted: auto-generated"), "{n}");
    assert!(n.contains("In-Reply-To: <staff1@test>"), "{n}");
    assert!(
        n.contains("addressed to Alex Green and has been sent to Clara Hughes"),
        "{n}"
    );
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hold_instruction_to_junior_officer() {
    let (sink, cfg, gw) = gateway_with_sink().await;
    let reply = send(
        gw.submission,
        "cllr.patel@example-tc.gov.uk",
        &["alex.green@example-tc.gov.uk"],
        "From: Mark Patel <cllr.patel@example-tc.gov.uk>\nTo: Alex Green <alex.green@example-tc.gov.uk>\nSubject: Pavilion\n\nAlex,\n\nI need you to repaint the pavilion doors before the fete on Saturday.\n\nMark",
    )
    .await;
    assert!(reply.starts_with("250 2.6.0 Held for review"), "{reply}");
    assert!(reply.contains("instruction-to-staff"), "{reply}");
    let store =
        councilgate::store::Store::open(&councilgate::store::Store::default_url(&cfg.data_dir()))
            .await
            .expect("store");
    let held = store
        .list(councilgate::store::HeldState::Held)
        .await
        .expect("list");
    assert_eq!(held.len(), 1, "stored for review");
    // The held copy keeps its pending changes (the copies) for release.
    assert!(
        held[0]
            .recipients
            .contains(&"clerk@example-tc.gov.uk".to_string()),
        "{:?}",
        held[0].recipients
    );
    assert_eq!(
        held[0].rules,
        vec![
            "route-via-proper-officer",
            "keep-manager-informed",
            "instruction-to-staff"
        ]
    );
    // The message does not go out; the sender and the reviewers (the
    // Proper Officer and the deputy) are told.
    let got = sink.wait_for(3, WAIT).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let got = if got.len() < 3 { sink.messages() } else { got };
    assert_eq!(got.len(), 3, "{got:#?}");
    assert!(
        got.iter().all(|d| d.mail_from.is_empty()),
        "notices only, null sender"
    );
    let to_sender = got
        .iter()
        .find(|d| d.rcpts == vec!["cllr.patel@example-tc.gov.uk"])
        .expect("sender notice");
    assert!(text(to_sender).contains("held for review by the Proper Officer"));
    let to_clerk = got
        .iter()
        .find(|d| d.rcpts == vec!["clerk@example-tc.gov.uk"])
        .expect("reviewer notice");
    let t = text(to_clerk);
    assert!(t.contains("Subject: Held for your review: Pavilion"), "{t}");
    assert!(
        t.contains(&format!("http://127.0.0.1:8025/held/{}", held[0].id)),
        "link to the message: {t}"
    );
    assert!(
        got.iter()
            .any(|d| d.rcpts == vec!["deputy.clerk@example-tc.gov.uk"]),
        "deputy told"
    );
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reject_by_an_admins_own_rule_answers_550() {
    let sink = Sink::start().await;
    let cfg = TestConfig::new(Some(sink.addr), &[]);
    let mut rules = std::fs::read_to_string(std::path::Path::new(REPO).join("config/rules.toml"))
        .expect("rules");
    rules.push_str(
        r#"
[[rules]]
id = "no-executables"
title = "No executable attachments"
reference = "The council's IT policy: programs are never sent by email."
action = "reject"
reason = "Executable attachments are not accepted by the council (no-executables)"
attachment_name = ['\.(exe|scr|bat)$']
"#,
    );
    std::fs::write(cfg.path().join("rules.toml"), rules).expect("write rules");
    let gw = Gateway::start(&cfg).await;
    let reply = send(
        gw.inbound,
        "someone@example.org",
        &["clerk@example-tc.gov.uk"],
        "From: someone@example.org\nTo: clerk@example-tc.gov.uk\nSubject: invoice\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: text/plain\n\nSee attached.\n--b\nContent-Type: application/octet-stream; name=invoice.exe\nContent-Disposition: attachment; filename=invoice.exe\nContent-Transfer-Encoding: base64\n\nTVqQAAMAAAAEAAAA\n--b--",
    )
    .await;
    assert!(
        reply.starts_with("550 5.7.1 Executable attachments"),
        "{reply}"
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(sink.messages().is_empty());
    assert_eq!(spooled(&cfg.data_dir().join("spool")), 0);
    gw.stop().await;
}

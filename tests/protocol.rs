//! The council's own protocol: a second example council (its own directory
//! and a ready-made protocol pack chosen with `councilgate protocol use`)
//! whose sender notices, review page and admin pages quote only its own
//! protocol — never the shipped example council's, never another council's.

mod common;

use std::time::Duration;

use common::pages::*;
use common::*;

const WAIT: Duration = Duration::from_secs(15);
const COUNCIL: &str = "Borsetshire District Council";
const DOMAIN: &str = "borsetshire.gov.uk";

/// Words of the shipped example council's protocol and of the councils the
/// packs were taken from, none of which a Borsetshire notice may carry.
const FOREIGN: &[&str] = &[
    "Example Town Council",
    "Councillor–Officer Protocol",
    "Wantage",
    "Honiton",
    "Taff",
    "“Some general principles”",
];

fn second_council(sink: std::net::SocketAddr) -> TestConfig {
    let cfg = TestConfig::new(Some(sink), &[]);
    let dir = std::fs::read_to_string(cfg.path().join("directory.toml")).expect("directory");
    let dir = dir
        .replace("Example Town Council", COUNCIL)
        .replace("example-tc.gov.uk", DOMAIN);
    std::fs::write(cfg.path().join("directory.toml"), dir).expect("write directory");
    let out = councilgate(
        cfg.path(),
        &["protocol", "use", "district", "--adopted", "2025-07-01"],
        &[],
    );
    assert_success(&out);
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        said.contains("Borsetshire District Council Protocol on Councillor/Officer Relations"),
        "{said}"
    );
    assert!(
        said.contains("silent-copy") && said.contains("no clause (monitor mode)"),
        "{said}"
    );
    cfg
}

fn assert_only_borsetshire(what: &str, text: &str) {
    for f in FOREIGN {
        assert!(!text.contains(f), "{what} quotes {f:?}:\n{text}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_council_s_notices_and_pages_quote_only_its_own_protocol() {
    let sink = sink::Sink::start().await;
    let cfg = second_council(sink.addr);

    // The CLI and `rules validate` agree, and see nothing foreign.
    let out = councilgate(cfg.path(), &["rules", "validate"], &[]);
    assert_success(&out);
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        said.contains("Notices quote the Borsetshire District Council Protocol"),
        "{said}"
    );
    assert!(!said.contains("warning"), "{said}");
    // Re-choosing a pack over the council's edited file needs --replace.
    let again = councilgate(cfg.path(), &["protocol", "use", "model"], &[]);
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("--replace"));

    let gw = Gateway::start(&cfg).await;
    let from = format!("cllr.patel@{DOMAIN}");
    let to = format!("alex.green@{DOMAIN}");
    let mut c = Client::greeted(gw.submission).await;
    c.cmd(&format!("MAIL FROM:<{from}>")).await;
    c.cmd(&format!("RCPT TO:<{to}>")).await;
    c.cmd("DATA").await;
    let msg = format!(
        "From: Mark Patel <{from}>\r\nTo: Alex Green <{to}>\r\nSubject: Pavilion doors\r\nMessage-ID: <bor1@test>\r\n\r\nAlex,\r\n\r\nI need you to repaint the pavilion doors before the fete on Saturday.\r\n\r\nMark\r\n.\r\n"
    );
    c.send(msg.as_bytes()).await;
    let reply = c.reply().await;
    assert!(reply.starts_with("250"), "{reply}");
    let held = gw.held().await;
    assert_eq!(held.len(), 1, "held for review");

    // The notice to the councillor names her council's protocol and its
    // paragraph, in its own words.
    // (The reviewers' notice may come first: wait for the sender's.)
    let to_sender = |d: &sink::Delivered| d.mail_from.is_empty() && d.rcpts == vec![from.clone()];
    assert!(
        wait_until(WAIT, || sink.messages().iter().any(to_sender)).await,
        "a notice to the sender"
    );
    let got = sink.messages();
    let notice = got
        .iter()
        .find(|d| to_sender(d))
        .expect("a notice to the sender");
    let n = String::from_utf8_lossy(&notice.data).to_string();
    assert!(
        n.contains(
            "Borsetshire District Council Protocol on Councillor/Officer Relations, paragraph 5.02"
        ),
        "{n}"
    );
    assert!(
        n.contains("Councillors must not give instructions to junior staff"),
        "{n}"
    );
    assert_only_borsetshire("the sender notice", &n);

    // The review page and the admin's protocol page say the same.
    let web = format!("http://{}", gw.web);
    let clerk = format!("clerk@{DOMAIN}");
    add_user(&gw, &clerk, "admin").await;
    let b = browser();
    login(&b, &web, &clerk).await;
    let review = page(&b, format!("{web}/held/{}", held[0].id)).await;
    assert!(review.contains("paragraph 5.02"), "{review}");
    assert_only_borsetshire("the review page", &review);
    let coverage = page(&b, format!("{web}/admin/protocol")).await;
    assert!(
        coverage.contains("Borsetshire District Council Protocol on Councillor/Officer Relations")
            && coverage.contains("adopted 2025-07-01")
            && coverage.contains("no clause (monitor mode)"),
        "{coverage}"
    );
    assert_only_borsetshire("the protocol page", &coverage);
    gw.stop().await;
}

#[test]
fn validate_warns_when_a_notice_would_quote_another_council() {
    let cfg = TestConfig::new(None, &[]);
    let p = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("config/protocol.toml"),
    )
    .expect("protocol");
    std::fs::write(
        cfg.path().join("protocol.toml"),
        p.replace(
            "title = \"Councillor–Officer Protocol\"",
            "title = \"Wantage Town Council Model Councillor-Officer Protocol\"",
        ),
    )
    .expect("write");
    let out = councilgate(cfg.path(), &["rules", "validate"], &[]);
    assert_success(&out);
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        said.contains("warning: protocol.toml: protocol.title names \"Wantage Town Council\""),
        "{said}"
    );
}

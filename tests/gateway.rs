//! Gateway core, end to end over TCP with real SMTP clients.

mod common;

use std::time::Duration;

use common::*;
use tokio::process::Command;

const WAIT: Duration = Duration::from_secs(15);

/// Sends `file` with curl and checks curl reports success (`what` names the
/// attempt in the failure).
async fn curl_sends(
    what: &str,
    addr: std::net::SocketAddr,
    from: &str,
    rcpts: &[&str],
    file: &std::path::Path,
) {
    let mut c = Command::new("curl");
    c.arg("-sS")
        .arg(format!("smtp://{addr}"))
        .arg("--mail-from")
        .arg(from);
    for r in rcpts {
        c.arg("--mail-rcpt").arg(r);
    }
    let out = c.arg("-T").arg(file).output().await.expect("run curl");
    assert!(
        out.status.success(),
        "{what}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn curl_through_both_listeners_arrives_byte_identical() {
    if !require("curl") {
        return;
    }
    let (sink, _cfg, gw) = gateway_with_sink().await;
    let tmp = tempfile::tempdir().expect("tmp");
    let file = tmp.path().join("m.eml");
    let original = sample_message("curl-inbound");
    std::fs::write(&file, &original).expect("write");
    // From outside, a resident's own message: a message from outside that
    // claims a councillor would (rightly) be marked unverified.
    let resident_file = tmp.path().join("resident.eml");
    let resident = String::from_utf8(original.clone())
        .expect("utf8")
        .replace(
            "From: Jane Smith <cllr.smith@example-tc.gov.uk>",
            "From: Ann Jones <resident@example.org>",
        )
        .into_bytes();
    std::fs::write(&resident_file, &resident).expect("write");

    curl_sends(
        "inbound",
        gw.inbound,
        "resident@example.org",
        &["clerk@example-tc.gov.uk"],
        &resident_file,
    )
    .await;
    curl_sends(
        "submission",
        gw.submission,
        "clerk@example-tc.gov.uk",
        &["someone@example.org"],
        &file,
    )
    .await;

    let got = sink.wait_for(2, WAIT).await;
    assert_eq!(got.len(), 2, "both delivered");
    for d in &got {
        let sent = if d.mail_from == "resident@example.org" {
            &resident
        } else {
            &original
        };
        assert_eq!(
            without_received(&d.data),
            &sent[..],
            "body byte-identical (8-bit, dots)"
        );
    }
    let inbound = got
        .iter()
        .find(|d| d.mail_from == "resident@example.org")
        .expect("inbound one");
    assert_eq!(inbound.rcpts, vec!["clerk@example-tc.gov.uk"]);
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn swaks_pipelined_session_to_submission() {
    if !require("swaks") {
        return;
    }
    let (sink, _cfg, gw) = gateway_with_sink().await;
    let out = Command::new("swaks")
        .args(["--server", &gw.submission.to_string(), "--pipeline"])
        .args([
            "--from",
            "clerk@example-tc.gov.uk",
            "--to",
            "a@example.org,b@example.net",
        ])
        .args([
            "--header",
            "Subject: pipelined",
            "--body",
            "Dear all,\n.\nA lone dot line above.\n",
        ])
        .output()
        .await
        .expect("swaks");
    let transcript = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{transcript}");
    assert!(transcript.contains("PIPELINING"), "{transcript}");
    let got = sink.wait_for(1, WAIT).await;
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].rcpts.len(), 2);
    let text = String::from_utf8_lossy(&got[0].data);
    assert!(text.contains("\r\n.\r\nA lone dot line above."), "{text}");
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smtp_source_load_all_delivered() {
    if !require("smtp-source") {
        return;
    }
    let (sink, _cfg, gw) = gateway_with_sink().await;
    let bin = if have("/usr/sbin/smtp-source") {
        "/usr/sbin/smtp-source"
    } else {
        "smtp-source"
    };
    let out = Command::new(bin)
        .args([
            "-s",
            "5",
            "-m",
            "50",
            "-l",
            "2048",
            "-f",
            "clerk@example-tc.gov.uk",
            "-t",
            "x@example.org",
        ])
        .arg(gw.submission.to_string())
        .output()
        .await
        .expect("smtp-source");
    assert_success(&out);
    let got = sink.wait_for(50, WAIT).await;
    assert_eq!(got.len(), 50);
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postfix_smtp_sink_as_real_upstream() {
    if !require("smtp-sink") || !require("curl") {
        return;
    }
    let dump = tempfile::tempdir().expect("tmp");
    std::fs::set_permissions(
        dump.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o777),
    )
    .expect("chmod");
    // Find a free port, then hand it to smtp-sink.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("probe")
        .local_addr()
        .expect("addr")
        .port();
    let bin = if have("/usr/sbin/smtp-sink") {
        "/usr/sbin/smtp-sink"
    } else {
        "smtp-sink"
    };
    let mut sink = std::process::Command::new(bin)
        .args(["-u", "nobody", "-d"])
        .arg(format!("{}/%M.", dump.path().display()))
        .arg(format!("127.0.0.1:{port}"))
        .arg("10")
        .spawn()
        .expect("smtp-sink");
    let upstream: std::net::SocketAddr = format!("127.0.0.1:{port}").parse().expect("addr");
    assert!(
        wait_until(WAIT, || std::net::TcpStream::connect(upstream).is_ok()).await,
        "smtp-sink up"
    );
    let cfg = TestConfig::new(Some(upstream), &[]);
    let gw = Gateway::start(&cfg).await;
    let tmp = tempfile::tempdir().expect("tmp");
    let file = tmp.path().join("m.eml");
    let original = sample_message("postfix-sink");
    std::fs::write(&file, &original).expect("write");
    curl_sends(
        "curl",
        gw.submission,
        "clerk@example-tc.gov.uk",
        &["someone@example.org"],
        &file,
    )
    .await;
    let dumped = || {
        std::fs::read_dir(dump.path())
            .map(|d| d.count())
            .unwrap_or(0)
            > 0
    };
    assert!(
        wait_until(WAIT, dumped).await,
        "smtp-sink received the message"
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    let file = std::fs::read_dir(dump.path())
        .expect("dir")
        .next()
        .expect("one")
        .expect("entry")
        .path();
    let got = std::fs::read(file).expect("read dump");
    // smtp-sink writes LF line endings; compare with ours normalised.
    let want = String::from_utf8_lossy(&original).replace("\r\n", "\n");
    let got = String::from_utf8_lossy(&got);
    assert!(
        got.contains("X-Mail-Args: <clerk@example-tc.gov.uk>"),
        "{got}"
    );
    assert!(
        got.contains(&want),
        "body intact through a real upstream:\n{got}"
    );
    let _ = sink.kill();
    let _ = sink.wait();
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn relay_denied_on_inbound_for_foreign_domain() {
    let cfg = TestConfig::new(None, &[]);
    let gw = Gateway::start(&cfg).await;
    let mut c = Client::connect(gw.inbound).await;
    assert!(c.cmd("EHLO client.example").await.starts_with("250"));
    assert!(c.cmd("MAIL FROM:<a@example.org>").await.starts_with("250"));
    let r = c.cmd("RCPT TO:<victim@gmail.com>").await;
    assert!(r.starts_with("550 5.7.1"), "{r}");
    let r = c.cmd("RCPT TO:<Clerk@Example-TC.gov.uk>").await;
    assert!(
        r.starts_with("250"),
        "council domain accepted, case-insensitively: {r}"
    );
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn submission_from_untrusted_network_is_not_a_relay() {
    let cfg = TestConfig::new(
        None,
        &[(
            "trusted_networks = [\"127.0.0.0/8\", \"::1/128\"]",
            "trusted_networks = [\"10.9.9.0/24\"]",
        )],
    );
    let gw = Gateway::start(&cfg).await;
    let mut c = Client::greeted(gw.submission).await;
    // Not trusted and not logged in: the transaction cannot even start.
    let r = c.cmd("MAIL FROM:<a@example.org>").await;
    assert!(r.starts_with("530 5.7.0"), "{r}");
    let r = c.cmd("RCPT TO:<victim@gmail.com>").await;
    assert!(r.starts_with("503"), "{r}");
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pipelined_commands_get_replies_in_order() {
    let (sink, _cfg, gw) = gateway_with_sink().await;
    let mut c = Client::greeted(gw.inbound).await;
    c.send(b"MAIL FROM:<a@example.org>\r\nRCPT TO:<clerk@example-tc.gov.uk>\r\nRCPT TO:<nobody@gmail.com>\r\nRCPT TO:<priya.shah@example-tc.gov.uk>\r\nDATA\r\n").await;
    let replies = [
        c.reply().await,
        c.reply().await,
        c.reply().await,
        c.reply().await,
        c.reply().await,
    ];
    assert!(replies[0].starts_with("250"), "{replies:?}");
    assert!(replies[1].starts_with("250"), "{replies:?}");
    assert!(replies[2].starts_with("550"), "{replies:?}");
    assert!(replies[3].starts_with("250"), "{replies:?}");
    assert!(replies[4].starts_with("354"), "{replies:?}");
    c.send(b"Subject: p\r\n\r\nbody\r\n.\r\nQUIT\r\n").await;
    assert!(c.reply().await.starts_with("250"));
    assert!(c.reply().await.starts_with("221"));
    let got = sink.wait_for(1, WAIT).await;
    assert_eq!(
        got[0].rcpts,
        vec!["clerk@example-tc.gov.uk", "priya.shah@example-tc.gov.uk"]
    );
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn size_limit_declared_and_actual() {
    let cfg = TestConfig::new(
        None,
        &[("max_message_size = 26214400", "max_message_size = 2000")],
    );
    let gw = Gateway::start(&cfg).await;
    let mut c = Client::connect(gw.inbound).await;
    let ehlo = c.cmd("EHLO client.example").await;
    assert!(ehlo.contains("SIZE 2000"), "{ehlo}");
    let r = c.cmd("MAIL FROM:<a@example.org> SIZE=5000").await;
    assert!(r.starts_with("552 5.3.4"), "{r}");
    c.start_data("a@example.org", &["clerk@example-tc.gov.uk"])
        .await;
    let big = format!("Subject: big\r\n\r\n{}\r\n.\r\n", "x".repeat(3000));
    c.send(big.as_bytes()).await;
    let r = c.reply().await;
    assert!(r.starts_with("552 5.3.4"), "{r}");
    // The session goes on after the refusal.
    assert!(c.cmd("NOOP").await.starts_with("250"));
    assert_eq!(spooled(&cfg.data_dir().join("spool")), 0, "nothing stored");
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_header_section_is_refused_but_a_big_body_is_not() {
    let cfg = TestConfig::new(
        None,
        &[("max_header_size = 262144", "max_header_size = 1024")],
    );
    let gw = Gateway::start(&cfg).await;
    let mut c = Client::greeted(gw.inbound).await;
    let mut send = async |message: String| {
        c.start_data("a@example.org", &["clerk@example-tc.gov.uk"])
            .await;
        c.send(format!("{message}\r\n.\r\n").as_bytes()).await;
        c.reply().await
    };
    let many = "X-Filler: 0123456789012345678901234567890123456789\r\n".repeat(40);
    let r = send(format!("{many}Subject: headers\r\n\r\nshort body")).await;
    assert!(r.starts_with("552 5.3.4"), "{r}");
    assert!(
        r.contains("header"),
        "the reply names the header section: {r}"
    );
    let body = "line of body text\r\n".repeat(200);
    let r = send(format!("Subject: long body\r\n\r\n{body}")).await;
    assert!(
        r.starts_with("250"),
        "a body beyond the header limit is fine: {r}"
    );
    assert_eq!(
        spooled(&cfg.data_dir().join("spool")),
        1,
        "only the second stored"
    );
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recipient_limit_answers_452() {
    let cfg = TestConfig::new(None, &[("max_recipients = 100", "max_recipients = 2")]);
    let gw = Gateway::start(&cfg).await;
    let mut c = Client::greeted(gw.inbound).await;
    c.cmd("MAIL FROM:<a@example.org>").await;
    assert!(
        c.cmd("RCPT TO:<clerk@example-tc.gov.uk>")
            .await
            .starts_with("250")
    );
    assert!(
        c.cmd("RCPT TO:<priya.shah@example-tc.gov.uk>")
            .await
            .starts_with("250")
    );
    let r = c.cmd("RCPT TO:<alex.green@example-tc.gov.uk>").await;
    assert!(r.starts_with("452 4.5.3"), "{r}");
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smuggling_attempt_stays_inside_one_message() {
    let (sink, _cfg, gw) = gateway_with_sink().await;
    let mut c = Client::greeted(gw.inbound).await;
    c.cmd("MAIL FROM:<a@example.org>").await;
    c.cmd("RCPT TO:<clerk@example-tc.gov.uk>").await;
    assert!(c.cmd("DATA").await.starts_with("354"));
    // A bare-LF "end of data" followed by a smuggled second transaction.
    c.send(b"Subject: outer\r\n\r\nhello\n.\r\nMAIL FROM:<ceo@example-tc.gov.uk>\r\nRCPT TO:<priya.shah@example-tc.gov.uk>\r\nDATA\r\nSubject: smuggled\r\n\r\npay invoice\r\n.\r\n").await;
    let r = c.reply().await;
    assert!(r.starts_with("250"), "one message accepted: {r}");
    assert!(c.cmd("QUIT").await.starts_with("221"));
    let got = sink.wait_for(2, Duration::from_secs(3)).await;
    assert_eq!(
        got.len(),
        1,
        "the smuggled message is not a message of its own"
    );
    assert_eq!(got[0].rcpts, vec!["clerk@example-tc.gov.uk"]);
    let text = String::from_utf8_lossy(&got[0].data);
    assert!(
        text.contains("Subject: smuggled"),
        "smuggled text is content: {text}"
    );
    assert!(
        !text.contains("\n.\r\n") || text.contains("\r\n.\r\n"),
        "stray LF normalised"
    );
    assert!(
        !text.replace("\r\n", "").contains('\n'),
        "no bare LF left: {text:?}"
    );
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_per_session_and_bad_commands() {
    let cfg = TestConfig::new(None, &[("max_errors = 10", "max_errors = 3")]);
    let gw = Gateway::start(&cfg).await;
    let mut c = Client::connect(gw.inbound).await;
    assert!(
        c.cmd("MAIL FROM:<a@example.org>").await.starts_with("503"),
        "EHLO first"
    );
    assert!(c.cmd("FROB").await.starts_with("500"));
    let third = c.cmd("RCPT TO:<x@y.org>").await;
    assert!(third.starts_with("503"), "{third}");
    let last = c.reply().await;
    assert!(last.starts_with("421 4.7.0"), "{last}");
    assert!(c.closed().await);
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vrfy_help_noop_rset_and_long_lines() {
    let cfg = TestConfig::new(None, &[]);
    let gw = Gateway::start(&cfg).await;
    let mut c = Client::connect(gw.inbound).await;
    assert!(c.cmd("HELO client.example").await.starts_with("250"));
    assert!(c.cmd("VRFY clerk").await.starts_with("252"));
    assert!(c.cmd("HELP").await.starts_with("214"));
    assert!(c.cmd("NOOP").await.starts_with("250"));
    assert!(c.cmd("RSET").await.starts_with("250"));
    let long = format!("NOOP {}", "a".repeat(5000));
    assert!(c.cmd(&long).await.starts_with("500 5.5.2"));
    assert!(
        c.cmd("NOOP").await.starts_with("250"),
        "session survives a long line"
    );
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn too_many_sessions_get_421() {
    let cfg = TestConfig::new(None, &[("max_sessions = 500", "max_sessions = 2")]);
    let gw = Gateway::start(&cfg).await;
    // Both sessions busy, inside DATA: none idle to make room.
    let mut a = Client::greeted(gw.inbound).await;
    a.start_data("a@example.org", &["clerk@example-tc.gov.uk"])
        .await;
    let mut b = Client::greeted(gw.submission).await;
    b.start_data("clerk@example-tc.gov.uk", &["someone@example.org"])
        .await;
    let mut s = tokio::net::TcpStream::connect(gw.inbound)
        .await
        .expect("connect");
    let mut buf = Vec::new();
    tokio::io::AsyncReadExt::read_to_end(&mut s, &mut buf)
        .await
        .expect("read");
    assert!(
        String::from_utf8_lossy(&buf).starts_with("421"),
        "{}",
        String::from_utf8_lossy(&buf)
    );
    gw.stop().await;
}

/// Reads a refused connection's whole answer.
async fn refusal(addr: std::net::SocketAddr) -> String {
    let mut s = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let mut buf = Vec::new();
    tokio::io::AsyncReadExt::read_to_end(&mut s, &mut buf)
        .await
        .expect("read");
    String::from_utf8_lossy(&buf).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_address_cannot_take_every_session() {
    let cfg = TestConfig::new(
        None,
        &[("max_sessions_per_ip = 50", "max_sessions_per_ip = 2")],
    );
    let gw = Gateway::start(&cfg).await;
    // Loopback is not trusted on inbound: counted.
    let mut a = Client::connect(gw.inbound).await;
    let _b = Client::connect(gw.inbound).await;
    let refused = refusal(gw.inbound).await;
    assert!(refused.starts_with("421 4.7.0"), "{refused}");
    // Loopback is trusted on submission: exempt.
    let mut c = Client::connect(gw.submission).await;
    assert!(c.cmd("NOOP").await.starts_with("250"));
    // A session that ends frees its slot.
    assert!(a.cmd("QUIT").await.starts_with("221"));
    drop(a);
    let mut freed = false;
    for _ in 0..100 {
        let mut s = tokio::net::TcpStream::connect(gw.inbound)
            .await
            .expect("connect");
        let mut code = [0u8; 3];
        let read = tokio::io::AsyncReadExt::read_exact(&mut s, &mut code).await;
        if read.is_ok() && &code == b"220" {
            freed = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(freed, "the slot of a closed session is reused");
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upstream_down_then_back_delivers_once() {
    // Reserve a port for an upstream that is not there yet.
    let probe = std::net::TcpListener::bind("127.0.0.1:0").expect("probe");
    let upstream = probe.local_addr().expect("addr");
    drop(probe);
    let cfg = TestConfig::new(Some(upstream), &[]);
    let gw = Gateway::start(&cfg).await;
    let mut c = Client::greeted(gw.submission).await;
    c.cmd("MAIL FROM:<clerk@example-tc.gov.uk>").await;
    c.cmd("RCPT TO:<someone@example.org>").await;
    c.cmd("DATA").await;
    c.send(b"Subject: retry me\r\n\r\nhello\r\n.\r\n").await;
    assert!(c.reply().await.starts_with("250"));
    let spool = cfg.data_dir().join("spool");
    let json_count = || spooled(&spool);
    // A failed attempt is recorded (on disk, as another process reads it)
    // and the message stays queued.
    let recorded = wait_until(WAIT, || {
        councilgate::queue::spool::Spool::open_shared(&spool)
            .and_then(|s| s.list())
            .is_ok_and(|(entries, _)| entries.iter().any(|e| e.attempts == 1))
    })
    .await;
    assert!(recorded, "first attempt failed and was recorded");
    assert_eq!(json_count(), 1, "still queued");
    let sink = Sink::start_on(&upstream.to_string()).await;
    let got = sink.wait_for(1, Duration::from_secs(20)).await;
    assert_eq!(got.len(), 1, "delivered after the upstream came back");
    assert!(
        wait_until(WAIT, || json_count() == 0).await,
        "spool emptied"
    );
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(sink.messages().len(), 1, "delivered exactly once");
    gw.stop().await;
}

/// Sends `n` messages one at a time, each delivered (and its upstream
/// connection back in the pool, which comes before the removal from the
/// spool) before the next is sent.
async fn deliver_one_at_a_time(gw: &Gateway, sink: &Sink, spool: &std::path::Path, n: usize) {
    for i in 0..n {
        let mut c = Client::greeted(gw.submission).await;
        c.cmd("MAIL FROM:<clerk@example-tc.gov.uk>").await;
        c.cmd("RCPT TO:<someone@example.org>").await;
        c.cmd("DATA").await;
        c.send(format!("Subject: number {i}\r\n\r\nhello\r\n.\r\n").as_bytes())
            .await;
        assert!(c.reply().await.starts_with("250"));
        c.cmd("QUIT").await;
        assert_eq!(sink.wait_for(i + 1, WAIT).await.len(), i + 1);
        assert!(wait_until(WAIT, || spooled(spool) == 0).await);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deliveries_to_one_route_reuse_the_upstream_connection() {
    let (sink, cfg, gw) = gateway_with_sink().await;
    let n = 10;
    let spool = cfg.data_dir().join("spool");
    // One idle connection serves all.
    deliver_one_at_a_time(&gw, &sink, &spool, n).await;
    let connections = sink.connections.load(std::sync::atomic::Ordering::SeqCst);
    assert_eq!(connections, 1, "{n} messages over one connection");
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_connection_the_upstream_closed_is_replaced_and_nothing_is_lost() {
    let sink = Sink::start().await;
    sink.behaviour.lock().expect("lock").close_after_message = true;
    let cfg = TestConfig::new(Some(sink.addr), &[]);
    let gw = Gateway::start(&cfg).await;
    let n = 5;
    let spool = cfg.data_dir().join("spool");
    deliver_one_at_a_time(&gw, &sink, &spool, n).await;
    // Nothing deferred: the stale connection was noticed before MAIL was
    // answered and the message went over a new one at once.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(sink.messages().len(), n, "each delivered exactly once");
    assert_eq!(spooled(&spool), 0, "nothing left queued");
    let connections = sink.connections.load(std::sync::atomic::Ordering::SeqCst);
    assert_eq!(connections, n, "a new connection for each message");
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upstream_5xx_bounces_to_sender_and_never_to_null_sender() {
    let sink = Sink::start().await;
    sink.behaviour
        .lock()
        .expect("lock")
        .reject_rcpts
        .insert("gone@example.org".into());
    let cfg = TestConfig::new(Some(sink.addr), &[]);
    let gw = Gateway::start(&cfg).await;
    let mut c = Client::greeted(gw.submission).await;
    // Two recipients: one refused, one fine.
    c.cmd("MAIL FROM:<clerk@example-tc.gov.uk>").await;
    c.cmd("RCPT TO:<gone@example.org>").await;
    c.cmd("RCPT TO:<here@example.org>").await;
    c.cmd("DATA").await;
    c.send(b"Subject: will partly bounce\r\nMessage-ID: <orig@test>\r\n\r\nhello\r\n.\r\n")
        .await;
    assert!(c.reply().await.starts_with("250"));
    // And a null-sender message to the refused address: no bounce for it.
    c.cmd("MAIL FROM:<>").await;
    c.cmd("RCPT TO:<gone@example.org>").await;
    c.cmd("DATA").await;
    c.send(b"Subject: a bounce itself\r\n\r\nx\r\n.\r\n").await;
    assert!(c.reply().await.starts_with("250"));
    sink.wait_for(2, WAIT).await;
    // Give a wrong extra bounce (to the null sender) time to show up.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let got = sink.messages();
    let original: Vec<_> = got
        .iter()
        .filter(|d| d.mail_from == "clerk@example-tc.gov.uk")
        .collect();
    assert_eq!(original.len(), 1);
    assert_eq!(original[0].rcpts, vec!["here@example.org"]);
    let bounces: Vec<_> = got.iter().filter(|d| d.mail_from.is_empty()).collect();
    assert_eq!(bounces.len(), 1, "exactly one DSN: {got:#?}");
    assert_eq!(bounces[0].rcpts, vec!["clerk@example-tc.gov.uk"]);
    let dsn = String::from_utf8_lossy(&bounces[0].data);
    assert!(
        dsn.contains("multipart/report; report-type=delivery-status"),
        "{dsn}"
    );
    assert!(
        dsn.contains("Final-Recipient: rfc822; gone@example.org"),
        "{dsn}"
    );
    assert!(dsn.contains("Status: 5.1.1"), "{dsn}");
    assert!(
        dsn.contains("Message-ID: <orig@test>"),
        "original headers attached"
    );
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graceful_shutdown_tells_idle_clients_421() {
    let cfg = TestConfig::new(None, &[]);
    let gw = Gateway::start(&cfg).await;
    let mut c = Client::greeted(gw.inbound).await;
    let shutdown = gw.shutdown.clone();
    shutdown.cancel();
    let r = c.reply().await;
    assert!(r.starts_with("421 4.3.2"), "{r}");
    let _ = tokio::time::timeout(Duration::from_secs(10), gw.task)
        .await
        .expect("stops in time");
    assert!(
        tokio::net::TcpStream::connect(gw.inbound).await.is_err(),
        "no longer accepting"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expiry_bounces_to_the_sender_with_the_last_error() {
    // Mail for example.org goes to an upstream that is never there; the
    // council's own domain (the sender's, for the bounce) to the outbox.
    let probe = std::net::TcpListener::bind("127.0.0.1:0").expect("probe");
    let dead = probe.local_addr().expect("addr");
    drop(probe);
    let cfg = TestConfig::new(None, &[("give_up_secs = 172800", "give_up_secs = 2")]);
    let path = cfg.path().join("councilgate.toml");
    let mut text = std::fs::read_to_string(&path).expect("read");
    text.push_str(&format!(
        "\n[[routes]]\ndomains = [\"example.org\"]\nhost = \"{}\"\nport = {}\ntls = \"none\"\n",
        dead.ip(),
        dead.port()
    ));
    std::fs::write(&path, text).expect("write");
    let gw = Gateway::start(&cfg).await;
    let mut c = Client::greeted(gw.submission).await;
    c.cmd("MAIL FROM:<clerk@example-tc.gov.uk>").await;
    c.cmd("RCPT TO:<someone@example.org>").await;
    c.cmd("DATA").await;
    c.send(b"Subject: never arrives\r\nMessage-ID: <expire@test>\r\n\r\nhello\r\n.\r\n")
        .await;
    assert!(c.reply().await.starts_with("250"));
    let outbox = cfg.data_dir().join("outbox");
    let bounced = wait_until(Duration::from_secs(20), || {
        std::fs::read_dir(&outbox)
            .map(|d| d.count() > 0)
            .unwrap_or(false)
    })
    .await;
    assert!(bounced, "a bounce reached the sender's mailbox");
    let file = std::fs::read_dir(&outbox)
        .expect("outbox")
        .flatten()
        .next()
        .expect("file")
        .path();
    let dsn = std::fs::read_to_string(file).expect("read");
    assert!(
        dsn.starts_with("Return-Path: <>\r\nDelivered-To: clerk@example-tc.gov.uk\r\n"),
        "{dsn}"
    );
    assert!(
        dsn.contains("Final-Recipient: rfc822; someone@example.org"),
        "{dsn}"
    );
    assert!(dsn.contains("Status: 5.4.7"), "{dsn}");
    assert!(
        dsn.contains("expired") && dsn.contains("Connection refused"),
        "last error given: {dsn}"
    );
    assert!(
        wait_until(WAIT, || spooled(&cfg.data_dir().join("spool")) == 0).await,
        "nothing left queued"
    );
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rcpt_to_postmaster_without_a_domain_is_delivered_to_the_postmaster() {
    let (sink, _cfg, gw) = gateway_with_sink().await;
    let mut c = Client::greeted(gw.inbound).await;
    assert!(c.cmd("MAIL FROM:<a@example.org>").await.starts_with("250"));
    // RFC 5321 §4.5.1: "<Postmaster>", in any case, must be accepted.
    let r = c.cmd("RCPT TO:<Postmaster>").await;
    assert!(r.starts_with("250"), "{r}");
    // An empty forward-path is not a recipient.
    let r = c.cmd("RCPT TO:<>").await;
    assert!(r.starts_with("501"), "{r}");
    assert!(c.cmd("DATA").await.starts_with("354"));
    c.send(b"Subject: bounce loop?\r\n\r\nfor the postmaster\r\n.\r\n")
        .await;
    assert!(c.reply().await.starts_with("250"));
    let got = sink.wait_for(1, WAIT).await;
    assert_eq!(got[0].rcpts, vec!["postmaster@example-tc.gov.uk"]);
    gw.stop().await;
}

/// A connection from `source` (a loopback address) to `addr` that has read
/// its first reply line.
async fn greeting_from(
    source: std::net::IpAddr,
    addr: std::net::SocketAddr,
) -> (tokio::io::BufReader<tokio::net::TcpStream>, String) {
    use tokio::io::AsyncBufReadExt;
    let stream = connect_from(source, addr).await.expect("connect");
    let mut r = tokio::io::BufReader::new(stream);
    let mut line = String::new();
    let _ = r.read_line(&mut line).await;
    (r, line)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_sessions_filling_every_slot_make_room_for_a_real_sender() {
    use tokio::io::AsyncBufReadExt;
    // The shipped limits: 500 sessions, 50 from one address.
    let cfg = TestConfig::new(None, &[]);
    let gw = Gateway::start(&cfg).await;
    // Ten addresses hold every session and say nothing.
    let mut idle = Vec::new();
    for a in 0..10u8 {
        for _ in 0..50 {
            let (conn, greeting) = greeting_from([127, 0, 0, 2 + a].into(), gw.inbound).await;
            assert!(greeting.starts_with("220"), "{greeting}");
            idle.push(conn);
        }
    }
    // A real sender from another address is greeted at once.
    let started = std::time::Instant::now();
    let (mut real, greeting) = tokio::time::timeout(
        Duration::from_secs(15),
        greeting_from([127, 0, 0, 50].into(), gw.inbound),
    )
    .await
    .expect("greeted within 15 s");
    assert!(greeting.starts_with("220"), "{greeting}");
    println!(
        "greeted after {:?} with every session taken",
        started.elapsed()
    );
    // It is a working session (before any stress timeout runs out).
    use tokio::io::AsyncWriteExt;
    real.get_mut().write_all(b"QUIT\r\n").await.expect("quit");
    let mut line = String::new();
    real.read_line(&mut line).await.expect("reply");
    assert!(line.starts_with("221"), "{line}");
    // Idle sessions were closed, each with a reason: one to make room
    // (421 4.3.2), and any that waited past the stress timeout once
    // sessions ran short (421 4.4.2).
    let (mut evicted, mut timed_out) = (0, 0);
    for conn in &mut idle {
        let mut line = String::new();
        if let Ok(Ok(n)) =
            tokio::time::timeout(Duration::from_millis(2), conn.read_line(&mut line)).await
            && n > 0
        {
            if line.starts_with("421 4.3.2") {
                evicted += 1;
            } else {
                assert!(line.starts_with("421 4.4.2"), "{line}");
                timed_out += 1;
            }
        }
    }
    println!("{evicted} closed to make room, {timed_out} timed out under stress");
    assert!(evicted + timed_out >= 1, "room was made");
    gw.stop().await;
}

/// Mail for an address at the council's domains that no one holds is
/// refused at RCPT (no backscatter later); people, listed mailboxes,
/// postmaster and abuse are accepted, by curl and in a transcript.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_council_address_is_refused_at_rcpt_and_real_ones_are_accepted() {
    if !require("curl") {
        return;
    }
    let (sink, _cfg, gw) = gateway_with_sink().await;
    let tmp = tempfile::tempdir().expect("tmp");
    let file = tmp.path().join("m.eml");
    std::fs::write(
        &file,
        "From: Ann Jones <resident@example.org>\r\nTo: info@example-tc.gov.uk\r\nSubject: Hall hire\r\n\r\nIs the hall free on the 3rd?\r\n",
    )
    .expect("write");
    // A listed mailbox that is not a person: delivered.
    curl_sends(
        "listed mailbox",
        gw.inbound,
        "resident@example.org",
        &["info@example-tc.gov.uk"],
        &file,
    )
    .await;
    // An address no one holds: curl reports the refusal.
    let out = Command::new("curl")
        .arg("-sS")
        .arg(format!("smtp://{}", gw.inbound))
        .args(["--mail-from", "resident@example.org"])
        .args(["--mail-rcpt", "no.such.person@example-tc.gov.uk"])
        .arg("-T")
        .arg(&file)
        .output()
        .await
        .expect("run curl");
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "refused: {said}");
    assert!(said.contains("550"), "{said}");

    let mut c = Client::greeted(gw.inbound).await;
    assert!(
        c.cmd("MAIL FROM:<resident@example.org>")
            .await
            .starts_with("250")
    );
    let r = c.cmd("RCPT TO:<nobody.at.all@example-tc.gov.uk>").await;
    assert!(r.starts_with("550 5.1.1"), "{r}");
    assert!(r.contains("no such mailbox"), "{r}");
    for ok in [
        "<postmaster>",
        "<abuse@example-tc.gov.uk>",
        "<Clerk@Example-TC.gov.uk>",
        "<bookings@example-tc.gov.uk>",
    ] {
        let r = c.cmd(&format!("RCPT TO:{ok}")).await;
        assert!(r.starts_with("250"), "{ok}: {r}");
    }
    c.cmd("QUIT").await;
    let got = sink.wait_for(1, WAIT).await;
    assert_eq!(got[0].rcpts, vec!["info@example-tc.gov.uk"]);
    gw.stop().await;
}

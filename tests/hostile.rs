//! Hostile structure through the whole gateway, from a councillor to a
//! junior officer (so every content rule reads it — the costliest path):
//! 1,000 nested multiparts, 10,000 parts, a 24 MB single-line base64 part,
//! and a header of 100,000 encoded words. Each gets a clear SMTP reply (held,
//! delivered, or refused with its reason), the gateway answers the next
//! sender at once, and the memory the process holds afterwards stays
//! bounded. The times are printed for the record; speed itself is measured
//! by `bench/hostile.sh` on the release build (BENCHMARKS.md).

mod common;

use std::time::{Duration, Instant};

use common::*;

const HEAD: &str = "From: Mark Patel <cllr.patel@example-tc.gov.uk>\r\nTo: Alex Green <alex.green@example-tc.gov.uk>\r\nMIME-Version: 1.0\r\n";
const ASK: &str = "I need you to repaint the pavilion doors before the fete on Saturday.";

fn nested(depth: usize) -> String {
    let mut body = format!("Content-Type: text/plain\r\n\r\n{ASK}\r\n");
    for i in 0..depth {
        body = format!(
            "Content-Type: multipart/mixed; boundary=\"b{i}\"\r\n\r\n--b{i}\r\n{body}\r\n--b{i}--\r\n"
        );
    }
    format!("{HEAD}Subject: nested\r\n{body}")
}

fn many_parts(n: usize) -> String {
    let mut m = format!(
        "{HEAD}Subject: parts\r\nContent-Type: multipart/mixed; boundary=\"many\"\r\n\r\n--many\r\nContent-Type: text/plain\r\n\r\nAlex, see the parts.\r\n"
    );
    for i in 0..n {
        m.push_str(&format!(
            "--many\r\nContent-Type: text/plain\r\n\r\nPart {i}: {ASK}\r\n"
        ));
    }
    m.push_str("--many--\r\n");
    m
}

fn one_long_line(bytes: usize) -> String {
    // Base64 text without line breaks (any letters do: it is never decoded
    // into anything the rules read).
    let line: String = "QUJDRGVmZ2g".chars().cycle().take(bytes).collect();
    format!(
        "{HEAD}Subject: survey\r\nContent-Type: multipart/mixed; boundary=\"x\"\r\n\r\n--x\r\nContent-Type: text/plain\r\n\r\nAlex, the survey is attached.\r\n--x\r\nContent-Type: application/octet-stream; name=\"survey.bin\"\r\nContent-Transfer-Encoding: base64\r\n\r\n{line}\r\n--x--\r\n"
    )
}

fn encoded_words(n: usize) -> String {
    let words = vec!["=?utf-8?q?a=C3=A9?="; n].join(" ");
    format!("{HEAD}Subject: {words}\r\nContent-Type: text/plain\r\n\r\nAlex, see the subject.\r\n")
}

fn resident_kb() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        })
        .unwrap_or(0)
}

/// Sends one message over a plain session; the final reply may take long
/// in a debug build (the common client waits ten seconds at most).
async fn submit(gw: &Gateway, message: &str) -> String {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    let stream = tokio::net::TcpStream::connect(gw.submission)
        .await
        .expect("connect");
    let mut s = BufReader::new(stream);
    let reply = async |s: &mut BufReader<tokio::net::TcpStream>| {
        let mut all = String::new();
        loop {
            let mut line = String::new();
            if s.read_line(&mut line).await.unwrap_or(0) == 0 {
                return all;
            }
            all.push_str(&line);
            if line.len() < 4 || line.as_bytes()[3] != b'-' {
                return all;
            }
        }
    };
    reply(&mut s).await;
    for cmd in [
        "EHLO hostile.test",
        "MAIL FROM:<cllr.patel@example-tc.gov.uk>",
        "RCPT TO:<alex.green@example-tc.gov.uk>",
        "DATA",
    ] {
        s.get_mut()
            .write_all(format!("{cmd}\r\n").as_bytes())
            .await
            .expect("write");
        let r = reply(&mut s).await;
        assert!(r.starts_with('2') || r.starts_with('3'), "{cmd}: {r}");
    }
    s.get_mut()
        .write_all(message.as_bytes())
        .await
        .expect("write");
    s.get_mut().write_all(b"\r\n.\r\n").await.expect("write");
    reply(&mut s).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_structure_gets_a_clear_reply_in_bounded_time_and_memory() {
    let (_sink, _cfg, gw) = gateway_with_sink().await;
    let before = resident_kb();
    let cases: Vec<(&str, String, &str)> = vec![
        ("1,000 nested multiparts", nested(1000), "250"),
        ("10,000 parts", many_parts(10_000), "250"),
        (
            "a 24 MB single-line base64 part",
            one_long_line(24_000_000),
            "250",
        ),
        (
            "a header of 100,000 encoded words",
            encoded_words(100_000),
            "552 5.3.4",
        ),
        (
            "a header of 12,000 encoded words (within the header limit)",
            encoded_words(12_000),
            "250",
        ),
    ];
    for (what, message, expect) in &cases {
        let started = Instant::now();
        let reply = tokio::time::timeout(Duration::from_secs(300), submit(&gw, message))
            .await
            .unwrap_or_else(|_| panic!("{what}: no reply within 300 s"));
        eprintln!(
            "{what}: {} in {:.2} s, resident {} MB",
            reply.trim(),
            started.elapsed().as_secs_f64(),
            resident_kb() / 1024
        );
        assert!(reply.starts_with(expect), "{what}: {reply}");
        // The next sender is answered at once.
        let mut c = Client::greeted(gw.submission).await;
        assert!(c.cmd("NOOP").await.starts_with("250"), "{what}");
    }
    // The nested and many-part messages were read to the breach inside.
    let held = gw.held().await;
    assert!(
        held.iter().any(|h| h.subject == "nested") && held.iter().any(|h| h.subject == "parts"),
        "{:?}",
        held.iter().map(|h| &h.subject).collect::<Vec<_>>()
    );
    drop(cases);
    let after = resident_kb();
    eprintln!(
        "resident memory: {} MB before, {} MB after",
        before / 1024,
        after / 1024
    );
    assert!(
        after < before + 400 * 1024,
        "memory held after the hostile mail: {} MB more",
        (after - before) / 1024
    );
    gw.stop().await;
}

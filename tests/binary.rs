//! Black-box tests against the real `councilgate` binary.

mod common;

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::*;

const BIN: &str = env!("CARGO_BIN_EXE_councilgate");

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("probe")
        .local_addr()
        .expect("addr")
        .port()
}

struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn spawn_serve(cwd: &std::path::Path, config: &std::path::Path, env: &[(&str, String)]) -> Running {
    let mut cmd = Command::new(BIN);
    cmd.current_dir(cwd)
        .arg("--config")
        .arg(config)
        .arg("serve")
        .stdout(Stdio::null())
        .stderr(if std::env::var("CG_TEST_LOG").is_ok() {
            Stdio::inherit()
        } else {
            Stdio::null()
        });
    for (k, v) in env {
        cmd.env(k, v);
    }
    Running(cmd.spawn().expect("spawn councilgate"))
}

fn wait_port(port: u16) -> bool {
    for _ in 0..200 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

fn send(port: u16, from: &str, rcpt: &str, body: &str) -> String {
    use std::io::{BufRead, BufReader, Write};
    let s = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let mut w = s.try_clone().expect("clone");
    let mut r = BufReader::new(s);
    let mut reply = || {
        let mut all = String::new();
        loop {
            let mut line = String::new();
            r.read_line(&mut line).expect("read");
            all.push_str(&line);
            if line.len() < 4 || line.as_bytes()[3] == b' ' {
                return all;
            }
        }
    };
    reply();
    for c in [
        "EHLO t.example".to_string(),
        format!("MAIL FROM:<{from}>"),
        format!("RCPT TO:<{rcpt}>"),
        "DATA".to_string(),
    ] {
        w.write_all(format!("{c}\r\n").as_bytes()).expect("write");
        let rep = reply();
        assert!(rep.starts_with('2') || rep.starts_with('3'), "{c}: {rep}");
    }
    w.write_all(format!("{body}\r\n.\r\n").as_bytes())
        .expect("write");
    reply()
}

#[test]
fn shipped_config_serves_and_delivers_to_outbox_with_curl() {
    if !require("curl") {
        return;
    }
    // A fresh working folder with the shipped config, on spare ports.
    let work = tempfile::tempdir().expect("tmp");
    let inbound = free_port();
    let submission = free_port();
    let env = vec![
        (
            "COUNCILGATE__SMTP__INBOUND__LISTEN",
            format!("127.0.0.1:{inbound}"),
        ),
        (
            "COUNCILGATE__SMTP__SUBMISSION__LISTEN",
            format!("127.0.0.1:{submission}"),
        ),
    ];
    let config = std::path::Path::new(REPO).join("config");
    let _gw = spawn_serve(work.path(), &config, &env);
    assert!(wait_port(inbound), "gateway listening");
    let msg = work.path().join("message.eml");
    std::fs::write(&msg, b"From: resident@example.org\r\nTo: clerk@example-tc.gov.uk\r\nSubject: Pothole on Mill Lane\r\n\r\nThere is a pothole.\r\n").expect("write");
    let out = Command::new("curl")
        .arg("-sS")
        .arg(format!("smtp://127.0.0.1:{inbound}"))
        .args([
            "--mail-from",
            "resident@example.org",
            "--mail-rcpt",
            "clerk@example-tc.gov.uk",
            "-T",
        ])
        .arg(&msg)
        .output()
        .expect("curl");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let outbox = work.path().join("data/outbox");
    let mut found = None;
    for _ in 0..100 {
        if let Some(e) = std::fs::read_dir(&outbox).ok().and_then(|mut d| d.next()) {
            found = Some(e.expect("entry").path());
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let file = found.expect("a message in data/outbox");
    let text = std::fs::read_to_string(file).expect("read");
    assert!(
        text.starts_with(
            "Return-Path: <resident@example.org>\r\nDelivered-To: clerk@example-tc.gov.uk\r\n"
        ),
        "{text}"
    );
    assert!(text.contains("Subject: Pothole on Mill Lane"));
}

#[test]
fn sigkill_right_after_250_then_restart_delivers() {
    let rt = tokio::runtime::Runtime::new().expect("rt");
    // The upstream is down while the message is accepted.
    let upstream_port = free_port();
    let upstream: std::net::SocketAddr =
        format!("127.0.0.1:{upstream_port}").parse().expect("addr");
    let cfg = TestConfig::new(Some(upstream), &[]);
    let work = tempfile::tempdir().expect("tmp");
    let port = free_port();
    let env = vec![(
        "COUNCILGATE__SMTP__SUBMISSION__LISTEN",
        format!("127.0.0.1:{port}"),
    )];
    let mut gw = spawn_serve(work.path(), cfg.path(), &env);
    assert!(wait_port(port));
    let reply = send(
        port,
        "clerk@example-tc.gov.uk",
        "someone@example.org",
        "Subject: durable\r\n\r\nmust not be lost",
    );
    assert!(reply.starts_with("250"), "{reply}");
    // SIGKILL: no chance to flush anything after the 250.
    gw.0.kill().expect("kill");
    gw.0.wait().expect("wait");
    let sink = rt.block_on(Sink::start_on(&upstream.to_string()));
    let _gw2 = spawn_serve(work.path(), cfg.path(), &env);
    let got = rt.block_on(sink.wait_for(1, Duration::from_secs(20)));
    assert_eq!(got.len(), 1, "delivered after restart");
    assert!(String::from_utf8_lossy(&got[0].data).contains("must not be lost"));
}

#[test]
fn environment_overrides_and_config_errors_name_the_key() {
    let cfg = TestConfig::new(None, &[]);
    // A typo in the file.
    let path = cfg.path().join("councilgate.toml");
    let text = std::fs::read_to_string(&path).expect("read");
    std::fs::write(&path, text.replace("max_errors", "max_erors")).expect("write");
    let out = Command::new(BIN)
        .arg("--config")
        .arg(cfg.path())
        .args(["queue", "list"])
        .output()
        .expect("run");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("councilgate.toml") && err.contains("max_erors"),
        "{err}"
    );
    std::fs::write(&path, text).expect("restore");
    // A bad value from the environment.
    let out = Command::new(BIN)
        .arg("--config")
        .arg(cfg.path())
        .args(["queue", "list"])
        .env("COUNCILGATE__SMTP__MAX_RECIPIENTS", "lots")
        .output()
        .expect("run");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("max_recipients"), "{err}");
    // And a good one is used.
    let out = Command::new(BIN)
        .arg("--config")
        .arg(cfg.path())
        .args(["queue", "list"])
        .env("COUNCILGATE__SMTP__MAX_RECIPIENTS", "5")
        .output()
        .expect("run");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn queue_list_and_flush_show_and_retry() {
    let rt = tokio::runtime::Runtime::new().expect("rt");
    let upstream_port = free_port();
    let upstream: std::net::SocketAddr =
        format!("127.0.0.1:{upstream_port}").parse().expect("addr");
    // Long first retry so only a flush can deliver within the test.
    let cfg = TestConfig::new(Some(upstream), &[]);
    let path = cfg.path().join("councilgate.toml");
    let text = std::fs::read_to_string(&path)
        .expect("read")
        .replace("retry_initial_secs = 1", "retry_initial_secs = 3000");
    std::fs::write(&path, text).expect("write");
    let work = tempfile::tempdir().expect("tmp");
    let port = free_port();
    let env = vec![(
        "COUNCILGATE__SMTP__SUBMISSION__LISTEN",
        format!("127.0.0.1:{port}"),
    )];
    let _gw = spawn_serve(work.path(), cfg.path(), &env);
    assert!(wait_port(port));
    let reply = send(
        port,
        "clerk@example-tc.gov.uk",
        "someone@example.org",
        "Subject: flush me\r\n\r\nx",
    );
    assert!(reply.starts_with("250"), "{reply}");
    let list = || {
        let out = Command::new(BIN)
            .arg("--config")
            .arg(cfg.path())
            .args(["queue", "list"])
            .output()
            .expect("run");
        String::from_utf8_lossy(&out.stdout).to_string()
    };
    let mut shown = String::new();
    for _ in 0..100 {
        shown = list();
        if shown.contains("attempts 1") {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(
        shown.contains("<someone@example.org>  pending (last error: connect"),
        "{shown}"
    );
    let sink = rt.block_on(Sink::start_on(&upstream.to_string()));
    let out = Command::new(BIN)
        .arg("--config")
        .arg(cfg.path())
        .args(["queue", "flush"])
        .output()
        .expect("run");
    assert!(out.status.success());
    let got = rt.block_on(sink.wait_for(1, Duration::from_secs(15)));
    assert_eq!(
        got.len(),
        1,
        "flush delivered it before the 50-minute retry"
    );
}

//! Black-box tests against the real `councilgate` binary.

mod common;

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::*;

struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A free port for the submission listener, and the environment that puts
/// it there.
fn submission_on_free_port() -> (u16, Vec<(&'static str, String)>) {
    let port = free_port();
    let env = vec![(
        "COUNCILGATE__SMTP__SUBMISSION__LISTEN",
        format!("127.0.0.1:{port}"),
    )];
    (port, env)
}

/// Runs the binary on a free submission port and submits `message` from
/// the clerk to an outside address, checking it is acknowledged: (the
/// running gateway, the environment it runs with).
fn serve_and_submit(
    cwd: &std::path::Path,
    config: &std::path::Path,
    message: &str,
) -> (Running, Vec<(&'static str, String)>) {
    let (port, env) = submission_on_free_port();
    let gw = spawn_serve(cwd, config, &env);
    assert!(wait_port(port));
    let reply = send(
        port,
        "clerk@example-tc.gov.uk",
        "someone@example.org",
        message,
    );
    assert!(reply.starts_with("250"), "{reply}");
    (gw, env)
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
        (
            "COUNCILGATE__SMTP__SUBMISSIONS__LISTEN",
            format!("127.0.0.1:{}", free_port()),
        ),
        (
            "COUNCILGATE__WEB__LISTEN",
            format!("127.0.0.1:{}", free_port()),
        ),
        (
            "COUNCILGATE__METRICS__LISTEN",
            format!("127.0.0.1:{}", free_port()),
        ),
        // DNS answers from an empty zone: the test sends no query off the
        // machine.
        (
            "COUNCILGATE__SENDER_AUTH__DNS_ZONE",
            work.path().join("zone.toml").display().to_string(),
        ),
    ];
    std::fs::write(work.path().join("zone.toml"), "").expect("zone");
    // The shipped config folder as it is, run from another folder: the
    // data folder is inside the config folder, not the working directory.
    let config = work.path().join("config");
    copy_shipped_config(&config);
    let elsewhere = tempfile::tempdir().expect("cwd");
    let _gw = spawn_serve(elsewhere.path(), &config, &env);
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
    assert_success(&out);
    let outbox = config.join("data/outbox");
    let mut found = None;
    for _ in 0..100 {
        if let Some(e) = std::fs::read_dir(&outbox).ok().and_then(|mut d| d.next()) {
            found = Some(e.expect("entry").path());
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let file = found.expect("a message in <config>/data/outbox");
    let text = std::fs::read_to_string(file).expect("read");
    assert!(
        text.starts_with(
            "Return-Path: <resident@example.org>\r\nDelivered-To: clerk@example-tc.gov.uk\r\n"
        ),
        "{text}"
    );
    assert!(text.contains("Subject: Pothole on Mill Lane"));
    assert!(!elsewhere.path().join("data").exists());
}

/// The shipped config folder's files (not a data folder a local run made
/// inside it) copied to `to`.
fn copy_shipped_config(to: &std::path::Path) {
    let from = std::path::Path::new(REPO).join("config");
    std::fs::create_dir_all(to).expect("mkdir");
    for e in std::fs::read_dir(&from).expect("config").flatten() {
        if e.path().is_file() {
            std::fs::copy(e.path(), to.join(e.file_name())).expect("copy");
        }
    }
}

#[test]
fn sigkill_right_after_250_then_restart_delivers() {
    let rt = tokio::runtime::Runtime::new().expect("rt");
    // The upstream is down while the message is accepted.
    let upstream = free_addr();
    let cfg = TestConfig::new(Some(upstream), &[]);
    let work = tempfile::tempdir().expect("tmp");
    let (mut gw, env) = serve_and_submit(
        work.path(),
        cfg.path(),
        "Subject: durable\r\n\r\nmust not be lost",
    );
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
    let out = councilgate(cfg.path(), &["queue", "list"], &[]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("councilgate.toml") && err.contains("max_erors"),
        "{err}"
    );
    // One line for the person who typed it, even with backtraces asked for.
    let out = councilgate(cfg.path(), &["queue", "list"], &[("RUST_BACKTRACE", "1")]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    assert!(err.starts_with("error: "), "{err}");
    std::fs::write(&path, text).expect("restore");
    // A bad value from the environment.
    let out = councilgate(
        cfg.path(),
        &["queue", "list"],
        &[("COUNCILGATE__SMTP__MAX_RECIPIENTS", "lots")],
    );
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("max_recipients"), "{err}");
    assert!(
        err.contains("environment variable COUNCILGATE__SMTP__MAX_RECIPIENTS")
            && !err.contains("councilgate.toml"),
        "the variable is named, not the file: {err}"
    );
    // And a good one is used.
    let out = councilgate(
        cfg.path(),
        &["queue", "list"],
        &[("COUNCILGATE__SMTP__MAX_RECIPIENTS", "5")],
    );
    assert_success(&out);
}

#[test]
fn queue_list_and_flush_show_and_retry() {
    let rt = tokio::runtime::Runtime::new().expect("rt");
    let upstream = free_addr();
    // Long first retry so only a flush can deliver within the test.
    let cfg = TestConfig::new(Some(upstream), &[]);
    let path = cfg.path().join("councilgate.toml");
    let text = std::fs::read_to_string(&path)
        .expect("read")
        .replace("retry_initial_secs = 1", "retry_initial_secs = 3000");
    std::fs::write(&path, text).expect("write");
    let work = tempfile::tempdir().expect("tmp");
    let (_gw, _) = serve_and_submit(work.path(), cfg.path(), "Subject: flush me\r\n\r\nx");
    let list = || {
        let out = councilgate(cfg.path(), &["queue", "list"], &[]);
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
    let out = councilgate(cfg.path(), &["queue", "flush"], &[]);
    assert!(out.status.success());
    let got = rt.block_on(sink.wait_for(1, Duration::from_secs(15)));
    assert_eq!(
        got.len(),
        1,
        "flush delivered it before the 50-minute retry"
    );
}

fn write_message(dir: &std::path::Path, text: &str) -> std::path::PathBuf {
    let p = dir.join("m.eml");
    std::fs::write(&p, text).expect("write");
    p
}

#[test]
fn check_json_is_one_object_with_the_agreed_keys() {
    let tmp = tempfile::tempdir().expect("tmp");
    // Bare LF on purpose: a message saved by an editor.
    let m = write_message(
        tmp.path(),
        "From: Jane Smith <cllr.smith@example-tc.gov.uk>\nTo: Alex Green <alex.green@example-tc.gov.uk>\nSubject: Bins\n\nHi Alex,\n\nPlease empty the bins on the green by Friday.\n\nJane\n",
    );
    let emitted = tmp.path().join("out.eml");
    let config = std::path::Path::new(REPO).join("config");
    let out = Command::new(BIN)
        .arg("--config")
        .arg(&config)
        .args([
            "check",
            "--json",
            "--mail-from",
            "cllr.smith@example-tc.gov.uk",
            "--rcpt",
            "alex.green@example-tc.gov.uk",
            "--emit",
        ])
        .arg(&emitted)
        .arg(&m)
        .output()
        .expect("run");
    assert_success(&out);
    let stdout = String::from_utf8(out.stdout).expect("utf8");
    assert_eq!(
        stdout.trim().lines().count(),
        1,
        "exactly one JSON object: {stdout}"
    );
    let v: serde_json::Value = serde_json::from_str(stdout.trim()).expect("json");
    assert_eq!(v["verdict"], "hold");
    let ids: Vec<&str> = v["rules"]
        .as_array()
        .expect("rules")
        .iter()
        .map(|r| r["id"].as_str().expect("id"))
        .collect();
    assert_eq!(
        ids,
        vec![
            "route-via-proper-officer",
            "keep-manager-informed",
            "instruction-to-staff"
        ]
    );
    let instr = &v["rules"][2];
    assert_eq!(instr["action"], "hold");
    assert!(
        instr["evidence"]
            .as_array()
            .expect("evidence")
            .iter()
            .any(|e| e
                .as_str()
                .is_some_and(|s| s.contains("Please empty the bins")))
    );
    let rcpts: Vec<&str> = v["recipients"]
        .as_array()
        .expect("rcpts")
        .iter()
        .map(|r| r.as_str().expect("str"))
        .collect();
    assert_eq!(
        rcpts,
        vec![
            "alex.green@example-tc.gov.uk",
            "clerk@example-tc.gov.uk",
            "deputy.clerk@example-tc.gov.uk"
        ]
    );
    assert_eq!(v["annotations"].as_array().expect("annotations").len(), 2);
    let rewritten = std::fs::read_to_string(&emitted).expect("emitted");
    assert!(rewritten.starts_with("X-Council-Protocol: route-via-proper-officer, keep-manager-informed, instruction-to-staff\r\n"));
    assert!(rewritten.contains("Cc: Clara Hughes <clerk@example-tc.gov.uk>,\r\n Dafydd Rees <deputy.clerk@example-tc.gov.uk>"));
}

#[test]
fn check_explains_with_the_protocol_text_and_reads_stdin() {
    use std::io::Write;
    let config = std::path::Path::new(REPO).join("config");
    let mut child = Command::new(BIN)
        .arg("--config")
        .arg(&config)
        .args([
            "check",
            "--mail-from",
            "clerk@example-tc.gov.uk",
            "--rcpt",
            "cllr.smith@example-tc.gov.uk",
            "--rcpt",
            "cllr.baker@example-tc.gov.uk",
            "-",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(b"From: clerk@example-tc.gov.uk\r\nTo: cllr.smith@example-tc.gov.uk\r\nSubject: Precept\r\n\r\nDear Jane, the figure is attached.\r\n")
        .expect("write");
    let out = child.wait_with_output().expect("wait");
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("Verdict: DELIVER"), "{text}");
    assert!(text.contains("Rule silent-copy"), "{text}");
    assert!(
        text.contains("a system of \"silent copies\" should not be employed"),
        "protocol text quoted: {text}"
    );
    assert!(text.contains("CC councillor Tom Baker"), "{text}");
}

#[test]
fn check_bad_input_fails_with_a_clear_message() {
    let config = std::path::Path::new(REPO).join("config");
    let run = |args: &[&str]| {
        let out = Command::new(BIN)
            .arg("--config")
            .arg(&config)
            .arg("check")
            .args(args)
            .output()
            .expect("run");
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stderr).to_string(),
        )
    };
    let (ok, err) = run(&[
        "--mail-from",
        "a@b.org",
        "--rcpt",
        "c@d.org",
        "/nonexistent/m.eml",
    ]);
    assert!(!ok && err.contains("/nonexistent/m.eml"), "{err}");
    let tmp = tempfile::tempdir().expect("tmp");
    let m = write_message(tmp.path(), "Subject: x\r\n\r\nhi\r\n");
    let (ok, err) = run(&[
        "--mail-from",
        "a@b.org",
        "--rcpt",
        "c@d.org",
        "--at",
        "next tuesday",
        m.to_str().expect("path"),
    ]);
    assert!(
        !ok && err.contains("--at") && err.contains("RFC 3339"),
        "{err}"
    );
    let (ok, err) = run(&["--mail-from", "a@b.org", m.to_str().expect("path")]);
    assert!(!ok && err.contains("--rcpt"), "{err}");
    // A broken directory names the file and the problem.
    let bad = tempfile::tempdir().expect("tmp");
    std::fs::write(
        bad.path().join("directory.toml"),
        "[council]\nname = \"X\"\ndomains = []\n",
    )
    .expect("write");
    let out = Command::new(BIN)
        .arg("--config")
        .arg(bad.path())
        .args(["check", "--mail-from", "a@b.org", "--rcpt", "c@d.org"])
        .arg(&m)
        .output()
        .expect("run");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("directory.toml") && err.contains("council.domains"),
        "{err}"
    );
}

#[test]
fn cli_user_held_and_audit_with_a_running_gateway() {
    use std::io::Write;
    let rt = tokio::runtime::Runtime::new().expect("rt");
    let sink = rt.block_on(Sink::start());
    let cfg = TestConfig::new(Some(sink.addr), &[]);
    let work = tempfile::tempdir().expect("tmp");
    let (port, env) = submission_on_free_port();
    let _gw = spawn_serve(work.path(), cfg.path(), &env);
    assert!(wait_port(port));
    let cli = |args: &[&str], stdin: Option<&str>| {
        let mut child = Command::new(BIN)
            .arg("--config")
            .arg(cfg.path())
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn");
        if let Some(s) = stdin {
            child
                .stdin
                .take()
                .expect("stdin")
                .write_all(s.as_bytes())
                .expect("write");
        }
        let out = child.wait_with_output().expect("wait");
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).to_string(),
            String::from_utf8_lossy(&out.stderr).to_string(),
        )
    };
    let (ok, _, err) = cli(
        &["user", "add", "clerk@example-tc.gov.uk", "--role", "clerk"],
        Some("short\n"),
    );
    assert!(!ok && err.contains("at least 12 characters"), "{err}");
    let (ok, out, err) = cli(
        &["user", "add", "clerk@example-tc.gov.uk", "--role", "clerk"],
        Some("a long enough password\n"),
    );
    assert!(ok, "{err}");
    assert!(out.contains("saved with role clerk"));
    let reply = send(
        port,
        "cllr.patel@example-tc.gov.uk",
        "alex.green@example-tc.gov.uk",
        "From: cllr.patel@example-tc.gov.uk\r\nTo: alex.green@example-tc.gov.uk\r\nSubject: Doors\r\n\r\nAlex, I need you to repaint the doors today.",
    );
    assert!(reply.starts_with("250 2.6.0"), "{reply}");
    let (ok, out, _) = cli(&["held", "list"], None);
    assert!(ok && out.contains("subject: Doors"), "{out}");
    let id = out.split_whitespace().next().expect("id").to_string();
    let (ok, out, _) = cli(&["held", "show", &id], None);
    assert!(
        ok && out.contains("instruction-to-staff") && out.contains("I need you to repaint"),
        "{out}"
    );
    let (ok, out, err) = cli(
        &[
            "held",
            "release",
            &id,
            "--as",
            "clerk@example-tc.gov.uk",
            "--reason",
            "routine",
        ],
        None,
    );
    assert!(ok, "{err}");
    assert!(out.contains("is now released"), "{out}");
    // The running gateway carries it out.
    let got = rt.block_on(sink.wait_for(4, Duration::from_secs(15)));
    assert!(
        got.iter()
            .any(|d| d.mail_from == "cllr.patel@example-tc.gov.uk"),
        "released message delivered: {got:#?}"
    );
    let (ok, _, err) = cli(&["held", "delete", &id], None);
    assert!(
        !ok && err.contains("already released by clerk@example-tc.gov.uk"),
        "{err}"
    );
    let (ok, out, _) = cli(&["audit", "verify"], None);
    assert!(ok && out.contains("intact"), "{out}");

    // Users: listed, disabled (no sign-in), enabled, removed; a name
    // outside the directory is warned about; the audit log names the
    // operating-system user who ran each command.
    let (ok, _, err) = cli(
        &["user", "add", "temp.helper@example.org", "--role", "clerk"],
        Some("another long password\n"),
    );
    assert!(ok, "{err}");
    assert!(
        err.contains(
            "warning: temp.helper@example.org is not an address of anyone in the directory"
        ),
        "{err}"
    );
    let (ok, out, _) = cli(&["user", "list"], None);
    assert!(ok, "{out}");
    let line = out
        .lines()
        .find(|l| l.starts_with("clerk@example-tc.gov.uk"))
        .expect("the clerk is listed");
    assert!(line.contains("clerk") && line.ends_with("active"), "{line}");
    let (ok, out, err) = cli(&["user", "disable", "temp.helper@example.org"], None);
    assert!(ok && out.contains("is disabled"), "{out}{err}");
    let (ok, out, _) = cli(&["user", "list"], None);
    assert!(
        ok && out
            .lines()
            .any(|l| l.starts_with("temp.helper@example.org") && l.ends_with("DISABLED")),
        "{out}"
    );
    let (ok, _, _) = cli(&["user", "enable", "temp.helper@example.org"], None);
    assert!(ok);
    let (ok, out, _) = cli(&["user", "remove", "temp.helper@example.org"], None);
    assert!(ok && out.contains("removed"), "{out}");
    let (ok, _, err) = cli(&["user", "remove", "temp.helper@example.org"], None);
    assert!(
        !ok && err.contains("there is no login temp.helper@example.org"),
        "{err}"
    );
    let (ok, out, _) = cli(&["user", "list"], None);
    assert!(ok && !out.contains("temp.helper"), "{out}");
    let (ok, out, _) = cli(&["audit", "verify"], None);
    assert!(ok && out.contains("intact"), "{out}");
    let rt2 = tokio::runtime::Runtime::new().expect("rt");
    let store = rt2
        .block_on(councilgate::store::Store::open(
            &councilgate::store::Store::default_url(&cfg.data_dir()),
        ))
        .expect("store");
    let audit = rt2.block_on(store.audit_for("-")).expect("audit");
    let removed = audit
        .iter()
        .find(|e| e.action == "user-removed")
        .expect("the removal is audited");
    assert!(removed.actor.starts_with("cli:"), "{removed:?}");
    // A lost phone: the clerk's authenticator app is removed, the password
    // kept.
    rt2.block_on(async {
        store
            .set_totp_pending(
                "clerk@example-tc.gov.uk",
                &councilgate::auth::second_factor::new_secret(),
            )
            .await
            .expect("pending");
        store
            .enrol_totp("clerk@example-tc.gov.uk", 1, &[])
            .await
            .expect("enrolled");
    });
    let (ok, out, err) = cli(
        &[
            "user",
            "reset",
            "clerk@example-tc.gov.uk",
            "--second-factor",
        ],
        None,
    );
    assert!(
        ok && out.contains("second factor of clerk@example-tc.gov.uk is removed"),
        "{out}{err}"
    );
    let factor = rt2
        .block_on(store.second_factor("clerk@example-tc.gov.uk"))
        .expect("factor");
    assert!(factor.secret.is_empty());
    assert!(
        rt2.block_on(store.user("clerk@example-tc.gov.uk"))
            .expect("user")
            .is_some(),
        "the login stays"
    );
}

/// Resident memory of process `pid`, in MiB.
fn rss_mib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<u64>().ok())
        })
        .map(|kb| kb / 1024)
        .unwrap_or(0)
}

/// One SMTP AUTH PLAIN attempt from `source` (a loopback address) to
/// `port`: the reply to AUTH.
async fn auth_attempt(source: std::net::IpAddr, port: u16, user: &str, password: &str) -> String {
    use base64::Engine as _;
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    let Ok(stream) = connect_from(source, std::net::SocketAddr::from(([127, 0, 0, 1], port))).await
    else {
        return "connect failed".into();
    };
    let mut s = BufReader::new(stream);
    let token = base64::engine::general_purpose::STANDARD.encode(format!("\0{user}\0{password}"));
    let _ = read_reply(&mut s).await;
    let _ = s.get_mut().write_all(b"EHLO flood.example\r\n").await;
    let _ = read_reply(&mut s).await;
    let _ = s
        .get_mut()
        .write_all(format!("AUTH PLAIN {token}\r\n").as_bytes())
        .await;
    let mut line = String::new();
    let _ = s.read_line(&mut line).await;
    let _ = s.get_mut().write_all(b"QUIT\r\n").await;
    line
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_flood_of_wrong_passwords_stays_small_and_a_real_login_still_gets_in() {
    let cfg = TestConfig::new(None, &[]);
    // Two SMTP logins in the store the gateway will open.
    std::fs::create_dir_all(cfg.data_dir()).expect("data folder");
    {
        let store = councilgate::store::Store::open(&councilgate::store::Store::default_url(
            &cfg.data_dir(),
        ))
        .await
        .expect("store");
        for (who, pw) in [
            ("clerk@example-tc.gov.uk", "the clerk's long password"),
            (
                "cllr.smith@example-tc.gov.uk",
                "a councillor's long password",
            ),
        ] {
            let hash = councilgate::auth::hash_password(pw).expect("hash");
            store
                .set_smtp_password(who, &hash, "test")
                .await
                .expect("login");
        }
    }
    let work = tempfile::tempdir().expect("tmp");
    let (port, mut env) = submission_on_free_port();
    env.push((
        "COUNCILGATE__SMTP__ALLOW_PLAIN_AUTH_ON_LOOPBACK",
        "true".into(),
    ));
    let gw = spawn_serve(work.path(), cfg.path(), &env);
    assert!(wait_port(port));
    let pid = gw.0.id();
    let before = rss_mib(pid);
    // 200 concurrent attempts with wrong passwords from eight addresses,
    // against the clerk and against names that do not exist.
    let mut flood = Vec::new();
    for i in 0..200u8 {
        let source = std::net::IpAddr::from([127, 0, 0, 2 + i % 8]);
        let user = if i % 2 == 0 {
            "clerk@example-tc.gov.uk".to_string()
        } else {
            format!("nobody{i}@example.org")
        };
        flood.push(tokio::spawn(async move {
            auth_attempt(source, port, &user, "wrong password").await
        }));
    }
    let sampler = tokio::spawn(async move {
        let mut peak = 0;
        for _ in 0..40 {
            peak = peak.max(rss_mib(pid));
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        peak
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    // Meanwhile, a councillor from another address.
    let started = std::time::Instant::now();
    let reply = auth_attempt(
        std::net::IpAddr::from([127, 0, 0, 77]),
        port,
        "cllr.smith@example-tc.gov.uk",
        "a councillor's long password",
    )
    .await;
    let took = started.elapsed();
    assert!(reply.starts_with("235"), "the real login: {reply}");
    assert!(
        took < Duration::from_secs(1),
        "the real login took {took:?}"
    );
    let mut refused = 0;
    for f in flood {
        let r = f.await.expect("join");
        assert!(!r.starts_with("235"), "a wrong password was accepted: {r}");
        if r.starts_with("454") {
            refused += 1;
        }
    }
    let peak = sampler.await.expect("sampler");
    tokio::time::sleep(Duration::from_secs(1)).await;
    let after = rss_mib(pid);
    println!(
        "login flood: RSS {before} MiB before, {peak} MiB at peak, {after} MiB after; {refused} of 200 refused unchecked (454); real login in {took:?}"
    );
    // The flood's own cost, over what the gateway holds at rest (the
    // sentence encoder's weights among it).
    assert!(
        peak < before + 100,
        "peak RSS {peak} MiB, {before} MiB before"
    );
    assert!(
        after < before + 100,
        "RSS after {after} MiB, {before} MiB before"
    );
    assert!(
        refused > 0,
        "the lockout and the lanes refused some unchecked"
    );
}

#[test]
fn serve_logs_each_listener_by_role_without_colour_codes_when_not_at_a_terminal() {
    let cfg = TestConfig::new(None, &[]);
    let work = tempfile::tempdir().expect("tmp");
    let (port, env) = submission_on_free_port();
    let log = work.path().join("stderr.log");
    let mut cmd = Command::new(BIN);
    cmd.current_dir(work.path())
        .arg("--config")
        .arg(cfg.path())
        .arg("serve")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).expect("log file"));
    for (k, v) in &env {
        cmd.env(k, v);
    }
    let gw = Running(cmd.spawn().expect("spawn"));
    assert!(wait_port(port));
    std::thread::sleep(Duration::from_millis(200));
    drop(gw);
    let text = std::fs::read_to_string(&log).expect("log");
    assert!(
        !text.contains('\u{1b}'),
        "no colour codes in a file: {text}"
    );
    for role in ["inbound (MX)", "submission", "submissions (implicit TLS)"] {
        assert!(
            text.contains(&format!("listener=\"{role}\""))
                || text.contains(&format!("listener={role}")),
            "{role} logged: {text}"
        );
    }
}

#[test]
fn a_command_names_the_store_it_opens_and_never_makes_one_silently() {
    let empty_config = tempfile::tempdir().expect("config");
    let work = tempfile::tempdir().expect("cwd");
    let run = |args: &[&str]| {
        Command::new(BIN)
            .current_dir(work.path())
            .arg("--config")
            .arg(empty_config.path())
            .args(args)
            .output()
            .expect("run")
    };
    let out = run(&["held", "list"]);
    assert_success(&out);
    let err = String::from_utf8_lossy(&out.stderr);
    // Relative data_dir is taken from the config folder, never the
    // working directory.
    let db = empty_config.path().join("data/councilgate.db");
    assert!(
        err.starts_with("store: sqlite://") && err.contains(&db.display().to_string()),
        "the store is named first: {err}"
    );
    assert!(
        !work.path().join("data").exists(),
        "nothing is made in the working directory"
    );
    assert!(
        err.contains("note: no store existed at") && err.contains("--config"),
        "a new store is not made silently: {err}"
    );
    // The second time it exists: named, not announced as new.
    let err = String::from_utf8_lossy(&run(&["held", "list"]).stderr).to_string();
    assert!(
        err.starts_with("store: ") && !err.contains("no store existed"),
        "{err}"
    );
    let err = String::from_utf8_lossy(&run(&["queue", "list"]).stderr).to_string();
    assert!(
        err.starts_with("spool: ") && err.contains("there is no spool"),
        "{err}"
    );
}

/// A breach phrased as nothing foresaw is delivered; `examples propose
/// --write` adds its sentence as a positive example; the same message is
/// then held, with the sentence, its score and the example as evidence.
#[test]
fn a_missed_breach_proposed_as_an_example_is_held_on_recheck() {
    let tmp = tempfile::tempdir().expect("tmp");
    let config = tmp.path().join("config");
    std::fs::create_dir(&config).expect("mkdir");
    std::fs::copy(
        std::path::Path::new(REPO).join("config/directory.toml"),
        config.join("directory.toml"),
    )
    .expect("copy");
    let m = write_message(
        tmp.path(),
        "From: Jane Smith <cllr.smith@example-tc.gov.uk>\r\nTo: Deputy <deputy.clerk@example-tc.gov.uk>\r\nSubject: Moorings\r\n\r\nHi Sam,\r\n\r\nThe regatta committee has a long memory for officers who get in its way over the mooring fees.\r\n\r\nJane\r\n",
    );
    let check = || {
        let out = councilgate(
            &config,
            &[
                "check",
                "--json",
                "--mail-from",
                "cllr.smith@example-tc.gov.uk",
                "--rcpt",
                "deputy.clerk@example-tc.gov.uk",
                m.to_str().expect("path"),
            ],
            &[],
        );
        assert_success(&out);
        serde_json::from_slice::<serde_json::Value>(&out.stdout).expect("json")
    };
    let before = check();
    assert_eq!(before["verdict"], "deliver", "{before}");
    assert!(
        before["model"]
            .as_str()
            .is_some_and(|m| m.starts_with("councilgate/minilm-l3-q4-council-v1 "))
    );

    let out = councilgate(
        &config,
        &[
            "examples",
            "propose",
            m.to_str().expect("path"),
            "--detector",
            "undue-pressure",
            "--count",
            "1",
            "--write",
        ],
        &[],
    );
    assert_success(&out);
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        said.contains("The regatta committee has a long memory"),
        "{said}"
    );
    let written = std::fs::read_to_string(config.join("examples.toml")).expect("written");
    assert!(
        written.contains("# Example sentences"),
        "the shipped file's comments kept"
    );

    let after = check();
    assert_eq!(after["verdict"], "hold", "{after}");
    let hit = after["rules"]
        .as_array()
        .expect("rules")
        .iter()
        .find(|r| r["id"] == "undue-pressure")
        .expect("undue-pressure");
    assert!(
        hit["evidence"]
            .as_array()
            .expect("evidence")
            .iter()
            .any(|e| e.as_str().is_some_and(|e| e
                .contains("(meaning: reads like \"The regatta committee has a long memory")
                && e.contains("score 1.00"))),
        "{hit}"
    );
    assert_ne!(before["policy"], after["policy"], "a new policy version");
}

/// The setup guide as a new operator follows it: the config in one folder
/// (`/etc/councilgate`), the gateway started from another (`/var/lib`), the
/// operator's commands from a third (their home folder). The login the
/// operator adds is the one the gateway's pages accept, and the queue and
/// held mail the commands show are the gateway's; `status` names it all.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_s_commands_from_another_folder_see_the_gateway_s_users_queue_and_held_mail() {
    use std::io::Write;
    let root = tempfile::tempdir().expect("tmp");
    let etc = root.path().join("etc/councilgate");
    let service_cwd = root.path().join("var/lib");
    let home = root.path().join("home/operator");
    for d in [&service_cwd, &home] {
        std::fs::create_dir_all(d).expect("mkdir");
    }
    copy_shipped_config(&etc);
    std::fs::write(etc.join("zone.toml"), "").expect("zone");
    let settings = std::fs::read_to_string(etc.join("councilgate.toml")).expect("settings");
    let (inbound, submission, web) = (free_port(), free_port(), free_port());
    let settings = settings
        .replace("127.0.0.1:2525", &format!("127.0.0.1:{inbound}"))
        .replace("127.0.0.1:2587", &format!("127.0.0.1:{submission}"))
        .replace("127.0.0.1:2465", &format!("127.0.0.1:{}", free_port()))
        .replace("127.0.0.1:8025", &format!("127.0.0.1:{web}"))
        .replace("127.0.0.1:9025", &format!("127.0.0.1:{}", free_port()))
        // A relative path, as an operator writes it: beside councilgate.toml.
        .replace("dns_zone = \"\"", "dns_zone = \"zone.toml\"");
    std::fs::write(etc.join("councilgate.toml"), settings).expect("settings");
    let _gw = spawn_serve(&service_cwd, &etc, &[]);
    assert!(wait_port(inbound) && wait_port(web), "gateway listening");

    let run = |args: &[&str], stdin: &str| {
        let mut child = Command::new(BIN)
            .current_dir(&home)
            .arg("--config")
            .arg(&etc)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(stdin.as_bytes())
            .expect("write");
        let out = child.wait_with_output().expect("wait");
        assert_success(&out);
        (
            String::from_utf8_lossy(&out.stdout).to_string(),
            String::from_utf8_lossy(&out.stderr).to_string(),
        )
    };
    let store = etc.join("data/councilgate.db");
    let (_, err) = run(
        &["user", "add", "clerk@example-tc.gov.uk", "--role", "clerk"],
        &format!("{}\n", common::pages::PASSWORD),
    );
    assert!(
        err.starts_with("store: sqlite://") && err.contains(&store.display().to_string()),
        "the gateway's store, named first: {err}"
    );
    assert!(!err.contains("no store existed"), "{err}");

    // A councillor's instruction to a junior officer, held by the gateway.
    let reply = send(
        submission,
        "cllr.patel@example-tc.gov.uk",
        "alex.green@example-tc.gov.uk",
        "From: Mark Patel <cllr.patel@example-tc.gov.uk>\r\nTo: Alex Green <alex.green@example-tc.gov.uk>\r\nSubject: Pavilion doors\r\n\r\nAlex,\r\n\r\nI need you to repaint the pavilion doors before the fete on Saturday.\r\n\r\nMark",
    );
    assert!(reply.starts_with("250 2.6.0"), "{reply}");
    let (held, _) = run(&["held", "list"], "");
    assert!(
        held.contains("Pavilion doors") && held.contains("instruction-to-staff"),
        "{held}"
    );
    let (_, err) = run(&["queue", "list"], "");
    assert!(
        err.starts_with(&format!("spool: {}", etc.join("data/spool").display())),
        "{err}"
    );
    let (status, _) = run(&["status"], "");
    for want in [
        format!("config folder   {}", etc.display()),
        format!("data folder     {}", etc.join("data").display()),
        "held            1 message(s) waiting for review".to_string(),
        format!("127.0.0.1:{inbound}  answering"),
        "live since".to_string(),
    ] {
        assert!(status.contains(&want), "status shows {want:?}:\n{status}");
    }
    // Nothing was made where the commands ran or the gateway started.
    for d in [&service_cwd, &home] {
        assert_eq!(
            std::fs::read_dir(d).expect("dir").count(),
            0,
            "{}",
            d.display()
        );
    }

    // The login the operator added opens the gateway's review pages.
    let base = format!("http://127.0.0.1:{web}");
    let c = common::pages::browser();
    common::pages::login(&c, &base, "clerk@example-tc.gov.uk").await;
    let page = common::pages::page(&c, format!("{base}/")).await;
    assert!(page.contains("Pavilion doors"), "{page}");
}

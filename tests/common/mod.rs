//! Shared test harness: a gateway on ephemeral ports with its own data
//! folder, a small in-test SMTP sink as upstream (exact bytes, scripted
//! failures), helpers to find real peers (curl, swaks, smtp-source).
#![allow(dead_code)]

pub mod pages;
pub mod sink;

#[allow(unused_imports)]
pub use sink::{Delivered, Sink, SinkBehaviour};
pub mod webdriver;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio_util::sync::CancellationToken;

use councilgate::server::App;

pub const REPO: &str = env!("CARGO_MANIFEST_DIR");

/// The `councilgate` binary this test run built.
pub const BIN: &str = env!("CARGO_BIN_EXE_councilgate");

/// Runs `councilgate --config CONFIG ARGS…` with `env` added.
pub fn councilgate(config: &Path, args: &[&str], env: &[(&str, &str)]) -> std::process::Output {
    let mut c = std::process::Command::new(BIN);
    c.arg("--config").arg(config).args(args);
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().expect("run")
}

/// A config folder in a temp dir: the shipped directory, settings with the
/// given extra TOML appended (routes) and replacements applied.
pub struct TestConfig {
    pub dir: tempfile::TempDir,
}

impl TestConfig {
    pub fn new(route_to: Option<SocketAddr>, tweak: &[(&str, &str)]) -> TestConfig {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut settings = std::fs::read_to_string(Path::new(REPO).join("config/councilgate.toml"))
            .expect("read settings");
        let data = dir.path().join("data");
        settings = settings.replace(
            "data_dir = \"data\"",
            &format!("data_dir = {:?}", data.display().to_string()),
        );
        settings = settings
            .replace("127.0.0.1:2525", "127.0.0.1:0")
            .replace("127.0.0.1:2587", "127.0.0.1:0")
            .replace("127.0.0.1:2465", "127.0.0.1:0")
            .replace("listen = \"127.0.0.1:8025\"", "listen = \"127.0.0.1:0\"")
            .replace("listen = \"127.0.0.1:9025\"", "listen = \"127.0.0.1:0\"");
        settings = settings.replace("retry_initial_secs = 60", "retry_initial_secs = 1");
        settings = settings.replace("hostname = \"\"", "hostname = \"gw.test\"");
        // DNS answers from a file in the config folder (empty: no name
        // exists), never from the network.
        settings = settings.replace("dns_zone = \"\"", "dns_zone = \"dns-zone.toml\"");
        std::fs::write(dir.path().join("dns-zone.toml"), "").expect("write zone");
        for (from, to) in tweak {
            assert!(settings.contains(from), "tweak {from} not found");
            settings = settings.replace(from, to);
        }
        if let Some(addr) = route_to {
            settings.push_str(&format!(
                "\n[[routes]]\ndomains = [\"*\"]\nhost = \"{}\"\nport = {}\ntls = \"none\"\n",
                addr.ip(),
                addr.port()
            ));
        }
        std::fs::write(dir.path().join("councilgate.toml"), settings).expect("write");
        std::fs::copy(
            Path::new(REPO).join("config/directory.toml"),
            dir.path().join("directory.toml"),
        )
        .expect("copy directory");
        TestConfig { dir }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }
}

/// A TLS client configuration that trusts only the gateway's own
/// (self-signed, made on first start) certificate.
pub fn tls_client_config(cfg: &TestConfig) -> Arc<rustls::ClientConfig> {
    use rustls::pki_types::pem::PemObject;
    let pem = std::fs::read(cfg.data_dir().join("tls/cert.pem")).expect("gateway certificate");
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls::pki_types::CertificateDer::pem_slice_iter(&pem) {
        roots.add(cert.expect("pem")).expect("add root");
    }
    Arc::new(
        rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_root_certificates(roots)
        .with_no_client_auth(),
    )
}

/// Reads one whole (possibly multi-line) SMTP reply; empty at end of
/// stream. Ten seconds at most.
pub async fn read_reply<R: tokio::io::AsyncBufRead + Unpin>(r: &mut R) -> String {
    let mut all = String::new();
    loop {
        let mut line = String::new();
        let n = tokio::time::timeout(Duration::from_secs(10), r.read_line(&mut line))
            .await
            .expect("reply in time")
            .expect("read");
        if n == 0 {
            return all;
        }
        all.push_str(&line);
        if line.len() < 4 || line.as_bytes()[3] != b'-' {
            return all;
        }
    }
}

/// A port on 127.0.0.1 that nothing listens on (just now).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("probe")
        .local_addr()
        .expect("addr")
        .port()
}

/// An address on 127.0.0.1 that nothing listens on (just now).
pub fn free_addr() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], free_port()))
}

/// A connection to `addr` from the loopback address `source` (127.0.0.x:
/// every 127/8 address is this machine), to play several clients.
pub async fn connect_from(
    source: std::net::IpAddr,
    addr: SocketAddr,
) -> std::io::Result<TcpStream> {
    let socket = tokio::net::TcpSocket::new_v4()?;
    socket.bind(SocketAddr::new(source, 0))?;
    socket.connect(addr).await
}

/// Checks a command exited 0, showing its standard error otherwise.
pub fn assert_success(out: &std::process::Output) {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A gateway with the shipped settings relaying to a fresh [`Sink`]: (the
/// sink, the configuration whose folder must outlive the gateway, the
/// gateway).
pub async fn gateway_with_sink() -> (Sink, TestConfig, Gateway) {
    let sink = Sink::start().await;
    let cfg = TestConfig::new(Some(sink.addr), &[]);
    let gw = Gateway::start(&cfg).await;
    (sink, cfg, gw)
}

/// The contexts of a running gateway that tests use.
pub struct Parts {
    pub store: councilgate::store::Store,
    pub policy: Arc<councilgate::policy::PolicyHandle>,
    pub queue: Arc<councilgate::queue::Queue>,
    pub review: councilgate::review::Review,
    pub pipeline: Arc<councilgate::pipeline::Pipeline>,
    pub reloader: Arc<councilgate::tuning::reload::Reloader>,
}

/// A gateway running in this process.
pub struct Gateway {
    pub inbound: SocketAddr,
    pub submission: SocketAddr,
    /// Submission over implicit TLS.
    pub submissions: SocketAddr,
    pub web: SocketAddr,
    pub ops: SocketAddr,
    /// The parts of the running gateway a test reads or drives.
    pub app: Parts,
    pub shutdown: CancellationToken,
    pub task: tokio::task::JoinHandle<()>,
}

impl Gateway {
    pub async fn start(config: &TestConfig) -> Gateway {
        let app = App::load(config.path()).await.expect("load app");
        let listeners = app.bind().await.expect("bind");
        let inbound = listeners.inbound_addr().expect("inbound");
        let submission = listeners.submission_addr().expect("submission");
        let submissions = listeners.submissions_addr().expect("submissions");
        let web = listeners.web_addr().expect("web");
        let ops = listeners.ops_addr().expect("ops");
        let gw = Parts {
            store: app.store.clone(),
            policy: app.policy.clone(),
            queue: app.queue.clone(),
            review: app.review.clone(),
            pipeline: app.pipeline.clone(),
            reloader: app.reloader.clone(),
        };
        let shutdown = CancellationToken::new();
        let task = tokio::spawn(app.run(listeners, shutdown.clone()));
        Gateway {
            inbound,
            submission,
            submissions,
            web,
            ops,
            app: gw,
            shutdown,
            task,
        }
    }

    /// Checks the audit log's hash chain is unbroken.
    pub async fn assert_audit_intact(&self) {
        let report = self.app.store.verify_audit().await.expect("verify");
        assert!(report.broken.is_none(), "audit chain broken: {report:?}");
    }

    /// The messages waiting for review, oldest first.
    pub async fn held(&self) -> Vec<councilgate::store::Held> {
        self.app
            .store
            .list(councilgate::store::HeldState::Held)
            .await
            .expect("list held")
    }

    pub async fn stop(self) {
        self.shutdown.cancel();
        let _ = tokio::time::timeout(Duration::from_secs(10), self.task).await;
    }
}

/// A raw SMTP client for transcript tests over TCP.
pub struct Client {
    stream: BufReader<TcpStream>,
}

impl Client {
    pub async fn connect(addr: SocketAddr) -> Client {
        let stream = TcpStream::connect(addr).await.expect("connect");
        let mut c = Client {
            stream: BufReader::new(stream),
        };
        let greeting = c.reply().await;
        assert!(greeting.starts_with("220"), "{greeting}");
        c
    }

    /// Connects and says `EHLO client.example`.
    pub async fn greeted(addr: SocketAddr) -> Client {
        let mut c = Client::connect(addr).await;
        c.cmd("EHLO client.example").await;
        c
    }

    /// MAIL FROM `from`, RCPT TO each of `rcpts`, DATA: checks each is
    /// accepted (250, 250…, 354).
    pub async fn start_data(&mut self, from: &str, rcpts: &[&str]) {
        let r = self.cmd(&format!("MAIL FROM:<{from}>")).await;
        assert!(r.starts_with("250"), "MAIL: {r}");
        for to in rcpts {
            let r = self.cmd(&format!("RCPT TO:<{to}>")).await;
            assert!(r.starts_with("250"), "RCPT {to}: {r}");
        }
        let r = self.cmd("DATA").await;
        assert!(r.starts_with("354"), "DATA: {r}");
    }

    pub async fn send(&mut self, bytes: &[u8]) {
        self.stream.get_mut().write_all(bytes).await.expect("write");
    }

    /// Reads one whole (possibly multi-line) reply.
    pub async fn reply(&mut self) -> String {
        read_reply(&mut self.stream).await
    }

    pub async fn cmd(&mut self, line: &str) -> String {
        self.send(format!("{line}\r\n").as_bytes()).await;
        self.reply().await
    }

    /// True when the server has closed the connection.
    pub async fn closed(&mut self) -> bool {
        let mut b = [0u8; 1];
        matches!(
            tokio::time::timeout(Duration::from_secs(5), self.stream.read(&mut b)).await,
            Ok(Ok(0)) | Ok(Err(_))
        )
    }
}

/// Installs ring as the process's TLS provider, as `main` does (reqwest,
/// built without one of its own, needs it before any client is made).
pub fn tls_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

pub fn have(tool: &str) -> bool {
    std::process::Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {tool} || test -x /usr/sbin/{tool}"))
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

/// Skips (with a printed notice) when a peer is missing — unless running
/// in CI, where `.ci/run` installs every peer and a missing one is a failure.
pub fn require(tool: &str) -> bool {
    if have(tool) {
        return true;
    }
    if std::env::var("CI").is_ok() {
        panic!("{tool} is required in CI (.ci/run installs it)");
    }
    eprintln!("SKIPPED: {tool} is not installed");
    false
}

/// A realistic message with 8-bit text, a stuffed dot line and a long line.
pub fn sample_message(subject: &str) -> Vec<u8> {
    let mut m = format!(
        "From: Jane Smith <cllr.smith@example-tc.gov.uk>\r\nTo: Clara Hughes <clerk@example-tc.gov.uk>\r\nSubject: {subject}\r\nMessage-ID: <{subject}@test>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\nBore da Clara,\r\n\r\nCyngor Tref: £250 for the Eisteddfod stall — diolch yn fawr.\r\n.a line that starts with a dot\r\n..two dots\r\n.\r\n"
    )
    .into_bytes();
    // The lone "." above must be stuffed on the wire and arrive as content;
    // then the real end of the body.
    m.extend_from_slice(b"last line\r\n");
    m
}

pub async fn wait_until(within: Duration, mut f: impl FnMut() -> bool) -> bool {
    let deadline = tokio::time::Instant::now() + within;
    while tokio::time::Instant::now() < deadline {
        if f() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    f()
}

/// Strips our own Received header to compare the rest byte for byte.
pub fn without_received(data: &[u8]) -> &[u8] {
    // The gateway's trace fields come first: on inbound mail its
    // Authentication-Results, then its Received; each spans lines that
    // begin with a tab.
    let skip_field = |i: usize| -> usize {
        let mut i = i;
        loop {
            let end = data[i..]
                .windows(2)
                .position(|w| w == b"\r\n")
                .map(|p| i + p + 2)
                .expect("eol");
            i = end;
            if data.get(i) != Some(&b'\t') {
                return i;
            }
        }
    };
    let mut i = 0;
    if data.starts_with(b"Authentication-Results: gw.test;") {
        i = skip_field(i);
    }
    assert!(
        data[i..].starts_with(b"Received: from "),
        "no Received header first: {}",
        String::from_utf8_lossy(&data[..data.len().min(600)])
    );
    &data[skip_field(i)..]
}

/// Committed messages in a spool folder, read from disk as another
/// process (`councilgate queue list`) reads them.
pub fn spooled(dir: &Path) -> usize {
    councilgate::queue::spool::Spool::open_shared(dir)
        .and_then(|s| s.len())
        .unwrap_or(0)
}

/// The PostgreSQL server tests use: `COUNCILGATE_TEST_PG`, else the local
/// one on 127.0.0.1:5432 (database `test`, trust auth).
pub fn pg_base_url() -> String {
    std::env::var("COUNCILGATE_TEST_PG")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

/// A fresh PostgreSQL schema for one test, as a store URL; `None` (with a
/// printed notice) when no server answers.
pub async fn pg_store_url() -> Option<String> {
    use sqlx::AssertSqlSafe;
    sqlx::any::install_default_drivers();
    let base = pg_base_url();
    let pool = match sqlx::AnyPool::connect(&base).await {
        Ok(p) => p,
        Err(e) => {
            eprintln!("SKIPPED (PostgreSQL): no server answers at {base}: {e}");
            return None;
        }
    };
    let schema = format!("cg_test_{:016x}", rand::random::<u64>());
    sqlx::query(AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
        .execute(&pool)
        .await
        .expect("create schema");
    let sep = if base.contains('?') { '&' } else { '?' };
    Some(format!("{base}{sep}options=-c%20search_path%3D{schema}"))
}

/// One message over a fresh connection; `Ok(reply)` only when the whole
/// conversation ran (the reply to the final dot is the verdict).
pub async fn try_send(
    addr: SocketAddr,
    from: &str,
    rcpts: &[String],
    data: &[u8],
) -> Result<String, String> {
    async fn line(r: &mut BufReader<TcpStream>) -> Result<String, String> {
        let mut all = String::new();
        loop {
            let mut l = String::new();
            let n = tokio::time::timeout(Duration::from_secs(20), r.read_line(&mut l))
                .await
                .map_err(|_| "timeout".to_string())?
                .map_err(|e| e.to_string())?;
            if n == 0 {
                return Err("closed".into());
            }
            all.push_str(&l);
            if l.len() < 4 || l.as_bytes()[3] == b' ' {
                return Ok(all);
            }
        }
    }
    let stream = tokio::time::timeout(Duration::from_secs(5), TcpStream::connect(addr))
        .await
        .map_err(|_| "connect timeout".to_string())?
        .map_err(|e| e.to_string())?;
    let mut r = BufReader::new(stream);
    let g = line(&mut r).await?;
    if !g.starts_with("220") {
        return Err(g);
    }
    let mut cmds = vec!["EHLO load.test".to_string(), format!("MAIL FROM:<{from}>")];
    cmds.extend(rcpts.iter().map(|t| format!("RCPT TO:<{t}>")));
    cmds.push("DATA".into());
    for c in cmds {
        r.get_mut()
            .write_all(format!("{c}\r\n").as_bytes())
            .await
            .map_err(|e| e.to_string())?;
        let rep = line(&mut r).await?;
        if !(rep.starts_with('2') || rep.starts_with('3')) {
            return Err(rep);
        }
    }
    r.get_mut()
        .write_all(data)
        .await
        .map_err(|e| e.to_string())?;
    r.get_mut()
        .write_all(b"\r\n.\r\n")
        .await
        .map_err(|e| e.to_string())?;
    let reply = line(&mut r).await?;
    let _ = r.get_mut().write_all(b"QUIT\r\n").await;
    Ok(reply)
}

/// The Message-IDs the sink has received, with how often each arrived.
pub fn received_ids(sink: &Sink) -> std::collections::HashMap<String, usize> {
    let mut m = std::collections::HashMap::new();
    for d in sink.messages() {
        let text = String::from_utf8_lossy(&d.data).to_string();
        if let Some(i) = text.find("Message-ID: <") {
            let rest = &text[i + 13..];
            if let Some(end) = rest.find('>') {
                *m.entry(rest[..end].to_string()).or_insert(0) += 1;
            }
        }
    }
    m
}

//! Transcript tests over an in-memory stream, with paused time for timeouts.

mod common;

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use common::TestConfig;
use councilgate::message::envelope::ListenerKind;
use councilgate::server::App;
use councilgate::smtp::session::{Session, SessionConfig};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_util::sync::CancellationToken;

async fn read_all_available(s: &mut tokio::io::DuplexStream) -> String {
    let mut buf = vec![0u8; 8192];
    let n = s.read(&mut buf).await.expect("read");
    String::from_utf8_lossy(&buf[..n]).to_string()
}

/// A session of the SMTP `context` on an in-memory stream from `peer`: (client
/// end, session task).
fn spawn_session(
    context: std::sync::Arc<councilgate::smtp::Context>,
    listener: ListenerKind,
    peer: IpAddr,
) -> (tokio::io::DuplexStream, tokio::task::JoinHandle<()>) {
    let (client, server) = tokio::io::duplex(64 * 1024);
    let session = Session::new(
        server,
        context,
        SessionConfig {
            listener,
            trusted: false,
        },
        peer,
        CancellationToken::new(),
    );
    (client, tokio::spawn(session.run()))
}

/// A session on an in-memory stream, with the clock paused once the
/// gateway (and its store) is up: (client end, session task, config).
async fn in_memory_session() -> (
    tokio::io::DuplexStream,
    tokio::task::JoinHandle<()>,
    TestConfig,
) {
    let cfg = TestConfig::new(None, &[]);
    let app = App::load(cfg.path()).await.expect("app");
    tokio::time::pause();
    let (client, task) = spawn_session(
        app.smtp.clone(),
        ListenerKind::Inbound,
        IpAddr::V4(Ipv4Addr::LOCALHOST),
    );
    (client, task, cfg)
}

#[tokio::test]
async fn idle_client_is_timed_out_with_421_after_the_rfc_5321_five_minutes() {
    let (mut client, task, _cfg) = in_memory_session().await;
    assert!(read_all_available(&mut client).await.starts_with("220"));
    client.write_all(b"EHLO a\r\n").await.expect("write");
    assert!(read_all_available(&mut client).await.contains("250 SIZE"));
    let start = tokio::time::Instant::now();
    let r = read_all_available(&mut client).await;
    assert!(r.starts_with("421 4.4.2"), "{r}");
    let waited = start.elapsed();
    assert!(
        waited >= Duration::from_secs(300) && waited < Duration::from_secs(301),
        "{waited:?}"
    );
    task.await.expect("session ends");
}

#[tokio::test]
async fn stalled_data_is_timed_out_after_three_minutes() {
    let (mut client, task, cfg) = in_memory_session().await;
    read_all_available(&mut client).await;
    client
        .write_all(b"EHLO a\r\nMAIL FROM:<a@b.org>\r\nRCPT TO:<clerk@example-tc.gov.uk>\r\nDATA\r\nSubject: half\r\n")
        .await
        .expect("write");
    let mut got = String::new();
    while !got.contains("354") {
        got.push_str(&read_all_available(&mut client).await);
    }
    let start = tokio::time::Instant::now();
    let r = read_all_available(&mut client).await;
    assert!(r.starts_with("421 4.4.2"), "{r}");
    assert!(start.elapsed() >= Duration::from_secs(180));
    task.await.expect("ends");
    assert_eq!(
        common::spooled(&cfg.data_dir().join("spool")),
        0,
        "half a message is never stored"
    );
}

/// Runs one submission session on an in-memory stream from `peer`, sends
/// `input` and returns everything the gateway said.
async fn submission_transcript(
    context: std::sync::Arc<councilgate::smtp::Context>,
    peer: IpAddr,
    input: &[u8],
) -> String {
    let (mut client, task) = spawn_session(context, ListenerKind::Submission, peer);
    client.write_all(input).await.expect("write");
    let mut out = Vec::new();
    client.read_to_end(&mut out).await.expect("read");
    task.await.expect("session ends");
    String::from_utf8_lossy(&out).to_string()
}

#[tokio::test]
async fn development_switch_allows_auth_in_clear_from_loopback_only() {
    use base64::Engine as _;
    let cfg = TestConfig::new(
        None,
        &[(
            "allow_plain_auth_on_loopback = false",
            "allow_plain_auth_on_loopback = true",
        )],
    );
    let app = App::load(cfg.path()).await.expect("app");
    let hash = councilgate::auth::hash_password("correct horse battery").expect("hash");
    app.store
        .set_smtp_password("clerk@example-tc.gov.uk", &hash, "test")
        .await
        .expect("login");
    let token = base64::engine::general_purpose::STANDARD
        .encode("\0clerk@example-tc.gov.uk\0correct horse battery");
    let input = format!("EHLO a\r\nAUTH PLAIN {token}\r\nQUIT\r\n");
    let remote: IpAddr = "192.0.2.7".parse().expect("ip");
    let out = submission_transcript(app.smtp.clone(), remote, input.as_bytes()).await;
    assert!(!out.contains("AUTH PLAIN LOGIN"), "not offered: {out}");
    assert!(
        out.contains("538 5.7.11"),
        "refused in clear off loopback: {out}"
    );
    let local = IpAddr::V4(Ipv4Addr::LOCALHOST);
    let out = submission_transcript(app.smtp.clone(), local, input.as_bytes()).await;
    assert!(
        out.contains("250-AUTH PLAIN LOGIN"),
        "offered on loopback: {out}"
    );
    assert!(out.contains("235 2.7.0"), "{out}");
}

#[tokio::test]
async fn starttls_swaps_the_in_memory_stream_for_tls() {
    let cfg = TestConfig::new(None, &[]);
    let app = App::load(cfg.path()).await.expect("app");
    let (client, task) = spawn_session(
        app.smtp.clone(),
        ListenerKind::Inbound,
        IpAddr::V4(Ipv4Addr::LOCALHOST),
    );
    let mut client = tokio::io::BufStream::new(client);
    assert!(common::read_reply(&mut client).await.starts_with("220"));
    client.write_all(b"EHLO a\r\n").await.expect("w");
    client.flush().await.expect("f");
    assert!(
        common::read_reply(&mut client)
            .await
            .contains("250-STARTTLS")
    );
    client.write_all(b"STARTTLS\r\n").await.expect("w");
    client.flush().await.expect("f");
    assert!(
        common::read_reply(&mut client)
            .await
            .starts_with("220 2.0.0")
    );
    let name = rustls::pki_types::ServerName::try_from("gw.test").expect("name");
    let tls = tokio_rustls::TlsConnector::from(common::tls_client_config(&cfg))
        .connect(name, client.into_inner())
        .await
        .expect("handshake over the in-memory stream");
    let mut tls = tokio::io::BufStream::new(tls);
    tls.write_all(b"EHLO a\r\n").await.expect("w");
    tls.flush().await.expect("f");
    let ehlo = common::read_reply(&mut tls).await;
    assert!(ehlo.starts_with("250-"), "{ehlo}");
    assert!(!ehlo.contains("STARTTLS"), "not offered twice: {ehlo}");
    tls.write_all(b"QUIT\r\n").await.expect("w");
    tls.flush().await.expect("f");
    assert!(common::read_reply(&mut tls).await.starts_with("221"));
    task.await.expect("ends");
}

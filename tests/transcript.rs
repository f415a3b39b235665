//! Transcript tests over an in-memory stream, with paused time for timeouts.

mod common;

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use common::TestConfig;
use councilgate::envelope::ListenerKind;
use councilgate::server::App;
use councilgate::smtp::session::{Session, SessionConfig};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_util::sync::CancellationToken;

async fn read_all_available(s: &mut tokio::io::DuplexStream) -> String {
    let mut buf = vec![0u8; 8192];
    let n = s.read(&mut buf).await.expect("read");
    String::from_utf8_lossy(&buf[..n]).to_string()
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
    let (client, server) = tokio::io::duplex(64 * 1024);
    let session = Session::new(
        server,
        app.gateway.clone(),
        SessionConfig {
            listener: ListenerKind::Inbound,
            trusted: false,
        },
        IpAddr::V4(Ipv4Addr::LOCALHOST),
        CancellationToken::new(),
    );
    (client, tokio::spawn(session.run()), cfg)
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

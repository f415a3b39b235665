//! The SMTP command and line handling: arbitrary client bytes into a real
//! session (over an in-memory stream) of a real gateway. The session must
//! answer and end, never panic; every reply line must be well formed.
#![no_main]

use std::net::{IpAddr, Ipv4Addr};
use std::sync::{Arc, OnceLock};

use councilgate::message::envelope::ListenerKind;
use councilgate::policy::Snapshot;
use councilgate::policy::lexicon::DEFAULT_WORDLISTS;
use councilgate::policy::rules::DEFAULT_RULES;
use councilgate::server::App;
use councilgate::settings::Settings;
use councilgate::smtp::session::{Session, SessionConfig};
use libfuzzer_sys::fuzz_target;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_util::sync::CancellationToken;

struct World {
    runtime: tokio::runtime::Runtime,
    smtp: Arc<councilgate::smtp::Context>,
    _dir: tempfile::TempDir,
}

fn world() -> &'static World {
    static WORLD: OnceLock<World> = OnceLock::new();
    WORLD.get_or_init(|| {
        let dir = tempfile::tempdir().expect("tempdir");
        // The shipped settings, with the values a fuzzer needs set in code.
        let mut settings = Settings::shipped().expect("shipped settings");
        settings.server.data_dir = dir.path().join("data");
        settings.server.hostname = "fuzz.test".into();
        settings.smtp.max_errors = 1000;
        settings.smtp.allow_plain_auth_on_loopback = true;
        // No DNS: an empty zone answers every look-up at once.
        settings.sender_auth.dns_zone = "zone.toml".into();
        std::fs::write(dir.path().join("zone.toml"), "").expect("zone");
        let snapshot = Snapshot::compile(
            (
                include_str!("../../config/directory.toml"),
                "directory.toml",
            ),
            (DEFAULT_WORDLISTS, "wordlists.toml"),
            (DEFAULT_RULES, "rules.toml"),
        )
        .expect("the shipped policy compiles");
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let app = runtime
            .block_on(App::new(settings, snapshot, dir.path()))
            .expect("gateway loads");
        World {
            runtime,
            smtp: app.smtp.clone(),
            _dir: dir,
        }
    })
}

fuzz_target!(|data: &[u8]| {
    let w = world();
    // The first byte picks the listener and whether the client is trusted.
    let (listener, trusted) = match data.first().copied().unwrap_or(0) % 4 {
        0 => (ListenerKind::Inbound, false),
        1 => (ListenerKind::Inbound, true),
        2 => (ListenerKind::Submission, false),
        _ => (ListenerKind::Submission, true),
    };
    let input = data.get(1..).unwrap_or(&[]).to_vec();
    let out = w.runtime.block_on(async {
        let (mut client, server) = tokio::io::duplex(1 << 20);
        let session = Session::new(
            server,
            w.smtp.clone(),
            SessionConfig { listener, trusted },
            IpAddr::V4(Ipv4Addr::LOCALHOST),
            CancellationToken::new(),
        );
        let task = tokio::spawn(session.run());
        let _ = client.write_all(&input).await;
        let _ = client.shutdown().await;
        let mut out = Vec::new();
        let _ = client.read_to_end(&mut out).await;
        let _ = task.await;
        out
    });
    // Every reply line: three digits, a space or dash, ending in CRLF.
    for line in out.split_inclusive(|&b| b == b'\n') {
        assert!(line.ends_with(b"\r\n"), "reply line without CRLF: {line:?}");
        assert!(line.len() >= 5, "short reply line: {line:?}");
        assert!(line[..3].iter().all(u8::is_ascii_digit), "{line:?}");
        assert!(line[3] == b' ' || line[3] == b'-', "{line:?}");
        assert!(
            !line[..line.len() - 2].contains(&b'\r'),
            "bare CR in a reply: {line:?}"
        );
    }
});

//! The SMTP command and line handling: arbitrary client bytes into a real
//! session (over an in-memory stream) of a real gateway. The session must
//! answer and end, never panic; every reply line must be well formed.
#![no_main]

use std::net::{IpAddr, Ipv4Addr};
use std::sync::{Arc, OnceLock};

use councilgate::message::envelope::ListenerKind;
use councilgate::server::App;
use councilgate::smtp::session::{Session, SessionConfig};
use libfuzzer_sys::fuzz_target;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_util::sync::CancellationToken;

struct World {
    runtime: tokio::runtime::Runtime,
    gateway: Arc<councilgate::pipeline::Gateway>,
    _dir: tempfile::TempDir,
}

fn world() -> &'static World {
    static WORLD: OnceLock<World> = OnceLock::new();
    WORLD.get_or_init(|| {
        let dir = tempfile::tempdir().expect("tempdir");
        let repo = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
        let settings = std::fs::read_to_string(format!("{repo}/config/councilgate.toml"))
            .expect("settings")
            .replace(
                "data_dir = \"data\"",
                &format!(
                    "data_dir = {:?}",
                    dir.path().join("data").display().to_string()
                ),
            )
            .replace("127.0.0.1:2525", "")
            .replace("127.0.0.1:2587", "")
            .replace("127.0.0.1:2465", "")
            .replace("listen = \"127.0.0.1:8025\"", "listen = \"\"")
            .replace("listen = \"127.0.0.1:9025\"", "listen = \"\"")
            .replace("hostname = \"\"", "hostname = \"fuzz.test\"")
            .replace("dns_zone = \"\"", "dns_zone = \"zone.toml\"")
            .replace("max_errors = 10", "max_errors = 1000")
            .replace(
                "allow_plain_auth_on_loopback = false",
                "allow_plain_auth_on_loopback = true",
            );
        std::fs::write(dir.path().join("councilgate.toml"), settings).expect("write");
        std::fs::write(dir.path().join("zone.toml"), "").expect("zone");
        std::fs::copy(
            format!("{repo}/config/directory.toml"),
            dir.path().join("directory.toml"),
        )
        .expect("directory");
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let app = runtime
            .block_on(App::load(dir.path()))
            .expect("gateway loads");
        World {
            runtime,
            gateway: app.gateway.clone(),
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
            w.gateway.clone(),
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

//! Nothing lost: the real binary SIGKILLed at random points under load,
//! the upstream down or deferring at random, and the spool's disk full.
//! Bounded here (a few hundred messages, a few kills) so CI catches a
//! regression; `bench/durability.sh` runs the full sizes.

mod common;

use std::collections::HashSet;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::*;

fn spawn(cfg: &TestConfig, port: u16) -> Child {
    spawn_at(cfg.path(), port)
}

/// `councilgate serve` on the config folder `cfg`, its submission listener
/// on `port`.
fn spawn_at(cfg: &std::path::Path, port: u16) -> Child {
    Command::new(BIN)
        .current_dir(cfg)
        .arg("--config")
        .arg(cfg)
        .arg("serve")
        .env(
            "COUNCILGATE__SMTP__SUBMISSION__LISTEN",
            format!("127.0.0.1:{port}"),
        )
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn")
}

fn messages() -> usize {
    std::env::var("CG_DURABILITY_MESSAGES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(300)
}

fn body(id: &str, size: usize) -> Vec<u8> {
    let mut m = format!("From: clerk@example-tc.gov.uk\r\nTo: someone@example.org\r\nSubject: load {id}\r\nMessage-ID: <{id}>\r\n\r\n").into_bytes();
    while m.len() < size {
        m.extend_from_slice(
            b"The quick brown fox jumps over the lazy dog near the village green.\r\n",
        );
    }
    m
}

struct Report {
    sent: usize,
    acked: HashSet<String>,
    delivered: std::collections::HashMap<String, usize>,
}

impl Report {
    /// Waits until the sink has `n` messages or `within` passes, then
    /// reports what was acknowledged against what arrived.
    async fn when_delivered(
        sink: &Sink,
        n: usize,
        acked: HashSet<String>,
        within: Duration,
    ) -> Report {
        let deadline = Instant::now() + within;
        while Instant::now() < deadline && received_ids(sink).len() < n {
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        Report {
            sent: n,
            acked,
            delivered: received_ids(sink),
        }
    }

    /// Prints the report and checks nothing acknowledged was lost or
    /// delivered twice.
    fn assert_nothing_lost(&self, name: &str) {
        let (lost, dup) = self.print(name);
        assert_eq!((lost, dup), (0, 0));
    }

    fn print(&self, name: &str) -> (usize, usize) {
        let lost: Vec<&String> = self
            .acked
            .iter()
            .filter(|id| !self.delivered.contains_key(*id))
            .collect();
        let duplicates: usize = self.delivered.values().map(|n| n.saturating_sub(1)).sum();
        println!(
            "{name}: sent {}, acknowledged {}, delivered {} (unique), duplicated {duplicates}, lost {}",
            self.sent,
            self.acked.len(),
            self.delivered.len(),
            lost.len()
        );
        (lost.len(), duplicates)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigkill_at_random_points_under_load_loses_nothing_acknowledged() {
    let sink = Sink::start().await;
    let cfg = TestConfig::new(Some(sink.addr), &[]);
    let port = free_port();
    let child = std::sync::Arc::new(std::sync::Mutex::new(spawn(&cfg, port)));
    let addr: std::net::SocketAddr = format!("127.0.0.1:{port}").parse().expect("addr");
    assert!(
        wait_until(Duration::from_secs(10), || std::net::TcpStream::connect(
            addr
        )
        .is_ok())
        .await
    );
    let n = messages();
    let kills = std::env::var("CG_DURABILITY_KILLS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3usize);
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    // The killer: SIGKILL at random moments, restart at once.
    let killer = {
        let (child, done, cfg_path) = (child.clone(), done.clone(), cfg.path().to_path_buf());
        std::thread::spawn(move || {
            let mut killed = 0;
            while killed < kills && !done.load(std::sync::atomic::Ordering::SeqCst) {
                std::thread::sleep(Duration::from_millis(300 + rand::random::<u64>() % 700));
                let mut c = child.lock().expect("lock");
                let _ = c.kill();
                let _ = c.wait();
                killed += 1;
                *c = spawn_at(&cfg_path, port);
            }
            killed
        })
    };
    // Four concurrent senders; a message is re-sent until acknowledged.
    let mut tasks = Vec::new();
    for w in 0..4 {
        tasks.push(tokio::spawn(async move {
            let mut acked = Vec::new();
            for i in (w..n).step_by(4) {
                let id = format!("crash-{i}@load.test");
                let data = body(&id, 2048);
                let deadline = Instant::now() + Duration::from_secs(60);
                while Instant::now() < deadline {
                    match try_send(
                        addr,
                        "clerk@example-tc.gov.uk",
                        &["someone@example.org".to_string()],
                        &data,
                    )
                    .await
                    {
                        Ok(r) if r.starts_with("250") => {
                            acked.push(id.clone());
                            break;
                        }
                        _ => tokio::time::sleep(Duration::from_millis(50)).await,
                    }
                }
            }
            acked
        }));
    }
    let mut acked = HashSet::new();
    for t in tasks {
        acked.extend(t.await.expect("sender"));
    }
    done.store(true, std::sync::atomic::Ordering::SeqCst);
    let killed = killer.join().expect("killer");
    // Everything acknowledged must arrive.
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline && !acked.iter().all(|id| received_ids(&sink).contains_key(id))
    {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let report = Report {
        sent: n,
        acked,
        delivered: received_ids(&sink),
    };
    let (lost, _) = report.print(&format!("crash test ({killed} kills)"));
    let _ = child.lock().expect("lock").kill();
    assert!(killed >= 1, "the gateway was killed");
    assert_eq!(
        report.acked.len(),
        n,
        "every message was eventually acknowledged"
    );
    assert_eq!(lost, 0, "no acknowledged message lost");
}

/// Submits `n` messages of 1 KB (ids `PREFIX-i@load.test`) and checks each
/// is acknowledged; returns the acknowledged ids.
async fn submit_all(gw: &Gateway, prefix: &str, n: usize) -> HashSet<String> {
    let mut acked = HashSet::new();
    for i in 0..n {
        let id = format!("{prefix}-{i}@load.test");
        let r = try_send(
            gw.submission,
            "clerk@example-tc.gov.uk",
            &["someone@example.org".to_string()],
            &body(&id, 1024),
        )
        .await;
        assert!(r.as_deref().is_ok_and(|r| r.starts_with("250")), "{r:?}");
        acked.insert(id);
    }
    acked
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn upstream_refusing_for_the_whole_load_then_back_delivers_everything() {
    let probe = std::net::TcpListener::bind("127.0.0.1:0").expect("probe");
    let upstream = probe.local_addr().expect("addr");
    drop(probe);
    let cfg = TestConfig::new(
        Some(upstream),
        &[("retry_max_secs = 3600", "retry_max_secs = 2")],
    );
    let gw = Gateway::start(&cfg).await;
    let n = messages() / 2;
    let acked = submit_all(&gw, "down", n).await;
    assert_eq!(
        spooled(&cfg.data_dir().join("spool")),
        n,
        "all queued while the upstream is down"
    );
    let sink = Sink::start_on(&upstream.to_string()).await;
    Report::when_delivered(&sink, n, acked, Duration::from_secs(60))
        .await
        .assert_nothing_lost("upstream down, then back");
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn upstream_deferring_a_random_30_percent_delivers_everything() {
    let sink = Sink::start().await;
    sink.behaviour.lock().expect("lock").defer_ratio = 0.3;
    let cfg = TestConfig::new(
        Some(sink.addr),
        &[("retry_max_secs = 3600", "retry_max_secs = 2")],
    );
    let gw = Gateway::start(&cfg).await;
    let n = messages() / 2;
    let acked = submit_all(&gw, "defer", n).await;
    Report::when_delivered(&sink, n, acked, Duration::from_secs(90))
        .await
        .assert_nothing_lost("upstream deferring 30%");
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn spool_disk_full_answers_4xx_and_never_250_for_what_it_could_not_store() {
    let cfg = TestConfig::new(None, &[]);
    let spool = cfg.data_dir().join("spool");
    std::fs::create_dir_all(&spool).expect("mkdir");
    let mounted = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=256k", "tmpfs"])
        .arg(&spool)
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    if !mounted {
        if std::env::var("CI").is_ok() {
            panic!("cannot mount a small tmpfs for the disk-full test (needs root, which CI has)");
        }
        eprintln!("SKIPPED: cannot mount a small tmpfs (not root)");
        return;
    }
    struct Unmount(std::path::PathBuf);
    impl Drop for Unmount {
        fn drop(&mut self) {
            let _ = Command::new("umount").arg("-l").arg(&self.0).status();
        }
    }
    let _unmount = Unmount(spool.clone());
    // Upstream down: everything accepted stays in the 256 KB spool.
    let probe = std::net::TcpListener::bind("127.0.0.1:0").expect("probe");
    let upstream = probe.local_addr().expect("addr");
    drop(probe);
    let path = cfg.path().join("councilgate.toml");
    let mut text = std::fs::read_to_string(&path).expect("read");
    text.push_str(&format!(
        "\n[[routes]]\ndomains = [\"*\"]\nhost = \"{}\"\nport = {}\ntls = \"none\"\n",
        upstream.ip(),
        upstream.port()
    ));
    std::fs::write(&path, text).expect("write");
    let gw = Gateway::start(&cfg).await;
    let (mut acked, mut refused) = (0usize, 0usize);
    for i in 0..60 {
        let id = format!("full-{i}@load.test");
        match try_send(
            gw.submission,
            "clerk@example-tc.gov.uk",
            &["someone@example.org".to_string()],
            &body(&id, 16 * 1024),
        )
        .await
        {
            Ok(r) if r.starts_with("250") => acked += 1,
            Ok(r) if r.starts_with("451") => refused += 1,
            other => panic!("unexpected: {other:?}"),
        }
    }
    println!("disk full: sent 60, acknowledged {acked}, refused with 451 {refused}");
    assert!(refused > 0, "the disk filled up");
    assert!(acked > 0);
    // Every 250 has its message on disk, whole.
    let stored = spooled(&spool);
    assert_eq!(
        stored, acked,
        "a 250 for each stored message, none for the rest"
    );
    let reader = councilgate::queue::spool::Spool::open_shared(&spool).expect("spool");
    let (entries, problems) = reader.list().expect("list");
    assert!(problems.is_empty(), "{problems:?}");
    for e in entries {
        let size = reader.message(&e.id).map(|m| m.len()).unwrap_or(0);
        assert!(size > 16 * 1024, "{} is whole ({size} bytes)", e.id);
    }
    gw.stop().await;
}

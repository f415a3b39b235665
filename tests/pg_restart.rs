//! The PostgreSQL store restarted during a held-message load: nothing held
//! is lost. In its own test binary, so no other test uses the server while
//! it restarts.

mod common;

use std::collections::HashSet;
use std::process::Command;
use std::time::{Duration, Instant};

use common::*;

fn restart_postgres() -> bool {
    let Ok(versions) = std::fs::read_dir("/etc/postgresql") else {
        return false;
    };
    let Some(version) = versions
        .flatten()
        .next()
        .map(|e| e.file_name().to_string_lossy().to_string())
    else {
        return false;
    };
    Command::new("pg_ctlcluster")
        .args(["--skip-systemctl-redirect", &version, "main", "restart"])
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_restart_during_a_held_message_load_loses_nothing_held() {
    let Some(url) = pg_store_url().await else {
        return;
    };
    if Command::new("pg_ctlcluster")
        .arg("--help")
        .output()
        .is_err()
    {
        eprintln!("SKIPPED: pg_ctlcluster is not available to restart the server");
        return;
    }
    let store_line = format!("url = {url:?}");
    let cfg = TestConfig::new(None, &[("url = \"\"", &store_line)]);
    let gw = Gateway::start(&cfg).await;
    let n = 120;
    let sender = {
        let addr = gw.submission;
        tokio::spawn(async move {
            let mut acked = HashSet::new();
            let mut temp_failures = 0;
            for i in 0..n {
                let id = format!("pg-{i}");
                let data = format!(
                    "From: cllr.patel@example-tc.gov.uk\r\nTo: alex.green@example-tc.gov.uk\r\nCc: clerk@example-tc.gov.uk, deputy.clerk@example-tc.gov.uk\r\nSubject: {id}\r\n\r\nAlex, I need you to repaint the doors today."
                );
                let deadline = Instant::now() + Duration::from_secs(60);
                while Instant::now() < deadline {
                    match try_send(
                        addr,
                        "cllr.patel@example-tc.gov.uk",
                        &["alex.green@example-tc.gov.uk".to_string()],
                        data.as_bytes(),
                    )
                    .await
                    {
                        Ok(r) if r.starts_with("250") => {
                            acked.insert(id.clone());
                            break;
                        }
                        Ok(r) if r.starts_with("451") => {
                            temp_failures += 1;
                            tokio::time::sleep(Duration::from_millis(100)).await;
                        }
                        _ => tokio::time::sleep(Duration::from_millis(100)).await,
                    }
                }
            }
            (acked, temp_failures)
        })
    };
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert!(
        tokio::task::spawn_blocking(restart_postgres)
            .await
            .expect("join"),
        "PostgreSQL restarted"
    );
    let (acked, temp_failures) = sender.await.expect("sender");
    let held: HashSet<String> = gw.held().await.into_iter().map(|h| h.subject).collect();
    let lost: Vec<&String> = acked.iter().filter(|id| !held.contains(*id)).collect();
    println!(
        "PostgreSQL restart: sent {n}, acknowledged {}, held in the store {}, answered 451 while down {temp_failures}, lost {}",
        acked.len(),
        held.len(),
        lost.len()
    );
    assert_eq!(acked.len(), n, "everything was eventually acknowledged");
    assert!(lost.is_empty(), "lost: {lost:?}");
    gw.assert_audit_intact().await;
    gw.stop().await;
}

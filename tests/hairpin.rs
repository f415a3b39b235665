//! Internal mail of a hosted tenant through the gateway, with a real
//! Postfix on loopback playing the council's Microsoft 365 or Google tenant
//! (`tests/postfix-tenant.sh`): it holds the mailboxes, sends mail to the
//! gateway unless it carries the gateway's mark with the secret, and
//! delivers what the gateway returns. A councillor's instruction to a junior
//! officer written *inside* the tenant is held; an officer's mail with a
//! councillor in BCC reaches both mailboxes with "CC councillor" at the foot,
//! once (no loop); a mark written by hand is not honoured; the gateway does
//! not judge its own marked mail twice. The same tenant answers the
//! gateway's recipient checks (`unknown_recipients = "verify"`).

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use common::*;

const WAIT: Duration = Duration::from_secs(20);
const SECRET: &str = "6f1d0c2a9b8e7f6a5d4c3b2a19f8e7d6";
const DOMAIN: &str = "example-tc.gov.uk";

/// The mailboxes the tenant holds: the directory's people and mailboxes,
/// and one shared mailbox the directory does not list.
const MAILBOXES: &[&str] = &[
    "clerk@example-tc.gov.uk",
    "clara.hughes@example-tc.gov.uk",
    "deputy.clerk@example-tc.gov.uk",
    "alex.green@example-tc.gov.uk",
    "priya.shah@example-tc.gov.uk",
    "cllr.smith@example-tc.gov.uk",
    "cllr.baker@example-tc.gov.uk",
    "cllr.llewellyn@example-tc.gov.uk",
    "cllr.patel@example-tc.gov.uk",
    "cllr.okafor@example-tc.gov.uk",
    "postmaster@example-tc.gov.uk",
    "info@example-tc.gov.uk",
    "parish.hall.keys@example-tc.gov.uk",
];

struct Tenant {
    dir: tempfile::TempDir,
    port: u16,
}

impl Tenant {
    fn script() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/postfix-tenant.sh")
    }

    fn start(port: u16, gateway: u16) -> Tenant {
        let dir = tempfile::tempdir().expect("tmp");
        let out = Command::new("bash")
            .arg(Self::script())
            .arg("start")
            .arg(dir.path())
            .arg(port.to_string())
            .arg(gateway.to_string())
            .arg(SECRET)
            .args(MAILBOXES)
            .output()
            .expect("run postfix-tenant.sh");
        assert!(
            out.status.success(),
            "tenant start: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        Tenant { dir, port }
    }

    /// The messages delivered to a mailbox.
    fn mailbox(&self, address: &str) -> Vec<String> {
        let local = address.split('@').next().unwrap_or("");
        let new = self.dir.path().join("mail").join(local).join("new");
        let mut out: Vec<String> = std::fs::read_dir(new)
            .map(|d| {
                d.flatten()
                    .filter_map(|e| std::fs::read_to_string(e.path()).ok())
                    .collect()
            })
            .unwrap_or_default();
        out.sort();
        out
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("maillog")).unwrap_or_default()
    }

    fn queue_is_empty(&self) -> bool {
        Command::new("postqueue")
            .arg("-c")
            .arg(self.dir.path().join("etc"))
            .arg("-p")
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).contains("Mail queue is empty"))
            .unwrap_or(false)
    }
}

impl Drop for Tenant {
    fn drop(&mut self) {
        let _ = Command::new("bash")
            .arg(Self::script())
            .arg("stop")
            .arg(self.dir.path())
            .output();
    }
}

/// Submits a message to the tenant as a mail client would (curl).
fn submit(port: u16, from: &str, rcpts: &[&str], message: &str) {
    let tmp = tempfile::tempdir().expect("tmp");
    let file = tmp.path().join("m.eml");
    std::fs::write(&file, message.replace('\n', "\r\n")).expect("write");
    let mut c = Command::new("curl");
    c.arg("-sS")
        .arg(format!("smtp://127.0.0.1:{port}"))
        .arg("--mail-from")
        .arg(from);
    for r in rcpts {
        c.arg("--mail-rcpt").arg(r);
    }
    let out = c.arg("-T").arg(&file).output().expect("curl");
    assert!(
        out.status.success(),
        "submit: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn with_subject<'a>(messages: &'a [String], subject: &str) -> Vec<&'a String> {
    let line = format!("Subject: {subject}\n");
    messages
        .iter()
        .filter(|m| m.replace("\r\n", "\n").contains(&line))
        .collect()
}

async fn wait_for_mail(tenant: &Tenant, address: &str, subject: &str) -> bool {
    wait_until(WAIT, || {
        !with_subject(&tenant.mailbox(address), subject).is_empty()
    })
    .await
}

fn running_as_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mail_inside_the_tenant_goes_through_the_gateway_once_and_a_forged_mark_does_not_skip_it() {
    if !require("postfix") || !require("curl") {
        return;
    }
    if !running_as_root() {
        // Postfix's master runs as root; .ci/run (which installs packages)
        // does too.
        eprintln!("SKIPPED: a private Postfix needs root");
        return;
    }
    let tenant_port = free_port();
    let cfg = TestConfig::new(
        None,
        &[("mark_secret = \"\"", &format!("mark_secret = \"{SECRET}\""))],
    );
    let settings = std::fs::read_to_string(cfg.path().join("councilgate.toml")).expect("read");
    std::fs::write(
        cfg.path().join("councilgate.toml"),
        format!(
            "{settings}\n[[routes]]\ndomains = [\"{DOMAIN}\"]\nhost = \"127.0.0.1\"\nport = {tenant_port}\ntls = \"none\"\nmark = true\n"
        ),
    )
    .expect("write");
    let directory = std::fs::read_to_string(cfg.path().join("directory.toml")).expect("read");
    std::fs::write(
        cfg.path().join("directory.toml"),
        directory.replace(
            "unknown_recipients = \"refuse\"",
            "unknown_recipients = \"verify\"",
        ),
    )
    .expect("write");
    // The tenant's connector reaches the gateway's port 25 (the inbound
    // listener), as Microsoft's and Google's smart-host routes do; the
    // council's SPF names the tenant's servers (here: loopback) and its DKIM
    // or SPF alignment gives DMARC pass, so a councillor's From is verified.
    std::fs::write(
        cfg.path().join("dns-zone.toml"),
        "[txt]\n\"example-tc.gov.uk\" = \"v=spf1 ip4:127.0.0.1 -all\"\n\"_dmarc.example-tc.gov.uk\" = \"v=DMARC1; p=reject\"\n",
    )
    .expect("zone");
    let gw = Gateway::start(&cfg).await;
    let tenant = Tenant::start(tenant_port, gw.inbound.port());

    // 1. A councillor instructs a junior officer, inside the tenant: the
    //    tenant sends it to the gateway, which holds it.
    submit(
        tenant.port,
        "cllr.patel@example-tc.gov.uk",
        &["alex.green@example-tc.gov.uk"],
        "From: Mark Patel <cllr.patel@example-tc.gov.uk>\nTo: Alex Green <alex.green@example-tc.gov.uk>\nSubject: Pavilion doors\n\nAlex,\n\nI need you to repaint the pavilion doors before the fete on Saturday.\n\nMark\n",
    );
    let mut held = Vec::new();
    assert!(
        wait_until(WAIT, || {
            held = futures_lite_block(gw.held());
            !held.is_empty()
        })
        .await,
        "held by the gateway; tenant log:\n{}",
        tenant.log()
    );
    assert_eq!(held[0].subject, "Pavilion doors");
    assert!(held[0].rules.iter().any(|r| r == "instruction-to-staff"));

    // 2. An officer writes to a councillor with another in BCC: both
    //    mailboxes get it once, the BCC'd councillor named at the foot.
    submit(
        tenant.port,
        "clerk@example-tc.gov.uk",
        &[
            "cllr.smith@example-tc.gov.uk",
            "cllr.baker@example-tc.gov.uk",
        ],
        "From: Clara Hughes <clerk@example-tc.gov.uk>\nTo: Jane Smith <cllr.smith@example-tc.gov.uk>\nSubject: Allotment rents\n\nJane,\n\nThe allotment rents for next year are attached to the agenda.\n\nClara\n",
    );
    for who in [
        "cllr.smith@example-tc.gov.uk",
        "cllr.baker@example-tc.gov.uk",
    ] {
        assert!(
            wait_for_mail(&tenant, who, "Allotment rents").await,
            "{who} got it; tenant log:\n{}",
            tenant.log()
        );
    }
    let smith = tenant.mailbox("cllr.smith@example-tc.gov.uk");
    let got = with_subject(&smith, "Allotment rents");
    assert!(got[0].contains("CC councillor Tom Baker"), "{}", got[0]);
    assert!(
        !got[0].contains("could not be verified"),
        "the clerk's From passed DMARC through the tenant: {}",
        got[0]
    );
    assert_eq!(
        got[0].matches("X-Councilgate-Mark:").count(),
        1,
        "only the gateway's own mark: {}",
        got[0]
    );

    // 3. A mark written by hand, without the secret, does not skip the
    //    gateway: held like any other instruction.
    submit(
        tenant.port,
        "cllr.patel@example-tc.gov.uk",
        &["alex.green@example-tc.gov.uk"],
        "From: Mark Patel <cllr.patel@example-tc.gov.uk>\nTo: Alex Green <alex.green@example-tc.gov.uk>\nX-Councilgate-Mark: checked\nSubject: Hedges\n\nAlex,\n\nI need you to cut the hedges on Church Lane this week.\n\nMark\n",
    );
    assert!(
        wait_until(WAIT, || futures_lite_block(gw.held()).len() == 2).await,
        "the forged mark was not honoured; tenant log:\n{}",
        tenant.log()
    );
    assert!(with_subject(&tenant.mailbox("alex.green@example-tc.gov.uk"), "Hedges").is_empty());

    // 4. Mail carrying the gateway's own valid mark is not judged twice:
    //    passed on to the tenant unchanged, which delivers it.
    let mut c = Client::greeted(gw.inbound).await;
    c.cmd("MAIL FROM:<cllr.patel@example-tc.gov.uk>").await;
    c.cmd("RCPT TO:<alex.green@example-tc.gov.uk>").await;
    c.cmd("DATA").await;
    c.send(format!("X-Councilgate-Mark: {SECRET}\r\nFrom: Mark Patel <cllr.patel@example-tc.gov.uk>\r\nTo: Alex Green <alex.green@example-tc.gov.uk>\r\nSubject: Already checked\r\n\r\nI need you to repaint the pavilion doors.\r\n.\r\n").as_bytes()).await;
    let reply = c.reply().await;
    assert!(reply.starts_with("250"), "{reply}");
    assert!(
        wait_for_mail(&tenant, "alex.green@example-tc.gov.uk", "Already checked").await,
        "delivered; tenant log:\n{}",
        tenant.log()
    );
    assert_eq!(
        futures_lite_block(gw.held()).len(),
        2,
        "not held: not judged twice"
    );

    // No loop: after a pause, each message is in each mailbox once, and
    // nothing waits in either queue.
    tokio::time::sleep(Duration::from_secs(2)).await;
    for who in [
        "cllr.smith@example-tc.gov.uk",
        "cllr.baker@example-tc.gov.uk",
    ] {
        assert_eq!(
            with_subject(&tenant.mailbox(who), "Allotment rents").len(),
            1,
            "{who}: delivered once"
        );
    }
    assert_eq!(
        with_subject(
            &tenant.mailbox("alex.green@example-tc.gov.uk"),
            "Already checked"
        )
        .len(),
        1
    );
    assert!(
        wait_until(WAIT, || tenant.queue_is_empty()).await,
        "the tenant's queue is empty"
    );
    let relayed_to_gateway = tenant
        .log()
        .lines()
        .filter(|l| l.contains(&format!("relay=127.0.0.1[127.0.0.1]:{}", gw.inbound.port())))
        .count();
    assert_eq!(
        relayed_to_gateway,
        4,
        "three messages (four recipients) sent to the gateway, none twice:\n{}",
        tenant.log()
    );

    // 5. Unknown recipients: the tenant is asked about an address the
    //    directory does not list, and its answer is remembered.
    let mut c = Client::greeted(gw.inbound).await;
    c.cmd("MAIL FROM:<resident@example.org>").await;
    let known = c.cmd("RCPT TO:<parish.hall.keys@example-tc.gov.uk>").await;
    assert!(
        known.starts_with("250"),
        "a mailbox the tenant holds: {known}"
    );
    for _ in 0..3 {
        let unknown = c.cmd("RCPT TO:<nobody.here@example-tc.gov.uk>").await;
        assert!(unknown.starts_with("550 5.1.1"), "{unknown}");
    }
    let asked = tenant
        .log()
        .lines()
        .filter(|l| l.contains("reject: RCPT") && l.contains("nobody.here@"))
        .count();
    assert_eq!(asked, 1, "asked once, then remembered:\n{}", tenant.log());
    let person = c.cmd("RCPT TO:<priya.shah@example-tc.gov.uk>").await;
    assert!(person.starts_with("250"), "{person}");
    assert!(
        !tenant.log().contains("to=<priya.shah@example-tc.gov.uk>"),
        "a directory person needs no question"
    );
    gw.stop().await;
}

/// Runs a future to completion from a synchronous closure (the store's
/// calls are quick).
fn futures_lite_block<F: std::future::Future>(f: F) -> F::Output {
    tokio::task::block_in_place(|| tokio::runtime::Handle::current().block_on(f))
}

//! Security: TLS (STARTTLS and implicit), SMTP AUTH and its lockout,
//! senders bound to their login, the open-relay matrix with
//! authentication, SPF/DKIM/DMARC from a fixture DNS zone, DKIM signing
//! after rewriting, ARC sealing, and connection-rate limits. Real peers
//! where they exist here: curl and openssl s_client.

mod common;

use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use base64::Engine as _;
use common::{Client, Gateway, Sink, TestConfig, require};
use mail_auth::common::headers::HeaderWriter;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, BufStream};
use tokio::net::TcpStream;

const PASSWORD: &str = "correct horse battery staple";
const CLERK: &str = "clerk@example-tc.gov.uk";

/// A raw SMTP client that can start TLS, trusting the gateway's own
/// (self-signed) certificate for the name `gw.test`.
struct SmtpClient<S> {
    stream: BufStream<S>,
}

fn tls_connector(cfg: &TestConfig) -> tokio_rustls::TlsConnector {
    tokio_rustls::TlsConnector::from(common::tls_client_config(cfg))
}

impl<S: AsyncRead + AsyncWrite + Unpin> SmtpClient<S> {
    async fn reply(&mut self) -> String {
        common::read_reply(&mut self.stream).await
    }

    async fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).await.expect("write");
        self.stream.flush().await.expect("flush");
    }

    async fn cmd(&mut self, line: &str) -> String {
        self.send(format!("{line}\r\n").as_bytes()).await;
        self.reply().await
    }

    /// AUTH PLAIN with an initial response.
    async fn login(&mut self, user: &str, password: &str) -> String {
        let token =
            base64::engine::general_purpose::STANDARD.encode(format!("\0{user}\0{password}"));
        self.cmd(&format!("AUTH PLAIN {token}")).await
    }
}

impl SmtpClient<TcpStream> {
    async fn connect(addr: SocketAddr) -> Self {
        let stream = TcpStream::connect(addr).await.expect("connect");
        let mut c = SmtpClient {
            stream: BufStream::new(stream),
        };
        let greeting = c.reply().await;
        assert!(greeting.starts_with("220"), "{greeting}");
        c
    }

    /// EHLO, STARTTLS, handshake, EHLO again.
    async fn starttls(
        mut self,
        cfg: &TestConfig,
    ) -> SmtpClient<tokio_rustls::client::TlsStream<TcpStream>> {
        let ehlo = self.cmd("EHLO client.example").await;
        assert!(ehlo.contains("STARTTLS"), "{ehlo}");
        let r = self.cmd("STARTTLS").await;
        assert!(r.starts_with("220"), "{r}");
        let tcp = self.stream.into_inner();
        let name = rustls::pki_types::ServerName::try_from("gw.test").expect("name");
        let tls = tls_connector(cfg)
            .connect(name, tcp)
            .await
            .expect("TLS handshake with the gateway's certificate");
        let mut c = SmtpClient {
            stream: BufStream::new(tls),
        };
        let ehlo = c.cmd("EHLO client.example").await;
        assert!(ehlo.starts_with("250"), "{ehlo}");
        c
    }
}

/// Implicit TLS (port 465): the handshake first, then the greeting.
async fn connect_tls(
    addr: SocketAddr,
    cfg: &TestConfig,
) -> SmtpClient<tokio_rustls::client::TlsStream<TcpStream>> {
    let tcp = TcpStream::connect(addr).await.expect("connect");
    let name = rustls::pki_types::ServerName::try_from("gw.test").expect("name");
    let tls = tls_connector(cfg)
        .connect(name, tcp)
        .await
        .expect("implicit TLS handshake");
    let mut c = SmtpClient {
        stream: BufStream::new(tls),
    };
    let greeting = c.reply().await;
    assert!(greeting.starts_with("220"), "{greeting}");
    let ehlo = c.cmd("EHLO client.example").await;
    assert!(!ehlo.contains("STARTTLS"), "already TLS: {ehlo}");
    c
}

/// A gateway on the shipped settings where the clerk has an SMTP login.
async fn gateway_with_clerk_login() -> (TestConfig, Gateway) {
    let cfg = TestConfig::new(None, &[]);
    let gw = Gateway::start(&cfg).await;
    add_smtp_login(&gw, CLERK).await;
    (cfg, gw)
}

async fn add_smtp_login(gw: &Gateway, user: &str) {
    let hash = councilgate::auth::hash_password(PASSWORD).expect("hash");
    gw.app
        .store
        .set_smtp_password(user, &hash, "test")
        .await
        .expect("save login");
}

/// The implicit-TLS listener's address (the harness knows two listeners).
fn submissions_addr(gw: &Gateway) -> SocketAddr {
    gw.submissions
}

fn message_file(dir: &Path, from: &str, to: &str, subject: &str) -> std::path::PathBuf {
    let path = dir.join("message.eml");
    std::fs::write(
        &path,
        format!("From: {from}\r\nTo: {to}\r\nSubject: {subject}\r\nMessage-ID: <{subject}@test>\r\n\r\nThe agenda for Thursday is attached in the usual place.\r\n"),
    )
    .expect("write message");
    path
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn curl_ssl_reqd_submits_over_starttls_with_auth() {
    if !require("curl") {
        return;
    }
    let sink = Sink::start().await;
    let cfg = TestConfig::new(
        Some(sink.addr),
        // Submission clients must log in: loopback is not trusted here.
        &[(
            r#"trusted_networks = ["127.0.0.0/8", "::1/128"]"#,
            "trusted_networks = []",
        )],
    );
    let gw = Gateway::start(&cfg).await;
    add_smtp_login(&gw, CLERK).await;
    let file = message_file(cfg.path(), CLERK, "resident@example.org", "starttls-curl");
    let cert = cfg.data_dir().join("tls/cert.pem");
    // curl verifying the gateway's certificate for gw.test; `smtp` with
    // --ssl-reqd is STARTTLS, `smtps` implicit TLS.
    let curl = |scheme: &str, port: u16, password: &str| {
        Command::new("curl")
            .args(["--silent", "--show-error", "--ssl-reqd"])
            .arg("--cacert")
            .arg(&cert)
            .args(["--resolve", &format!("gw.test:{port}:127.0.0.1")])
            .arg(format!("{scheme}://gw.test:{port}"))
            .args(["--user", &format!("{CLERK}:{password}")])
            .args(["--mail-from", CLERK, "--mail-rcpt", "resident@example.org"])
            .arg("-T")
            .arg(&file)
            .output()
            .expect("run curl")
    };
    let out = curl("smtp", gw.submission.port(), PASSWORD);
    assert!(
        out.status.success(),
        "curl over STARTTLS: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let got = sink.wait_for(1, Duration::from_secs(15)).await;
    assert_eq!(got.len(), 1, "delivered upstream");
    let text = String::from_utf8_lossy(&got[0].data);
    assert!(
        text.contains("with ESMTPSA"),
        "the trace says TLS and AUTH: {text}"
    );
    let out = curl("smtps", submissions_addr(&gw).port(), PASSWORD);
    assert!(
        out.status.success(),
        "curl over implicit TLS: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(sink.wait_for(2, Duration::from_secs(15)).await.len(), 2);
    // A wrong password: curl is refused and nothing more is delivered.
    let out = curl("smtp", gw.submission.port(), "not the password");
    assert!(!out.status.success(), "a wrong password is refused");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(sink.messages().len(), 2);
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openssl_s_client_completes_a_starttls_handshake() {
    if !require("openssl") {
        return;
    }
    let cfg = TestConfig::new(None, &[]);
    let gw = Gateway::start(&cfg).await;
    let cert = cfg.data_dir().join("tls/cert.pem");
    for (what, port, extra) in [
        ("STARTTLS", gw.inbound.port(), vec!["-starttls", "smtp"]),
        ("STARTTLS", gw.submission.port(), vec!["-starttls", "smtp"]),
        ("implicit TLS", submissions_addr(&gw).port(), vec![]),
    ] {
        let mut child = Command::new("openssl")
            .arg("s_client")
            .args(&extra)
            .args(["-connect", &format!("127.0.0.1:{port}")])
            .args(["-servername", "gw.test", "-verify_hostname", "gw.test"])
            .arg("-CAfile")
            .arg(&cert)
            .args(["-verify_return_error", "-brief", "-crlf", "-ign_eof"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("run openssl");
        {
            use std::io::Write;
            let mut stdin = child.stdin.take().expect("stdin");
            let _ = stdin.write_all(b"EHLO client.example\nQUIT\n");
        }
        let out = tokio::task::spawn_blocking(move || child.wait_with_output())
            .await
            .expect("join")
            .expect("openssl output");
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            text.contains("Verification: OK"),
            "{what} on {port}: {text}"
        );
        assert!(
            text.contains("TLSv1.3"),
            "{what}: TLS 1.3 negotiated: {text}"
        );
        assert!(
            text.contains("250"),
            "{what}: EHLO answered inside TLS: {text}"
        );
    }
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auth_is_not_offered_or_accepted_before_starttls() {
    let (cfg, gw) = gateway_with_clerk_login().await;
    let mut c = Client::connect(gw.submission).await;
    let ehlo = c.cmd("EHLO client.example").await;
    assert!(ehlo.contains("STARTTLS"), "{ehlo}");
    assert!(!ehlo.contains("AUTH"), "no AUTH offered in clear: {ehlo}");
    let token = base64::engine::general_purpose::STANDARD.encode(format!("\0{CLERK}\0{PASSWORD}"));
    let r = c.cmd(&format!("AUTH PLAIN {token}")).await;
    assert!(r.starts_with("538 5.7.11"), "{r}");
    // The inbound (MX) listener offers no AUTH at all.
    let mut c = SmtpClient::connect(gw.inbound).await.starttls(&cfg).await;
    let ehlo = c.cmd("EHLO client.example").await;
    assert!(!ehlo.contains("AUTH"), "{ehlo}");
    assert!(c.login(CLERK, PASSWORD).await.starts_with("502"));
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_passwords_are_refused_then_locked_out() {
    let (cfg, gw) = gateway_with_clerk_login().await;
    let mut c = SmtpClient::connect(gw.submission)
        .await
        .starttls(&cfg)
        .await;
    let ehlo = c.cmd("EHLO client.example").await;
    assert!(ehlo.contains("AUTH PLAIN LOGIN"), "{ehlo}");
    // An unknown user and a wrong password get the same answer.
    let r = c.login("nobody@example-tc.gov.uk", PASSWORD).await;
    assert!(r.starts_with("535 5.7.8"), "{r}");
    for _ in 0..4 {
        let r = c.login(CLERK, "wrong password here").await;
        assert!(r.starts_with("535 5.7.8"), "{r}");
    }
    // Five failures from this address: even the right password now waits.
    let r = c.login(CLERK, PASSWORD).await;
    assert!(r.starts_with("454 4.7.0"), "locked out: {r}");
    assert!(r.contains("try again in"), "{r}");
    // After the backoff, the right password works (LOGIN mechanism).
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    assert!(c.cmd("AUTH LOGIN").await.starts_with("334 VXNlcm5hbWU6"));
    assert!(c.cmd(&b64(CLERK)).await.starts_with("334 UGFzc3dvcmQ6"));
    let r = c.cmd(&b64(PASSWORD)).await;
    assert!(r.starts_with("235 2.7.0"), "{r}");
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_authenticated_sender_is_bound_to_the_login() {
    let sink = Sink::start().await;
    let cfg = TestConfig::new(
        Some(sink.addr),
        &[
            (
                r#"trusted_networks = ["127.0.0.0/8", "::1/128"]"#,
                "trusted_networks = []",
            ),
            (
                "# [[smtp.delegates]]\n# user = \"clerk@example-tc.gov.uk\"\n# send_as = [\"office@example-tc.gov.uk\"]",
                "[[smtp.delegates]]\nuser = \"clerk@example-tc.gov.uk\"\nsend_as = [\"office@example-tc.gov.uk\"]",
            ),
        ],
    );
    let gw = Gateway::start(&cfg).await;
    add_smtp_login(&gw, CLERK).await;
    let mut c = SmtpClient::connect(gw.submission)
        .await
        .starttls(&cfg)
        .await;
    // Not logged in: submission is closed.
    let r = c.cmd("MAIL FROM:<clerk@example-tc.gov.uk>").await;
    assert!(r.starts_with("530 5.7.0"), "{r}");
    assert!(c.login(CLERK, PASSWORD).await.starts_with("235"));
    for (sender, ok) in [
        ("cllr.smith@example-tc.gov.uk", false),
        ("ceo@example.org", false),
        ("clara.hughes@example-tc.gov.uk", true), // another address of hers
        ("office@example-tc.gov.uk", true),       // a delegation
        (CLERK, true),
    ] {
        let r = c.cmd(&format!("MAIL FROM:<{sender}>")).await;
        if ok {
            assert!(r.starts_with("250"), "{sender}: {r}");
            assert!(c.cmd("RSET").await.starts_with("250"));
        } else {
            assert!(r.starts_with("550 5.7.1"), "{sender}: {r}");
            assert!(
                r.contains(sender) && r.contains(CLERK),
                "names the mismatch: {r}"
            );
        }
    }
    // The From header is checked too.
    c.cmd(&format!("MAIL FROM:<{CLERK}>")).await;
    c.cmd("RCPT TO:<resident@example.org>").await;
    assert!(c.cmd("DATA").await.starts_with("354"));
    let r = c
        .cmd("From: Cllr Smith <cllr.smith@example-tc.gov.uk>\r\nTo: resident@example.org\r\nSubject: forged\r\n\r\nhi\r\n.")
        .await;
    assert!(r.starts_with("550 5.7.1"), "{r}");
    assert!(
        r.contains("From: header <cllr.smith@example-tc.gov.uk>"),
        "{r}"
    );
    c.cmd(&format!("MAIL FROM:<{CLERK}>")).await;
    c.cmd("RCPT TO:<resident@example.org>").await;
    c.cmd("DATA").await;
    let r = c
        .cmd("From: Example Town Council <office@example-tc.gov.uk>\r\nTo: resident@example.org\r\nSubject: delegated\r\n\r\nhi\r\n.")
        .await;
    assert!(r.starts_with("250"), "{r}");
    let got = sink.wait_for(1, Duration::from_secs(15)).await;
    assert_eq!(got.len(), 1);
    gw.stop().await;
}

/// Every listener × login × client network × sender domain × recipient
/// domain: only a logged-in sender (as themself) or a trusted network
/// reaches an outside domain, and only through submission.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn open_relay_matrix_with_authentication() {
    let loopback = r#"trusted_networks = ["127.0.0.0/8", "::1/128"]"#;
    for trusted in [false, true] {
        let cfg = if trusted {
            TestConfig::new(
                None,
                &[("[smtp.inbound]", &format!("[smtp.inbound]\n{loopback}\n#"))],
            )
        } else {
            TestConfig::new(
                None,
                &[(loopback, r#"trusted_networks = ["192.0.2.0/24"]"#)],
            )
        };
        let gw = Gateway::start(&cfg).await;
        add_smtp_login(&gw, CLERK).await;
        for (listener, addr) in [
            ("inbound", gw.inbound),
            ("submission", gw.submission),
            ("submissions", submissions_addr(&gw)),
        ] {
            for logged_in in [false, true] {
                let mut c = if listener == "submissions" {
                    connect_tls(addr, &cfg).await
                } else {
                    SmtpClient::connect(addr).await.starttls(&cfg).await
                };
                let authenticated = if logged_in {
                    let r = c.login(CLERK, PASSWORD).await;
                    if listener == "inbound" {
                        assert!(r.starts_with("502"), "no AUTH on inbound: {r}");
                    } else {
                        assert!(r.starts_with("235"), "{listener}: {r}");
                    }
                    listener != "inbound"
                } else {
                    false
                };
                for sender in [CLERK, "someone@example.org"] {
                    for rcpt in ["alex.green@example-tc.gov.uk", "victim@example.net"] {
                        let case = format!(
                            "{listener}, trusted: {trusted}, logged in: {logged_in}, from {sender} to {rcpt}"
                        );
                        let council_rcpt = rcpt.ends_with("@example-tc.gov.uk");
                        let own_sender = sender == CLERK;
                        let mail_ok = match listener {
                            "inbound" => true,
                            _ if authenticated => own_sender,
                            _ => trusted,
                        };
                        let rcpt_ok = match listener {
                            "inbound" => council_rcpt,
                            _ => trusted || authenticated,
                        };
                        let r = c.cmd(&format!("MAIL FROM:<{sender}>")).await;
                        if !mail_ok {
                            assert!(
                                r.starts_with("530 5.7.0") || r.starts_with("550 5.7.1"),
                                "{case}: {r}"
                            );
                            assert!(c.cmd("RSET").await.starts_with("250"), "{case}");
                            continue;
                        }
                        assert!(r.starts_with("250"), "{case}: {r}");
                        let r = c.cmd(&format!("RCPT TO:<{rcpt}>")).await;
                        if rcpt_ok {
                            assert!(r.starts_with("250"), "{case}: {r}");
                        } else {
                            assert!(r.starts_with("550 5.7.1"), "{case}: {r}");
                            assert!(r.contains("Relay access denied"), "{case}: {r}");
                        }
                        // The invariant, whatever the model above says.
                        if r.starts_with("250") && !council_rcpt {
                            assert!(
                                listener != "inbound" && (trusted || authenticated),
                                "relayed without authentication: {case}"
                            );
                        }
                        assert!(c.cmd("RSET").await.starts_with("250"), "{case}");
                    }
                }
            }
        }
        gw.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plaintext_pipelined_after_starttls_is_discarded() {
    let cfg = TestConfig::new(None, &[]);
    let gw = Gateway::start(&cfg).await;
    let mut c = SmtpClient::connect(gw.inbound).await;
    c.cmd("EHLO client.example").await;
    // CVE-2011-0411: a command injected in clear behind STARTTLS.
    c.send(b"STARTTLS\r\nMAIL FROM:<injected@example.org>\r\n")
        .await;
    let r = c.reply().await;
    assert!(r.starts_with("220"), "{r}");
    let tcp = c.stream.into_inner();
    let name = rustls::pki_types::ServerName::try_from("gw.test").expect("name");
    let tls = tls_connector(&cfg).connect(name, tcp).await.expect("TLS");
    let mut c = SmtpClient {
        stream: BufStream::new(tls),
    };
    // The first reply inside TLS answers our EHLO, not the injected MAIL.
    let r = c.cmd("EHLO client.example").await;
    assert!(r.starts_with("250"), "{r}");
    // And no transaction was open: RCPT needs a MAIL first.
    let r = c.cmd("RCPT TO:<clerk@example-tc.gov.uk>").await;
    assert!(r.starts_with("503"), "{r}");
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connection_rate_per_address_is_limited() {
    let cfg = TestConfig::new(
        None,
        &[(
            "max_connection_rate_per_ip = 120",
            "max_connection_rate_per_ip = 3",
        )],
    );
    let gw = Gateway::start(&cfg).await;
    let mut open = Vec::new();
    for _ in 0..3 {
        let mut c = Client::connect(gw.inbound).await;
        c.cmd("QUIT").await;
        open.push(c);
    }
    let mut s = TcpStream::connect(gw.inbound).await.expect("connect");
    let mut buf = vec![0u8; 256];
    let n = tokio::time::timeout(
        Duration::from_secs(5),
        tokio::io::AsyncReadExt::read(&mut s, &mut buf),
    )
    .await
    .expect("reply")
    .expect("read");
    let r = String::from_utf8_lossy(&buf[..n]);
    assert!(r.starts_with("421 4.7.0"), "{r}");
    // Trusted networks are exempt: loopback is trusted on submission.
    let mut c = Client::connect(gw.submission).await;
    assert!(c.cmd("QUIT").await.starts_with("221"));
    gw.stop().await;
}

// ------------------------------------------------------- sender authentication

fn public_key() -> String {
    std::fs::read_to_string(Path::new(common::REPO).join("tests/fixtures/dkim/test-key.pub.b64"))
        .expect("public key")
        .trim()
        .to_string()
}

fn key_path() -> std::path::PathBuf {
    Path::new(common::REPO).join("tests/fixtures/dkim/test-key.pem")
}

/// The zone every sender-authentication test publishes: gmail.com (the
/// councillor's webmail) with SPF for 192.0.2.1 only, a DKIM key and
/// DMARC p=reject; the council's own domain with the gateway's key.
fn zone() -> String {
    let p = public_key();
    format!(
        "[txt]\n\
         \"gmail.com\" = \"v=spf1 ip4:192.0.2.1 -all\"\n\
         \"_dmarc.gmail.com\" = \"v=DMARC1; p=reject\"\n\
         \"t1._domainkey.gmail.com\" = \"v=DKIM1; k=rsa; p={p}\"\n\
         \"example-tc.gov.uk\" = \"v=spf1 ip4:192.0.2.2 -all\"\n\
         \"_dmarc.example-tc.gov.uk\" = \"v=DMARC1; p=reject\"\n\
         \"councilgate._domainkey.example-tc.gov.uk\" = \"v=DKIM1; k=rsa; p={p}\"\n"
    )
}

/// A gateway signing with the test key, relaying to a fresh sink.
async fn signing_gateway() -> (Sink, TestConfig, Gateway) {
    let sink = Sink::start().await;
    let cfg = signing_config(&sink);
    let gw = Gateway::start(&cfg).await;
    (sink, cfg, gw)
}

fn signing_config(sink: &Sink) -> TestConfig {
    let key = key_path().display().to_string();
    let cfg = TestConfig::new(
        Some(sink.addr),
        &[(
            "# [[dkim.keys]]",
            &format!(
                "[[dkim.keys]]\ndomain = \"example-tc.gov.uk\"\nselector = \"councilgate\"\nkey = {key:?}\n# "
            ),
        )],
    );
    std::fs::write(cfg.path().join("dns-zone.toml"), zone()).expect("zone");
    cfg
}

/// A message from the councillor's webmail, DKIM-signed by "gmail.com"
/// with the test key (as Gmail would).
fn signed_by_gmail(body: &str) -> Vec<u8> {
    use mail_auth::common::crypto::{RsaKey, Sha256};
    use rustls::pki_types::PrivateKeyDer;
    use rustls::pki_types::pem::PemObject;
    let msg = format!(
        "From: Jane Smith <janesmith@gmail.com>\r\nTo: clerk@example-tc.gov.uk\r\nSubject: Allotment hedges\r\nMessage-ID: <hedges@gmail.com>\r\nDate: Tue, 1 Dec 2026 10:00:00 +0000\r\n\r\n{body}\r\n"
    );
    let key =
        RsaKey::<Sha256>::from_key_der(PrivateKeyDer::from_pem_file(key_path()).expect("key"))
            .expect("rsa");
    let sig = mail_auth::dkim::DkimSigner::from_key(key)
        .domain("gmail.com")
        .selector("t1")
        .headers(["From", "To", "Subject", "Message-ID", "Date"])
        .sign(msg.as_bytes())
        .expect("sign");
    let mut out = sig.to_header().into_bytes();
    out.extend_from_slice(msg.as_bytes());
    out
}

async fn send_inbound(addr: SocketAddr, from: &str, data: &[u8]) -> String {
    let mut c = Client::connect(addr).await;
    c.cmd("EHLO mail-client.example").await;
    c.cmd(&format!("MAIL FROM:<{from}>")).await;
    assert!(
        c.cmd("RCPT TO:<clerk@example-tc.gov.uk>")
            .await
            .starts_with("250")
    );
    assert!(c.cmd("DATA").await.starts_with("354"));
    let mut body = data.to_vec();
    body.extend_from_slice(b".\r\n");
    c.send(&body).await;
    c.reply().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spoofed_councillor_is_unverified_with_a_banner_and_a_signed_one_is_verified() {
    let (sink, _cfg, gw) = signing_gateway().await;
    // Spoofed: the councillor's address, from a host SPF does not list,
    // with no signature.
    let spoof = b"From: Jane Smith <janesmith@gmail.com>\r\nTo: clerk@example-tc.gov.uk\r\nSubject: Urgent payment\r\nAuthentication-Results: gw.test; dmarc=pass header.from=gmail.com\r\n\r\nPlease pay the attached invoice today.\r\n";
    let r = send_inbound(gw.inbound, "janesmith@gmail.com", spoof).await;
    assert!(r.starts_with("250"), "{r}");
    let genuine = signed_by_gmail("Could we look at the allotment hedges on Thursday?");
    let r = send_inbound(gw.inbound, "janesmith@gmail.com", &genuine).await;
    assert!(r.starts_with("250"), "{r}");
    let got = sink.wait_for(2, Duration::from_secs(15)).await;
    assert_eq!(got.len(), 2);
    let find = |s: &str| {
        got.iter()
            .map(|m| String::from_utf8_lossy(&m.data).to_string())
            .find(|t| t.contains(s))
            .expect("message")
    };
    let spoofed = find("Urgent payment");
    assert!(
        spoofed.contains("claims to come from Jane Smith but could not be verified"),
        "{spoofed}"
    );
    assert!(spoofed.contains("dmarc=fail"), "{spoofed}");
    assert!(
        !spoofed.contains("gw.test; dmarc=pass"),
        "a forged result in our name is removed: {spoofed}"
    );
    assert!(spoofed.contains("X-Council-Protocol: unverified-sender"));
    // The banner leads the text: it is the first line of the body.
    let body = spoofed.split("\r\n\r\n").nth(1).unwrap_or("");
    assert!(body.starts_with("CAUTION: this message claims"), "{body}");
    let genuine = find("Allotment hedges");
    assert!(!genuine.contains("could not be verified"), "{genuine}");
    assert!(genuine.contains("dkim=pass"), "{genuine}");
    assert!(genuine.contains("dmarc=pass"), "{genuine}");
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn annotated_council_mail_verifies_with_the_gateway_dkim_key() {
    let (sink, _cfg, gw) = signing_gateway().await;
    // An officer writes to one councillor and BCCs another: silent-copy
    // annotates the message, so its body changes on the way through.
    let mut c = Client::greeted(gw.submission).await;
    c.cmd("MAIL FROM:<clerk@example-tc.gov.uk>").await;
    c.cmd("RCPT TO:<cllr.smith@example-tc.gov.uk>").await;
    c.cmd("RCPT TO:<cllr.baker@example-tc.gov.uk>").await;
    c.cmd("DATA").await;
    c.send(b"From: Clara Hughes <clerk@example-tc.gov.uk>\r\nTo: cllr.smith@example-tc.gov.uk\r\nSubject: Agenda\r\nMessage-ID: <agenda@example-tc.gov.uk>\r\n\r\nThe agenda is attached.\r\n.\r\n").await;
    let r = c.reply().await;
    assert!(r.starts_with("250"), "{r}");
    let got = sink.wait_for(1, Duration::from_secs(15)).await;
    assert_eq!(got.len(), 1);
    let text = String::from_utf8_lossy(&got[0].data).to_string();
    assert!(
        text.contains("CC councillor Tom Baker"),
        "annotated: {text}"
    );
    assert!(text.starts_with("DKIM-Signature:"), "{text}");
    let verifier = gw.app.pipeline.verifier().expect("verifier");
    let (dkim, _) = verifier.signatures(&got[0].data).await;
    assert_eq!(dkim, vec!["pass d=example-tc.gov.uk".to_string()], "{text}");
    // A changed byte breaks it: the signature covers the annotation.
    let tampered = text.replace("CC councillor Tom Baker", "CC councillor Tom Bakr");
    let (dkim, _) = verifier.signatures(tampered.as_bytes()).await;
    assert_eq!(dkim.len(), 1);
    assert!(!dkim[0].starts_with("pass"), "{dkim:?}");
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changed_inbound_mail_carries_an_arc_set_that_verifies() {
    let (sink, _cfg, gw) = signing_gateway().await;
    let spoof = b"From: Jane Smith <janesmith@gmail.com>\r\nTo: clerk@example-tc.gov.uk\r\nSubject: Hedges\r\n\r\nThe hedges need cutting.\r\n";
    let r = send_inbound(gw.inbound, "janesmith@gmail.com", spoof).await;
    assert!(r.starts_with("250"), "{r}");
    let got = sink.wait_for(1, Duration::from_secs(15)).await;
    let text = String::from_utf8_lossy(&got[0].data).to_string();
    assert!(text.contains("ARC-Seal: i=1;"), "{text}");
    assert!(
        text.contains("ARC-Authentication-Results: i=1; gw.test"),
        "{text}"
    );
    let verifier = gw.app.pipeline.verifier().expect("verifier");
    let (_, arc) = verifier.signatures(&got[0].data).await;
    assert_eq!(arc, "pass", "{text}");
    gw.stop().await;
}

#[test]
fn check_unverified_shows_the_banner() {
    let dir = tempfile::tempdir().expect("tempdir");
    let msg = dir.path().join("m.eml");
    std::fs::write(
        &msg,
        "From: Jane Smith <janesmith@gmail.com>\r\nTo: clerk@example-tc.gov.uk\r\nSubject: Hedges\r\n\r\nHello.\r\n",
    )
    .expect("write");
    let run = |extra: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_councilgate"))
            .args(["--config", &format!("{}/config", common::REPO), "check"])
            .args(["--mail-from", "janesmith@gmail.com"])
            .args(["--rcpt", "clerk@example-tc.gov.uk", "--json"])
            .args(extra)
            .arg(&msg)
            .output()
            .expect("run check");
        common::assert_success(&out);
        serde_json::from_slice::<serde_json::Value>(&out.stdout).expect("json")
    };
    let verified = run(&[]);
    let unverified = run(&["--unverified"]);
    let rules = |v: &serde_json::Value| {
        v["rules"]
            .as_array()
            .map(|a| a.iter().map(|r| r["id"].to_string()).collect::<Vec<_>>())
            .unwrap_or_default()
    };
    assert!(
        !rules(&verified)
            .iter()
            .any(|r| r.contains("unverified-sender"))
    );
    assert!(
        rules(&unverified)
            .iter()
            .any(|r| r.contains("unverified-sender")),
        "{unverified}"
    );
    assert!(
        unverified["annotations"]
            .to_string()
            .contains("claims to come from Jane Smith"),
        "{unverified}"
    );
}

/// Relaying out with `tls = "starttls"` to a real TLS-speaking SMTP server
/// (a second gateway, whose certificate is self-signed): refused while the
/// certificate does not verify, delivered once the route opts out.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outbound_starttls_verifies_the_upstream_certificate_unless_the_route_opts_out() {
    let sink = Sink::start().await;
    let upstream_cfg = TestConfig::new(Some(sink.addr), &[]);
    let upstream = Gateway::start(&upstream_cfg).await;
    for (insecure, delivered) in [(false, false), (true, true)] {
        let cfg = TestConfig::new(None, &[]);
        let route = format!(
            "\n[[routes]]\ndomains = [\"*\"]\nhost = \"localhost\"\nport = {}\ntls = \"starttls\"\ntls_insecure = {insecure}\n",
            upstream.inbound.port()
        );
        let path = cfg.path().join("councilgate.toml");
        let mut settings = std::fs::read_to_string(&path).expect("settings");
        settings.push_str(&route);
        std::fs::write(&path, settings).expect("write");
        let gw = Gateway::start(&cfg).await;
        let before = sink.messages().len();
        let r = send_inbound(
            gw.inbound,
            "resident@example.org",
            format!("From: resident@example.org\r\nTo: clerk@example-tc.gov.uk\r\nSubject: tls-{insecure}\r\n\r\nHello.\r\n").as_bytes(),
        )
        .await;
        assert!(r.starts_with("250"), "{r}");
        if delivered {
            let got = sink.wait_for(before + 1, Duration::from_secs(20)).await;
            assert_eq!(got.len(), before + 1, "delivered through the TLS upstream");
            let text = String::from_utf8_lossy(&got[before].data).to_string();
            assert!(text.contains("with ESMTPS"), "the upstream saw TLS: {text}");
        } else {
            // The queue keeps it, with the certificate error as the reason.
            let spool = gw.app.queue.spool().clone();
            let mut reason = String::new();
            for _ in 0..100 {
                let (entries, _) = spool.list().expect("list");
                if let Some(e) = entries
                    .iter()
                    .flat_map(|e| e.recipients.iter())
                    .find_map(|r| r.last_error.clone())
                {
                    reason = e;
                    break;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            assert!(
                reason.to_lowercase().contains("certificate")
                    || reason.to_lowercase().contains("tls"),
                "refused for its certificate: {reason:?}"
            );
            assert_eq!(sink.messages().len(), before, "nothing went out unverified");
        }
        gw.stop().await;
    }
    upstream.stop().await;
}

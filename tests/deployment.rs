//! What can be checked of the deployment files without a Docker engine.

mod common;

use std::path::Path;
use std::process::Command;

use common::*;

fn repo(p: &str) -> std::path::PathBuf {
    Path::new(REPO).join(p)
}

fn dockerfile() -> String {
    std::fs::read_to_string(repo("docker/Dockerfile")).expect("Dockerfile")
}

#[test]
fn compose_file_parses_and_references_what_exists() {
    let text = std::fs::read_to_string(repo("docker/compose.yaml")).expect("compose");
    let doc: serde_yaml::Value = serde_yaml::from_str(&text).expect("compose.yaml is valid YAML");
    let services = doc["services"].as_mapping().expect("services");
    for name in ["postgres", "mailbox", "gateway-a", "gateway-b"] {
        assert!(services.contains_key(name), "service {name}");
    }
    let exposed: Vec<String> = dockerfile()
        .lines()
        .filter_map(|l| l.strip_prefix("EXPOSE "))
        .flat_map(|l| l.split_whitespace().map(String::from).collect::<Vec<_>>())
        .collect();
    for gw in ["gateway-a", "gateway-b"] {
        let s = &doc["services"][gw];
        let context = repo("docker").join(s["build"]["context"].as_str().expect("context"));
        let file = s["build"]["dockerfile"].as_str().expect("dockerfile");
        assert!(
            context.join(file).is_file(),
            "{gw}: {file} from its context"
        );
        for port in s["ports"].as_sequence().expect("ports") {
            let container = port
                .as_str()
                .expect("port")
                .rsplit(':')
                .next()
                .expect("container port")
                .to_string();
            assert!(
                exposed.contains(&container),
                "{gw}: port {container} is EXPOSEd by the Dockerfile ({exposed:?})"
            );
        }
        for v in s["volumes"].as_sequence().expect("volumes") {
            let src = v
                .as_str()
                .expect("volume")
                .split(':')
                .next()
                .expect("source");
            if src.starts_with('.') {
                assert!(repo("docker").join(src).is_file(), "{gw}: {src} exists");
            }
        }
        assert!(
            s["depends_on"]["postgres"].is_mapping(),
            "{gw} waits for postgres"
        );
    }
    // Both gateways share one store: the two-relay setup.
    let settings = councilgate::settings::Settings::load(&repo("docker/config"))
        .expect("container settings load");
    assert!(
        settings.store.url.starts_with("postgres://") && settings.store.url.contains("@postgres:")
    );
    assert_eq!(settings.routes[0].host, "mailbox");
}

#[test]
fn dockerfile_builds_as_ci_does_and_checks_health_on_the_metrics_port() {
    let d = dockerfile();
    let build = d
        .lines()
        .find_map(|l| l.strip_prefix("RUN cargo "))
        .expect("a cargo build step");
    let ci = std::fs::read_to_string(repo(".ci/run")).expect("ci");
    assert!(
        ci.contains(&format!("cargo {build}")),
        "CI runs `cargo {build}` too"
    );
    for l in d
        .lines()
        .filter_map(|l| l.strip_prefix("COPY "))
        .filter(|l| !l.starts_with("--"))
    {
        let src = l.split_whitespace().next().expect("source");
        for s in src.split_whitespace() {
            assert!(repo(s).exists(), "COPY {s} exists");
        }
    }
    assert!(d.contains("USER councilgate"), "runs as a non-root user");
    assert!(d.contains("HEALTHCHECK") && d.contains("/healthz"));
    assert!(
        d.contains("COUNCILGATE__METRICS__LISTEN=0.0.0.0:9025")
            && d.contains("127.0.0.1:9025/healthz")
    );
    let unit = std::fs::read_to_string(repo("deploy/councilgate.service")).expect("unit");
    assert!(unit.contains("ExecStart=/usr/local/bin/councilgate --config /etc/councilgate serve"));
    assert!(unit.contains("ExecReload=/bin/kill -HUP $MAINPID"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_command_answers_for_a_running_gateway() {
    let cfg = TestConfig::new(None, &[]);
    let gw = Gateway::start(&cfg).await;
    let ok = Command::new(BIN)
        .args(["health", &format!("http://{}/healthz", gw.ops)])
        .status()
        .expect("run");
    assert!(ok.success());
    let probe = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("probe")
        .local_addr()
        .expect("addr");
    let down = Command::new(BIN)
        .args(["health", &format!("http://{probe}/healthz")])
        .output()
        .expect("run");
    assert!(!down.status.success());
    gw.stop().await;
}

#[test]
fn directory_import_writes_nothing_on_bad_rows_and_a_valid_directory_on_good_ones() {
    let cfg = TestConfig::new(None, &[]);
    let dir_file = cfg.path().join("directory.toml");
    let before = std::fs::read_to_string(&dir_file).expect("read");
    let bad = cfg.path().join("bad.csv");
    std::fs::write(&bad, "name,role,addresses,positions,manager\nClara Hughes,officer,clerk@example-tc.gov.uk,proper-officer,\nBob,gardener,bob@example-tc.gov.uk,,\n").expect("write");
    let out = Command::new(BIN)
        .arg("--config")
        .arg(cfg.path())
        .args(["directory", "import"])
        .arg(&bad)
        .output()
        .expect("run");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("bad.csv row 3 (Bob): role \"gardener\" — expected councillor or officer"),
        "{err}"
    );
    assert!(err.contains("was not changed"), "{err}");
    assert_eq!(
        std::fs::read_to_string(&dir_file).expect("read"),
        before,
        "nothing half-written"
    );
    let good = cfg.path().join("members.csv");
    std::fs::write(
        &good,
        "Name,Role,Addresses,Positions,Manager\nClara Hughes,Officer,clerk@example-tc.gov.uk,Proper Officer; RFO,\nDafydd Rees,Officer,deputy.clerk@example-tc.gov.uk,Deputy Clerk,clerk@example-tc.gov.uk\nAlex Green,Officer,alex.green@example-tc.gov.uk,,deputy.clerk@example-tc.gov.uk\nJane Smith,Councillor,cllr.smith@example-tc.gov.uk;janesmith@gmail.com,Chair,\nSiân Llewellyn,Councillor,cllr.llewellyn@example-tc.gov.uk,Vice-Chair,\n",
    )
    .expect("write");
    let out = Command::new(BIN)
        .arg("--config")
        .arg(cfg.path())
        .args(["directory", "import"])
        .arg(&good)
        .output()
        .expect("run");
    assert_success(&out);
    assert!(String::from_utf8_lossy(&out.stdout).contains("5 people (2 councillors, 3 officers)"));
    let out = councilgate(cfg.path(), &["rules", "validate"], &[]);
    assert!(
        out.status.success(),
        "the imported directory is live-ready: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = std::fs::read_to_string(&dir_file).expect("read");
    assert!(
        text.contains("Siân Llewellyn")
            && text.contains("[[exemptions]]")
            && text.contains("[[periods]]")
    );
}

//! The `councilgate` command: a thin shell over the library.

use std::path::PathBuf;

use anyhow::{Context, Result};
use chrono::{TimeZone, Utc};
use clap::{Parser, Subcommand};
use tokio_util::sync::CancellationToken;

use councilgate::queue::spool::{RecipientState, Spool};
use councilgate::server::App;
use councilgate::settings::{LogFormat, Settings};

#[derive(Parser)]
#[command(
    name = "councilgate",
    version,
    about = "A mail gateway that enforces the council's councillor-officer protocol"
)]
struct Cli {
    /// Folder holding councilgate.toml and directory.toml.
    #[arg(long, global = true, default_value = "config")]
    config: PathBuf,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the gateway.
    Serve,
    /// Show or retry the delivery queue.
    Queue {
        #[command(subcommand)]
        action: QueueAction,
    },
    /// Evaluate the protocol rules on one message without sending it.
    Check(CheckArgs),
    /// Review held messages from the command line.
    Held {
        #[command(subcommand)]
        action: HeldAction,
    },
    /// Manage the people who can log in to the review pages.
    User {
        #[command(subcommand)]
        action: UserAction,
    },
    /// The audit log.
    Audit {
        #[command(subcommand)]
        action: AuditAction,
    },
    /// Test, check and explain the rules.
    Rules {
        #[command(subcommand)]
        action: RulesAction,
    },
    /// What each rule did over the last 7 and 30 days, and what reviewers
    /// then did with what it held.
    Stats,
    /// The council directory.
    Directory {
        #[command(subcommand)]
        action: DirectoryAction,
    },
    /// Exit 0 when URL answers 200 (the container health check).
    Health {
        #[arg(default_value = "http://127.0.0.1:9025/healthz")]
        url: String,
    },
}

#[derive(Subcommand)]
enum DirectoryAction {
    /// Replace the people in directory.toml with those of a CSV file
    /// (columns name, role, addresses, positions, manager; lists separated
    /// by ";"). Nothing is written unless every row and the whole are valid.
    Import {
        csv: PathBuf,
        /// Where to write (default: <config>/directory.toml).
        #[arg(long)]
        output: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum RulesAction {
    /// Run the fixtures in DIR (default: <config>/fixtures): each NAME.eml
    /// with a NAME.toml of expectations. Non-zero exit on any mismatch.
    Test { dir: Option<PathBuf> },
    /// Check a config folder without starting anything.
    Validate,
    /// A rule, the protocol text it enforces and the word lists it reads.
    Explain { id: String },
    /// Every fixture and archived message whose outcome would change under
    /// the candidate configuration.
    Diff {
        #[arg(long)]
        candidate: PathBuf,
        /// Fixtures to compare on (default: <config>/fixtures).
        #[arg(long)]
        fixtures: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum HeldAction {
    /// Messages waiting for review, oldest first.
    List,
    /// One message: why it was held, its recipients and history.
    Show { id: String },
    /// Deliver it, with its pending copies and notices.
    Release(Decision),
    /// Deliver it to the Proper Officer only.
    SendToProperOfficer(Decision),
    /// Return it to the sender with a note.
    Return(Decision),
    /// Delete it without delivering.
    Delete(Decision),
}

#[derive(clap::Args)]
struct Decision {
    id: String,
    /// Who is acting (a reviewer's user name); default: cli:$USER.
    #[arg(long = "as")]
    actor: Option<String>,
    /// The protocol clause or reason for the decision.
    #[arg(long, default_value = "")]
    reason: String,
    /// A note (sent to the sender when returning).
    #[arg(long, default_value = "")]
    note: String,
}

#[derive(Subcommand)]
enum UserAction {
    /// Add a user, or change their role and password. NAME is best the
    /// person's address in the directory (so the gateway knows who is the
    /// Proper Officer). The password is read from a prompt, or from
    /// standard input when it is not a terminal.
    ///
    /// `--role` gives a login to the review pages; `--smtp` an SMTP
    /// submission password (AUTH), for a person in the directory or a
    /// council mailbox. Both together set the same password for both.
    Add {
        name: String,
        #[arg(long, value_parser = ["clerk", "admin"], required_unless_present = "smtp")]
        role: Option<String>,
        /// Give NAME an SMTP submission password.
        #[arg(long)]
        smtp: bool,
    },
}

#[derive(Subcommand)]
enum AuditAction {
    /// Check the hash chain of the audit log.
    Verify,
}

#[derive(clap::Args)]
struct CheckArgs {
    /// Envelope sender.
    #[arg(long = "mail-from", value_name = "ADDR")]
    mail_from: String,
    /// Envelope recipient (repeat for more).
    #[arg(long = "rcpt", value_name = "ADDR", required = true)]
    rcpt: Vec<String>,
    /// Processing time (periods, exemption expiry), RFC 3339; default now.
    #[arg(long, value_name = "RFC3339")]
    at: Option<String>,
    /// Print exactly one JSON object.
    #[arg(long)]
    json: bool,
    /// Write the rewritten message here.
    #[arg(long, value_name = "PATH")]
    emit: Option<PathBuf>,
    /// As if the message came from outside and its From could not be
    /// verified (no DMARC pass, no login, not a trusted network).
    #[arg(long)]
    unverified: bool,
    /// The message file, or - for standard input.
    file: String,
}

#[derive(Subcommand)]
enum QueueAction {
    /// List queued messages with their recipients' state.
    List,
    /// Ask the running gateway to retry every queued message now.
    Flush,
}

fn init_logging(settings: &Settings) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("COUNCILGATE_LOG")
        .or_else(|_| tracing_subscriber::EnvFilter::try_new(&settings.server.log_level))
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match settings.server.log_format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Text => builder.init(),
    }
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    // One TLS crypto provider for every rustls user (listeners, relay, DNS).
    let _ = rustls::crypto::ring::default_provider().install_default();
    if !matches!(cli.command, Command::Serve) {
        // A command's output piped into `head` ends quietly, as Unix tools
        // do, rather than with a panic on the broken pipe.
        #[cfg(unix)]
        // SAFETY: resetting a signal disposition to its default at start,
        // before any other thread exists.
        unsafe {
            libc::signal(libc::SIGPIPE, libc::SIG_DFL);
        }
    }
    match cli.command {
        Command::Serve => serve(&cli.config),
        Command::Queue { action } => queue(&cli.config, action),
        Command::Check(args) => check(&cli.config, args),
        Command::Held { action } => runtime()?.block_on(held(&cli.config, action)),
        Command::User { action } => runtime()?.block_on(user(&cli.config, action)),
        Command::Audit { action } => runtime()?.block_on(audit(&cli.config, action)),
        Command::Rules { action } => rules(&cli.config, action),
        Command::Stats => runtime()?.block_on(stats(&cli.config)),
        Command::Directory { action } => directory(&cli.config, action),
        Command::Health { url } => health(&url),
    }
}

fn directory(config: &std::path::Path, action: DirectoryAction) -> Result<()> {
    let DirectoryAction::Import { csv, output } = action;
    let csv_text =
        std::fs::read_to_string(&csv).with_context(|| format!("reading {}", csv.display()))?;
    let target =
        output.unwrap_or_else(|| config.join(councilgate::policy::directory::DIRECTORY_FILE));
    let existing_path = config.join(councilgate::policy::directory::DIRECTORY_FILE);
    let existing = std::fs::read_to_string(&existing_path).with_context(|| {
        format!(
            "reading {} (its council, exemptions and periods are kept)",
            existing_path.display()
        )
    })?;
    let name = csv
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_default();
    let text = match councilgate::policy::import::import_csv(&csv_text, &name, &existing) {
        Ok(t) => t,
        Err(errors) => {
            for e in &errors {
                eprintln!("{e}");
            }
            anyhow::bail!(
                "{} problem(s); {} was not changed",
                errors.len(),
                target.display()
            );
        }
    };
    let tmp = target.with_extension("toml.import-tmp");
    {
        use std::io::Write;
        let mut f =
            std::fs::File::create(&tmp).with_context(|| format!("writing {}", tmp.display()))?;
        f.write_all(text.as_bytes())?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, &target).with_context(|| format!("replacing {}", target.display()))?;
    let d = councilgate::policy::Directory::parse(&text, "imported")?;
    println!(
        "{} written: {} people ({} councillors, {} officers).",
        target.display(),
        d.people.len(),
        d.people.iter().filter(|p| p.is_councillor()).count(),
        d.people.iter().filter(|p| p.is_officer()).count()
    );
    Ok(())
}

/// A minimal HTTP GET for the container health check (no curl in the image).
fn health(url: &str) -> Result<()> {
    use std::io::{Read, Write};
    let rest = url
        .strip_prefix("http://")
        .context("only http:// URLs are checked")?;
    let (host, path) = rest
        .split_once('/')
        .map(|(h, p)| (h, format!("/{p}")))
        .unwrap_or((rest, "/".into()));
    let addr = std::net::ToSocketAddrs::to_socket_addrs(host)?
        .next()
        .context("no address")?;
    let mut s = std::net::TcpStream::connect_timeout(&addr, std::time::Duration::from_secs(3))?;
    s.set_read_timeout(Some(std::time::Duration::from_secs(3)))?;
    s.write_all(format!("GET {path} HTTP/1.0\r\nHost: {host}\r\n\r\n").as_bytes())?;
    let mut buf = String::new();
    s.read_to_string(&mut buf)?;
    if buf.starts_with("HTTP/1.1 200") || buf.starts_with("HTTP/1.0 200") {
        Ok(())
    } else {
        anyhow::bail!("{url}: {}", buf.lines().next().unwrap_or("no answer"))
    }
}

fn rules(config: &std::path::Path, action: RulesAction) -> Result<()> {
    use councilgate::policy::Snapshot;
    match action {
        RulesAction::Validate => {
            Settings::load(config)?;
            let s = Snapshot::load(config)?;
            println!(
                "{} is valid: {} rules ({} enabled), {} people, policy version {}.",
                config.display(),
                s.rules.len(),
                s.rules.iter().filter(|r| r.def.enabled).count(),
                s.directory.people.len(),
                s.version
            );
            Ok(())
        }
        RulesAction::Explain { id } => {
            let s = Snapshot::load(config)?;
            let Some(rule) = s.rules.iter().find(|r| r.def.id == id) else {
                let ids: Vec<&str> = s.rules.iter().map(|r| r.def.id.as_str()).collect();
                anyhow::bail!("there is no rule {id:?}; the rules are: {}", ids.join(", "));
            };
            let d = &rule.def;
            println!("{} — {}", d.id, d.title);
            println!(
                "enabled: {}   mode: {:?}   action: {}",
                d.enabled,
                d.mode,
                d.action.as_str()
            );
            if let Some(to) = &d.to {
                println!("to: {to}");
            }
            if let Some(a) = &d.annotation {
                println!("annotation: {a}");
            }
            if !d.source.is_empty() {
                println!("\nSource: {}", d.source);
            }
            println!("The protocol says:\n  {}\n", d.reference.trim());
            println!(
                "Conditions:\n{}",
                toml::to_string_pretty(d)
                    .unwrap_or_default()
                    .lines()
                    .filter(|l| !l.starts_with("reference")
                        && !l.starts_with("title")
                        && !l.starts_with("source"))
                    .map(|l| format!("  {l}"))
                    .collect::<Vec<_>>()
                    .join("\n")
            );
            for det in &d.detectors {
                let lists = councilgate::policy::detectors::DETECTORS
                    .iter()
                    .find(|(n, _)| n == det)
                    .map(|(_, l)| *l)
                    .unwrap_or(&[]);
                println!("\nDetector {det} reads:");
                for l in lists {
                    let w = s.lexicon.list(l);
                    println!(
                        "  {l} ({} entries): {}",
                        w.entries.len(),
                        w.entries.join(", ")
                    );
                }
            }
            Ok(())
        }
        RulesAction::Test { dir } => {
            let s = Snapshot::load(config)?;
            let dir = dir.unwrap_or_else(|| config.join("fixtures"));
            let fixtures = councilgate::tuning::fixtures::load_dir(&dir)?;
            if fixtures.is_empty() {
                anyhow::bail!("no fixtures (NAME.eml with NAME.toml) in {}", dir.display());
            }
            let (mut passed, mut failed) = (0, 0);
            for f in &fixtures {
                let outcome = councilgate::tuning::fixtures::run(&s, f)?;
                if outcome.diff.is_empty() {
                    passed += 1;
                    println!("ok    {}", f.name);
                } else {
                    failed += 1;
                    println!("FAIL  {}", f.name);
                    for line in &outcome.diff {
                        println!("        {line}");
                    }
                }
            }
            println!("\nfixtures: {passed} passed, {failed} failed");
            if failed > 0 {
                std::process::exit(1);
            }
            Ok(())
        }
        RulesAction::Diff {
            candidate,
            fixtures,
        } => runtime()?.block_on(async {
            let current = Snapshot::load(config)?;
            let next = Snapshot::load(&candidate)
                .with_context(|| format!("the candidate in {}", candidate.display()))?;
            let dir = fixtures.unwrap_or_else(|| config.join("fixtures"));
            let mut changes = Vec::new();
            let mut compared = 0;
            if dir.is_dir() {
                for f in councilgate::tuning::fixtures::load_dir(&dir)? {
                    let raw = councilgate::message::crlf(&std::fs::read(&f.eml)?);
                    let env = f.envelope();
                    compared += 1;
                    changes.extend(councilgate::tuning::compare(
                        &format!("fixture {}", f.name),
                        &current,
                        &next,
                        &env,
                        &raw,
                        f.at,
                    ));
                }
            }
            let (_, store) = open_store(config).await?;
            for h in store.archive(10_000).await? {
                let Ok(env) =
                    serde_json::from_str::<councilgate::message::envelope::Envelope>(&h.envelope)
                else {
                    continue;
                };
                let at = chrono::DateTime::from_timestamp(h.created, 0).unwrap_or_else(Utc::now);
                compared += 1;
                changes.extend(councilgate::tuning::compare(
                    &format!("held {} ({})", h.id, h.subject),
                    &current,
                    &next,
                    &env,
                    &h.original,
                    at,
                ));
            }
            println!(
                "Compared {compared} messages: {} would change.",
                changes.len()
            );
            for c in &changes {
                println!(
                    "\n{}\n  now:       {}\n  candidate: {}",
                    c.name, c.before, c.after
                );
            }
            Ok(())
        }),
    }
}

async fn stats(config: &std::path::Path) -> Result<()> {
    let (_, store) = open_store(config).await?;
    let snapshot = councilgate::policy::Snapshot::load(config)?;
    let now = Utc::now().timestamp();
    let week = store.rule_stats(now - 7 * 86_400).await?;
    let month = store.rule_stats(now - 30 * 86_400).await?;
    println!(
        "{:<30} {:>14} {:>14} {:>14}",
        "rule", "fired 7d/30d", "held 7d/30d", "override 30d"
    );
    for r in &snapshot.rules {
        let w = week.get(&r.def.id).cloned().unwrap_or_default();
        let m = month.get(&r.def.id).cloned().unwrap_or_default();
        let rate = m
            .override_rate()
            .map(|x| format!("{:.0}%", x * 100.0))
            .unwrap_or_else(|| "-".into());
        println!(
            "{:<30} {:>14} {:>14} {:>14}",
            r.def.id,
            format!("{}/{}", w.fired + w.monitored, m.fired + m.monitored),
            format!("{}/{}", w.held, m.held),
            rate
        );
    }
    println!(
        "\nOverride rate: held messages that reviewers released unchanged, out of those decided."
    );
    Ok(())
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Runtime::new().context("starting the async runtime")
}

async fn open_store(config: &std::path::Path) -> Result<(Settings, councilgate::store::Store)> {
    let settings = Settings::load(config)?;
    let url = if settings.store.url.trim().is_empty() {
        std::fs::create_dir_all(&settings.server.data_dir)
            .with_context(|| format!("creating {}", settings.server.data_dir.display()))?;
        councilgate::store::Store::default_url(&settings.server.data_dir)
    } else {
        settings.store.url.trim().to_string()
    };
    let store = councilgate::store::Store::open(&url).await?;
    Ok((settings, store))
}

fn when(ts: i64) -> String {
    chrono::DateTime::from_timestamp(ts, 0)
        .map(|t| {
            t.with_timezone(&chrono_tz::Europe::London)
                .format("%Y-%m-%d %H:%M")
                .to_string()
        })
        .unwrap_or_default()
}

async fn held(config: &std::path::Path, action: HeldAction) -> Result<()> {
    use councilgate::store::Action;
    let (_, store) = open_store(config).await?;
    let decision = |d: Decision, a: Action| (d, a);
    let (d, action) = match action {
        HeldAction::List => {
            let items = store.list("held").await?;
            if items.is_empty() {
                println!("No messages are waiting for review.");
            }
            for h in items {
                println!(
                    "{}  held {}  expires {}  from <{}>  rules {}\n    subject: {}",
                    h.id,
                    when(h.created),
                    when(h.expires),
                    h.mail_from,
                    h.rules.join(", "),
                    h.subject
                );
            }
            return Ok(());
        }
        HeldAction::Show { id } => {
            let h = store.get(&id).await?;
            println!("Message {}  ({})", h.id, h.state);
            println!(
                "From: <{}>\nTo: {}\nSubject: {}",
                h.mail_from,
                h.recipients.join(", "),
                h.subject
            );
            println!("Held: {}  expires: {}", when(h.created), when(h.expires));
            println!("Reviewers: {}", h.reviewers.join(", "));
            if !h.barred.is_empty() {
                println!("May not act (a party to it): {}", h.barred.join(", "));
            }
            if let Ok(v) = serde_json::from_str::<serde_json::Value>(&h.verdict) {
                for r in v["rules"].as_array().into_iter().flatten() {
                    println!(
                        "\nRule {} ({})",
                        r["id"].as_str().unwrap_or(""),
                        r["action"].as_str().unwrap_or("")
                    );
                    for e in r["evidence"].as_array().into_iter().flatten() {
                        println!("  - {}", e.as_str().unwrap_or(""));
                    }
                }
            }
            println!("\nHistory:");
            for e in store.audit_for(&id).await? {
                println!("  {}  {}  {}  {}", when(e.at), e.actor, e.action, e.detail);
            }
            return Ok(());
        }
        HeldAction::Release(d) => decision(d, Action::Release),
        HeldAction::SendToProperOfficer(d) => decision(d, Action::SendToProperOfficer),
        HeldAction::Return(d) => decision(d, Action::Return),
        HeldAction::Delete(d) => decision(d, Action::Delete),
    };
    let snapshot = councilgate::policy::Snapshot::load(config)?;
    let actor = d.actor.unwrap_or_else(|| {
        format!(
            "cli:{}",
            std::env::var("USER").unwrap_or_else(|_| "unknown".into())
        )
    });
    let held =
        councilgate::review::record(&store, &snapshot, &d.id, action, &actor, &d.reason, &d.note)
            .await?;
    println!(
        "{} is now {}. The running gateway carries this out within a few seconds (or at its next start).",
        held.id, held.state
    );
    Ok(())
}

async fn user(config: &std::path::Path, action: UserAction) -> Result<()> {
    let UserAction::Add { name, role, smtp } = action;
    let (_, store) = open_store(config).await?;
    if smtp {
        let snapshot = councilgate::policy::Snapshot::load(config)?;
        let dir = &snapshot.directory;
        let domain = councilgate::policy::directory::domain_of(&name);
        if dir.person_id(&name).is_none() && !dir.is_council_domain(domain) {
            anyhow::bail!(
                "{name} is neither a person in the directory nor an address at a council domain: SMTP logins are for the council's own people and mailboxes"
            );
        }
    }
    let password = if std::io::IsTerminal::is_terminal(&std::io::stdin()) {
        let p = rpassword::prompt_password(format!("Password for {name}: "))?;
        let again = rpassword::prompt_password("Again: ")?;
        if p != again {
            anyhow::bail!("the passwords differ");
        }
        p
    } else {
        let mut line = String::new();
        std::io::stdin()
            .read_line(&mut line)
            .context("reading the password from standard input")?;
        line.trim_end_matches(['\r', '\n']).to_string()
    };
    councilgate::auth::check_password_strength(&password).map_err(anyhow::Error::msg)?;
    let hash = councilgate::auth::hash_password(&password).map_err(anyhow::Error::msg)?;
    if let Some(role) = &role {
        store.add_user(&name, role, &hash).await?;
        println!("User {name} saved with role {role}.");
    }
    if smtp {
        store.set_smtp_password(&name, &hash).await?;
        println!(
            "SMTP login {name} saved: it may send through submission after STARTTLS and AUTH."
        );
    }
    Ok(())
}

async fn audit(config: &std::path::Path, action: AuditAction) -> Result<()> {
    let AuditAction::Verify = action;
    let (_, store) = open_store(config).await?;
    let report = store.verify_audit().await?;
    match report.broken {
        None => {
            println!(
                "The audit log is intact: {} entries, every hash follows.",
                report.entries
            );
            Ok(())
        }
        Some((seq, why)) => anyhow::bail!("the audit log is broken at entry {seq}: {why}"),
    }
}

fn check(config: &std::path::Path, args: CheckArgs) -> Result<()> {
    use std::io::Read;
    let snapshot = councilgate::policy::Snapshot::load(config)?;
    let now = match &args.at {
        Some(at) => chrono::DateTime::parse_from_rfc3339(at)
            .with_context(|| {
                format!("--at {at:?} is not an RFC 3339 time such as 2027-04-01T09:00:00+01:00")
            })?
            .with_timezone(&Utc),
        None => Utc::now(),
    };
    let mut message = Vec::new();
    if args.file == "-" {
        std::io::stdin()
            .read_to_end(&mut message)
            .context("reading the message from standard input")?;
    } else {
        message = std::fs::read(&args.file).with_context(|| format!("reading {}", args.file))?;
    }
    if message.is_empty() {
        anyhow::bail!("the message {} is empty", args.file);
    }
    // Messages on disk often have bare LF line endings; SMTP would give CRLF.
    let message = councilgate::message::crlf(&message);
    let mut envelope = councilgate::tuning::check::envelope(&args.mail_from, &args.rcpt);
    if args.unverified {
        envelope = councilgate::tuning::check::unverified(envelope);
    }
    let verdict = snapshot.evaluate(&envelope, &message, now);
    if let Some(path) = &args.emit {
        let bytes = verdict.message.as_deref().unwrap_or(&message);
        std::fs::write(path, bytes).with_context(|| format!("writing {}", path.display()))?;
    }
    if args.json {
        println!("{}", councilgate::tuning::check::to_json(&verdict));
    } else {
        print!(
            "{}",
            councilgate::tuning::check::explain(&snapshot, &envelope, &verdict)
        );
    }
    Ok(())
}

fn serve(config: &std::path::Path) -> Result<()> {
    let settings = Settings::load(config)?;
    init_logging(&settings);
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    runtime.block_on(async {
        let app = App::load(config).await?;
        let listeners = app.bind().await?;
        let shutdown = CancellationToken::new();
        let signal = shutdown.clone();
        tokio::spawn(async move {
            wait_for_signal().await;
            signal.cancel();
        });
        app.run(listeners, shutdown).await;
        Ok(())
    })
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

fn queue(config: &std::path::Path, action: QueueAction) -> Result<()> {
    let settings = Settings::load(config)?;
    let data_dir = settings.server.data_dir.clone();
    let spool = Spool::open_shared(data_dir.join("spool"))
        .with_context(|| format!("opening the spool in {}", data_dir.display()))?;
    let (entries, problems) = spool.list()?;
    match action {
        QueueAction::List => {
            if entries.is_empty() {
                println!("The queue is empty.");
            }
            let now = Utc::now().timestamp();
            for e in &entries {
                let next = Utc
                    .timestamp_opt(e.next_attempt, 0)
                    .single()
                    .map(|t| t.to_rfc3339())
                    .unwrap_or_default();
                println!(
                    "{}  age {}s  attempts {}  next {}  from <{}>",
                    e.id,
                    now - e.created,
                    e.attempts,
                    next,
                    e.mail_from
                );
                for r in &e.recipients {
                    let state = match &r.state {
                        RecipientState::Pending => format!(
                            "pending{}",
                            r.last_error
                                .as_deref()
                                .map(|x| format!(" (last error: {x})"))
                                .unwrap_or_default()
                        ),
                        RecipientState::Delivered { reply } => format!("delivered ({reply})"),
                        RecipientState::Failed { reply } => format!("failed ({reply})"),
                    };
                    println!("    <{}>  {state}", r.address);
                }
            }
            for p in problems {
                eprintln!("unreadable: {p}");
            }
        }
        QueueAction::Flush => {
            let trigger = data_dir.join(councilgate::queue::FLUSH_TRIGGER);
            std::fs::write(&trigger, b"flush\n")
                .with_context(|| format!("writing {}", trigger.display()))?;
            println!(
                "Asked the gateway to retry {} queued message(s) now (it checks every second; if it is not running, the next start retries them at once).",
                entries.len()
            );
        }
    }
    Ok(())
}

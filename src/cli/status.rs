//! `councilgate status`: what a config folder leads to — the folders, the
//! store, the spool, the listeners (and whether a gateway answers on them)
//! and the policy, live and on disk — so an operator can see that the
//! command line and the gateway share one store before trusting either.

use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::time::Duration;

use anyhow::Result;

use councilgate::policy::Snapshot;
use councilgate::queue::spool::{RecipientState, Spool};
use councilgate::settings::Settings;

use super::when;

/// Whether something accepts connections at `addr` (a wildcard address is
/// tried on loopback).
fn answers(addr: SocketAddr) -> bool {
    let mut a = addr;
    if a.ip().is_unspecified() {
        a.set_ip(if a.is_ipv4() {
            std::net::Ipv4Addr::LOCALHOST.into()
        } else {
            std::net::Ipv6Addr::LOCALHOST.into()
        });
    }
    TcpStream::connect_timeout(&a, Duration::from_millis(500)).is_ok()
}

pub async fn status(config: &Path) -> Result<()> {
    let settings = Settings::load(config)?;
    let abs = std::path::absolute(config).unwrap_or_else(|_| config.to_path_buf());
    let file = abs.join(councilgate::settings::SETTINGS_FILE);
    println!("config folder   {}", abs.display());
    println!(
        "settings        {}",
        if file.exists() {
            file.display().to_string()
        } else {
            "built-in defaults (no councilgate.toml)".into()
        }
    );
    let data = super::data_folder(&settings);
    println!(
        "data folder     {}{}",
        data.display(),
        if data.exists() {
            ""
        } else {
            " (not made yet: the gateway has not run with it)"
        }
    );

    // The spool, read without taking it from a running gateway.
    let spool_dir = data.join("spool");
    if spool_dir.exists() {
        let (entries, problems) = Spool::open_shared(spool_dir)?.list()?;
        let pending = entries
            .iter()
            .flat_map(|e| &e.recipients)
            .filter(|r| matches!(r.state, RecipientState::Pending))
            .count();
        println!(
            "queue           {} message(s), {pending} recipient(s) waiting{}",
            entries.len(),
            if problems.is_empty() {
                String::new()
            } else {
                format!(", {} unreadable", problems.len())
            }
        );
    } else {
        println!("queue           no spool yet");
    }

    // The store: never made by this command.
    let url = if settings.store.url.trim().is_empty() {
        let db = data.join("councilgate.db");
        if !db.exists() {
            println!("store           {} (not made yet)", db.display());
            None
        } else {
            Some(councilgate::store::Store::default_url(&data))
        }
    } else {
        Some(settings.store.url.trim().to_string())
    };
    let mut live = None;
    if let Some(url) = url {
        println!("store           {}", councilgate::store::redact(&url));
        match councilgate::store::Store::open(&url).await {
            Ok(store) => {
                let held = store.count_held().await.unwrap_or(0);
                let users = store.logins().await.map(|u| u.len()).unwrap_or(0);
                println!("held            {held} message(s) waiting for review");
                println!("logins          {users} (review pages and SMTP)");
                live = store
                    .config_history(1)
                    .await
                    .ok()
                    .and_then(|h| h.into_iter().next());
            }
            Err(e) => println!("                cannot open it: {e}"),
        }
    }

    println!("listeners");
    let listeners = [
        ("inbound (MX)", settings.smtp.inbound.listen.as_str()),
        ("submission", settings.smtp.submission.listen.as_str()),
        (
            "submissions (TLS)",
            settings.smtp.submissions.listen.as_str(),
        ),
        ("review pages", settings.web.listen.as_str()),
        ("metrics", settings.metrics.listen.as_str()),
    ];
    for (role, listen) in listeners {
        let listen = listen.trim();
        let state = if listen.is_empty() {
            "off".to_string()
        } else {
            match listen.parse::<SocketAddr>() {
                Ok(a) if answers(a) => format!("{listen}  answering"),
                Ok(_) => format!("{listen}  not answering"),
                Err(_) => format!("{listen}  (not an address)"),
            }
        };
        println!("  {role:<18}{state}");
    }

    match Snapshot::load_with(config, &settings.policy_options()) {
        Ok(s) => {
            println!(
                "policy          {} on disk: {} rules, {} people; notices quote the {}",
                s.version,
                s.rules.len(),
                s.directory.people.len(),
                s.protocol.name(&s.directory.council_name)
            );
            match live {
                Some(v) if v.version == s.version => {
                    println!("                live since {} ({})", when(v.at), v.trigger)
                }
                Some(v) => println!(
                    "                the gateway last put {} live at {} ({}): it has not taken up the files on disk yet",
                    v.version,
                    when(v.at),
                    v.trigger
                ),
                None => {
                    println!("                not yet live: no gateway has started with this store")
                }
            }
        }
        Err(e) => println!("policy          does not compile: {e}"),
    }
    Ok(())
}

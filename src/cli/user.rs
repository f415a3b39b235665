//! `councilgate user`: logins for the review pages and SMTP submission.

use std::path::Path;

use anyhow::{Context, Result};
use clap::Subcommand;

use super::open_store;

#[derive(Subcommand)]
pub enum UserAction {
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
        /// clerk: reviews held messages; admin: also tunes the rules, tries
        /// messages, reads the audit log and reverts configurations.
        role: Option<String>,
        /// Give NAME an SMTP submission password.
        #[arg(long)]
        smtp: bool,
    },
    /// Every login: name, role (or "smtp only"), SMTP, last sign-in, state.
    List,
    /// A new password for an existing login (its review-page role and SMTP
    /// login, whichever it has), read as for `add`.
    Reset {
        name: String,
        /// Remove NAME's authenticator app instead (a lost phone): they set
        /// one up again at their next sign-in where one is required. The
        /// password is kept.
        #[arg(long)]
        second_factor: bool,
    },
    /// Stop NAME signing in to the review pages and sending by SMTP; their
    /// open sessions end. `enable` undoes it.
    Disable { name: String },
    /// Let a disabled login sign in and send again.
    Enable { name: String },
    /// Remove NAME's review-page and SMTP logins and end their sessions.
    Remove { name: String },
}

/// Who runs a command, for the audit log: "cli:" and the operating-system
/// user.
fn actor() -> String {
    let who = std::env::var("SUDO_USER")
        .or_else(|_| std::env::var("USER"))
        .or_else(|_| std::env::var("LOGNAME"))
        .unwrap_or_else(|_| {
            // SAFETY: getuid has no preconditions and cannot fail.
            format!("uid {}", unsafe { libc::getuid() })
        });
    format!("cli:{who}")
}

fn read_password(name: &str) -> Result<String> {
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
    councilgate::auth::hash_password(&password).map_err(anyhow::Error::msg)
}

pub async fn user(config: &Path, action: UserAction) -> Result<()> {
    let (_, store) = open_store(config).await?;
    let actor = actor();
    let (name, role, smtp) = match action {
        UserAction::Add { name, role, smtp } => (name, role, smtp),
        UserAction::List => {
            let logins = store.logins().await?;
            if logins.is_empty() {
                println!("No logins. Add one with: councilgate user add NAME --role clerk");
            }
            for l in logins {
                println!(
                    "{:<40} {:<10} {:<5} {:<22} {}",
                    l.name,
                    l.role.map_or("smtp only".to_string(), |r| r.to_string()),
                    if l.smtp { "smtp" } else { "" },
                    if l.last_sign_in > 0 {
                        format!("signed in {}", super::when(l.last_sign_in))
                    } else {
                        "never signed in".to_string()
                    },
                    if l.disabled { "DISABLED" } else { "active" }
                );
            }
            return Ok(());
        }
        UserAction::Reset {
            name,
            second_factor,
        } => {
            let logins = store.logins().await?;
            let Some(login) = logins.iter().find(|l| l.name.eq_ignore_ascii_case(&name)) else {
                anyhow::bail!("there is no login {name}; `councilgate user list` shows them");
            };
            if second_factor {
                if !store.reset_second_factor(&login.name, &actor).await? {
                    anyhow::bail!("{} has no review-page login", login.name);
                }
                println!(
                    "The second factor of {} is removed and their sessions ended; they set up an authenticator app again at their next sign-in.",
                    login.name
                );
                return Ok(());
            }
            let hash = read_password(&name)?;
            if let Some(role) = login.role {
                store.add_user(&login.name, role, &hash, &actor).await?;
            }
            if login.smtp {
                store.set_smtp_password(&login.name, &hash, &actor).await?;
            }
            println!("New password saved for {}.", login.name);
            return Ok(());
        }
        UserAction::Disable { name } => {
            if !store.set_login_disabled(&name, true, &actor).await? {
                anyhow::bail!("there is no login {name}; `councilgate user list` shows them");
            }
            println!("{name} is disabled: no sign-in, no SMTP sending; open sessions ended.");
            return Ok(());
        }
        UserAction::Enable { name } => {
            if !store.set_login_disabled(&name, false, &actor).await? {
                anyhow::bail!("there is no login {name}; `councilgate user list` shows them");
            }
            println!("{name} is enabled again.");
            return Ok(());
        }
        UserAction::Remove { name } => {
            if !store.remove_login(&name, &actor).await? {
                anyhow::bail!("there is no login {name}; `councilgate user list` shows them");
            }
            println!("{name} removed: review-page and SMTP logins, open sessions.");
            return Ok(());
        }
    };
    let snapshot = councilgate::policy::Snapshot::load_with(
        config,
        &councilgate::policy::semantic::Options {
            mode: councilgate::policy::semantic::Mode::Off,
            cache_dir: None,
        },
    )?;
    let dir = &snapshot.directory;
    let domain = councilgate::policy::directory::domain_of(&name);
    if smtp && dir.person_id(&name).is_none() && !dir.is_council_domain(domain) {
        anyhow::bail!(
            "{name} is neither a person in the directory nor an address at a council domain: SMTP logins are for the council's own people and mailboxes"
        );
    }
    if role.is_some() && dir.person_id(&name).is_none() {
        eprintln!(
            "warning: {name} is not an address of anyone in the directory: the gateway will not know this user's place (Proper Officer, deputy, party to a message)"
        );
    }
    let hash = read_password(&name)?;
    if let Some(role) = &role {
        let role: councilgate::store::UserRole = role.parse().map_err(anyhow::Error::msg)?;
        store.add_user(&name, role, &hash, &actor).await?;
        println!("User {name} saved with role {role}.");
    }
    if smtp {
        store.set_smtp_password(&name, &hash, &actor).await?;
        println!(
            "SMTP login {name} saved: it may send through submission after STARTTLS and AUTH."
        );
    }
    Ok(())
}

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
}

pub async fn user(config: &Path, action: UserAction) -> Result<()> {
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
        let role: councilgate::store::UserRole = role.parse().map_err(anyhow::Error::msg)?;
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

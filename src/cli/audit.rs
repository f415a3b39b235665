//! `councilgate audit`: the hash-chained audit log.

use std::path::Path;

use anyhow::Result;
use clap::Subcommand;

use super::open_store;

#[derive(Subcommand)]
pub enum AuditAction {
    /// Check the hash chain of the audit log.
    Verify,
}

pub async fn audit(config: &Path, action: AuditAction) -> Result<()> {
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

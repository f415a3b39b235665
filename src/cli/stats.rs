//! `councilgate stats`: what each rule did, and what reviewers did with it.

use std::path::Path;

use anyhow::Result;
use chrono::Utc;

use super::open_store;

pub async fn stats(config: &Path) -> Result<()> {
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

//! The review's background round: decisions recorded elsewhere carried out,
//! expiry, reminders, and the records policy.

use std::time::Duration;

use chrono::Utc;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use super::Review;
use crate::store::{Action, ReviewDecision, StoreError};

impl Review {
    /// One round: unfinished effects, expiry, reminders, records policy.
    pub async fn housekeeping(&self) -> Result<(), StoreError> {
        let snapshot = self.policy.load();
        for held in self.store.pending_effects().await? {
            info!(id = %held.id, state = %held.state, "completing a decision's effect");
            self.carry_out(&snapshot, &held).await;
        }
        let now = Utc::now().timestamp();
        for held in self.store.expired(now).await? {
            match self
                .decide(
                    &held.id,
                    &ReviewDecision::new(Action::Expire, "expiry", "not reviewed in time", ""),
                )
                .await
            {
                Ok(_) | Err(StoreError::AlreadyDecided { .. }) => {}
                Err(e) => warn!(id = %held.id, error = %e, "cannot expire"),
            }
        }
        let remind_before = now + self.settings.remind_hours as i64 * 3600;
        for held in self.store.take_due_reminders(remind_before).await? {
            self.notices.tell_reviewers(&snapshot, &held, true).await;
        }
        self.digest(&snapshot, now).await?;
        let purge_before = now - self.settings.retention_days as i64 * 86_400;
        let purged = self.store.purge_decided(purge_before).await?;
        // A used link is kept past any link's expiry, then forgotten.
        self.store
            .purge_used_links(now - 2 * super::links::LINK_DAYS * 86_400)
            .await?;
        if purged > 0 {
            info!(
                count = purged,
                "records policy: raw messages of old decided items removed"
            );
        }
        let archived_before = now - self.settings.archive_days as i64 * 86_400;
        let purged = self.store.purge_analysis(archived_before).await?;
        if purged > 0 {
            info!(
                count = purged,
                "records policy: old analyses removed from the archive"
            );
        }
        Ok(())
    }

    /// The day's digest, once the digest time has passed (UK time): one
    /// gateway of those sharing the store sends it, to each reviewer with
    /// something waiting.
    pub async fn digest(
        &self,
        snapshot: &crate::policy::Snapshot,
        now: i64,
    ) -> Result<(), StoreError> {
        use chrono::Timelike;
        let Some((h, m)) = self.settings.digest_at() else {
            return Ok(());
        };
        let Some(local) = chrono::DateTime::from_timestamp(now, 0)
            .map(|t| t.with_timezone(&chrono_tz::Europe::London))
        else {
            return Ok(());
        };
        if (local.hour(), local.minute()) < (h, m) {
            return Ok(());
        }
        let day = local.format("%Y-%m-%d").to_string();
        {
            let mut last = self
                .digest_day
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if *last == day {
                return Ok(());
            }
            *last = day.clone();
        }
        if !self.store.claim_digest(&day, now).await? {
            return Ok(());
        }
        let waiting = self.store.list(crate::store::HeldState::Held).await?;
        let mut reviewers: Vec<&String> = waiting.iter().flat_map(|h| &h.reviewers).collect();
        reviewers.sort();
        reviewers.dedup();
        for r in reviewers {
            let theirs: Vec<&crate::store::Held> =
                waiting.iter().filter(|h| h.reviewers.contains(r)).collect();
            self.notices.tell_digest(snapshot, r, &theirs).await;
        }
        info!(day, messages = waiting.len(), "digest sent");
        Ok(())
    }

    /// Runs [`housekeeping`] at start and every `every` until `shutdown`
    /// (decisions recorded elsewhere are carried out within `every`).
    pub async fn run(self, every: Duration, shutdown: CancellationToken) {
        loop {
            if let Err(e) = self.housekeeping().await {
                warn!(error = %e, "review housekeeping failed; will retry");
            }
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tokio::time::sleep(every) => {}
            }
        }
    }
}

//! Reverts the write pause holds back (security review M10). While PostHog writes are
//! paused the sweep touches nothing due, so temporary access outlives its end. That
//! must not look like a clean sweep: the sweep counts the held-back reverts, logs them
//! at error level (the sweep is not clean, so the scheduled Lambda fails and its alarm
//! fires), and tells the security contacts once per pause, whatever the number of sweeps.

use chrono::{DateTime, Utc};

use crate::alerts::WritePause;
use crate::error::Result;

use super::Hogwarden;

/// At most this many due grants are counted per sweep (the count is "at least" beyond).
const COUNTED: usize = 200;

impl Hogwarden {
    /// How many due reverts `pause` holds back; the first time for this pause, the
    /// security contacts are told.
    pub(super) async fn reverts_held_back(&self, now: DateTime<Utc>, pause: &WritePause) -> Result<usize> {
        let due = self.store.list_grants_due(now, COUNTED).await?;
        if due.is_empty() {
            return Ok(0);
        }
        let oldest_end = due.iter().filter_map(|g| g.expires_at).min();
        tracing::error!(
            blocked = due.len(),
            oldest_end = ?oldest_end,
            pause_since = %pause.since,
            "due reverts are held back because PostHog writes are paused: temporary access is outliving its end"
        );
        let claim = format!("sweep-blocked-by-pause:{}", pause.since.to_rfc3339());
        if !self.store.keys().claim_once(&claim, now).await? {
            return Ok(due.len());
        }
        let people: Vec<String> = due
            .iter()
            .map(|g| match g.expires_at {
                Some(end) => format!("- {} (ended {})", g.subject, end.format("%Y-%m-%d %H:%M UTC")),
                None => format!("- {}", g.subject),
            })
            .collect();
        let body = format!(
            "{} temporary access grant(s) ended but cannot be reverted: PostHog writes are paused ({}, since {}). \
             The access stays in PostHog until an admin stores a new service key on the Keys page; the reverts run on the \
             first sweep after that. You are told once for this pause.\n{}",
            due.len(),
            pause.reason,
            pause.since.format("%Y-%m-%d %H:%M UTC"),
            people.join("\n")
        );
        for contact in &self.policy.security_contacts {
            let subject = "Temporary access is outliving its end: PostHog writes are paused".to_owned();
            self.tell(contact, subject, body.clone(), Some(self.page_link("keys"))).await;
        }
        Ok(due.len())
    }
}

//! The alert history (admins and security contacts) and the writes-paused status.

use super::Hogwarden;
use crate::alerts::{AlertRecord, MAX_ALERT_CURSOR, WritePause};
use crate::error::{Error, Result};
use crate::types::{Principal, Role};

/// One page of the alert history, newest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertPage {
    pub alerts: Vec<AlertRecord>,
    /// Pass as `before` for the next (older) page; `None` on the last page.
    pub next: Option<String>,
}

/// The most alerts one page holds.
pub const MAX_ALERT_PAGE: usize = 100;

/// Whether `cursor` can be an alert id (what `next` hands out): bounded, plain characters.
pub fn valid_alert_cursor(cursor: &str) -> bool {
    !cursor.is_empty()
        && cursor.len() <= MAX_ALERT_CURSOR
        && cursor.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | ':' | '.' | '#' | '_'))
}

impl Hogwarden {
    fn may_see_alerts(&self, who: &Principal) -> Result<()> {
        if who.has(Role::Admin) || self.policy.security_contacts.contains(&who.email) {
            return Ok(());
        }
        Err(Error::Forbidden("Only admins and the security contacts see the alert history.".into()))
    }

    /// A page of the alert history, newest first.
    pub async fn alert_history(&self, who: &Principal, before: Option<&str>, limit: usize) -> Result<AlertPage> {
        self.may_see_alerts(who)?;
        if let Some(cursor) = before
            && !valid_alert_cursor(cursor)
        {
            return Err(Error::PolicyViolation("'before' is not a cursor this API handed out.".into()));
        }
        let limit = limit.clamp(1, MAX_ALERT_PAGE);
        let mut alerts = self.store.alerts().list_alerts(before, limit + 1).await?;
        let next = if alerts.len() > limit {
            alerts.truncate(limit);
            alerts.last().map(|a| a.id.clone())
        } else {
            None
        };
        Ok(AlertPage { alerts, next })
    }

    /// Whether PostHog writes are paused, and why (anyone signed in: it explains why
    /// approved changes wait).
    pub async fn writes_paused(&self) -> Result<Option<WritePause>> {
        super::pause::current_pause(&*self.store).await
    }
}

//! "PostHog writes paused" (issue 6, point 5): when Hogwarden's own key leaks, or PostHog
//! starts rejecting the stored key (401), Hogwarden stops sending changes to PostHog
//! until an admin stores a new, validated key.
//!
//! The one place that enforces it is the write path (`usecases/writes.rs`), which every
//! PostHog write takes: it first reads the pause record and, while it is set, answers
//! [`crate::ports::PostHogError::Paused`] without calling PostHog.
//! `Paused` is transient, so scheduled work (reverts, approved requests, offboardings,
//! bulk items) stays pending exactly as when PostHog is down, and is done by the first
//! sweep after the pause lifts; requests answer 503 naming the pause.
//!
//! The pause record is written with a version guard and an audit entry
//! ([`pause_writes`], [`lift_pause`]); setting it twice keeps the first reason.

use chrono::{DateTime, Utc};
use serde_json::json;

use crate::alerts::{PauseState, WritePause};
use crate::audit::{AuditDraft, AuditKind};
use crate::error::{Error, Result};
use crate::ports::{Guarded, Store};
use crate::types::Actor;

/// How many times a pause or lift is retried when another writer moved the record.
const ATTEMPTS: usize = 4;

/// The sentence a paused write answers with: why, since when, and what to do.
pub fn pause_message(pause: &WritePause) -> String {
    format!(
        "{} (since {}). Nothing was sent to PostHog. An admin must store a new service key on the Keys page; \
         approved work waits and is done once the new key is stored.",
        pause.reason,
        pause.since.format("%Y-%m-%d %H:%M UTC")
    )
}

/// The current pause, if any.
pub async fn current_pause(store: &dyn Store) -> Result<Option<WritePause>> {
    Ok(store.alerts().get_pause().await?.and_then(|s| s.paused))
}

/// Pauses PostHog writes. Returns `false` when they were already paused (the first
/// reason stands). `alert_id` names the alert that paused them.
pub async fn pause_writes(
    store: &dyn Store,
    now: DateTime<Utc>,
    actor: Actor,
    reason: String,
    fingerprint: Option<String>,
    alert_id: Option<String>,
) -> Result<bool> {
    for _ in 0..ATTEMPTS {
        let state = store.alerts().get_pause().await?;
        if state.as_ref().is_some_and(|s| s.paused.is_some()) {
            return Ok(false);
        }
        let expected = state.as_ref().map(|s| s.version);
        let pause = WritePause { since: now, reason: reason.clone(), alert_id: alert_id.clone(), fingerprint: fingerprint.clone() };
        let next = PauseState { paused: Some(pause), lifted_at: state.and_then(|s| s.lifted_at), version: expected.unwrap_or(0) + 1 };
        let audit = AuditDraft {
            at: now,
            actor: actor.clone(),
            kind: AuditKind::KeyAlert,
            subject: None,
            request_id: None,
            grant_id: None,
            details: json!({ "step": "writes_paused", "reason": reason, "fingerprint": fingerprint, "alert_id": alert_id }),
        };
        match store.alerts().put_pause(Guarded { record: next, expected_version: expected }, vec![audit]).await {
            Ok(_) => {
                tracing::warn!(reason = %reason, "PostHog writes paused");
                return Ok(true);
            }
            Err(Error::Conflict(_)) => continue,
            Err(e) => return Err(e),
        }
    }
    Err(Error::Conflict("The pause record kept changing; try again.".into()))
}

/// Lifts the pause (a new service key was stored). Returns `false` when writes were not
/// paused.
pub async fn lift_pause(store: &dyn Store, now: DateTime<Utc>, actor: Actor, new_fingerprint: &str) -> Result<bool> {
    for _ in 0..ATTEMPTS {
        let Some(state) = store.alerts().get_pause().await? else { return Ok(false) };
        let Some(pause) = state.paused.clone() else { return Ok(false) };
        let next = PauseState { paused: None, lifted_at: Some(now), version: state.version + 1 };
        let audit = AuditDraft {
            at: now,
            actor: actor.clone(),
            kind: AuditKind::KeyAlert,
            subject: None,
            request_id: None,
            grant_id: None,
            details: json!({ "step": "writes_resumed", "paused_since": pause.since, "reason": pause.reason, "new_fingerprint": new_fingerprint }),
        };
        match store.alerts().put_pause(Guarded::update(next, state.version), vec![audit]).await {
            Ok(_) => {
                tracing::info!("PostHog writes resumed");
                return Ok(true);
            }
            Err(Error::Conflict(_)) => continue,
            Err(e) => return Err(e),
        }
    }
    Err(Error::Conflict("The pause record kept changing; try again.".into()))
}

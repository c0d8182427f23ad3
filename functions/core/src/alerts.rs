//! Leaked-key alert history, the "PostHog writes paused" state and people's personal
//! key metadata (issue 6, points 4, 5 and 6). Records only: never a key value.
//!
//! * An [`AlertRecord`] is written for every alert Hogwarden receives: an accepted
//!   webhook (one record per delivery), a refused one (counted per minute, provider and
//!   reason, so a flood of unsigned requests costs one small record a minute, never its
//!   body), and a stored key that PostHog starts rejecting (one per pause).
//! * [`PauseState`] is one record, written with a version guard: while it holds a
//!   [`WritePause`], nothing is sent to PostHog that would change it.
//! * A [`PersonalKey`] is the metadata of one person's personal API key as PostHog's
//!   organization list shows it (owner, mask, scopes, created, last used), imported by an
//!   admin, plus when its owner was last reminded.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::audit::{AuditDraft, AuditEntry};
use crate::error::Result;
use crate::ports::Guarded;
use crate::types::Email;

/// The longest text an alert record keeps in one field (a refusal message, an action).
pub const MAX_ALERT_TEXT: usize = 300;
/// At most this many leaked values are recorded per alert (the rest are counted).
pub const MAX_ALERT_LEAKS: usize = 20;
/// The longest cursor `list_alerts` accepts.
pub const MAX_ALERT_CURSOR: usize = 120;

/// What became of an alert.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertVerdict {
    /// Signature verified, not a replay: acted on.
    Accepted,
    /// Refused before anything changed (4xx).
    Refused,
    /// PostHog rejected Hogwarden's stored key (401): writes paused.
    KeyRejected,
}

impl AlertVerdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Accepted => "accepted",
            Self::Refused => "refused",
            Self::KeyRejected => "key_rejected",
        }
    }
}

/// One leaked value of an alert: its kind, short fingerprint and what was done.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlertLeak {
    pub kind: String,
    pub fingerprint: String,
    pub action: String,
}

/// One entry of the alert history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlertRecord {
    /// Unique, and sorts as time: `<received_at>#<what>` (see [`AlertRecord::id_for`]).
    pub id: String,
    /// `github`, `gitguardian`, `generic`, `posthog` (a rejected stored key) or `unknown`.
    pub provider: String,
    pub received_at: DateTime<Utc>,
    pub verdict: AlertVerdict,
    /// The refusal's code (`bad_signature`, `missing_header`, `stale`, `replayed`,
    /// `malformed`, …) or `key_rejected`.
    pub reason: Option<String>,
    /// A sentence for people (bounded, never a header value or the body).
    pub detail: Option<String>,
    pub delivery_id: Option<String>,
    pub leaks: Vec<AlertLeak>,
    /// Refused alerts of the same minute, provider and reason share one record.
    pub count: u64,
    pub last_at: DateTime<Utc>,
}

/// Text trimmed to `max` characters.
pub fn bounded(text: &str, max: usize) -> String {
    text.chars().take(max).collect()
}

impl AlertRecord {
    /// The id for an alert received at `at` about `what` (microsecond RFC 3339 first, so
    /// ids sort as time).
    pub fn id_for(at: DateTime<Utc>, what: &str) -> String {
        format!("{}#{}", at.format("%Y-%m-%dT%H:%M:%S%.6fZ"), bounded(what, 80))
    }

    /// A refused webhook, counted into its minute's record for this provider and reason.
    pub fn refused(provider: &str, at: DateTime<Utc>, reason: &str, detail: &str) -> Self {
        let provider = match provider {
            "github" | "gitguardian" | "generic" => provider,
            _ => "unknown",
        };
        let minute = at.timestamp() - at.timestamp().rem_euclid(60);
        let minute = DateTime::from_timestamp(minute, 0).unwrap_or(at);
        let reason = bounded(reason, 40);
        Self {
            id: Self::id_for(minute, &format!("refused#{provider}#{reason}")),
            provider: provider.into(),
            received_at: at,
            verdict: AlertVerdict::Refused,
            reason: Some(reason),
            detail: Some(bounded(detail, MAX_ALERT_TEXT)),
            delivery_id: None,
            leaks: Vec::new(),
            count: 1,
            last_at: at,
        }
    }

    /// An accepted webhook and what was done about each value.
    pub fn accepted(provider: &str, at: DateTime<Utc>, delivery_id: &str, leaks: &[AlertLeak]) -> Self {
        let delivery = bounded(delivery_id, 100);
        let mut kept: Vec<AlertLeak> = leaks
            .iter()
            .take(MAX_ALERT_LEAKS)
            .map(|l| AlertLeak {
                kind: bounded(&l.kind, 40),
                fingerprint: bounded(&l.fingerprint, 40),
                action: bounded(&l.action, MAX_ALERT_TEXT),
            })
            .collect();
        if leaks.len() > MAX_ALERT_LEAKS {
            kept.push(AlertLeak {
                kind: "more".into(),
                fingerprint: String::new(),
                action: format!("{} more values, handled the same way", leaks.len() - MAX_ALERT_LEAKS),
            });
        }
        let digest = &crate::keys::fingerprint(&delivery)[..16];
        Self {
            id: Self::id_for(at, &format!("accepted#{provider}#{digest}")),
            provider: provider.into(),
            received_at: at,
            verdict: AlertVerdict::Accepted,
            reason: None,
            detail: None,
            delivery_id: Some(delivery),
            leaks: kept,
            count: 1,
            last_at: at,
        }
    }

    /// PostHog rejected the stored service key `fingerprint`.
    pub fn key_rejected(at: DateTime<Utc>, fingerprint: &str, detail: &str) -> Self {
        Self {
            id: Self::id_for(at, "posthog#key_rejected"),
            provider: "posthog".into(),
            received_at: at,
            verdict: AlertVerdict::KeyRejected,
            reason: Some("key_rejected".into()),
            detail: Some(bounded(detail, MAX_ALERT_TEXT)),
            delivery_id: None,
            leaks: vec![AlertLeak {
                kind: "personal".into(),
                fingerprint: bounded(fingerprint, 40),
                action: "PostHog writes paused until an admin stores a new service key".into(),
            }],
            count: 1,
            last_at: at,
        }
    }
}

/// Why PostHog writes are paused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WritePause {
    pub since: DateTime<Utc>,
    /// For people: "Hogwarden's own key leaked (reported by github)".
    pub reason: String,
    /// The alert that paused writes ([`AlertRecord::id`]).
    pub alert_id: Option<String>,
    /// The short fingerprint of the key that leaked or was rejected.
    pub fingerprint: Option<String>,
}

/// The one pause record. `paused = None`: writes flow.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PauseState {
    pub paused: Option<WritePause>,
    /// When the last pause was lifted, and by whom (for the audit trail and the UI).
    pub lifted_at: Option<DateTime<Utc>>,
    pub version: u64,
}

/// One person's personal API key, as PostHog's organization list shows it (never the
/// value; `mask` is PostHog's `mask_value`, the first and last four characters).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PersonalKey {
    /// Hogwarden's id for it: PostHog's list carries no key id, so the owner and the
    /// creation time name it (a roll keeps both and changes the mask).
    pub id: String,
    pub owner: Email,
    pub owner_name: String,
    pub mask: String,
    pub scopes: Vec<String>,
    /// `all`, `organization` or `projects` (PostHog's `access_scope.type`).
    pub access: String,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
    /// When Hogwarden first saw the current mask of a key it already knew (a roll);
    /// PostHog's organization list does not say when a key was rolled.
    pub rolled_seen_at: Option<DateTime<Utc>>,
    pub imported_at: DateTime<Utc>,
    /// Whether the newest import still listed it.
    pub listed: bool,
    pub last_reminded_at: Option<DateTime<Utc>>,
    pub version: u64,
}

/// Storage for this module's records (reached as [`crate::ports::Store::alerts`]).
#[async_trait]
pub trait AlertStore: Send + Sync {
    /// Writes an alert. An alert whose id is already stored is counted into it instead
    /// (`count + 1`, `last_at`), so refused alerts of one minute share one record.
    async fn record_alert(&self, alert: &AlertRecord) -> Result<()>;
    /// Alerts newest first, strictly before the id `before` when given.
    async fn list_alerts(&self, before: Option<&str>, limit: usize) -> Result<Vec<AlertRecord>>;

    /// The pause record (`None` before the first pause).
    async fn get_pause(&self) -> Result<Option<PauseState>>;
    /// Writes the pause record guarded by its version, with its audit entries, atomically.
    async fn put_pause(&self, state: Guarded<PauseState>, audit: Vec<AuditDraft>) -> Result<Vec<AuditEntry>>;

    /// Every personal key record, by id.
    async fn list_personal_keys(&self) -> Result<Vec<PersonalKey>>;
    /// Writes one personal key record guarded by its version, with its audit entries.
    async fn put_personal_key(&self, key: Guarded<PersonalKey>, audit: Vec<AuditDraft>) -> Result<Vec<AuditEntry>>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refused_alerts_of_one_minute_share_an_id_and_unknown_providers_are_named_unknown() {
        let at = DateTime::parse_from_rfc3339("2030-01-01T10:42:05Z").unwrap().with_timezone(&Utc);
        let a = AlertRecord::refused("github", at, "bad_signature", "x");
        let b = AlertRecord::refused("github", at + chrono::Duration::seconds(50), "bad_signature", "x");
        let c = AlertRecord::refused("github", at + chrono::Duration::seconds(60), "bad_signature", "x");
        assert_eq!(a.id, b.id);
        assert_ne!(a.id, c.id);
        assert!(a.id < c.id, "ids sort as time");
        let odd = AlertRecord::refused(&"x".repeat(5000), at, &"r".repeat(500), &"d".repeat(5000));
        assert_eq!(odd.provider, "unknown");
        assert!(odd.id.len() < 150 && odd.detail.unwrap().len() <= MAX_ALERT_TEXT);
    }

    #[test]
    fn accepted_alerts_keep_at_most_a_bounded_number_of_values() {
        let at = Utc::now();
        let leaks: Vec<AlertLeak> =
            (0..50).map(|i| AlertLeak { kind: "personal".into(), fingerprint: format!("sha256:{i}"), action: "x".into() }).collect();
        let record = AlertRecord::accepted("generic", at, "d-1", &leaks);
        assert_eq!(record.leaks.len(), MAX_ALERT_LEAKS + 1);
        assert!(record.leaks.last().unwrap().action.starts_with("30 more"));
    }
}

//! The alert history, the writes-paused status and personal key metadata (keys-alerts).
//! Never a key value: fingerprints and PostHog's masks only.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
#[cfg(feature = "openapi")]
use utoipa::ToSchema;

use crate::LeakActionDto;

/// One alert Hogwarden received.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct AlertDto {
    pub id: String,
    /// `github`, `gitguardian`, `generic`, `posthog` (a rejected stored key) or `unknown`.
    pub provider: String,
    pub received_at: DateTime<Utc>,
    /// `accepted`, `refused` or `key_rejected`.
    pub verdict: String,
    /// Why it was refused: `bad_signature`, `missing_header`, `bad_header`, `stale`,
    /// `replayed`, `malformed`, `unknown_provider`, `not_configured`, or `key_rejected`.
    #[serde(default)]
    pub reason: Option<String>,
    #[serde(default)]
    pub detail: Option<String>,
    #[serde(default)]
    pub delivery_id: Option<String>,
    /// Per leaked value: kind, short fingerprint and what was done.
    #[serde(default)]
    pub leaks: Vec<LeakActionDto>,
    /// Refused alerts of the same minute, provider and reason are counted in one entry.
    pub count: u64,
    pub last_at: DateTime<Utc>,
}

/// `GET /api/keys/alerts`: newest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct AlertPageDto {
    pub alerts: Vec<AlertDto>,
    /// Pass as `before` for the next (older) page; null on the last page.
    #[serde(default)]
    pub next: Option<String>,
}

/// Why PostHog writes are paused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct WritesPausedDto {
    pub since: DateTime<Utc>,
    pub reason: String,
    #[serde(default)]
    pub alert_id: Option<String>,
    #[serde(default)]
    pub fingerprint: Option<String>,
    /// What to do, in one sentence.
    pub message: String,
}

/// `GET /api/keys/status` (anyone signed in): whether PostHog writes are paused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct KeyStatusDto {
    #[serde(default)]
    pub writes_paused: Option<WritesPausedDto>,
}

/// One person's personal API key as PostHog's organization list shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct PersonalKeyDto {
    pub owner: String,
    pub owner_name: String,
    /// PostHog's `mask_value`: the first and last four characters.
    pub mask: String,
    pub scopes: Vec<String>,
    pub access: String,
    pub created_at: DateTime<Utc>,
    #[serde(default)]
    pub last_used_at: Option<DateTime<Utc>>,
    /// When an import first showed a new mask for a known key (PostHog's list does not
    /// say when a key was rolled).
    #[serde(default)]
    pub rolled_seen_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub last_reminded_at: Option<DateTime<Utc>>,
    /// Why the owner is (or will be) reminded; null when the key is within policy.
    #[serde(default)]
    pub due: Option<String>,
}

/// `GET /api/keys/personal` (admins).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct PersonalKeyListDto {
    pub keys: Vec<PersonalKeyDto>,
    /// Where to get the file to import, and who can roll a key.
    pub how_to_import: String,
    pub who_rolls: String,
}

/// `POST /api/keys/personal/import`: what the import did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct ImportReportDto {
    pub listed: usize,
    pub new: usize,
    pub rolled: usize,
    pub gone: usize,
}

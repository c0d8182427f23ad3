//! Key consumers (where each key is used, and who owns that place) and guided
//! project-token rotations (`/api/keys/consumers`, `/api/keys/rotations`). Never a key's
//! value: fingerprints only.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
#[cfg(feature = "openapi")]
use utoipa::ToSchema;

/// One place a key is used in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct ConsumerDto {
    pub id: String,
    /// `service_key`, `project_token:<project id>` or `secret:<vault name>`.
    pub key: String,
    /// `frontend_sdk`, `mobile_app`, `ci_variable`, `server` or `other`.
    pub kind: String,
    /// Where: an app, a repository and variable, a host.
    pub name: String,
    /// Who owns that place (told before and after a rotation).
    pub owner: String,
    pub added_by: String,
    pub added_at: DateTime<Utc>,
    /// The version to send back when removing it.
    pub version: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct ConsumerList {
    pub consumers: Vec<ConsumerDto>,
}

/// `POST /api/keys/consumers`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct NewConsumerBody {
    /// `service_key`, `project_token:<project id>`, `secret:<vault name>`,
    /// `secret_key:<project id>:<key id>` or `personal_key:<id>`: a key's `key_ref` in `GET /api/keys`.
    pub key: String,
    /// `frontend_sdk`, `mobile_app`, `ci_variable`, `server` or `other`.
    pub kind: String,
    pub name: String,
    /// The email of the place's owner.
    pub owner: String,
}

/// One step of a guided rotation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct TokenStepDto {
    /// `started`, `consumers_warned`, `reset_detected`, `stored`, `capture_verified`, `consumers_notified`.
    pub kind: String,
    /// What the step is, for people.
    pub label: String,
    /// When it happened; null while it waits.
    pub at: Option<DateTime<Utc>>,
    pub note: Option<String>,
}

/// A guided rotation of a project token (`phc_`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct TokenRotationDto {
    pub project_id: i64,
    pub project_name: String,
    pub id: String,
    /// `open` or `done`.
    pub status: String,
    pub reason: String,
    pub started_by: String,
    pub started_at: DateTime<Utc>,
    /// `sha256:` and 12 hex digits of the token when the rotation started.
    pub old_fingerprint: String,
    /// The same for the new token, once detected.
    pub new_fingerprint: Option<String>,
    pub steps: Vec<TokenStepDto>,
    /// Owners warned before the reset.
    pub warned: Vec<String>,
    /// Owners told to update after it.
    pub notified: Vec<String>,
    /// The consumers of this project's token now.
    pub consumers: Vec<ConsumerDto>,
    /// The step a person must do and where.
    pub instructions: String,
    pub last_error: Option<String>,
    pub updated_at: DateTime<Utc>,
    pub version: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct TokenRotationList {
    pub rotations: Vec<TokenRotationDto>,
}

/// `POST /api/keys/rotations/{project}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct StartTokenRotationBody {
    /// Why (optional; at most 500 characters).
    #[serde(default)]
    pub reason: Option<String>,
}

//! Leaked-key webhooks (`POST /webhooks/{provider}`).

use serde::{Deserialize, Serialize};
#[cfg(feature = "openapi")]
use utoipa::ToSchema;

/// What Hogwarden did about one leaked value (never the value: its fingerprint).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct LeakActionDto {
    /// `project_secret`, `project_token`, `personal` or `unknown`.
    pub kind: String,
    /// `sha256:` and 12 hex digits.
    pub fingerprint: String,
    pub action: String,
}

/// An accepted leaked-key alert.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct AlertReportDto {
    pub provider: String,
    pub delivery_id: String,
    pub actions: Vec<LeakActionDto>,
}

/// The form that replaces Hogwarden's own PostHog key. The key is only ever sent here,
/// never returned.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct ServiceKeyBody {
    /// A personal API key (`phx_…`) of the service account.
    pub key: String,
}

//! Offboarding: the preview (inventory and warnings), the request and its steps.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

#[cfg(feature = "openapi")]
use utoipa::ToSchema;

use crate::DecisionDto;

/// `POST /api/offboardings/preview`
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(deny_unknown_fields)]
pub struct OffboardPreviewBody {
    /// The departing member.
    pub email: String,
    /// Who gets manager access on each of their objects.
    pub new_owner: String,
}

/// `POST /api/offboardings`
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CreateOffboarding {
    pub email: String,
    pub new_owner: String,
    /// Why (documented on the request).
    pub reason: String,
    #[serde(default)]
    pub ticket: Option<String>,
}

/// An object the member created.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct OwnedObjectDto {
    /// `dashboard`, `insight`, `feature_flag` or `notebook`.
    pub kind: String,
    pub project_id: i64,
    /// Its id in PostHog (a notebook's short id).
    pub key: String,
    pub name: String,
    /// An unsaved (private) insight.
    pub private: bool,
}

/// A project where the member has an explicit role.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct OffboardProjectDto {
    pub project_id: i64,
    pub name: String,
    pub role: String,
}

/// What offboarding would do, read from PostHog now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct OffboardPreviewDto {
    pub email: String,
    pub name: String,
    /// `member` or `admin`.
    pub org_level: String,
    pub new_owner: String,
    pub objects: Vec<OwnedObjectDto>,
    pub projects: Vec<OffboardProjectDto>,
    /// The steps, in order, as sentences.
    pub steps: Vec<String>,
    pub warnings: Vec<String>,
}

/// One step of an offboarding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct OffboardStepDto {
    /// `hand_over`, `remove_from_project` or `remove_from_org`.
    pub kind: String,
    pub description: String,
    /// `pending`, `done` or `failed`.
    pub status: String,
    pub at: Option<DateTime<Utc>>,
    /// What PostHog reported after the write.
    pub read_back: Option<String>,
    /// PostHog already showed the outcome; nothing was written.
    pub already_in_place: bool,
    pub error: Option<String>,
    /// For hand-overs: the object.
    pub object: Option<OwnedObjectDto>,
}

/// An offboarding request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct OffboardingDto {
    pub id: String,
    pub requester: String,
    pub email: String,
    pub new_owner: String,
    pub reason: String,
    pub ticket: Option<String>,
    /// `pending`, `approved` (running), `done`, `failed` or `denied`.
    pub status: String,
    pub approvals_required: u8,
    pub approvals: Vec<DecisionDto>,
    pub denial: Option<DecisionDto>,
    pub steps: Vec<OffboardStepDto>,
    pub warnings: Vec<String>,
    pub failure: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Whether the caller may approve or deny it now.
    pub can_decide: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct OffboardingList {
    pub offboardings: Vec<OffboardingDto>,
}

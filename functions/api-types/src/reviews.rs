//! Wire types of access reviews and drift detection.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

#[cfg(feature = "openapi")]
use utoipa::ToSchema;

use crate::VerificationDto;

/// The guide's "export current access" summary, taken when the campaign opened.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct AccessSummaryDto {
    pub organization: String,
    pub total_members: usize,
    pub owners: Vec<String>,
    pub admins: Vec<String>,
    /// Organization members who are not viewers.
    pub members: Vec<String>,
    /// Members whose every project role is Viewer.
    pub viewers: Vec<String>,
}

/// How far a campaign's items are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct CampaignCountsDto {
    pub open: usize,
    pub kept: usize,
    pub revoked: usize,
    pub downgraded: usize,
    pub skipped: usize,
    /// Revokes and downgrades applied in PostHog.
    pub applied: usize,
    /// Revokes and downgrades that did not apply (yet).
    pub not_applied: usize,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct CampaignDto {
    pub id: String,
    pub title: String,
    /// `opening`, `open` or `closed`.
    pub status: String,
    pub opened_by: String,
    pub opened_at: DateTime<Utc>,
    pub due_at: DateTime<Utc>,
    /// `skip` or `revoke`: what closing does with undecided items.
    pub close_policy: String,
    pub closed_at: Option<DateTime<Utc>>,
    pub item_count: usize,
    pub summary: AccessSummaryDto,
    /// Counted from the items (absent from lists).
    pub counts: Option<CampaignCountsDto>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct CampaignList {
    pub campaigns: Vec<CampaignDto>,
}

/// One item: a person's organization level or their access to one project.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct ReviewItemDto {
    pub campaign: String,
    pub id: String,
    pub person: String,
    pub name: String,
    /// `organization` or `project`.
    pub target: String,
    pub project_id: Option<i64>,
    pub project_name: Option<String>,
    /// `member`, `admin`, `owner` (organization) or `viewer`, `member`, `admin` (project).
    pub access: String,
    pub last_login: Option<DateTime<Utc>>,
    pub is_2fa_enabled: bool,
    pub joined_at: Option<DateTime<Utc>>,
    pub through_hogwarden: bool,
    /// `no_login_in_90_days`, `admin_without_2fa`, `granted_outside_hogwarden`,
    /// `contractor_past_end_date`, `departed`.
    pub suggestions: Vec<String>,
    pub reviewer: Option<String>,
    /// `keep`, `revoke` or `downgrade`.
    pub decision: Option<String>,
    pub downgrade_to: Option<String>,
    pub reason: Option<String>,
    pub decided_by: Option<String>,
    pub decided_at: Option<DateTime<Utc>>,
    pub skipped: bool,
    /// `pending`, `applied` or `failed`.
    pub remediation: Option<String>,
    pub request_id: Option<String>,
    pub applied_at: Option<DateTime<Utc>>,
    pub remediation_error: Option<String>,
    /// Whether `request_id` names an offboarding (a revoked organization membership:
    /// the person is removed from the organization, their objects handed over).
    #[serde(default)]
    pub offboarding: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct CampaignDetail {
    pub campaign: CampaignDto,
    pub items: Vec<ReviewItemDto>,
}

/// The caller's undecided items, per open campaign.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct ReviewQueueDto {
    pub campaigns: Vec<CampaignDetail>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(deny_unknown_fields)]
pub struct OpenCampaignBody {
    /// A slug such as `2026-q1`; the current quarter's when absent.
    #[serde(default)]
    pub id: Option<String>,
    /// `skip` or `revoke`; the policy's when absent.
    #[serde(default)]
    pub close_policy: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(deny_unknown_fields)]
pub struct DecideBody {
    /// `keep`, `revoke` or `downgrade`.
    pub decision: String,
    /// For a downgrade: `member` (organization) or `member`, `viewer`, `none` (project).
    #[serde(default)]
    pub to: Option<String>,
    /// Required for revoke and downgrade (5 to 1000 characters).
    #[serde(default)]
    pub reason: Option<String>,
}

/// One decision for several items of one campaign (the queue's bulk keep / revoke).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(deny_unknown_fields)]
pub struct BulkDecideBody {
    pub items: Vec<String>,
    /// `keep` or `revoke`.
    pub decision: String,
    #[serde(default)]
    pub reason: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct RefusedItemDto {
    pub item: String,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct BulkDecideResult {
    pub decided: Vec<ReviewItemDto>,
    pub refused: Vec<RefusedItemDto>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ReassignBody {
    pub reviewer: String,
}

/// A campaign's evidence: the CSV (one row per item), the Markdown record in the
/// guide's layout, and the audit chain's verification.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct EvidenceDto {
    pub csv: String,
    pub markdown: String,
    pub chain: VerificationDto,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct DriftFindingDto {
    pub id: String,
    pub person: String,
    /// `organization` or `project`.
    pub target: String,
    pub project_id: Option<i64>,
    /// `granted_outside`, `removed_outside` or `level_differs`.
    pub kind: String,
    /// The ledger's level (`none` for no access).
    pub expected: String,
    /// PostHog's level (`none` for no access).
    pub found: String,
    /// Who changed it in PostHog, from its activity log, when it says.
    pub changed_by: Option<String>,
    pub changed_at: Option<DateTime<Utc>>,
    pub detected_at: DateTime<Utc>,
    /// `open` or `reverting`.
    pub status: String,
    pub revert_request: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct DriftReportDto {
    pub checked_at: Option<DateTime<Utc>>,
    pub baseline_at: Option<DateTime<Utc>>,
    pub baseline_taken: bool,
    pub findings: Vec<DriftFindingDto>,
}

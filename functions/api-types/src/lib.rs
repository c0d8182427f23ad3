//! The wire types of Hogwarden's HTTP API. Serde only, so the same definitions
//! compile for the server and for the WASM front end; the server turns them into
//! domain types (`TryFrom`) at the edge. OpenAPI schemas are derived behind the
//! `openapi` feature.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

#[cfg(feature = "openapi")]
use utoipa::ToSchema;

mod offboard;
pub use offboard::*;
mod sso;
pub use sso::*;

/// Every error the API returns has this shape.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct ErrorDetail {
    /// A stable machine-readable code, e.g. `invalid_input`, `forbidden`, `conflict`.
    pub code: String,
    /// What went wrong, in words a person can act on.
    pub message: String,
}

/// One change a request asks for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum ChangeDto {
    /// Organization role: `member` or `admin` (owner is never granted).
    OrgRole { role: String },
    /// Project role: `viewer`, `member` or `admin` in one project.
    ProjectRole { project_id: i64, role: String },
    /// Remove the person's explicit role in one project (permanent; they keep the
    /// organization and their other projects).
    RemoveFromProject { project_id: i64 },
}

/// `POST /api/requests`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CreateRequest {
    /// Whose access changes; omit for your own.
    #[serde(default)]
    pub subject_email: Option<String>,
    pub changes: Vec<ChangeDto>,
    /// Temporary access: minutes from when it is applied. Omit for a permanent change.
    #[serde(default)]
    pub duration_minutes: Option<i64>,
    /// Temporary access with a fixed end date (contractors), instead of a duration.
    #[serde(default)]
    pub ends_at: Option<DateTime<Utc>>,
    /// Why the access is needed.
    pub reason: String,
    #[serde(default)]
    pub ticket: Option<String>,
}

/// `POST /api/requests/{id}/approve`
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ApproveBody {
    #[serde(default)]
    pub comment: Option<String>,
}

/// `POST /api/requests/{id}/deny`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(deny_unknown_fields)]
pub struct DenyBody {
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct DecisionDto {
    pub by: String,
    pub at: DateTime<Utc>,
    pub reason: Option<String>,
}

/// An access request as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct RequestDto {
    pub id: String,
    pub requester: String,
    pub subject: String,
    pub changes: Vec<ChangeDto>,
    pub duration_minutes: Option<i64>,
    /// The fixed end date, when the request has one (contractor access, extensions).
    pub ends_at: Option<DateTime<Utc>>,
    /// The grant this request extends, when it is an extension.
    pub extends: Option<String>,
    pub reason: String,
    pub ticket: Option<String>,
    /// pending, approved, denied, expired, applied, failed or reverted.
    pub status: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// When an unanswered request expires.
    pub expires_at: DateTime<Utc>,
    pub approvals_required: u8,
    pub approvals: Vec<DecisionDto>,
    pub denial: Option<DecisionDto>,
    pub failure: Option<String>,
    /// Whether the caller may approve it (false for one's own requests).
    pub can_approve: bool,
    /// The security checklist (only on `GET /api/requests/{id}`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checklist: Option<ChecklistDto>,
    pub grants: Vec<GrantDto>,
}

/// One change applied in PostHog.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct GrantDto {
    pub id: String,
    pub request_id: String,
    pub subject: String,
    pub change: ChangeDto,
    /// The access before the change, restored when it ends.
    pub baseline: String,
    /// What PostHog reported after the change (read-back).
    pub confirmed: String,
    /// active, reverted or conflict.
    pub status: String,
    pub applied_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
    pub seconds_left: Option<i64>,
    pub ended_at: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
    /// Every extension: original expiration, extended to, reason, approved by.
    pub extensions: Vec<ExtensionDto>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct RequestList {
    pub requests: Vec<RequestDto>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct GrantList {
    pub grants: Vec<GrantDto>,
}

/// One audit entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct AuditEntryDto {
    pub seq: u64,
    pub at: DateTime<Utc>,
    pub actor: String,
    /// requested, approved, denied, expired, applied, apply_failed, reverted, revert_failed, revert_conflict.
    pub kind: String,
    pub subject: Option<String>,
    pub request_id: Option<String>,
    pub grant_id: Option<String>,
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub details: serde_json::Value,
    pub prev_hash: String,
    pub hash: String,
}

/// Whether the audit chain is intact.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct VerificationDto {
    pub valid: bool,
    pub entries: u64,
    pub first_broken_seq: Option<u64>,
    pub problem: Option<String>,
    /// The last entry's position and hash when the chain is intact: keep them outside
    /// Hogwarden and pass them back as `anchor_seq`/`anchor_hash` later, so that
    /// entries removed from the chain's end are detected.
    #[serde(default)]
    pub head_seq: Option<u64>,
    #[serde(default)]
    pub head_hash: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
/// One page of the audit log. It does not verify the chain: that reads every entry,
/// so it is `GET /api/audit/verify`, for admins.
pub struct AuditList {
    pub entries: Vec<AuditEntryDto>,
    /// A project search reads a bounded number of the newest entries: when older
    /// entries were not searched, the oldest entry searched. Pass it as `before_seq`
    /// to search further back.
    #[serde(default)]
    pub searched_back_to: Option<u64>,
}

/// The policy, as the front end needs it to refuse what the API would refuse.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct PolicyDto {
    pub max_duration_minutes: MaxDurationsDto,
    pub needs_approval: NeedsApprovalDto,
    pub approvals_required: u8,
    pub pending_ttl_minutes: i64,
    pub max_changes_per_request: usize,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct MaxDurationsDto {
    pub org_admin: i64,
    pub org_member: i64,
    pub project_admin: i64,
    pub project_member: i64,
    pub project_viewer: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct NeedsApprovalDto {
    pub org_admin: bool,
    pub org_member: bool,
    pub project_admin: bool,
    pub project_member: bool,
    pub project_viewer: bool,
    pub project_removal: bool,
}

/// Who the caller is, as the API sees them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct MeDto {
    pub email: String,
    pub roles: Vec<String>,
}

/// A PostHog project, for pickers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct ProjectDto {
    pub id: i64,
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct ProjectList {
    pub projects: Vec<ProjectDto>,
}

/// `POST /auth/dev-login` (local stack only).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(deny_unknown_fields)]
pub struct DevLoginBody {
    pub email: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct TokenResponse {
    pub access_token: String,
    pub token_type: String,
    pub expires_in: u64,
}

/// A demo user the local dev sign-in offers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct DemoUserDto {
    pub email: String,
    pub name: String,
    pub roles: Vec<String>,
}

/// `GET /api/access` (admins): who has what, as PostHog reports it now, with the
/// temporary grants Hogwarden holds on top.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct AccessOverviewDto {
    /// When PostHog was read.
    pub generated_at: DateTime<Utc>,
    pub projects: Vec<ProjectDto>,
    pub members: Vec<MemberAccessDto>,
}

/// One organization member's access.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct MemberAccessDto {
    pub email: String,
    pub name: String,
    /// `member`, `admin` or `owner`.
    pub org_level: String,
    /// Set when the organization level is a temporary grant of Hogwarden's.
    pub org_grant: Option<TemporaryDto>,
    /// One entry per project in which the member has an explicit role.
    pub projects: Vec<ProjectAccessDto>,
}

/// An explicit project role.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct ProjectAccessDto {
    pub project_id: i64,
    /// `viewer`, `member` or `admin`.
    pub role: String,
    /// Set when this role is a temporary grant of Hogwarden's.
    pub grant: Option<TemporaryDto>,
}

/// A temporary grant that ends by itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct TemporaryDto {
    pub grant_id: String,
    pub expires_at: DateTime<Utc>,
    pub seconds_left: i64,
}

/// `GET /api/keys` (admins): the PostHog keys Hogwarden holds. Never a key's value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct KeyList {
    pub keys: Vec<KeyDto>,
    /// What the inventory cannot show, and why (e.g. people's personal keys).
    #[serde(default)]
    pub notes: Vec<String>,
    /// Set while PostHog writes are paused (keys-alerts).
    #[serde(default)]
    pub writes_paused: Option<WritesPausedDto>,
}

/// One PostHog key Hogwarden knows. Never the value: at most its fingerprint.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct KeyDto {
    /// What the key is for, e.g. "Hogwarden service key".
    pub name: String,
    /// `personal_api_key`, `project_secret_api_key` or `project_token`.
    pub kind: String,
    /// `sha256:` and the first 12 hex digits of the key's SHA-256; null when PostHog shows
    /// the key only masked and Hogwarden does not hold it.
    pub fingerprint: Option<String>,
    /// Whether PostHog accepted the key when it was checked (Hogwarden's own key; null
    /// for keys Hogwarden does not check).
    pub accepted: Option<bool>,
    pub checked_at: DateTime<Utc>,
    #[serde(default)]
    pub project_id: Option<i64>,
    #[serde(default)]
    pub project_name: Option<String>,
    /// PostHog's id of a project secret key.
    #[serde(default)]
    pub key_id: Option<String>,
    #[serde(default)]
    pub label: Option<String>,
    #[serde(default)]
    pub scopes: Vec<String>,
    #[serde(default)]
    pub created_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub last_used_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub last_rolled_at: Option<DateTime<Utc>>,
    /// Whether Hogwarden rotates the key (policy `keys.managed_secrets`).
    #[serde(default)]
    pub managed: bool,
    /// The vault name Hogwarden rotates it under.
    #[serde(default)]
    pub managed_secret: Option<String>,
    /// The last enrolment or finished rotation, from the audit log.
    #[serde(default)]
    pub last_rotated_at: Option<DateTime<Utc>>,
    /// What Hogwarden can and cannot do with the key.
    #[serde(default)]
    pub note: Option<String>,
    /// PostHog's `mask_value` (first and last four characters) of a key Hogwarden does
    /// not hold.
    #[serde(default)]
    pub mask: Option<String>,
    /// How consumers name this key (`service_key`, `project_token:<id>`, `secret:<vault
    /// name>`, `secret_key:<project id>:<key id>`, `personal_key:<id>`).
    #[serde(default)]
    pub key_ref: Option<String>,
    /// Where the key is used.
    #[serde(default)]
    pub consumers: Vec<ConsumerDto>,
    /// A project token's guided rotation: `open` or `done` (null when none).
    #[serde(default)]
    pub rotation_status: Option<String>,
}

/// One extension of a temporary grant (the guide's access-log entry).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct ExtensionDto {
    pub request_id: String,
    pub original_expiration: DateTime<Utc>,
    pub extended_to: DateTime<Utc>,
    pub reason: String,
    pub approved_by: Vec<String>,
    pub at: DateTime<Utc>,
}

/// `POST /api/grants/{id}/extend`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ExtendBody {
    /// The new end (RFC 3339), later than the current one.
    pub until: DateTime<Utc>,
    /// Why the access is still needed.
    pub reason: String,
}

/// The roles guide's security checklist for one request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct ChecklistDto {
    /// Approvers' emails, or `policy` when policy needed no approver.
    pub approved_by: Vec<String>,
    /// Whether PostHog's read-back is exactly the access asked for (unknown before it is applied).
    pub least_access: Option<bool>,
    pub reason: String,
    pub ticket: Option<String>,
    /// When the person was told of the change.
    pub informed_at: Option<DateTime<Utc>>,
    pub temporary: bool,
    /// When temporary access ends.
    pub ends_at: Option<DateTime<Utc>>,
    /// Sequence numbers of this request's audit entries.
    pub audit_entries: Vec<u64>,
    /// Whether every item holds.
    pub complete: bool,
}

/// `POST /api/bulk/plan`: a change set as CSV (header `email,project,role,end_date`)
/// or as a JSON array of such objects.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(deny_unknown_fields)]
pub struct BulkPlanBody {
    /// `csv` or `json`.
    pub format: String,
    pub content: String,
}

/// What applying the change set would do, row by row. Nothing is written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct BulkPlanDto {
    pub items: Vec<BulkPlanItemDto>,
    pub changes: usize,
    pub no_ops: usize,
    pub errors: usize,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct BulkPlanItemDto {
    /// The row's line in the CSV file (header = 1) or its item number in the JSON array.
    pub line: usize,
    pub email: String,
    /// `organization` or the project's name.
    pub target: String,
    pub current: Option<String>,
    pub desired: Option<String>,
    pub ends_at: Option<DateTime<Utc>>,
    /// `change`, `no_op` or `error`.
    pub action: String,
    pub message: Option<String>,
}

/// `GET /api/diagnose?email=…&project_id=…` (approvers and admins): why a person can or
/// cannot see a project, as PostHog reports it now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct DiagnosisDto {
    pub email: String,
    pub project_id: i64,
    /// The project's name, when it exists.
    pub project_name: Option<String>,
    /// Whether PostHog lets the person see the project.
    pub can_see: bool,
    /// `not_invited`, `invitation_pending`, `invitation_expired`, `project_not_found`,
    /// `no_project_access`, `explicit_role`, `rbac_role`, `project_default` or
    /// `organization_admin`.
    pub verdict: String,
    /// The cause, in a sentence.
    pub summary: String,
    /// What to do about it.
    pub next_step: String,
    /// The project role behind `explicit_role` (`viewer`, `member` or `admin`).
    pub role: Option<String>,
    /// When the invitation was sent (`invitation_pending`, `invitation_expired`).
    pub invitation_sent_at: Option<DateTime<Utc>>,
    /// When the invitation expires or expired.
    pub invitation_expires_at: Option<DateTime<Utc>>,
    /// The checks made, in order.
    pub checks: Vec<DiagnosisCheckDto>,
    pub checked_at: DateTime<Utc>,
}

/// One check of a diagnosis.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct DiagnosisCheckDto {
    /// `membership`, `invitation`, `project` or `project_access`.
    pub check: String,
    /// Whether this check stands out of the way.
    pub ok: bool,
    pub detail: String,
}

/// `POST /api/bulk/sets` (admins): submit a change set as one access request. The same
/// text submitted again by the same person returns the set already made (200, not 201).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct BulkSubmitBody {
    /// `csv` or `json`.
    pub format: String,
    pub content: String,
    /// Why; a default naming the set's size is used when absent.
    #[serde(default)]
    pub reason: Option<String>,
}

/// A bulk change set: its progress while it is applied, its report once finished.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct BulkSetDto {
    /// The id of the access request that holds the set.
    pub id: String,
    pub requester: String,
    /// `awaiting_approval`, `applying`, `finished` or `cancelled`.
    pub phase: String,
    /// The request's status: pending, approved, applied, failed, denied or expired.
    pub request_status: String,
    pub approvals_required: u8,
    pub approvals: usize,
    pub total: usize,
    pub pending: usize,
    pub in_flight: usize,
    pub done: usize,
    pub failed: usize,
    pub no_op: usize,
    pub created_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    /// Items applied (done or failed) per second since the first run started.
    pub rate_per_second: Option<f64>,
    /// The items asked for (`?items=all|failed|none`; `apply` returns the failed ones).
    pub items: Vec<BulkItemDto>,
}

/// One item of a change set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct BulkItemDto {
    /// The row's line in the submitted file.
    pub line: usize,
    pub email: String,
    /// `organization` or the project's name.
    pub target: String,
    /// The access the item asks for.
    pub desired: String,
    pub ends_at: Option<DateTime<Utc>>,
    /// `pending`, `in_flight`, `done`, `failed` or `no_op`.
    pub status: String,
    /// The access before the change.
    pub baseline: Option<String>,
    /// What PostHog reported after the change.
    pub read_back: Option<String>,
    pub error: Option<String>,
}

mod keys;
pub use keys::{AlertReportDto, LeakActionDto, ServiceKeyBody};
mod reviews;
pub use reviews::*;
mod consumers;
pub use consumers::*;
mod key_alerts;
pub use key_alerts::*;

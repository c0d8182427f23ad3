//! The simulated organization's records and the small value types they are built from.
//!
//! These are plain data: who is in the organization at which level, which projects exist,
//! which access-control rows exist, which personal API keys exist, and the activity log.
//! Permission rules live in `rules.rs`; the store that changes these records lives in
//! `state.rs`; the JSON shapes PostHog sends live with the routes.

use chrono::{DateTime, Utc};
use uuid::Uuid;

/// An organization membership level (`OrganizationMembership.Level` in PostHog).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum OrgLevel {
    /// Level 1.
    Member,
    /// Level 8.
    Admin,
    /// Level 15.
    Owner,
}

impl OrgLevel {
    /// The level for PostHog's integer code, if it is one of 1, 8 or 15.
    pub fn from_code(code: u8) -> Option<Self> {
        match code {
            1 => Some(Self::Member),
            8 => Some(Self::Admin),
            15 => Some(Self::Owner),
            _ => None,
        }
    }

    /// PostHog's integer code for the level.
    pub fn code(self) -> u8 {
        match self {
            Self::Member => 1,
            Self::Admin => 8,
            Self::Owner => 15,
        }
    }

    /// The lower-case enum name PostHog prints (`Level(n).name.lower()`).
    pub fn name(self) -> &'static str {
        match self {
            Self::Member => "member",
            Self::Admin => "admin",
            Self::Owner => "owner",
        }
    }
}

/// An access level of an access-control row. Projects use `none < member < admin`,
/// every other resource uses `none < viewer < editor < manager`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AccessLevel {
    /// No access.
    None,
    /// Project member.
    Member,
    /// Project admin.
    Admin,
    /// Resource viewer.
    Viewer,
    /// Resource editor.
    Editor,
    /// Resource manager (may also change the object's access controls).
    Manager,
}

impl AccessLevel {
    /// The wire spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Member => "member",
            Self::Admin => "admin",
            Self::Viewer => "viewer",
            Self::Editor => "editor",
            Self::Manager => "manager",
        }
    }

    /// Parses the wire spelling of any level, whatever the resource.
    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "none" => Some(Self::None),
            "member" => Some(Self::Member),
            "admin" => Some(Self::Admin),
            "viewer" => Some(Self::Viewer),
            "editor" => Some(Self::Editor),
            "manager" => Some(Self::Manager),
            _ => None,
        }
    }
}

/// Levels of projects and organizations, lowest first.
pub const MEMBER_LEVELS: [AccessLevel; 3] = [AccessLevel::None, AccessLevel::Member, AccessLevel::Admin];
/// Levels of every other resource, lowest first.
pub const RESOURCE_LEVELS: [AccessLevel; 4] = [AccessLevel::None, AccessLevel::Viewer, AccessLevel::Editor, AccessLevel::Manager];

/// The resource string of project-level rows.
pub const PROJECT_RESOURCE: &str = "project";

/// Resource types that take resource-level access controls (PostHog's
/// `ACCESS_CONTROL_RESOURCES` in `products/access_control/backend/facade/user_access_control.py`).
/// Hogwarden's "project Viewer" is `member` on the project plus `viewer` on each of these.
pub const ACCESS_CONTROL_RESOURCES: &[&str] = &[
    "action",
    "customer_analytics",
    "dashboard",
    "early_access_feature",
    "endpoint",
    "experiment",
    "export",
    "external_data_source",
    "warehouse_objects",
    "feature_flag",
    "heatmap",
    "hog_flow",
    "insight",
    "llm_analytics",
    "evaluation",
    "tagger",
    "llm_skill",
    "ai_observability_clusters",
    "notebook",
    "revenue_analytics",
    "session_recording",
    "sharing_configuration",
    "survey",
    "ticket",
    "web_analytics",
    "activity_log",
    "error_tracking",
    "logs",
    "mcp_analytics",
    "metrics",
    "tracing",
    "replay_scanner",
    "toolbar",
    "llm_playground",
];

/// The public scope objects of `posthog/scopes.py` (internal ones left out). They are both the
/// valid `<object>` of a key scope and the valid `resource` of an access-control row.
pub const API_SCOPE_OBJECTS: &[&str] = &[
    "action",
    "access_control",
    "account",
    "activity_log",
    "alert",
    "annotation",
    "approvals",
    "batch_export",
    "batch_import",
    "billing",
    "cohort",
    "comment",
    "conversation",
    "customer_analytics",
    "customer_journey",
    "dashboard",
    "dashboard_template",
    "dataset",
    "early_access_feature",
    "endpoint",
    "error_tracking",
    "evaluation",
    "event_definition",
    "experiment",
    "experiment_holdout",
    "experiment_saved_metric",
    "export",
    "external_data_source",
    "feature_flag",
    "file_system",
    "group",
    "heatmap",
    "hog_flow",
    "hog_function",
    "insight",
    "integration",
    "llm_analytics",
    "ai_observability_clusters",
    "llm_playground",
    "llm_prompt",
    "llm_provider_key",
    "llm_skill",
    "logs",
    "mcp_analytics",
    "metrics",
    "notebook",
    "organization",
    "organization_member",
    "person",
    "plugin",
    "project",
    "property_definition",
    "query",
    "replay_scanner",
    "revenue_analytics",
    "session_recording",
    "session_recording_playlist",
    "sharing_configuration",
    "subscription",
    "survey",
    "tagger",
    "ticket",
    "task",
    "toolbar",
    "tracing",
    "uploaded_media",
    "user",
    "warehouse_objects",
    "warehouse_table",
    "warehouse_view",
    "web_analytics",
    "webhook",
];

/// The ordered levels that apply to `resource` (`ordered_access_levels`).
pub fn ordered_levels(resource: &str) -> &'static [AccessLevel] {
    if resource == PROJECT_RESOURCE || resource == "organization" { &MEMBER_LEVELS } else { &RESOURCE_LEVELS }
}

/// The position of `level` among `resource`'s levels, if it belongs to them.
pub fn rank(resource: &str, level: AccessLevel) -> Option<usize> {
    ordered_levels(resource).iter().position(|l| *l == level)
}

/// The level that applies when no row does (`default_access_level`).
pub fn default_level(resource: &str) -> AccessLevel {
    match resource {
        "project" => AccessLevel::Admin,
        "organization" => AccessLevel::Member,
        "activity_log" | "toolbar" => AccessLevel::Viewer,
        _ => AccessLevel::Editor,
    }
}

/// The lowest level a row may set (`minimum_access_level`).
pub fn minimum_level(resource: &str) -> AccessLevel {
    if resource == "action" { AccessLevel::Viewer } else { AccessLevel::None }
}

/// The highest level a row may set (`highest_access_level`).
pub fn highest_level(resource: &str) -> AccessLevel {
    match resource {
        "activity_log" | "toolbar" => AccessLevel::Viewer,
        _ => *ordered_levels(resource).last().unwrap_or(&AccessLevel::None),
    }
}

/// A personal API key scope: `*` or `<object>:<read|write>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// Everything a personal API key may do.
    All,
    /// Read access to one scope object.
    Read(String),
    /// Write (and so also read) access to one scope object.
    Write(String),
}

/// Why a scope string was refused.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
#[error("Invalid scope: {0}")]
pub struct InvalidScope(pub String);

impl Scope {
    /// Parses `*` or `<object>:<read|write>` where object is a public scope object.
    pub fn parse(value: &str) -> Result<Self, InvalidScope> {
        if value == "*" {
            return Ok(Self::All);
        }
        let invalid = || InvalidScope(value.to_owned());
        let (object, action) = value.split_once(':').ok_or_else(invalid)?;
        if !API_SCOPE_OBJECTS.contains(&object) {
            return Err(invalid());
        }
        match action {
            "read" => Ok(Self::Read(object.to_owned())),
            "write" => Ok(Self::Write(object.to_owned())),
            _ => Err(invalid()),
        }
    }

    /// Whether holding this scope satisfies `required`. A `:write` scope also satisfies `:read`.
    pub fn satisfies(&self, required: &RequiredScope) -> bool {
        match self {
            Self::All => true,
            Self::Write(object) => object == required.object,
            Self::Read(object) => object == required.object && !required.write,
        }
    }
}

impl std::fmt::Display for Scope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::All => f.write_str("*"),
            Self::Read(object) => write!(f, "{object}:read"),
            Self::Write(object) => write!(f, "{object}:write"),
        }
    }
}

/// The scope an endpoint requires, e.g. `organization_member:write`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequiredScope {
    /// The scope object, e.g. `organization_member`.
    pub object: &'static str,
    /// Whether the endpoint writes.
    pub write: bool,
}

impl RequiredScope {
    /// `<object>:read`.
    pub const fn read(object: &'static str) -> Self {
        Self { object, write: false }
    }

    /// `<object>:write`.
    pub const fn write(object: &'static str) -> Self {
        Self { object, write: true }
    }
}

impl std::fmt::Display for RequiredScope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let action = if self.write { "write" } else { "read" };
        write!(f, "{}:{action}", self.object)
    }
}

/// The organization the sandbox simulates.
#[derive(Debug, Clone)]
pub struct Organization {
    /// The organization uuid used in `/api/organizations/{id}/`.
    pub id: Uuid,
    /// Display name.
    pub name: String,
}

/// A PostHog user.
#[derive(Debug, Clone)]
pub struct User {
    /// Integer primary key.
    pub id: i64,
    /// The user uuid, the path key of `/members/{user_uuid}/`.
    pub uuid: Uuid,
    /// The analytics distinct id.
    pub distinct_id: String,
    /// First name.
    pub first_name: String,
    /// Last name.
    pub last_name: String,
    /// Email address, stored as given.
    pub email: String,
    /// Whether the email was verified (`null` when the user never went through verification).
    pub is_email_verified: Option<bool>,
    /// The user's self-declared role, e.g. "engineering".
    pub role_at_organization: Option<String>,
    /// Inactive users cannot authenticate and are left out of member lists.
    pub is_active: bool,
    /// Whether the user has a confirmed TOTP device or a passkey for 2FA.
    pub is_2fa_enabled: bool,
    /// Whether the user signs in through a social provider.
    pub has_social_auth: bool,
    /// The last time the user logged in, if ever.
    pub last_login: Option<DateTime<Utc>>,
}

/// A user's membership of the organization.
#[derive(Debug, Clone)]
pub struct Membership {
    /// The membership uuid: the `id` of a member object and the `organization_member` of an
    /// access-control row.
    pub id: Uuid,
    /// The member's user id.
    pub user_id: i64,
    /// The member's level.
    pub level: OrgLevel,
    /// When they joined.
    pub joined_at: DateTime<Utc>,
    /// When the membership last changed.
    pub updated_at: DateTime<Utc>,
}

/// A project (a PostHog team).
#[derive(Debug, Clone)]
pub struct Project {
    /// Integer id, used in `/api/projects/{id}/`.
    pub id: i64,
    /// Project uuid.
    pub uuid: Uuid,
    /// Display name.
    pub name: String,
    /// The public project token (`phc_...`).
    pub api_token: String,
    /// When it was created.
    pub created_at: DateTime<Utc>,
}

/// An RBAC role. The sandbox has no role endpoints; roles exist so that role-scoped
/// access-control rows behave as in PostHog.
#[derive(Debug, Clone)]
pub struct Role {
    /// Role uuid.
    pub id: Uuid,
    /// Role name.
    pub name: String,
    /// Memberships in the role.
    pub members: Vec<Uuid>,
}

/// One access-control row (`AccessControl` in PostHog).
#[derive(Debug, Clone)]
pub struct AccessRule {
    /// Row uuid (never sent by PostHog's serializer, used by the activity log).
    pub id: Uuid,
    /// The project the row belongs to.
    pub team_id: i64,
    /// `project` for project-level rows, else a resource type such as `dashboard`.
    pub resource: String,
    /// The project id for project-level rows; `None` for resource-level rows.
    pub resource_id: Option<String>,
    /// The membership the row applies to; `None` together with `role` means everyone.
    pub organization_member: Option<Uuid>,
    /// The role the row applies to.
    pub role: Option<Uuid>,
    /// The level granted.
    pub access_level: AccessLevel,
    /// The user who wrote the row.
    pub created_by: Option<i64>,
    /// When the row was written first.
    pub created_at: DateTime<Utc>,
    /// When the row was written last.
    pub updated_at: DateTime<Utc>,
}

impl AccessRule {
    /// Whether the row applies to everyone in the project (a project-wide default).
    pub fn is_default(&self) -> bool {
        self.organization_member.is_none() && self.role.is_none()
    }
}

/// How long an invitation can be accepted (`INVITE_DAYS_VALIDITY` in `posthog/constants.py`).
pub const INVITE_DAYS_VALIDITY: i64 = 3;

/// An invitation to join the organization (`OrganizationInvite`). It is not a membership:
/// the invitee becomes a member only by accepting it through PostHog's signup flow.
#[derive(Debug, Clone)]
pub struct Invite {
    /// Invite uuid, the path key of `/invites/{id}/` and of the signup link.
    pub id: Uuid,
    /// Who is invited, as given with the domain lower-cased.
    pub target_email: String,
    /// The invitee's first name, if given.
    pub first_name: String,
    /// The organization level the invitee gets on accepting.
    pub level: OrgLevel,
    /// The note sent with the invitation.
    pub message: Option<String>,
    /// Project rows written when the invite is accepted: `(project id, level)`.
    pub private_project_access: Vec<(i64, AccessLevel)>,
    /// Whether PostHog tried to email the invitation.
    pub emailing_attempt_made: bool,
    /// The inviting user, if they still exist.
    pub created_by: Option<i64>,
    /// When it was sent; validity counts from here.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
}

impl Invite {
    /// `OrganizationInvite.is_expired`: older than [`INVITE_DAYS_VALIDITY`] days at `now`.
    pub fn is_expired(&self, now: DateTime<Utc>) -> bool {
        self.created_at < now - chrono::Duration::days(INVITE_DAYS_VALIDITY)
    }
}

/// A personal API key.
#[derive(Debug, Clone)]
pub struct ApiKey {
    /// Key id.
    pub id: Uuid,
    /// Owner.
    pub user_id: i64,
    /// The secret value (`phx_...`). The sandbox keeps it in clear: it is a simulator.
    pub value: String,
    /// What the key may do.
    pub scopes: Vec<Scope>,
    /// The owner's name for it.
    pub label: String,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it was last used (PostHog updates it at most once an hour).
    pub last_used_at: Option<DateTime<Utc>>,
    /// When it was last rolled.
    pub last_rolled_at: Option<DateTime<Utc>>,
}

/// One field change inside an activity-log entry.
#[derive(Debug, Clone)]
pub struct Change {
    /// The changed model, e.g. `OrganizationMembership`.
    pub kind: String,
    /// `created`, `changed` or `deleted`.
    pub action: String,
    /// The changed field, e.g. `level`.
    pub field: Option<String>,
    /// The value before.
    pub before: serde_json::Value,
    /// The value after.
    pub after: serde_json::Value,
}

/// One activity-log entry.
#[derive(Debug, Clone)]
pub struct ActivityEntry {
    /// Entry uuid.
    pub id: Uuid,
    /// The acting user, if a user acted.
    pub user_id: Option<i64>,
    /// The project, for project-scoped entries.
    pub team_id: Option<i64>,
    /// What kind of thing changed, e.g. `OrganizationMembership`.
    pub scope: String,
    /// `created`, `updated` or `deleted`.
    pub activity: String,
    /// The id of the changed thing.
    pub item_id: String,
    /// A human name for the changed thing.
    pub name: Option<String>,
    /// The field changes.
    pub changes: Vec<Change>,
    /// Where the change came from: `api` for personal-API-key requests, `web` for the UI.
    pub client: &'static str,
    /// When it happened.
    pub created_at: DateTime<Utc>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_scope_satisfies_read_of_the_same_object_only() {
        let scope = Scope::parse("organization_member:write").unwrap();
        assert!(scope.satisfies(&RequiredScope::read("organization_member")));
        assert!(scope.satisfies(&RequiredScope::write("organization_member")));
        assert!(!scope.satisfies(&RequiredScope::read("project")));
    }

    #[test]
    fn read_scope_does_not_satisfy_write() {
        let scope = Scope::parse("access_control:read").unwrap();
        assert!(!scope.satisfies(&RequiredScope::write("access_control")));
    }

    #[test]
    fn star_scope_satisfies_everything() {
        assert!(Scope::parse("*").unwrap().satisfies(&RequiredScope::write("project")));
    }

    #[test]
    fn unknown_scope_objects_and_actions_are_rejected() {
        assert_eq!(Scope::parse("invalid"), Err(InvalidScope("invalid".into())));
        assert!(Scope::parse("project:delete").is_err());
        assert!(Scope::parse("personal_api_key:read").is_err());
    }

    #[test]
    fn resource_limits_follow_posthog() {
        assert_eq!(minimum_level("action"), AccessLevel::Viewer);
        assert_eq!(highest_level("activity_log"), AccessLevel::Viewer);
        assert_eq!(highest_level("dashboard"), AccessLevel::Manager);
        assert_eq!(highest_level("project"), AccessLevel::Admin);
        assert_eq!(default_level("project"), AccessLevel::Admin);
        assert_eq!(rank("project", AccessLevel::Viewer), None);
    }

    #[test]
    fn every_access_control_resource_is_a_scope_object() {
        for resource in ACCESS_CONTROL_RESOURCES {
            assert!(API_SCOPE_OBJECTS.contains(resource), "{resource}");
        }
    }
}

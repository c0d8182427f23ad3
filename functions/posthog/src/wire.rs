//! PostHog's JSON, field for field, as `shared/posthog-api.md` records it. These
//! types stay in this crate: the port in core speaks `Member` and `Project`.
//!
//! Reading is lenient: unknown fields are ignored and fields PostHog added late are
//! optional, so a newer PostHog does not break an older Hogwarden. Writing is exact:
//! request bodies carry only the fields PostHog's serializers expect, and `null`
//! where `null` means "revoke".

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// One page of a limit/offset list (`LimitOffsetPagination`).
#[derive(Debug, Clone, Deserialize)]
pub struct Page<T> {
    /// Total across all pages (absent from cursor-paginated lists, which we do not use).
    #[serde(default)]
    pub count: Option<u64>,
    /// Absolute URL of the next page, or `null` on the last one.
    #[serde(default)]
    pub next: Option<String>,
    #[serde(default)]
    pub previous: Option<String>,
    pub results: Vec<T>,
}

/// `GET /api/organizations/{org}/members/` item (`OrganizationMemberApi`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct OrganizationMember {
    /// The membership id: the key for access controls.
    pub id: String,
    pub user: User,
    /// 1 member, 8 administrator, 15 owner. Read as a wider integer so an unknown
    /// value is reported, not a parse failure of the whole page.
    pub level: i64,
    #[serde(default)]
    pub joined_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub updated_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub is_2fa_enabled: Option<bool>,
    #[serde(default)]
    pub has_social_auth: Option<bool>,
    #[serde(default)]
    pub last_login: Option<DateTime<Utc>>,
}

/// The `user` inside a member (`UserBasic`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct User {
    #[serde(default)]
    pub id: Option<i64>,
    /// The user's uuid: the path key for member endpoints.
    pub uuid: String,
    #[serde(default)]
    pub distinct_id: Option<String>,
    #[serde(default)]
    pub first_name: Option<String>,
    #[serde(default)]
    pub last_name: Option<String>,
    pub email: String,
}

impl User {
    /// "First Last", trimmed; empty when PostHog has neither.
    pub fn full_name(&self) -> String {
        let first = self.first_name.as_deref().unwrap_or("").trim();
        let last = self.last_name.as_deref().unwrap_or("").trim();
        format!("{first} {last}").trim().to_owned()
    }
}

/// `GET /api/organizations/{org}/invites/` item (`OrganizationInviteSerializer`). The
/// invite `id` is read but never leaves this crate: it is the key of the signup link.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct OrganizationInvite {
    pub id: String,
    /// `null` is allowed by PostHog's model, though the API requires it on create.
    #[serde(default)]
    pub target_email: Option<String>,
    /// 1 member, 8 administrator, 15 owner.
    pub level: i64,
    /// PostHog's verdict by its own clock (3 days after `created_at`).
    #[serde(default)]
    pub is_expired: Option<bool>,
    pub created_at: DateTime<Utc>,
    #[serde(default)]
    pub created_by: Option<User>,
    /// `[{"id": 12345, "level": "member"}]`; older PostHog versions used 1 and 8.
    #[serde(default)]
    pub private_project_access: Option<Vec<InviteProjectAccess>>,
}

/// One project an invitation grants on acceptance.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct InviteProjectAccess {
    pub id: i64,
    pub level: serde_json::Value,
}

/// `GET /api/projects/{id}/users_with_access/`: everyone who can see the project, with
/// the level and where it comes from, as PostHog itself resolves it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct UsersWithAccess {
    pub users: Vec<UserWithAccess>,
    #[serde(default)]
    pub total_count: Option<u64>,
}

/// One entry of `users_with_access`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct UserWithAccess {
    /// The user's uuid.
    pub user_id: String,
    /// `member` or `admin`.
    pub access_level: String,
    /// `organization_admin`, `explicit_member`, `explicit_role`, `project_admin`,
    /// `creator` or `default`.
    pub access_source: String,
    #[serde(default)]
    pub organization_membership_id: Option<String>,
}

/// `PATCH /api/organizations/{org}/members/{user_uuid}/`: `level` is the only
/// writable field.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct MemberLevelPatch {
    pub level: u8,
}

/// `GET /api/organizations/{org}/projects/` item. Only what Hogwarden uses; the
/// project's tokens are deliberately not read.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Project {
    pub id: i64,
    pub name: String,
    #[serde(default)]
    pub organization: Option<String>,
}

/// A project-level access rule's level (`ACCESS_CONTROL_LEVELS_MEMBER`, less `none`:
/// revoking is `null`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProjectAccessLevel {
    Member,
    Admin,
}

impl ProjectAccessLevel {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Member => "member",
            Self::Admin => "admin",
        }
    }
}

/// A resource-level access rule's level (`ACCESS_CONTROL_LEVELS_RESOURCE`, less
/// `none`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ResourceAccessLevel {
    Viewer,
    Editor,
    Manager,
}

impl ResourceAccessLevel {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Viewer => "viewer",
            Self::Editor => "editor",
            Self::Manager => "manager",
        }
    }
}

/// `GET /api/projects/{id}/access_controls/` and `.../resource_access_controls/`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct AccessControls {
    pub access_controls: Vec<AccessControl>,
    #[serde(default)]
    pub available_access_levels: Vec<String>,
    #[serde(default)]
    pub default_access_level: Option<String>,
    #[serde(default)]
    pub user_access_level: Option<String>,
    #[serde(default)]
    pub user_can_edit_access_levels: Option<bool>,
}

impl AccessControls {
    /// Rules that name this membership (not a role, not the project default).
    pub fn for_member<'a>(&'a self, membership_id: &'a str) -> impl Iterator<Item = &'a AccessControl> + 'a {
        self.access_controls.iter().filter(move |ac| ac.is_for_member(membership_id))
    }

    /// The rule for everyone in the project (no member, no role), if the project has
    /// one. Without it the project is open to the whole organization.
    pub fn project_default(&self) -> Option<&AccessControl> {
        self.access_controls.iter().find(|ac| ac.organization_member.is_none() && ac.role.is_none())
    }
}

/// One access rule (`AccessControlSerializer`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct AccessControl {
    /// `none`, `member`, `admin` for projects; `none`, `viewer`, `editor`, `manager`
    /// for resources. Kept as text: levels PostHog adds must not break reading.
    pub access_level: Option<String>,
    pub resource: String,
    #[serde(default)]
    pub resource_id: Option<String>,
    /// The membership id the rule is for.
    #[serde(default)]
    pub organization_member: Option<String>,
    #[serde(default)]
    pub role: Option<String>,
    #[serde(default)]
    pub created_by: Option<i64>,
    #[serde(default)]
    pub created_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub updated_at: Option<DateTime<Utc>>,
}

impl AccessControl {
    /// Whether this rule is the given membership's own. Uuids are compared without
    /// regard to case, since PostHog prints them lower-case but accepts any.
    pub fn is_for_member(&self, membership_id: &str) -> bool {
        self.role.is_none() && self.organization_member.as_deref().is_some_and(|m| m.eq_ignore_ascii_case(membership_id))
    }
}

/// `PUT /api/projects/{id}/access_controls/`. `access_level: null` deletes the rule,
/// so it is always serialized.
#[derive(Debug, Clone, Serialize)]
pub struct AccessControlPut<'a> {
    pub organization_member: &'a str,
    pub access_level: Option<ProjectAccessLevel>,
}

/// `PUT /api/projects/{id}/resource_access_controls/`: a rule for every object of one
/// resource type in the project. PostHog fills neither `resource` nor `resource_id`
/// from the URL here, and refuses a `resource_id`.
#[derive(Debug, Clone, Serialize)]
pub struct ResourceAccessControlPut<'a> {
    pub resource: &'a str,
    pub organization_member: &'a str,
    pub access_level: Option<ResourceAccessLevel>,
}

/// drf-exceptions-hog's error body. Every field is optional so that a partial or
/// foreign body still yields what it has.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ErrorBody {
    #[serde(rename = "type", default)]
    pub kind: Option<String>,
    #[serde(default)]
    pub code: Option<String>,
    #[serde(default)]
    pub detail: Option<serde_json::Value>,
    #[serde(default)]
    pub attr: Option<String>,
}

/// One entry of the activity log (`ActivityLogSerializer`), as much of it as
/// Hogwarden reads: who, when, what kind of thing, which one.
#[derive(Debug, Clone, Deserialize)]
pub struct ActivityLogEntry {
    #[serde(default)]
    pub user: Option<ActivityUser>,
    pub scope: String,
    #[serde(default)]
    pub item_id: Option<String>,
    #[serde(default)]
    pub team_id: Option<i64>,
    #[serde(default)]
    pub detail: Option<ActivityDetail>,
    pub created_at: DateTime<Utc>,
}

/// The acting user of an activity-log entry (`UserBasic`).
#[derive(Debug, Clone, Deserialize)]
pub struct ActivityUser {
    #[serde(default)]
    pub email: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ActivityDetail {
    #[serde(default)]
    pub name: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_member_as_posthog_documents_it_is_read() {
        // The example from shared/posthog-api.md §1 (OrganizationMemberApi).
        let json = r#"{
          "id": "0190c7e6-0000-7000-8000-000000000001",
          "user": {"id": 42, "uuid": "0188aaaa-0000-7000-8000-000000000001", "distinct_id": "d",
                   "first_name": "Ada", "last_name": "L", "email": "ada@example.com",
                   "is_email_verified": true, "hedgehog_config": null, "role_at_organization": "engineering"},
          "level": 8, "joined_at": "2024-05-01T10:00:00Z", "updated_at": "2024-05-01T10:00:00Z",
          "is_2fa_enabled": true, "has_social_auth": false, "last_login": null, "search_match_type": null
        }"#;
        let member: OrganizationMember = serde_json::from_str(json).unwrap();
        assert_eq!(member.level, 8);
        assert_eq!(member.user.full_name(), "Ada L");
        assert_eq!(member.is_2fa_enabled, Some(true));
    }

    #[test]
    fn a_revoke_sends_an_explicit_null() {
        let body = AccessControlPut { organization_member: "m", access_level: None };
        assert_eq!(serde_json::to_string(&body).unwrap(), r#"{"organization_member":"m","access_level":null}"#);
        let body =
            ResourceAccessControlPut { resource: "dashboard", organization_member: "m", access_level: Some(ResourceAccessLevel::Viewer) };
        assert_eq!(serde_json::to_string(&body).unwrap(), r#"{"resource":"dashboard","organization_member":"m","access_level":"viewer"}"#);
    }

    #[test]
    fn access_control_rules_are_matched_to_members_without_regard_to_case() {
        let json = r#"{"access_controls":[
            {"access_level":"admin","resource":"project","resource_id":"7","organization_member":"ABC","role":null,
             "created_by":42,"created_at":"2024-05-01T10:00:00Z","updated_at":"2024-05-01T10:00:00Z"},
            {"access_level":"none","resource":"project","resource_id":"7","organization_member":null,"role":null}
          ],
          "available_access_levels":["none","member","admin"],"default_access_level":"admin",
          "minimum_access_level":"none","maximum_access_level":"admin","user_access_level":"admin",
          "user_can_edit_access_levels":true,"inherited_resource":null,"inherited_access_level":null}"#;
        let acs: AccessControls = serde_json::from_str(json).unwrap();
        assert_eq!(acs.for_member("abc").count(), 1);
        assert_eq!(acs.project_default().and_then(|d| d.access_level.as_deref()), Some("none"));
    }
}

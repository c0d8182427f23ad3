//! The ports through which the domain reaches the world. Adapters implement them in
//! their own crates (SQLite and DynamoDB stores, the PostHog REST client, vaults).
//! Every port is a small `Send + Sync` trait so use cases can hold `Arc<dyn …>`.

use std::sync::Mutex;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};

use crate::audit::{AuditDraft, AuditEntry, AuditKind};
use crate::changeset::{ChangeItem, ChangeSet};
use crate::error::Result;
use crate::model::{AccessRequest, AccessTarget, Grant, RequestStatus};
use crate::types::{Email, GrantId, OrgLevel, ProjectId, ProjectRole, RequestId};

// ---------------------------------------------------------------- Store

/// One atomic write: request and grant records, each guarded by the version it is
/// expected to have (`None` = must not exist yet), plus the audit entries that
/// describe the change. Either all of it is written or none of it, and a guard that
/// does not hold fails the whole commit with [`crate::Error::Conflict`].
#[derive(Debug, Default, Clone)]
pub struct Commit {
    pub requests: Vec<Guarded<AccessRequest>>,
    pub grants: Vec<Guarded<Grant>>,
    pub audit: Vec<AuditDraft>,
    /// Bulk change-set headers and items (see [`crate::changeset`]).
    pub change_sets: Vec<Guarded<ChangeSet>>,
    pub change_items: Vec<Guarded<ChangeItem>>,
    /// Claims taken with the records (see [`crate::claims`]); a claim whose stored
    /// holder is not the one it replaces fails the whole commit.
    pub claims: Vec<crate::claims::Claim>,
}

/// A record to write and the version the stored one must have. The written record
/// carries `expected + 1` (or 1 when created) as its version.
#[derive(Debug, Clone)]
pub struct Guarded<T> {
    pub record: T,
    pub expected_version: Option<u64>,
}

impl<T> Guarded<T> {
    pub fn create(record: T) -> Self {
        Self { record, expected_version: None }
    }

    pub fn update(record: T, expected_version: u64) -> Self {
        Self { record, expected_version: Some(expected_version) }
    }
}

/// Filters for reading the audit log (all optional; newest first).
#[derive(Debug, Clone, Default)]
pub struct AuditQuery {
    pub subject: Option<Email>,
    pub actor: Option<Email>,
    pub kind: Option<AuditKind>,
    pub request_id: Option<RequestId>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    pub limit: usize,
}

impl AuditQuery {
    /// Whether an entry passes every filter (the limit aside).
    pub fn matches(&self, e: &AuditEntry) -> bool {
        self.matches_all_but_time(e) && self.from.is_none_or(|from| e.at >= from) && self.to.is_none_or(|to| e.at <= to)
    }

    /// Whether an entry passes the subject, actor, kind and request filters (a store
    /// that selects the time window by its keys checks only these).
    pub fn matches_all_but_time(&self, e: &AuditEntry) -> bool {
        self.subject.as_ref().is_none_or(|s| e.subject.as_ref() == Some(s))
            && self.actor.as_ref().is_none_or(|a| matches!(&e.actor, crate::types::Actor::Person(p) if p == a))
            && self.kind.is_none_or(|k| e.kind == k)
            && self.request_id.is_none_or(|r| e.request_id == Some(r))
    }
}

/// Storage, named by access pattern (DESIGN.md, "Data").
#[async_trait]
pub trait Store: Send + Sync {
    /// Writes a [`Commit`] atomically; returns the sealed audit entries.
    async fn commit(&self, commit: Commit) -> Result<Vec<AuditEntry>>;

    async fn get_request(&self, id: RequestId) -> Result<Option<AccessRequest>>;
    /// A person's requests (as requester or subject), newest first.
    async fn list_requests_for_user(&self, email: &Email, limit: usize) -> Result<Vec<AccessRequest>>;
    /// Requests in one status, oldest first (the approver inbox is `Pending`).
    async fn list_requests_by_status(&self, status: RequestStatus, limit: usize) -> Result<Vec<AccessRequest>>;

    async fn get_grant(&self, id: GrantId) -> Result<Option<Grant>>;
    async fn list_grants_for_request(&self, id: RequestId) -> Result<Vec<Grant>>;
    /// A person's grants, newest first.
    async fn list_grants_for_user(&self, email: &Email, limit: usize) -> Result<Vec<Grant>>;
    /// Active grants whose `expires_at` is at or before `now`, soonest first. Reads
    /// only what is due (an index), never the whole table.
    async fn list_grants_due(&self, now: DateTime<Utc>, limit: usize) -> Result<Vec<Grant>>;
    /// All active grants, soonest expiry first (permanent ones last).
    async fn list_active_grants(&self, limit: usize) -> Result<Vec<Grant>>;
    /// Active grants for one person at one target (to avoid clobbering overlaps).
    async fn list_active_grants_for_target(&self, email: &Email, target: AccessTarget) -> Result<Vec<Grant>>;

    /// Audit entries matching a query, newest first.
    async fn list_audit(&self, query: &AuditQuery) -> Result<Vec<AuditEntry>>;
    /// The whole chain in order, for verification, in pages from `after_seq`.
    async fn audit_chain_page(&self, after_seq: u64, limit: usize) -> Result<Vec<AuditEntry>>;

    // ---- offboarding

    /// Writes an offboarding record, guarded by the version it is expected to have
    /// (`None` = must not exist yet), together with its audit entries, atomically.
    async fn put_offboarding(&self, record: Guarded<crate::offboard::Offboarding>, audit: Vec<AuditDraft>) -> Result<Vec<AuditEntry>>;
    /// [`Store::put_offboarding`] that also takes `claim` in the same atomic write:
    /// a claim whose stored holder is not the one it replaces fails it all with
    /// [`crate::Error::Conflict`], writing neither record, claim nor audit.
    async fn put_offboarding_claimed(
        &self,
        record: Guarded<crate::offboard::Offboarding>,
        claim: crate::claims::Claim,
        audit: Vec<AuditDraft>,
    ) -> Result<Vec<AuditEntry>>;
    async fn get_offboarding(&self, id: RequestId) -> Result<Option<crate::offboard::Offboarding>>;
    /// Offboardings in one status (all when `None`), oldest first.
    async fn list_offboardings(
        &self,
        status: Option<crate::offboard::OffboardStatus>,
        limit: usize,
    ) -> Result<Vec<crate::offboard::Offboarding>>;

    // ---- bulk change sets

    /// Writes the items of a new change set (version 1 each), before its header is
    /// committed: a set may hold more items than one transaction can. Writing the same
    /// items again changes nothing; items without a header are never run.
    async fn put_change_items(&self, items: &[ChangeItem]) -> Result<()>;
    /// A change set's header, by the id of the request that holds it.
    async fn get_change_set(&self, id: RequestId) -> Result<Option<ChangeSet>>;
    /// A requester's change sets made from the same text (same digest), newest first.
    async fn find_change_sets(&self, requester: &Email, digest: &str) -> Result<Vec<ChangeSet>>;
    /// Every item of a change set, in `seq` order, read consistently.
    async fn list_change_items(&self, id: RequestId) -> Result<Vec<ChangeItem>>;
    /// The holder of a claim (see [`crate::claims`]), read consistently.
    async fn get_claim(&self, key: &str) -> Result<Option<RequestId>>;
    /// Review campaigns, their items, the ledger and drift findings (their own access
    /// patterns, in [`crate::reviews::ReviewStore`]).
    fn reviews(&self) -> &dyn crate::reviews::ReviewStore;
    /// Key consumers, guided project-token rotations and one-time claims (their own
    /// access patterns, in [`crate::consumers::KeyStore`]).
    fn keys(&self) -> &dyn crate::consumers::KeyStore;
    /// Leaked-key alert history, the writes-paused state and personal key metadata
    /// (their own access patterns, in [`crate::alerts::AlertStore`]).
    fn alerts(&self) -> &dyn crate::alerts::AlertStore;
}

// ---------------------------------------------------------------- PostHog

/// A member of the managed PostHog organization.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Member {
    /// The user's uuid (the path key for member endpoints).
    pub user_uuid: String,
    /// The membership id (the key for access controls).
    pub membership_id: String,
    pub email: Email,
    pub name: String,
    pub level: OrgLevel,
    pub joined_at: Option<DateTime<Utc>>,
    pub last_login: Option<DateTime<Utc>>,
    pub is_2fa_enabled: bool,
}

/// A member's explicit rules in one project: the project-level role, and the
/// resource-type rules (resource → level, e.g. `dashboard` → `viewer`) that make a
/// project `member` a Viewer or that a Member or Admin write must clear.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MemberRules {
    pub role: Option<ProjectRole>,
    pub resources: std::collections::BTreeMap<String, String>,
}

/// One project's explicit rules for every member, keyed by membership id in lower
/// case, read in one go (a couple of requests, whatever the number of members).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProjectRules {
    pub members: std::collections::HashMap<String, MemberRules>,
}

impl ProjectRules {
    /// The member's rules (none at all when PostHog holds no explicit rule for them).
    pub fn of(&self, membership_id: &str) -> MemberRules {
        self.members.get(&membership_id.to_ascii_lowercase()).cloned().unwrap_or_default()
    }

    pub fn set(&mut self, membership_id: &str, rules: MemberRules) {
        self.members.insert(membership_id.to_ascii_lowercase(), rules);
    }
}

/// A project of the managed organization.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Project {
    pub id: ProjectId,
    pub name: String,
}

/// How long PostHog lets an invitation be accepted (`INVITE_DAYS_VALIDITY`).
pub const INVITATION_VALIDITY_DAYS: i64 = 3;

/// An invitation to join the organization, as PostHog holds it. An invitation is not a
/// membership: the person belongs to the organization only once they accept it. It
/// deliberately carries no invite id, because the signup link built from it lets whoever
/// holds it join.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invitation {
    pub email: Email,
    /// The organization level the person gets on accepting.
    pub level: OrgLevel,
    pub sent_at: DateTime<Utc>,
    /// PostHog's own verdict (`is_expired`, by PostHog's clock).
    pub expired: bool,
    pub invited_by: Option<Email>,
    /// Projects the invitation grants on acceptance, with PostHog's level word.
    pub projects: Vec<(ProjectId, String)>,
}

impl Invitation {
    /// When the invitation stops (or stopped) being accepted.
    pub fn expires_at(&self) -> DateTime<Utc> {
        self.sent_at + chrono::Duration::days(INVITATION_VALIDITY_DAYS)
    }
}

/// Where a member's access to a project comes from, in PostHog's words (`AccessSource`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AccessSource {
    /// Organization admins and owners see every project.
    OrganizationAdmin,
    /// A rule for the member.
    ExplicitMember,
    /// A rule for an RBAC role the member holds.
    ExplicitRole,
    /// The project's default access (open to the organization).
    Default,
    /// Anything else PostHog names (`creator`, `project_admin`, or a newer source).
    Other(String),
}

impl AccessSource {
    pub fn from_posthog(source: &str) -> Self {
        match source {
            "organization_admin" => Self::OrganizationAdmin,
            "explicit_member" => Self::ExplicitMember,
            "explicit_role" => Self::ExplicitRole,
            "default" => Self::Default,
            other => Self::Other(other.to_owned()),
        }
    }
}

/// A member's effective access to a project, as PostHog itself resolves it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EffectiveAccess {
    /// PostHog's project level: `member` or `admin`.
    pub level: String,
    pub source: AccessSource,
}

/// What PostHog said of Hogwarden's own API key. Never holds the key itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyCheck {
    /// `sha256:` and the first 12 hex digits of the key's SHA-256.
    pub fingerprint: String,
    pub accepted: bool,
}

/// Why PostHog did not do what was asked. `Display` is safe to show.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PostHogError {
    /// PostHog refused the change (a 4xx other than throttling): retrying won't help.
    #[error("PostHog refused the change: {detail}")]
    Rejected { status: u16, code: String, detail: String },
    /// PostHog could not be reached or kept failing (5xx, timeouts, throttling past
    /// the retry budget): the same call may work later.
    #[error("PostHog is unavailable: {0}")]
    Unavailable(String),
    /// PostHog rejected Hogwarden's own key; writes pause until a valid key is stored.
    #[error("PostHog rejected Hogwarden's API key")]
    Unauthorized,
    /// The write returned success but reading it back showed something else.
    #[error("PostHog did not confirm the change: expected {expected}, found {found}")]
    NotConfirmed { expected: String, found: String },
    /// Hogwarden paused its PostHog writes (its own key leaked or was rejected): nothing
    /// was sent; the work waits until an admin stores a new key (see [`crate::alerts`]).
    #[error("PostHog writes are paused: {0}")]
    Paused(String),
}

impl PostHogError {
    /// Whether trying again later may succeed.
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::Unavailable(_) | Self::Paused(_))
    }
}

/// PostHog as the domain sees it: one organization, people by email, projects by id.
/// Every write returns what PostHog reports after the write (read-back).
#[async_trait]
pub trait PostHog: Send + Sync {
    async fn find_member(&self, email: &Email) -> Result<Option<Member>, PostHogError>;
    async fn list_members(&self) -> Result<Vec<Member>, PostHogError>;
    async fn list_projects(&self) -> Result<Vec<Project>, PostHogError>;
    /// Sets the organization level and returns the level read back afterwards.
    async fn set_org_level(&self, member: &Member, level: OrgLevel) -> Result<OrgLevel, PostHogError>;
    /// The member's explicit role in a project (`None` = no explicit access).
    async fn project_role(&self, member: &Member, project: ProjectId) -> Result<Option<ProjectRole>, PostHogError>;
    /// Every explicit project role in one project, keyed by membership id (for
    /// overviews and snapshots: a few calls per project, not one per member).
    async fn project_roles(&self, project: ProjectId) -> Result<Vec<(String, ProjectRole)>, PostHogError>;
    /// Whether everyone in the organization can see the project through its default
    /// access (then an explicit role cannot take access away).
    async fn project_open_to_org(&self, project: ProjectId) -> Result<bool, PostHogError>;
    /// The member's effective access to the project as PostHog resolves it (roles,
    /// defaults and explicit `none` rules included); `None` = PostHog hides it from them.
    async fn effective_access(&self, member: &Member, project: ProjectId) -> Result<Option<EffectiveAccess>, PostHogError>;
    /// The invitations PostHog holds for this email (pending and expired), newest first.
    async fn invitations_for(&self, email: &Email) -> Result<Vec<Invitation>, PostHogError>;
    /// Asks PostHog whether it still accepts Hogwarden's own API key (one cheap read).
    async fn check_key(&self) -> Result<KeyCheck, PostHogError>;
    /// Sets (or with `None` removes) the member's project role; returns the read-back.
    async fn set_project_role(
        &self,
        member: &Member,
        project: ProjectId,
        role: Option<ProjectRole>,
    ) -> Result<Option<ProjectRole>, PostHogError>;

    /// Every member's explicit rules in one project, for work over many members.
    async fn project_rules(&self, project: ProjectId) -> Result<ProjectRules, PostHogError> {
        let roles = self.project_roles(project).await?;
        let mut rules = ProjectRules::default();
        for (membership_id, role) in roles {
            rules.set(&membership_id, MemberRules { role: Some(role), resources: Default::default() });
        }
        Ok(rules)
    }
    /// Sets the member's project role starting from `known`, the member's rules as just
    /// read with [`PostHog::project_rules`], without reading them again: each write is
    /// confirmed by PostHog's answer to it (the stored rule), so a change costs one
    /// request when nothing is left to clear. Returns the rules PostHog confirmed, or
    /// [`PostHogError::NotConfirmed`]. For work over many members; a single change
    /// uses [`PostHog::set_project_role`], which reads before and after.
    async fn write_project_role(
        &self,
        member: &Member,
        project: ProjectId,
        role: Option<ProjectRole>,
        known: &MemberRules,
    ) -> Result<MemberRules, PostHogError> {
        let _ = known;
        let role = self.set_project_role(member, project, role).await?;
        Ok(MemberRules { role, resources: Default::default() })
    }

    // ---- offboarding: objects by creator, per-object access, leaving the organization

    /// The live dashboards, insights, feature flags and notebooks the member created in
    /// the project (filtered by creator where PostHog can, by `created_by` otherwise).
    async fn objects_created_by(&self, member: &Member, project: ProjectId) -> Result<Vec<OwnedObject>, PostHogError>;
    /// The member's explicit access level on one object (`viewer`, `editor`, `manager`).
    async fn object_access(&self, object: &OwnedObject, member: &Member) -> Result<Option<String>, PostHogError>;
    /// Sets the member's access level on one object; returns the level read back.
    async fn set_object_access(&self, object: &OwnedObject, member: &Member, level: &str) -> Result<Option<String>, PostHogError>;
    /// Removes the member from the organization; returns whether PostHog still lists
    /// them afterwards (the read-back: `false` = gone).
    async fn remove_member(&self, member: &Member) -> Result<bool, PostHogError>;
    /// Changes to memberships and access rules since `since`, from PostHog's activity
    /// log, oldest first. A PostHog without the activity log (a plan without audit
    /// logs) answers an empty list: who and when are then unknown.
    async fn access_activity(&self, since: DateTime<Utc>) -> Result<Vec<crate::reviews::ActivityRecord>, PostHogError> {
        let _ = since;
        Ok(Vec::new())
    }
}

/// Told when PostHog keeps rejecting Hogwarden's own key: a 401 that the vault's key
/// does not fix. The PostHog client calls it from its one send path, for reads and
/// writes alike, so the first call that meets the rejection pauses writes.
#[async_trait]
pub trait KeyRejections: Send + Sync {
    /// Records the rejection; returns the pause's message when writes are now paused.
    async fn key_rejected(&self, fingerprint: &str) -> Option<String>;
}

// ---------------------------------------------------------------- Vault

/// The version stages a secret moves through during rotation (Secrets Manager's).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Stage {
    Pending,
    Current,
    Previous,
}

/// Where PostHog keys live. Values are [`SecretString`]s and never leave it in
/// logs or responses.
#[async_trait]
pub trait Vault: Send + Sync {
    async fn get(&self, name: &str, stage: Stage) -> Result<Option<SecretString>>;
    /// Stores a value as the pending version `version_id`; the same id twice is a no-op.
    async fn stage_pending(&self, name: &str, version_id: &str, value: SecretString) -> Result<()>;
    /// Makes the pending version `version_id` current (the old current becomes previous).
    async fn promote(&self, name: &str, version_id: &str) -> Result<()>;
    /// One version by id, with the stages it carries (`None` when there is no such
    /// version). Rotation steps use it to tell a retried step from a new one.
    async fn version(&self, name: &str, version_id: &str) -> Result<Option<(SecretString, Vec<Stage>)>>;
}

// ---------------------------------------------------------------- Clock

pub trait Clock: Send + Sync {
    fn now(&self) -> DateTime<Utc>;
}

/// The real clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A clock that tests (and demos) move by hand.
#[derive(Debug)]
pub struct ManualClock(Mutex<DateTime<Utc>>);

impl ManualClock {
    pub fn new(at: DateTime<Utc>) -> Self {
        Self(Mutex::new(at))
    }

    pub fn advance(&self, by: chrono::Duration) {
        let mut t = self.0.lock().expect("clock lock");
        *t += by;
    }

    pub fn set(&self, at: DateTime<Utc>) {
        *self.0.lock().expect("clock lock") = at;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().expect("clock lock")
    }
}

// ---------------------------------------------------------------- Notifier

/// Something a person should know. `link` is a deep link into Hogwarden, never an
/// action that works without signing in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notification {
    pub to: Email,
    pub subject: String,
    pub body: String,
    pub link: Option<String>,
}

#[async_trait]
pub trait Notifier: Send + Sync {
    /// Delivers a notification. Failing to notify never undoes a change; callers log it.
    async fn notify(&self, notification: Notification) -> Result<()>;
}

// ---------------------------------------------------------------- Objects (offboarding)

/// The object types a person creates in a project and offboarding hands over.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ObjectKind {
    Dashboard,
    Insight,
    FeatureFlag,
    Notebook,
}

impl ObjectKind {
    pub const ALL: [Self; 4] = [Self::Dashboard, Self::Insight, Self::FeatureFlag, Self::Notebook];

    /// PostHog's access-control resource name (also its scope object).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Dashboard => "dashboard",
            Self::Insight => "insight",
            Self::FeatureFlag => "feature_flag",
            Self::Notebook => "notebook",
        }
    }

    /// For people: "dashboard", "feature flag".
    pub fn label(self) -> &'static str {
        match self {
            Self::Dashboard => "dashboard",
            Self::Insight => "insight",
            Self::FeatureFlag => "feature flag",
            Self::Notebook => "notebook",
        }
    }
}

/// Something a member created (PostHog's read-only `created_by`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct OwnedObject {
    pub kind: ObjectKind,
    pub project: ProjectId,
    /// The object's path key in PostHog (an id, or a notebook's short id).
    pub key: String,
    pub name: String,
    /// An insight that was never saved: a private draft nobody else finds.
    #[serde(default)]
    pub private: bool,
}

impl OwnedObject {
    pub fn describe(&self) -> String {
        format!("{} '{}' ({} in project {})", self.kind.label(), self.name, self.key, self.project)
    }
}

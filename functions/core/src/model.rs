//! The records Hogwarden keeps: access requests, their changes, and grants (a change
//! that was applied in PostHog, with the baseline needed to revert it).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::types::{Email, GrantDuration, GrantId, Justification, OrgLevel, OrgRole, ProjectId, ProjectRole, RequestId, Ticket};

/// One change a request asks for. A request holds one or more.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum AccessChange {
    /// Set the person's organization role (Member or Admin; never Owner).
    OrgRole { role: OrgRole },
    /// Set the person's role in one project (adds them to it if they had none).
    ProjectRole { project: ProjectId, role: ProjectRole },
    /// Take away the person's explicit role in one project. They keep their
    /// organization membership and their other projects. Never temporary.
    RemoveFromProject { project: ProjectId },
}

impl AccessChange {
    pub fn target(&self) -> AccessTarget {
        match self {
            Self::OrgRole { .. } => AccessTarget::Org,
            Self::ProjectRole { project, .. } | Self::RemoveFromProject { project } => AccessTarget::Project(*project),
        }
    }

    /// The access this change leaves in place.
    pub fn desired(&self) -> AccessLevel {
        match self {
            Self::OrgRole { role } => AccessLevel::Org(role.level()),
            Self::ProjectRole { role, .. } => AccessLevel::Project(Some(*role)),
            Self::RemoveFromProject { .. } => AccessLevel::Project(None),
        }
    }

    /// The project a change is about, if any.
    pub fn project(&self) -> Option<ProjectId> {
        match self {
            Self::OrgRole { .. } => None,
            Self::ProjectRole { project, .. } | Self::RemoveFromProject { project } => Some(*project),
        }
    }

    /// Whether this change makes someone an admin of something.
    pub fn grants_admin(&self) -> bool {
        matches!(self, Self::OrgRole { role: OrgRole::Admin } | Self::ProjectRole { role: ProjectRole::Admin, .. })
    }

    pub fn describe(&self) -> String {
        match self {
            Self::OrgRole { role } => format!("organization role {}", role.as_str()),
            Self::ProjectRole { project, role } => format!("project {project} role {}", role.as_str()),
            Self::RemoveFromProject { project } => format!("removal from project {project}"),
        }
    }
}

/// Where a change lands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(tag = "kind", content = "project", rename_all = "snake_case")]
pub enum AccessTarget {
    Org,
    Project(ProjectId),
}

/// A person's access at one target, as PostHog reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "level", rename_all = "snake_case")]
pub enum AccessLevel {
    Org(OrgLevel),
    /// `None` = no explicit access to the project.
    Project(Option<ProjectRole>),
}

impl AccessLevel {
    /// A rank for comparing access at the same target (higher is more access).
    pub fn rank(&self) -> u8 {
        match self {
            Self::Org(l) => l.to_posthog(),
            Self::Project(None) => 0,
            Self::Project(Some(ProjectRole::Viewer)) => 1,
            Self::Project(Some(ProjectRole::Member)) => 2,
            Self::Project(Some(ProjectRole::Admin)) => 3,
        }
    }

    pub fn describe(&self) -> &'static str {
        match self {
            Self::Org(l) => l.as_str(),
            Self::Project(None) => "no access",
            Self::Project(Some(r)) => r.as_str(),
        }
    }
}

/// Where a request is in its lifecycle:
/// pending → approved | denied | expired → applied | failed → reverted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RequestStatus {
    Pending,
    Approved,
    Denied,
    Expired,
    Applied,
    Failed,
    Reverted,
}

impl RequestStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Approved => "approved",
            Self::Denied => "denied",
            Self::Expired => "expired",
            Self::Applied => "applied",
            Self::Failed => "failed",
            Self::Reverted => "reverted",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        [Self::Pending, Self::Approved, Self::Denied, Self::Expired, Self::Applied, Self::Failed, Self::Reverted]
            .into_iter()
            .find(|s| s.as_str() == raw)
    }

    /// Whether a request in this status can never change again.
    pub fn is_final(self) -> bool {
        matches!(self, Self::Denied | Self::Expired | Self::Failed | Self::Reverted)
    }
}

/// A decision recorded on a request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Decision {
    pub by: Email,
    pub at: DateTime<Utc>,
    pub reason: Option<String>,
}

/// Someone asking for access for themselves (or for someone else, as a manager).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessRequest {
    pub id: RequestId,
    /// Who asked.
    pub requester: Email,
    /// Whose access changes.
    pub subject: Email,
    pub changes: Vec<AccessChange>,
    /// `None` = permanent (unless `ends_at`); otherwise counted from when the change
    /// is applied.
    pub duration: Option<GrantDuration>,
    /// A fixed end date (contractor access) instead of a duration.
    #[serde(default)]
    pub ends_at: Option<DateTime<Utc>>,
    /// Set when this request extends an active temporary grant to `ends_at`.
    #[serde(default)]
    pub extends: Option<GrantId>,
    /// Whether the approvers were reminded that this request waits for them.
    #[serde(default)]
    pub approvers_reminded: bool,
    /// When the person whose access changed was told (the notifier accepted it).
    #[serde(default)]
    pub informed_at: Option<DateTime<Utc>>,
    pub justification: Justification,
    pub ticket: Option<Ticket>,
    pub status: RequestStatus,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// An unanswered request expires at this time.
    pub expires_at: DateTime<Utc>,
    pub approvals_required: u8,
    pub approvals: Vec<Decision>,
    pub denial: Option<Decision>,
    /// The access before the change, read from PostHog when the request was approved,
    /// one per change, so a retried apply and the later revert restore exactly it.
    pub baselines: Vec<AccessLevel>,
    /// Why applying failed, in words for people (never an internal error).
    pub failure: Option<String>,
    /// Optimistic-concurrency version; every write is conditional on it.
    pub version: u64,
}

impl AccessRequest {
    /// A new request waiting for `approvals_required` approvals, made `now` and expiring
    /// after `pending_ttl_minutes`, with no changes yet: callers set them (and a
    /// duration, an end or a ticket) with struct update syntax.
    pub fn pending(
        id: RequestId,
        requester: Email,
        subject: Email,
        justification: Justification,
        approvals_required: u8,
        now: DateTime<Utc>,
        pending_ttl_minutes: i64,
    ) -> Self {
        Self {
            id,
            requester,
            subject,
            changes: Vec::new(),
            duration: None,
            ends_at: None,
            extends: None,
            approvers_reminded: false,
            informed_at: None,
            justification,
            ticket: None,
            status: RequestStatus::Pending,
            created_at: now,
            updated_at: now,
            expires_at: now + chrono::Duration::minutes(pending_ttl_minutes),
            approvals_required,
            approvals: Vec::new(),
            denial: None,
            baselines: Vec::new(),
            failure: None,
            version: 1,
        }
    }

    pub fn is_temporary(&self) -> bool {
        self.duration.is_some() || self.ends_at.is_some()
    }

    /// When the access ends if it is applied at `applied_at`.
    pub fn expiry_if_applied_at(&self, applied_at: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.ends_at.or_else(|| self.duration.map(|d| applied_at + d.as_chrono()))
    }
}

/// The state of one applied change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GrantStatus {
    /// In effect in PostHog (a temporary one is reverted at `expires_at`).
    Active,
    /// Reverted to the baseline (on time or early).
    Reverted,
    /// Someone changed the access in PostHog after the grant; Hogwarden did not
    /// overwrite it and a person must look.
    Conflict,
}

impl GrantStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Reverted => "reverted",
            Self::Conflict => "conflict",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        [Self::Active, Self::Reverted, Self::Conflict].into_iter().find(|s| s.as_str() == raw)
    }
}

/// One change applied in PostHog.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Grant {
    pub id: GrantId,
    pub request_id: RequestId,
    pub subject: Email,
    pub change: AccessChange,
    pub baseline: AccessLevel,
    /// What PostHog reported after the write (the read-back).
    pub confirmed: AccessLevel,
    pub status: GrantStatus,
    pub applied_at: DateTime<Utc>,
    /// `None` for a permanent change.
    pub expires_at: Option<DateTime<Utc>>,
    pub ended_at: Option<DateTime<Utc>>,
    /// How many revert attempts failed (PostHog unavailable); the sweep keeps trying.
    pub revert_failures: u32,
    pub last_error: Option<String>,
    /// While a revert is under way, until when it holds the grant. Another sweep
    /// skips a claimed grant; a crashed revert's claim lapses and the grant is retried.
    #[serde(default)]
    pub revert_claimed_until: Option<DateTime<Utc>>,
    /// The reminders already sent, as days before `expires_at` (e.g. 7 and 1).
    #[serde(default)]
    pub reminded_days: Vec<u32>,
    /// Every extension: the guide's access-log entry (original expiration, extended
    /// to, reason, approved by).
    #[serde(default)]
    pub extensions: Vec<Extension>,
    pub version: u64,
}

/// One extension of a temporary grant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Extension {
    pub request_id: RequestId,
    pub original_expiration: DateTime<Utc>,
    pub extended_to: DateTime<Utc>,
    pub reason: String,
    pub approved_by: Vec<Email>,
    pub at: DateTime<Utc>,
}

impl Grant {
    pub fn target(&self) -> AccessTarget {
        self.change.target()
    }

    pub fn is_due(&self, now: DateTime<Utc>) -> bool {
        self.status == GrantStatus::Active && self.expires_at.is_some_and(|t| t <= now)
    }
}

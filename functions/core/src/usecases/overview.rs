//! Who has what, as PostHog reports it now: the admins' access overview, the
//! scheduled snapshot that records it in the audit log, and the check that PostHog
//! still accepts Hogwarden's own key.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde_json::json;

use crate::audit::AuditKind;
use crate::error::{Error, Result};
use crate::model::{AccessChange, Grant, GrantStatus};
use crate::ports::{KeyCheck, Member, Project};
use crate::types::{Actor, OrgLevel, Principal, ProjectId, ProjectRole, Role};

use super::Hogwarden;

/// Everyone's access at one moment, with the temporary grants Hogwarden holds.
#[derive(Debug, Clone)]
pub struct AccessOverview {
    pub generated_at: DateTime<Utc>,
    pub projects: Vec<Project>,
    /// Sorted by email.
    pub members: Vec<MemberAccess>,
}

/// One member's access.
#[derive(Debug, Clone)]
pub struct MemberAccess {
    pub member: Member,
    /// The active temporary grant behind the organization level, if any.
    pub org_grant: Option<Grant>,
    /// Explicit project roles, in project order.
    pub projects: Vec<ProjectAccess>,
}

/// One explicit project role.
#[derive(Debug, Clone)]
pub struct ProjectAccess {
    pub project: ProjectId,
    pub role: ProjectRole,
    /// The active temporary grant behind this role, if any.
    pub grant: Option<Grant>,
}

/// The counts an access snapshot records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SnapshotCounts {
    pub members: usize,
    pub owners: usize,
    pub admins: usize,
    pub org_members: usize,
    pub projects: usize,
    pub project_roles: usize,
    pub temporary_grants: usize,
}

impl AccessOverview {
    pub fn counts(&self) -> SnapshotCounts {
        let level = |l: OrgLevel| self.members.iter().filter(|m| m.member.level == l).count();
        SnapshotCounts {
            members: self.members.len(),
            owners: level(OrgLevel::Owner),
            admins: level(OrgLevel::Admin),
            org_members: level(OrgLevel::Member),
            projects: self.projects.len(),
            project_roles: self.members.iter().map(|m| m.projects.len()).sum(),
            temporary_grants: self
                .members
                .iter()
                .map(|m| usize::from(m.org_grant.is_some()) + m.projects.iter().filter(|p| p.grant.is_some()).count())
                .sum(),
        }
    }
}

/// At most this many active grants are matched to the overview.
const MAX_GRANTS: usize = 5000;

impl Hogwarden {
    /// The admins' view of who has what (members × projects).
    pub async fn access_overview(&self, who: &Principal) -> Result<AccessOverview> {
        if !who.has(Role::Admin) {
            return Err(Error::Forbidden("You need the admin role to see everyone's access.".into()));
        }
        self.read_access().await
    }

    /// Reads PostHog's access and records its counts in the audit log: the scheduled
    /// quarterly entry point, and the evidence that a review starts from.
    pub async fn access_snapshot(&self, actor: Actor) -> Result<(AccessOverview, SnapshotCounts)> {
        let overview = self.read_access().await?;
        let counts = overview.counts();
        let details = json!({
            "read_at": overview.generated_at,
            "members": counts.members,
            "owners": counts.owners,
            "admins": counts.admins,
            "org_members": counts.org_members,
            "projects": counts.projects,
            "project_roles": counts.project_roles,
            "temporary_grants": counts.temporary_grants,
        });
        self.record(actor, AuditKind::AccessSnapshot, details).await?;
        Ok((overview, counts))
    }

    /// Hogwarden's own key as PostHog sees it (admins).
    pub async fn service_key_status(&self, who: &Principal) -> Result<KeyCheck> {
        if !who.has(Role::Admin) {
            return Err(Error::Forbidden("You need the admin role to see Hogwarden's keys.".into()));
        }
        self.checked_key().await
    }

    /// Asks PostHog about Hogwarden's key; a rejected key pauses writes.
    async fn checked_key(&self) -> Result<KeyCheck> {
        let check = match self.posthog.check_key().await {
            Err(crate::ports::PostHogError::Unauthorized) => return Err(Error::Upstream(super::writes::key_rejected(self, None).await)),
            other => other?,
        };
        if !check.accepted {
            super::writes::key_rejected(self, Some(check.fingerprint.clone())).await;
        }
        Ok(check)
    }

    /// The scheduled key check: when PostHog rejects Hogwarden's key, the audit log
    /// records it and the admins are told to store a new one.
    pub async fn check_service_key(&self) -> Result<KeyCheck> {
        let check = self.checked_key().await?;
        if !check.accepted {
            self.record(Actor::System("key-check".into()), AuditKind::ServiceKeyRejected, json!({ "fingerprint": check.fingerprint }))
                .await?;
            for contact in &self.policy.security_contacts {
                let body = format!(
                    "PostHog answered 401 to Hogwarden's key {}. Changes to PostHog fail until an admin stores a new personal API key.",
                    check.fingerprint
                );
                let link = Some(self.page_link("keys"));
                self.tell(contact, "PostHog rejects Hogwarden's API key".into(), body, link).await;
            }
        }
        Ok(check)
    }

    pub(super) async fn read_access(&self) -> Result<AccessOverview> {
        let generated_at = self.clock.now();
        let mut members = self.posthog.list_members().await?;
        members.sort_by(|a, b| a.email.as_str().cmp(b.email.as_str()));
        let mut projects = self.posthog.list_projects().await?;
        projects.sort_by_key(|p| p.id);
        let index: HashMap<String, usize> = members.iter().enumerate().map(|(i, m)| (m.membership_id.to_ascii_lowercase(), i)).collect();
        let mut roles: Vec<Vec<ProjectAccess>> = vec![Vec::new(); members.len()];
        for project in &projects {
            for (membership_id, role) in self.posthog.project_roles(project.id).await? {
                if let Some(&i) = index.get(&membership_id.to_ascii_lowercase()) {
                    roles[i].push(ProjectAccess { project: project.id, role, grant: None });
                }
            }
        }
        let grants = self.store.list_active_grants(MAX_GRANTS).await?;
        let temporary = |email: &crate::types::Email, change: &dyn Fn(&AccessChange) -> bool| {
            grants
                .iter()
                .filter(|g| g.status == GrantStatus::Active && g.expires_at.is_some() && &g.subject == email && change(&g.change))
                .max_by_key(|g| g.expires_at)
                .cloned()
        };
        let members = members
            .into_iter()
            .zip(roles)
            .map(|(member, mut projects)| {
                let org_grant = temporary(&member.email, &|c| matches!(c, AccessChange::OrgRole { .. }));
                for access in &mut projects {
                    let id = access.project;
                    access.grant = temporary(&member.email, &|c| matches!(c, AccessChange::ProjectRole { project, .. } if *project == id));
                }
                MemberAccess { member, org_grant, projects }
            })
            .collect();
        Ok(AccessOverview { generated_at, projects, members })
    }
}

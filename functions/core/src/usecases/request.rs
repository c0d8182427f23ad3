//! Asking for access: validate against policy and PostHog, then record the request
//! (auto-approving it when policy needs no approver).

use crate::error::{Error, Result};
use crate::model::{AccessChange, AccessRequest};
use crate::ports::{Commit, Guarded, Member};
use chrono::{DateTime, Utc};

use crate::types::{Actor, Email, GrantDuration, Justification, Principal, ProjectId, RequestId, Role, Ticket};

use super::Hogwarden;
use crate::audit::AuditKind;

/// A request as parsed at the edge.
#[derive(Debug, Clone)]
pub struct NewRequest {
    /// Whose access changes; `None` = the caller's own.
    pub subject: Option<Email>,
    pub changes: Vec<AccessChange>,
    pub duration: Option<GrantDuration>,
    /// A fixed end date instead of a duration (contractor access).
    pub ends_at: Option<DateTime<Utc>>,
    pub justification: Justification,
    pub ticket: Option<Ticket>,
}

impl Hogwarden {
    #[tracing::instrument(skip_all, fields(requester = %who.email))]
    pub async fn request_access(&self, who: &Principal, new: NewRequest) -> Result<AccessRequest> {
        if !who.has(Role::Requester) {
            return Err(Error::Forbidden("You need the requester role to ask for access.".into()));
        }
        let subject = new.subject.clone().unwrap_or_else(|| who.email.clone());
        self.check_changes(&new)?;

        // The person must be in the organization and every project must exist.
        let Some(member) = self.posthog.find_member(&subject).await? else {
            return Err(Error::NotFound(format!("{subject} as a member of the PostHog organization (invite them first)")));
        };
        if member.level == crate::types::OrgLevel::Owner {
            return Err(Error::PolicyViolation(format!(
                "{subject} is an owner of the PostHog organization; Hogwarden never changes an owner's access (only another owner can, in PostHog)."
            )));
        }
        let wanted_projects: Vec<_> = new.changes.iter().filter_map(AccessChange::project).collect();
        if !wanted_projects.is_empty() {
            let projects = self.posthog.list_projects().await?;
            if let Some(missing) = wanted_projects.iter().find(|p| !projects.iter().any(|x| x.id == **p)) {
                return Err(Error::NotFound(format!("project {missing}")));
            }
            for change in &new.changes {
                if let AccessChange::RemoveFromProject { project } = change {
                    let name = projects
                        .iter()
                        .find(|p| p.id == *project)
                        .map_or_else(|| project.to_string(), |p| format!("{} ({project})", p.name));
                    self.check_removal(&member, *project, &name).await?;
                }
            }
        }

        let now = self.clock.now();
        let approvals_required = self.policy.approvals_needed_by(&who.email, &subject, &new.changes);
        let request = AccessRequest {
            changes: new.changes,
            duration: new.duration,
            ends_at: new.ends_at,
            ticket: new.ticket,
            ..AccessRequest::pending(
                RequestId::new(),
                who.email.clone(),
                subject.clone(),
                new.justification,
                approvals_required,
                now,
                self.policy.pending_ttl_minutes,
            )
        };
        let details = serde_json::json!({
            "changes": request.changes,
            "duration_minutes": request.duration.map(|d| d.minutes()),
            "ends_at": request.ends_at,
            "justification": request.justification,
            "ticket": request.ticket,
            "approvals_required": approvals_required,
        });
        let audit = self.draft(who.actor(), AuditKind::Requested, &subject, request.id, None, details);
        self.store.commit(Commit { requests: vec![Guarded::create(request.clone())], audit: vec![audit], ..Commit::default() }).await?;
        tracing::info!(request_id = %request.id, approvals_required, "access requested");
        if approvals_required > 0 {
            self.tell_approvers(&request, "An access request waits for your approval").await;
        }

        if approvals_required == 0 {
            // Policy needs no approver: Hogwarden approves on policy's behalf.
            return self.approve_as(Actor::System("policy".into()), request, None).await;
        }
        Ok(request)
    }

    fn check_changes(&self, new: &NewRequest) -> Result<()> {
        if new.changes.is_empty() {
            return Err(Error::PolicyViolation("A request needs at least one change.".into()));
        }
        if new.changes.len() > self.policy.max_changes_per_request {
            return Err(Error::PolicyViolation(format!("A request may hold at most {} changes.", self.policy.max_changes_per_request)));
        }
        for (i, c) in new.changes.iter().enumerate() {
            if new.changes[..i].iter().any(|o| o.target() == c.target()) {
                return Err(Error::PolicyViolation(format!(
                    "The request changes the same access twice ({}); ask for one role per target.",
                    c.describe()
                )));
            }
        }
        let temporary = new.duration.is_some() || new.ends_at.is_some();
        if new.duration.is_some() && new.ends_at.is_some() {
            return Err(Error::PolicyViolation("Give either a duration or an end date, not both.".into()));
        }
        if let Some(end) = new.ends_at {
            let now = self.clock.now();
            if end <= now {
                return Err(Error::PolicyViolation(format!("The end date {} is in the past.", end.format("%Y-%m-%d %H:%M UTC"))));
            }
            let max = self.policy.max_duration_for(&new.changes).expect("changes are not empty");
            if end - now > max.as_chrono() {
                return Err(Error::PolicyViolation(format!(
                    "Access to {} may last at most {max}; the end date {} is further away.",
                    worst(&new.changes),
                    end.format("%Y-%m-%d")
                )));
            }
        }
        if temporary && new.changes.iter().any(|c| matches!(c, AccessChange::RemoveFromProject { .. })) {
            return Err(Error::PolicyViolation(
                "Removal from a project is permanent: send it without a duration, or ask for a lower role for a while instead.".into(),
            ));
        }
        if let Some(d) = new.duration {
            let max = self.policy.max_duration_for(&new.changes).expect("changes are not empty");
            if d > max {
                return Err(Error::PolicyViolation(format!(
                    "Temporary access to {} may last at most {max}; you asked for {d}.",
                    worst(&new.changes)
                )));
            }
        }
        Ok(())
    }
}

impl Hogwarden {
    /// A removal must be able to take effect: the person has an explicit role there,
    /// and the project is not open to the whole organization.
    async fn check_removal(&self, member: &Member, project: ProjectId, name: &str) -> Result<()> {
        if self.posthog.project_role(member, project).await?.is_none() {
            return Err(Error::PolicyViolation(format!(
                "{} has no explicit access to project {name}: there is nothing to remove.",
                member.email
            )));
        }
        if self.posthog.project_open_to_org(project).await? {
            return Err(Error::PolicyViolation(format!(
                "Project {name} is open to everyone in the organization, so removing {} cannot take effect: they would still see it \
                 through the project's default access. Restrict the project first (in PostHog: project settings, Access control, \
                 default access 'No access'), then ask again.",
                member.email
            )));
        }
        Ok(())
    }
}

/// Names the change with the tightest cap, for the error message.
fn worst(changes: &[AccessChange]) -> String {
    changes.iter().find(|c| c.grants_admin()).unwrap_or(&changes[0]).describe()
}

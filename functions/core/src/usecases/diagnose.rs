//! Troubleshooting "why can't this person see this project?": read-only checks against
//! PostHog, in the order an admin would make them, and one verdict that names the cause
//! and what to do next. Nothing is written to PostHog or to the audit log.

use chrono::{DateTime, Utc};

use crate::error::{Error, Result};
use crate::ports::{AccessSource, Invitation, Member, Project};
use crate::types::{Email, OrgLevel, Principal, ProjectId, ProjectRole, Role};

use super::Hogwarden;

/// Which check a [`Check`] reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CheckKind {
    /// Is the person a member of the PostHog organization?
    Membership,
    /// If not, is there an invitation, and is it still valid?
    Invitation,
    /// Does the project exist in the organization?
    Project,
    /// What access does the member have to the project, and where does it come from?
    ProjectAccess,
}

impl CheckKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Membership => "membership",
            Self::Invitation => "invitation",
            Self::Project => "project",
            Self::ProjectAccess => "project_access",
        }
    }
}

/// One check: whether it stands out of the way (`ok`) and what was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    pub kind: CheckKind,
    pub ok: bool,
    pub detail: String,
}

/// The cause, as one of the answers the diagnostic can give.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Not a member and never invited (or the invitation was cancelled).
    NotInvited,
    /// Not a member yet: an invitation waits to be accepted.
    InvitationPending { sent_at: DateTime<Utc>, expires_at: DateTime<Utc> },
    /// Not a member: the invitation ran out before it was accepted.
    InvitationExpired { sent_at: DateTime<Utc>, expired_at: DateTime<Utc> },
    /// No project with that id in the organization (deleted, or a wrong id).
    ProjectNotFound,
    /// PostHog hides the project from the member: it is restricted and they have no
    /// project role there, or (`explicitly_none`) a rule sets their access to none.
    NoProjectAccess { explicitly_none: bool },
    /// The member has an explicit project role.
    ExplicitRole { role: ProjectRole },
    /// Access comes through an RBAC role the member holds, at PostHog's `level`.
    RbacRole { level: String },
    /// No explicit role, but the project is open to everyone in the organization.
    ProjectDefault,
    /// Organization admins and owners see every project.
    OrganizationAdmin { level: OrgLevel },
}

impl Verdict {
    /// A stable code for the wire.
    pub fn code(&self) -> &'static str {
        match self {
            Self::NotInvited => "not_invited",
            Self::InvitationPending { .. } => "invitation_pending",
            Self::InvitationExpired { .. } => "invitation_expired",
            Self::ProjectNotFound => "project_not_found",
            Self::NoProjectAccess { .. } => "no_project_access",
            Self::ExplicitRole { .. } => "explicit_role",
            Self::RbacRole { .. } => "rbac_role",
            Self::ProjectDefault => "project_default",
            Self::OrganizationAdmin { .. } => "organization_admin",
        }
    }

    /// Whether PostHog lets the person see the project.
    pub fn can_see(&self) -> bool {
        matches!(self, Self::ExplicitRole { .. } | Self::RbacRole { .. } | Self::ProjectDefault | Self::OrganizationAdmin { .. })
    }
}

/// The answer to "why can't this person see this project?".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnosis {
    pub email: Email,
    pub project: ProjectId,
    /// The project's name, when it exists.
    pub project_name: Option<String>,
    /// The checks that were made, in order.
    pub checks: Vec<Check>,
    pub verdict: Verdict,
    /// The cause, in a sentence an admin understands.
    pub summary: String,
    /// What to do about it.
    pub next_step: String,
    pub checked_at: DateTime<Utc>,
}

fn day(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%M UTC").to_string()
}

fn level_words(level: OrgLevel) -> &'static str {
    match level {
        OrgLevel::Member => "an organization member",
        OrgLevel::Admin => "an organization admin",
        OrgLevel::Owner => "an organization owner",
    }
}

/// The membership and invitation checks, and the verdict when they decide it.
fn membership_checks(email: &Email, member: Option<&Member>, invitations: &[Invitation]) -> (Vec<Check>, Option<Verdict>) {
    if let Some(member) = member {
        let check = Check { kind: CheckKind::Membership, ok: true, detail: format!("{email} is {}.", level_words(member.level)) };
        return (vec![check], None);
    }
    let membership =
        Check { kind: CheckKind::Membership, ok: false, detail: format!("{email} is not a member of the PostHog organization.") };
    // Invitations come newest first; the newest is the one that counts (a new invitation
    // replaces the older ones in PostHog).
    let (invitation, verdict) = match invitations.first() {
        None => (
            Check { kind: CheckKind::Invitation, ok: false, detail: format!("PostHog holds no invitation for {email}.") },
            Verdict::NotInvited,
        ),
        Some(i) if i.expired => (
            Check {
                kind: CheckKind::Invitation,
                ok: false,
                detail: format!(
                    "The invitation sent {}{} expired on {} without being accepted.",
                    day(i.sent_at),
                    i.invited_by.as_ref().map(|by| format!(" by {by}")).unwrap_or_default(),
                    day(i.expires_at())
                ),
            },
            Verdict::InvitationExpired { sent_at: i.sent_at, expired_at: i.expires_at() },
        ),
        Some(i) => (
            Check {
                kind: CheckKind::Invitation,
                ok: false,
                detail: format!(
                    "A pending invitation sent {}{}, not yet accepted; it expires on {}.",
                    day(i.sent_at),
                    i.invited_by.as_ref().map(|by| format!(" by {by}")).unwrap_or_default(),
                    day(i.expires_at())
                ),
            },
            Verdict::InvitationPending { sent_at: i.sent_at, expires_at: i.expires_at() },
        ),
    };
    (vec![membership, invitation], Some(verdict))
}

fn project_check(project: ProjectId, projects: &[Project]) -> (Check, Option<&Project>) {
    match projects.iter().find(|p| p.id == project) {
        Some(p) => (Check { kind: CheckKind::Project, ok: true, detail: format!("Project {} ({project}) exists.", p.name) }, Some(p)),
        None => (
            Check {
                kind: CheckKind::Project,
                ok: false,
                detail: format!("The organization has no project with id {project}: it was deleted, or the id is wrong."),
            },
            None,
        ),
    }
}

impl Hogwarden {
    /// Why `email` can or cannot see `project`. Approvers and admins only: the answer
    /// tells who belongs to the organization and who was invited.
    #[tracing::instrument(skip_all, fields(project = %project))]
    pub async fn diagnose_access(&self, who: &Principal, email: &Email, project: ProjectId) -> Result<Diagnosis> {
        if !who.has(Role::Approver) {
            return Err(Error::Forbidden("You need the approver or admin role to diagnose someone's access.".into()));
        }
        let member = self.posthog.find_member(email).await?;
        let invitations = if member.is_none() { self.posthog.invitations_for(email).await? } else { Vec::new() };
        let projects = self.posthog.list_projects().await?;

        let (mut checks, mut verdict) = membership_checks(email, member.as_ref(), &invitations);
        let (check, found) = project_check(project, &projects);
        let project_name = found.map(|p| p.name.clone());
        checks.push(check);
        if verdict.is_none() && found.is_none() {
            verdict = Some(Verdict::ProjectNotFound);
        }
        if let (None, Some(member), Some(_)) = (&verdict, &member, found) {
            let (check, decided) = self.access_check(member, project).await?;
            checks.push(check);
            verdict = Some(decided);
        }
        // Every path above sets a verdict; this is the reading nothing else decided.
        let verdict = verdict.unwrap_or(Verdict::NoProjectAccess { explicitly_none: false });
        let name = project_name.clone().map_or_else(|| format!("project {project}"), |n| format!("{n} ({project})"));
        let (summary, next_step) = explain(email, &name, &verdict);
        Ok(Diagnosis { email: email.clone(), project, project_name, checks, verdict, summary, next_step, checked_at: self.clock.now() })
    }

    /// The member's access: organization level first (admins and owners see every
    /// project), then PostHog's own resolution of rules, roles and the project default.
    async fn access_check(&self, member: &Member, project: ProjectId) -> Result<(Check, Verdict)> {
        let ok = |detail: String| Check { kind: CheckKind::ProjectAccess, ok: true, detail };
        if member.level >= OrgLevel::Admin {
            let detail = format!("As {}, {} has admin access to every project.", level_words(member.level), member.email);
            return Ok((ok(detail), Verdict::OrganizationAdmin { level: member.level }));
        }
        let Some(access) = self.posthog.effective_access(member, project).await? else {
            let open = self.posthog.project_open_to_org(project).await?;
            let detail = if open {
                "The project is open to the organization, but a rule sets this member's access to none."
            } else {
                "The project is restricted (its default access is none) and there is no project role for this member."
            };
            let check = Check { kind: CheckKind::ProjectAccess, ok: false, detail: detail.into() };
            return Ok((check, Verdict::NoProjectAccess { explicitly_none: open }));
        };
        match access.source {
            AccessSource::OrganizationAdmin => {
                let detail = format!("PostHog gives {} admin access as an organization admin.", member.email);
                Ok((ok(detail), Verdict::OrganizationAdmin { level: member.level }))
            }
            AccessSource::ExplicitMember => {
                // Hogwarden's role names (a Viewer is PostHog `member` plus viewer rules).
                let role = self.posthog.project_role(member, project).await?.unwrap_or(if access.level == "admin" {
                    ProjectRole::Admin
                } else {
                    ProjectRole::Member
                });
                Ok((ok(format!("Explicit project role: {}.", role.as_str())), Verdict::ExplicitRole { role }))
            }
            AccessSource::ExplicitRole => {
                let detail = format!("Project access {} through a role (RBAC) the member holds.", access.level);
                Ok((ok(detail), Verdict::RbacRole { level: access.level }))
            }
            AccessSource::Default | AccessSource::Other(_) => {
                let detail = format!(
                    "No explicit project role, but the project is open to everyone in the organization (its default access, {}).",
                    access.level
                );
                Ok((ok(detail), Verdict::ProjectDefault))
            }
        }
    }
}

/// The verdict as a sentence, and what to do next.
fn explain(email: &Email, project: &str, verdict: &Verdict) -> (String, String) {
    match verdict {
        Verdict::NotInvited => (
            format!("{email} is not a member of the PostHog organization, and there is no invitation."),
            "Invite them to the organization in PostHog (Settings → Members → Invite); once they have joined, ask for a project role here."
                .into(),
        ),
        Verdict::InvitationPending { sent_at, expires_at } => (
            format!("{email} is not a member yet: a pending invitation sent {}, not yet accepted.", day(*sent_at)),
            format!(
                "Ask them to accept the invitation email (check spam) before {}. If it was lost, send a new one in PostHog: it replaces the old.",
                day(*expires_at)
            ),
        ),
        Verdict::InvitationExpired { expired_at, .. } => (
            format!("{email} is not a member: the invitation expired on {} before it was accepted.", day(*expired_at)),
            "Send a new invitation in PostHog (Settings → Members → Invite); invitations are valid for 3 days.".into(),
        ),
        Verdict::ProjectNotFound => (
            format!("There is no {project} in the organization: it was deleted, or the id is wrong."),
            "Check the project id against the list of projects (GET /api/projects) and try again with the right one.".into(),
        ),
        Verdict::NoProjectAccess { explicitly_none: false } => (
            format!("{project} is restricted and {email} has no project role there, so PostHog hides it from them."),
            format!("Grant a project role: ask with a project_role change for {project} (POST /api/requests)."),
        ),
        Verdict::NoProjectAccess { explicitly_none: true } => (
            format!("{project} is open to the organization, but a rule in PostHog sets {email}'s access to none."),
            format!("Grant a project role: ask with a project_role change for {project} (POST /api/requests); it replaces the none rule."),
        ),
        Verdict::RbacRole { level } => (
            format!("{email} can see {project}: a role (RBAC) they hold gives project access {level}."),
            "Nothing is blocking access. Ask them to pick the project in PostHog's project switcher, or to sign out and in again.".into(),
        ),
        Verdict::ExplicitRole { role } => (
            format!("{email} can see {project}: they have the project role {}.", role.as_str()),
            "Nothing is blocking access. Ask them to pick the project in PostHog's project switcher, or to sign out and in again.".into(),
        ),
        Verdict::ProjectDefault => (
            format!("{email} can see {project}: the project is open to everyone in the organization."),
            "Nothing is blocking access. Ask them to pick the project in PostHog's project switcher, or to sign out and in again.".into(),
        ),
        Verdict::OrganizationAdmin { level } => (
            format!("{email} can see {project}: as {}, they see every project.", level_words(*level)),
            "Nothing is blocking access. Ask them to pick the project in PostHog's project switcher, or to sign out and in again.".into(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn email(s: &str) -> Email {
        Email::parse(s).unwrap()
    }

    fn invitation(expired: bool) -> Invitation {
        Invitation {
            email: email("new@example.com"),
            level: OrgLevel::Member,
            sent_at: Utc.with_ymd_and_hms(2026, 3, 1, 9, 0, 0).unwrap(),
            expired,
            invited_by: Some(email("alice@example.com")),
            projects: Vec::new(),
        }
    }

    #[test]
    fn a_pending_invitation_is_named_with_its_date() {
        let (checks, verdict) = membership_checks(&email("new@example.com"), None, &[invitation(false)]);
        assert_eq!(checks.len(), 2);
        assert!(checks[1].detail.contains("pending invitation sent 2026-03-01 09:00 UTC by alice@example.com"), "{}", checks[1].detail);
        let (summary, _) = explain(&email("new@example.com"), "Production (1001)", verdict.as_ref().unwrap());
        assert!(summary.contains("a pending invitation sent 2026-03-01 09:00 UTC, not yet accepted"), "{summary}");
    }

    #[test]
    fn an_expired_invitation_says_when_and_to_send_a_new_one() {
        let (_, verdict) = membership_checks(&email("new@example.com"), None, &[invitation(true)]);
        let verdict = verdict.unwrap();
        assert_eq!(verdict.code(), "invitation_expired");
        let (summary, next) = explain(&email("new@example.com"), "Production (1001)", &verdict);
        assert!(summary.contains("expired on 2026-03-04 09:00 UTC"), "{summary}");
        assert!(next.contains("Send a new invitation"), "{next}");
    }

    #[test]
    fn no_invitation_says_so() {
        let (checks, verdict) = membership_checks(&email("nobody@example.com"), None, &[]);
        assert_eq!(verdict, Some(Verdict::NotInvited));
        assert!(!checks[1].ok);
    }

    #[test]
    fn only_access_verdicts_can_see() {
        assert!(Verdict::ProjectDefault.can_see());
        assert!(!Verdict::NoProjectAccess { explicitly_none: true }.can_see());
        assert!(Verdict::RbacRole { level: "member".into() }.can_see());
        assert!(!Verdict::ProjectNotFound.can_see());
    }
}

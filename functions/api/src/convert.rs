//! Conversions between the wire types (`hogwarden-api-types`) and the domain. Input
//! is parsed once here; output is shaped for people and the front end.

use chrono::{DateTime, Utc};
use hogwarden_api_types as dto;
use hogwarden_core::audit::{AuditEntry, ChainVerification};
use hogwarden_core::model::{AccessChange, AccessLevel, AccessRequest, Decision, Grant};
use hogwarden_core::policy::Policy;
use hogwarden_core::types::{Email, GrantDuration, Justification, OrgRole, ParseError, Principal, ProjectId, ProjectRole, Role, Ticket};
use hogwarden_core::usecases::NewRequest;

/// Parses one change from the wire.
pub fn change_from_dto(c: &dto::ChangeDto) -> Result<AccessChange, ParseError> {
    Ok(match c {
        dto::ChangeDto::OrgRole { role } => AccessChange::OrgRole { role: OrgRole::parse(role)? },
        dto::ChangeDto::ProjectRole { project_id, role } => {
            AccessChange::ProjectRole { project: ProjectId::new(*project_id)?, role: ProjectRole::parse(role)? }
        }
        dto::ChangeDto::RemoveFromProject { project_id } => AccessChange::RemoveFromProject { project: ProjectId::new(*project_id)? },
    })
}

pub fn change_to_dto(c: &AccessChange) -> dto::ChangeDto {
    match c {
        AccessChange::OrgRole { role } => dto::ChangeDto::OrgRole { role: role.as_str().into() },
        AccessChange::ProjectRole { project, role } => {
            dto::ChangeDto::ProjectRole { project_id: project.get(), role: role.as_str().into() }
        }
        AccessChange::RemoveFromProject { project } => dto::ChangeDto::RemoveFromProject { project_id: project.get() },
    }
}

/// Parses a whole create-request body.
pub fn new_request(body: &dto::CreateRequest) -> Result<NewRequest, ParseError> {
    let subject = body.subject_email.as_deref().map(Email::parse).transpose()?;
    let changes = body.changes.iter().map(change_from_dto).collect::<Result<Vec<_>, _>>()?;
    let duration = body.duration_minutes.map(GrantDuration::from_minutes).transpose()?;
    let justification = Justification::parse(&body.reason)?;
    let ticket = body.ticket.as_deref().filter(|t| !t.trim().is_empty()).map(Ticket::parse).transpose()?;
    Ok(NewRequest { subject, changes, duration, justification, ticket })
}

fn decision(d: &Decision) -> dto::DecisionDto {
    dto::DecisionDto { by: d.by.to_string(), at: d.at, reason: d.reason.clone() }
}

pub fn level(l: &AccessLevel) -> String {
    l.describe().to_owned()
}

pub fn grant(g: &Grant, now: DateTime<Utc>) -> dto::GrantDto {
    dto::GrantDto {
        id: g.id.to_string(),
        request_id: g.request_id.to_string(),
        subject: g.subject.to_string(),
        change: change_to_dto(&g.change),
        baseline: level(&g.baseline),
        confirmed: level(&g.confirmed),
        status: g.status.as_str().into(),
        applied_at: g.applied_at,
        expires_at: g.expires_at,
        seconds_left: g
            .expires_at
            .filter(|_| g.status == hogwarden_core::model::GrantStatus::Active)
            .map(|t| (t - now).num_seconds().max(0)),
        ended_at: g.ended_at,
        last_error: g.last_error.clone(),
    }
}

pub fn request(r: &AccessRequest, grants: &[Grant], viewer: &Principal, now: DateTime<Utc>) -> dto::RequestDto {
    let can_approve = r.status == hogwarden_core::model::RequestStatus::Pending
        && viewer.has(Role::Approver)
        && r.requester != viewer.email
        && r.subject != viewer.email
        && !r.approvals.iter().any(|a| a.by == viewer.email);
    dto::RequestDto {
        id: r.id.to_string(),
        requester: r.requester.to_string(),
        subject: r.subject.to_string(),
        changes: r.changes.iter().map(change_to_dto).collect(),
        duration_minutes: r.duration.map(|d| d.minutes()),
        reason: r.justification.as_str().into(),
        ticket: r.ticket.as_ref().map(|t| t.as_str().into()),
        status: r.status.as_str().into(),
        created_at: r.created_at,
        updated_at: r.updated_at,
        expires_at: r.expires_at,
        approvals_required: r.approvals_required,
        approvals: r.approvals.iter().map(decision).collect(),
        denial: r.denial.as_ref().map(decision),
        failure: r.failure.clone(),
        can_approve,
        grants: grants.iter().map(|g| grant(g, now)).collect(),
    }
}

pub fn audit_entry(e: &AuditEntry) -> dto::AuditEntryDto {
    dto::AuditEntryDto {
        seq: e.seq,
        at: e.at,
        actor: e.actor.to_string(),
        kind: e.kind.as_str().into(),
        subject: e.subject.as_ref().map(|s| s.to_string()),
        request_id: e.request_id.map(|i| i.to_string()),
        grant_id: e.grant_id.map(|i| i.to_string()),
        details: e.details.clone(),
        prev_hash: e.prev_hash.clone(),
        hash: e.hash.clone(),
    }
}

pub fn verification(v: &ChainVerification) -> dto::VerificationDto {
    dto::VerificationDto { valid: v.valid, entries: v.entries, first_broken_seq: v.first_broken_seq, problem: v.problem.clone() }
}

pub fn policy(p: &Policy) -> dto::PolicyDto {
    let m = &p.max_duration_minutes;
    let project = ProjectId::new(1).expect("1 is a valid id");
    let needs = |c: AccessChange| p.needs_approval(&c);
    dto::PolicyDto {
        max_duration_minutes: dto::MaxDurationsDto {
            org_admin: m.org_admin,
            org_member: m.org_member,
            project_admin: m.project_admin,
            project_member: m.project_member,
            project_viewer: m.project_viewer,
        },
        needs_approval: dto::NeedsApprovalDto {
            org_admin: needs(AccessChange::OrgRole { role: OrgRole::Admin }),
            org_member: needs(AccessChange::OrgRole { role: OrgRole::Member }),
            project_admin: needs(AccessChange::ProjectRole { project, role: ProjectRole::Admin }),
            project_member: needs(AccessChange::ProjectRole { project, role: ProjectRole::Member }),
            project_viewer: needs(AccessChange::ProjectRole { project, role: ProjectRole::Viewer }),
            project_removal: needs(AccessChange::RemoveFromProject { project }),
        },
        approvals_required: p.approvals_required,
        pending_ttl_minutes: p.pending_ttl_minutes,
        max_changes_per_request: p.max_changes_per_request,
    }
}

pub fn role_name(r: Role) -> &'static str {
    match r {
        Role::Requester => "requester",
        Role::Approver => "approver",
        Role::Admin => "admin",
    }
}

fn temporary(g: &Grant, now: DateTime<Utc>) -> Option<dto::TemporaryDto> {
    let expires_at = g.expires_at?;
    Some(dto::TemporaryDto { grant_id: g.id.to_string(), expires_at, seconds_left: (expires_at - now).num_seconds().max(0) })
}

pub fn access_overview(o: &hogwarden_core::usecases::AccessOverview, now: DateTime<Utc>) -> dto::AccessOverviewDto {
    dto::AccessOverviewDto {
        generated_at: o.generated_at,
        projects: o.projects.iter().map(|p| dto::ProjectDto { id: p.id.get(), name: p.name.clone() }).collect(),
        members: o
            .members
            .iter()
            .map(|m| dto::MemberAccessDto {
                email: m.member.email.to_string(),
                name: m.member.name.clone(),
                org_level: m.member.level.as_str().to_owned(),
                org_grant: m.org_grant.as_ref().and_then(|g| temporary(g, now)),
                projects: m
                    .projects
                    .iter()
                    .map(|p| dto::ProjectAccessDto {
                        project_id: p.project.get(),
                        role: p.role.as_str().to_owned(),
                        grant: p.grant.as_ref().and_then(|g| temporary(g, now)),
                    })
                    .collect(),
            })
            .collect(),
    }
}

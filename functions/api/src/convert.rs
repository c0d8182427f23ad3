//! Conversions between the wire types (`hogwarden-api-types`) and the domain. Input
//! is parsed once here; output is shaped for people and the front end.

use chrono::{DateTime, Utc};
use hogwarden_api_types as dto;
use hogwarden_core::audit::{AuditEntry, ChainVerification};
use hogwarden_core::export::{CsvTable, markdown_text};
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
    Ok(NewRequest { subject, changes, duration, ends_at: body.ends_at, justification, ticket })
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
        extensions: g
            .extensions
            .iter()
            .map(|e| dto::ExtensionDto {
                request_id: e.request_id.to_string(),
                original_expiration: e.original_expiration,
                extended_to: e.extended_to,
                reason: e.reason.clone(),
                approved_by: e.approved_by.iter().map(ToString::to_string).collect(),
                at: e.at,
            })
            .collect(),
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
        ends_at: r.ends_at,
        extends: r.extends.map(|g| g.to_string()),
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
        checklist: None,
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
    dto::VerificationDto {
        valid: v.valid,
        entries: v.entries,
        first_broken_seq: v.first_broken_seq,
        problem: v.problem.clone(),
        head_seq: v.head.as_ref().map(|h| h.seq),
        head_hash: v.head.as_ref().map(|h| h.hash.clone()),
    }
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

/// The access log as CSV: one row per audit entry, with the extension facts the
/// roles guide's access log keeps in their own columns.
pub fn audit_csv(entries: &[AuditEntry]) -> Result<String, String> {
    let header = [
        "seq",
        "at",
        "actor",
        "kind",
        "subject",
        "request_id",
        "grant_id",
        "original_expiration",
        "extended_to",
        "reason",
        "approved_by",
        "details",
        "hash",
    ];
    let mut out = CsvTable::new(header).map_err(|e| e.to_string())?;
    for e in entries {
        let d = &e.details;
        let text = |key: &str| d.get(key).and_then(|v| v.as_str()).unwrap_or_default().to_owned();
        let approved_by = d
            .get("approved_by")
            .and_then(|v| v.as_array())
            .map(|a| a.iter().filter_map(|x| x.as_str()).collect::<Vec<_>>().join(" "))
            .unwrap_or_default();
        out.row([
            e.seq.to_string(),
            e.at.to_rfc3339(),
            e.actor.to_string(),
            e.kind.as_str().to_owned(),
            e.subject.as_ref().map(ToString::to_string).unwrap_or_default(),
            e.request_id.map(|r| r.to_string()).unwrap_or_default(),
            e.grant_id.map(|g| g.to_string()).unwrap_or_default(),
            text("original_expiration"),
            text("extended_to"),
            text("reason"),
            approved_by,
            d.to_string(),
            e.hash.clone(),
        ])
        .map_err(|e| e.to_string())?;
    }
    out.finish().map_err(|e| e.to_string())
}

pub fn checklist(c: &hogwarden_core::usecases::Checklist) -> dto::ChecklistDto {
    dto::ChecklistDto {
        approved_by: c.approved_by.clone(),
        least_access: c.least_access,
        reason: c.reason.clone(),
        ticket: c.ticket.clone(),
        informed_at: c.informed_at,
        temporary: c.temporary,
        ends_at: c.ends_at,
        audit_entries: c.audit_entries.clone(),
        complete: c.complete(),
    }
}

/// A request's record as Markdown: what was asked, the checklist, and its audit trail.
/// Every field that holds text from people or PostHog goes through `markdown_text`, so
/// it stays inside its line and cell.
pub fn request_markdown(r: &AccessRequest, grants: &[Grant], entries: &[AuditEntry], c: &hogwarden_core::usecases::Checklist) -> String {
    use std::fmt::Write as _;
    let when = |t: Option<DateTime<Utc>>| t.map_or_else(|| "not yet".to_owned(), |t| t.format("%Y-%m-%d %H:%M UTC").to_string());
    let mut md = String::new();
    let _ = writeln!(md, "# Access request {}\n", r.id);
    let _ = writeln!(md, "- Person: {}", markdown_text(r.subject.as_str()));
    let _ = writeln!(md, "- Requested by: {} on {}", markdown_text(r.requester.as_str()), r.created_at.format("%Y-%m-%d %H:%M UTC"));
    let what: Vec<String> = r.changes.iter().map(AccessChange::describe).collect();
    let _ = writeln!(md, "- Change: {}", markdown_text(&what.join("; ")));
    let _ = writeln!(md, "- Status: {}\n", r.status.as_str());
    let _ = writeln!(md, "## Security checklist\n");
    let approved = if c.approved_by.is_empty() { "not yet".to_owned() } else { markdown_text(&c.approved_by.join(", ")) };
    let _ = writeln!(md, "- [{}] Approved by: {approved}", if c.approved_by.is_empty() { " " } else { "x" });
    let least = match c.least_access {
        Some(true) => "PostHog shows exactly the access asked for",
        Some(false) => "PostHog shows other access than asked for: check the grants",
        None => "not applied yet",
    };
    let _ = writeln!(md, "- [{}] Least access: {least}", if c.least_access == Some(true) { "x" } else { " " });
    let ticket = c.ticket.as_deref().map(|t| format!(" (ticket {})", markdown_text(t))).unwrap_or_default();
    let _ = writeln!(md, "- [x] Documented: {}{ticket}", markdown_text(&c.reason));
    let _ = writeln!(md, "- [{}] Person informed: {}", if c.informed_at.is_some() { "x" } else { " " }, when(c.informed_at));
    if c.temporary {
        let _ = writeln!(md, "- [{}] End date set: {}", if c.ends_at.is_some() { "x" } else { " " }, when(c.ends_at));
    } else {
        let _ = writeln!(md, "- [x] End date: permanent change (reviewed in the quarterly access review)");
    }
    let seqs: Vec<String> = c.audit_entries.iter().map(|s| format!("#{s}")).collect();
    let _ = writeln!(md, "- [{}] Audit entries: {}\n", if seqs.is_empty() { " " } else { "x" }, seqs.join(", "));
    if !grants.is_empty() {
        let _ = writeln!(md, "## Grants\n\n| change | before | after (read back) | status | ends |\n|---|---|---|---|---|");
        for g in grants {
            let _ = writeln!(
                md,
                "| {} | {} | {} | {} | {} |",
                markdown_text(&g.change.describe()),
                markdown_text(g.baseline.describe()),
                markdown_text(g.confirmed.describe()),
                g.status.as_str(),
                when(g.expires_at)
            );
        }
        md.push('\n');
    }
    let _ = writeln!(md, "## Audit trail\n\n| # | time | actor | event | hash |\n|---|---|---|---|---|");
    for e in entries {
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} | `{}` |",
            e.seq,
            e.at.format("%Y-%m-%d %H:%M:%S UTC"),
            markdown_text(&e.actor.to_string()),
            e.kind.as_str(),
            &e.hash[..12.min(e.hash.len())]
        );
    }
    md
}

/// A diagnosis on the wire.
pub fn diagnosis(d: &hogwarden_core::usecases::Diagnosis) -> dto::DiagnosisDto {
    use hogwarden_core::usecases::Verdict;
    let (sent, expires) = match &d.verdict {
        Verdict::InvitationPending { sent_at, expires_at } => (Some(*sent_at), Some(*expires_at)),
        Verdict::InvitationExpired { sent_at, expired_at } => (Some(*sent_at), Some(*expired_at)),
        _ => (None, None),
    };
    dto::DiagnosisDto {
        email: d.email.to_string(),
        project_id: d.project.get(),
        project_name: d.project_name.clone(),
        can_see: d.verdict.can_see(),
        verdict: d.verdict.code().to_owned(),
        summary: d.summary.clone(),
        next_step: d.next_step.clone(),
        role: match &d.verdict {
            Verdict::ExplicitRole { role } => Some(role.as_str().to_owned()),
            _ => None,
        },
        invitation_sent_at: sent,
        invitation_expires_at: expires,
        checks: d
            .checks
            .iter()
            .map(|c| dto::DiagnosisCheckDto { check: c.kind.as_str().to_owned(), ok: c.ok, detail: c.detail.clone() })
            .collect(),
        checked_at: d.checked_at,
    }
}

/// The key inventory as the API shows it (fingerprints only, never a value).
pub(crate) fn key_inventory(inventory: hogwarden_core::usecases::Inventory) -> dto::KeyList {
    let checked_at = inventory.checked_at;
    let keys = inventory
        .keys
        .into_iter()
        .map(|k| dto::KeyDto {
            name: k.name,
            kind: k.kind.into(),
            fingerprint: k.fingerprint,
            accepted: k.accepted,
            checked_at,
            project_id: k.project.as_ref().map(|(id, _)| id.get()),
            project_name: k.project.map(|(_, name)| name),
            key_id: k.key_id,
            label: k.label,
            scopes: k.scopes,
            created_at: k.created_at,
            last_used_at: k.last_used_at,
            last_rolled_at: k.last_rolled_at,
            managed: k.managed_secret.is_some(),
            managed_secret: k.managed_secret,
            last_rotated_at: k.last_rotated_at,
            note: k.note,
            mask: k.mask,
            key_ref: k.key_ref.map(|r| r.as_string()),
            ..dto::KeyDto::default()
        })
        .collect();
    dto::KeyList { keys, notes: inventory.notes, writes_paused: None }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use hogwarden_core::types::RequestId;
    use hogwarden_core::usecases::Checklist;

    use super::*;

    // The attack on a record stored before reasons were one line: its reason forges a
    // ticked checklist item and an audit row.
    #[test]
    fn a_stored_reason_with_line_breaks_cannot_forge_checklist_lines_or_audit_rows() {
        let forged = "Debug the flag\n- [x] Approved by security\n| 99 | 2025-01-01 | ciso@example.com | approved | `x` |";
        let reason: Justification = serde_json::from_value(serde_json::json!(forged)).unwrap();
        let now = Utc.with_ymd_and_hms(2025, 6, 2, 9, 0, 0).unwrap();
        let ana = Email::parse("ana@example.com").unwrap();
        let r = AccessRequest::pending(RequestId::new(), ana.clone(), ana, reason, 1, now, 60);
        let c = Checklist {
            approved_by: Vec::new(),
            least_access: None,
            reason: forged.to_owned(),
            ticket: None,
            informed_at: None,
            temporary: true,
            ends_at: None,
            audit_entries: Vec::new(),
        };

        let md = request_markdown(&r, &[], &[], &c);

        let ticked: Vec<&str> = md.lines().filter(|l| l.starts_with("- [x]")).collect();
        assert_eq!(
            ticked,
            [
                "- [x] Documented: Debug the flag - \\[x\\] Approved by security \\| 99 \\| 2025-01-01 \\| ciso@example.com \\| approved \\| \\`x\\` \\|"
            ]
        );
        assert!(!md.lines().any(|l| l.starts_with("| 99")), "{md}");
    }
}

//! The two-person rule, as one judgment. Every write Hogwarden makes to PostHog names
//! its [`Authorization`]; the write path (`usecases/writes.rs`) loads the records the
//! authorization names and asks [`judge`] whether they allow this write. What allowed
//! it ([`Allowed`]) goes into the write's audit entry.
//!
//! An authorization holds only as one of:
//! - approvals by enough people who are not the requester, not the person whose access
//!   changes, and not anyone else who gains by the change (a bulk set's subjects, an
//!   offboarding's new owner), and who are still active members of the organization;
//! - a policy rule that needs no approval, judged now against the request: only a
//!   person's own access, never someone else's, and never admin;
//! - the undo of an earlier authorized grant, restoring what it replaced (or what
//!   another live grant still holds);
//! - a key response (rotating or reporting a key), which gives nobody access.

use serde::{Deserialize, Serialize};

use crate::model::{AccessLevel, AccessRequest, AccessTarget, Grant, GrantStatus, RequestStatus};
use crate::offboard::{OffboardStatus, Offboarding};
use crate::policy::Policy;
use crate::types::{Email, GrantId, RequestId};

/// Who requests the changes the SSO rules make when a person signs in (their own
/// identity provider's claims, judged by the policy's rules).
pub const SSO_REQUESTER: &str = "sso-rules@hogwarden.invalid";

/// Who requests the changes an access review decides (the reviewer's decision is the
/// approval, so the reviewer is never also the requester).
pub const REVIEW_REQUESTER: &str = "access-review@hogwarden.invalid";

/// What a write claims allows it. The write path loads what it names and judges it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Authorization {
    /// An access request or bulk change set: its approvals, or the policy rule that
    /// let it through without one.
    Request(RequestId),
    /// An approved offboarding (or an access review's removal).
    Offboarding(RequestId),
    /// Ends an earlier authorized grant (expiry, an early revoke, the rollback of a
    /// request that failed half-way).
    Undo(GrantId),
    /// Rotating or reporting a key: names what triggered it (an alert, a schedule).
    KeyResponse(String),
}

/// What allowed a write, as its audit entry records it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Allowed {
    Approvals { request: RequestId, requester: Email, approvers: Vec<Email>, required: u8 },
    PolicyRule { request: RequestId, requester: Email, rule: String },
    Undo { grant: GrantId, request: RequestId },
    KeyResponse { trigger: String },
}

impl Allowed {
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or(serde_json::Value::Null)
    }
}

/// What a write does, as far as the rule cares: who ends up with what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect<'a> {
    /// `subject`'s access at `target` becomes `to`.
    Access { subject: &'a Email, target: AccessTarget, to: AccessLevel },
    /// `to` gets access to an object someone else created.
    ObjectAccess { to: &'a Email },
    /// `subject` leaves the organization.
    Removal { subject: &'a Email },
    /// A key is created, rolled, deleted or reported.
    Key,
}

impl Effect<'_> {
    /// The person who gains (or keeps) access by this write, if any.
    fn beneficiary(&self) -> Option<&Email> {
        match self {
            Self::Access { subject, .. } => Some(subject),
            Self::ObjectAccess { to } => Some(to),
            Self::Removal { .. } | Self::Key => None,
        }
    }

    /// The person whose own access this write changes, if any.
    fn subject(&self) -> Option<&Email> {
        match self {
            Self::Access { subject, .. } | Self::Removal { subject } => Some(subject),
            Self::ObjectAccess { .. } | Self::Key => None,
        }
    }
}

/// The records an authorization names, as loaded by the write path.
#[derive(Debug)]
pub enum Grounds<'a> {
    Request(&'a AccessRequest),
    Offboarding(&'a Offboarding),
    /// The grant being undone and the other active grants at its target.
    Undo {
        grant: &'a Grant,
        others: &'a [Grant],
    },
    Key(&'a str),
}

/// Whether `grounds` allow a write with `effect`. `active` says whether a person is an
/// active member of the organization (approvers who left do not count). The error
/// says why not, for people.
pub fn judge(policy: &Policy, grounds: &Grounds<'_>, effect: &Effect<'_>, active: &dyn Fn(&Email) -> bool) -> Result<Allowed, String> {
    match grounds {
        Grounds::Key(trigger) => match effect {
            Effect::Key => Ok(Allowed::KeyResponse { trigger: (*trigger).to_owned() }),
            _ => Err("a key response cannot change anyone's access".into()),
        },
        Grounds::Undo { grant, others } => judge_undo(grant, others, effect),
        Grounds::Request(request) => judge_request(policy, request, effect, active),
        Grounds::Offboarding(record) => judge_offboarding(record, effect, active),
    }
}

fn judge_undo(grant: &Grant, others: &[Grant], effect: &Effect<'_>) -> Result<Allowed, String> {
    if grant.status != GrantStatus::Active {
        return Err(format!("grant {} has already ended", grant.id));
    }
    let Effect::Access { subject, target, to } = effect else {
        return Err("an undo only restores the access a grant changed".into());
    };
    if *subject != &grant.subject || *target != grant.target() {
        return Err(format!("grant {} is not about this person and target", grant.id));
    }
    let held_by_other = others.iter().any(|o| o.id != grant.id && o.status == GrantStatus::Active && o.change.desired() == *to);
    if *to != grant.baseline && !held_by_other {
        return Err(format!("undoing grant {} restores what it replaced, not another level", grant.id));
    }
    Ok(Allowed::Undo { grant: grant.id, request: grant.request_id })
}

fn judge_request(
    policy: &Policy,
    request: &AccessRequest,
    effect: &Effect<'_>,
    active: &dyn Fn(&Email) -> bool,
) -> Result<Allowed, String> {
    if !matches!(request.status, RequestStatus::Approved | RequestStatus::Applied) {
        return Err(format!("request {} is {}, not approved", request.id, request.status.as_str()));
    }
    let bulk = request.changes.is_empty();
    if let Effect::Access { subject, target, to } = effect {
        // A single request's write must be one of its changes; a bulk set's items are
        // checked against its approvers below (each item names its own subject).
        if !bulk && (*subject != &request.subject || !request.changes.iter().any(|c| c.target() == *target && c.desired() == *to)) {
            return Err(format!("request {} does not ask for this change", request.id));
        }
    } else {
        return Err(format!("request {} changes access, not objects, memberships or keys", request.id));
    }
    if request.approvals_required == 0 && request.approvals.is_empty() {
        return judge_rule(policy, request, effect);
    }
    let approvers = counted_approvers(&request.approvals, &request.requester, &request.subject, effect, active);
    let required = request.approvals_required.max(1);
    if approvers.len() < usize::from(required) {
        return Err(format!(
            "request {} has {} approval(s) by people other than the requester and whoever gains access, and needs {required}",
            request.id,
            approvers.len()
        ));
    }
    Ok(Allowed::Approvals { request: request.id, requester: request.requester.clone(), approvers, required })
}

/// A request let through without an approver: judged again now, not trusted from when
/// it was recorded.
fn judge_rule(policy: &Policy, request: &AccessRequest, effect: &Effect<'_>) -> Result<Allowed, String> {
    if request.changes.iter().any(crate::model::AccessChange::grants_admin) {
        return Err(format!("request {} grants admin, which always needs an approver", request.id));
    }
    if request.requester.as_str() == SSO_REQUESTER {
        if policy.sso.is_empty() {
            return Err("no SSO rule allows this change".into());
        }
        return Ok(Allowed::PolicyRule {
            request: request.id,
            requester: request.requester.clone(),
            rule: "sso: the rules applied to the person's own sign-in claims".into(),
        });
    }
    if effect.subject() != Some(&request.requester) || request.subject != request.requester {
        return Err(format!("request {} changes someone else's access, which always needs an approver", request.id));
    }
    // A bulk set holds its changes as items: the rule is judged on this item's change.
    let changes = if request.changes.is_empty() { change_of(effect).into_iter().collect() } else { request.changes.clone() };
    if changes.is_empty() || changes.iter().any(crate::model::AccessChange::grants_admin) || policy.approvals_needed(&changes) > 0 {
        return Err(format!("policy needs an approver for request {}", request.id));
    }
    Ok(Allowed::PolicyRule {
        request: request.id,
        requester: request.requester.clone(),
        rule: "approval_required: the policy needs no approver for this change to one's own access".into(),
    })
}

/// The change a role write makes, as a request would name it.
fn change_of(effect: &Effect<'_>) -> Option<crate::model::AccessChange> {
    use crate::model::AccessChange;
    use crate::types::{OrgLevel, OrgRole};
    match effect {
        Effect::Access { target: AccessTarget::Org, to: AccessLevel::Org(OrgLevel::Admin), .. } => {
            Some(AccessChange::OrgRole { role: OrgRole::Admin })
        }
        Effect::Access { target: AccessTarget::Org, to: AccessLevel::Org(OrgLevel::Member), .. } => {
            Some(AccessChange::OrgRole { role: OrgRole::Member })
        }
        Effect::Access { target: AccessTarget::Project(project), to: AccessLevel::Project(Some(role)), .. } => {
            Some(AccessChange::ProjectRole { project: *project, role: *role })
        }
        Effect::Access { target: AccessTarget::Project(project), to: AccessLevel::Project(None), .. } => {
            Some(AccessChange::RemoveFromProject { project: *project })
        }
        _ => None,
    }
}

fn judge_offboarding(record: &Offboarding, effect: &Effect<'_>, active: &dyn Fn(&Email) -> bool) -> Result<Allowed, String> {
    if record.status != OffboardStatus::Approved {
        return Err(format!("offboarding {} is {}, not approved", record.id, record.status.as_str()));
    }
    match effect {
        Effect::ObjectAccess { to } if *to == &record.new_owner => {}
        Effect::Removal { subject } if *subject == &record.subject => {}
        Effect::Access { subject, to: AccessLevel::Project(None), .. } if *subject == &record.subject => {}
        _ => return Err(format!("offboarding {} does not ask for this change", record.id)),
    }
    // The new owner gains every object: they never count as an approver.
    let approvers: Vec<Email> = counted_approvers(&record.approvals, &record.requester, &record.subject, effect, active)
        .into_iter()
        .filter(|a| a != &record.new_owner)
        .collect();
    let required = record.approvals_required.max(1);
    if approvers.len() < usize::from(required) {
        return Err(format!(
            "offboarding {} has {} approval(s) by people other than the requester, the person leaving and the new owner, and needs {required}",
            record.id,
            approvers.len()
        ));
    }
    Ok(Allowed::Approvals { request: record.id, requester: record.requester.clone(), approvers, required })
}

/// The approvers that count: distinct, not the requester, not the subject, not the one
/// who gains by this write, and still active members.
fn counted_approvers(
    approvals: &[crate::model::Decision],
    requester: &Email,
    subject: &Email,
    effect: &Effect<'_>,
    active: &dyn Fn(&Email) -> bool,
) -> Vec<Email> {
    let mut out: Vec<Email> = Vec::new();
    for a in approvals {
        let by = &a.by;
        if by == requester || by == subject || Some(by) == effect.beneficiary() || Some(by) == effect.subject() {
            continue;
        }
        if out.contains(by) || !active(by) {
            continue;
        }
        out.push(by.clone());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{AccessChange, Decision};
    use crate::types::{Justification, OrgRole, ProjectId, ProjectRole};
    use chrono::Utc;

    fn email(s: &str) -> Email {
        Email::parse(s).unwrap()
    }

    fn request(requester: &str, subject: &str, change: AccessChange, approvers: &[&str], required: u8) -> AccessRequest {
        let now = Utc::now();
        let mut r = AccessRequest {
            changes: vec![change],
            ..AccessRequest::pending(
                RequestId::new(),
                email(requester),
                email(subject),
                Justification::parse("Investigate the checkout funnel").unwrap(),
                required,
                now,
                60,
            )
        };
        r.status = RequestStatus::Approved;
        r.approvals = approvers.iter().map(|a| Decision { by: email(a), at: now, reason: None }).collect();
        r
    }

    fn everyone(_: &Email) -> bool {
        true
    }

    #[test]
    fn an_approver_who_gains_the_access_does_not_count() {
        let policy = Policy::default();
        // A bulk set submitted by frank; alice approves; one item makes alice an admin.
        let mut set =
            request("frank@example.com", "frank@example.com", AccessChange::OrgRole { role: OrgRole::Admin }, &["alice@example.com"], 1);
        set.changes.clear();
        let alice = email("alice@example.com");
        let to_alice =
            Effect::Access { subject: &alice, target: AccessTarget::Org, to: AccessChange::OrgRole { role: OrgRole::Admin }.desired() };
        let err = judge(&policy, &Grounds::Request(&set), &to_alice, &everyone).unwrap_err();
        assert!(err.contains("needs 1"), "{err}");
        let bob = email("bob@example.com");
        let to_bob =
            Effect::Access { subject: &bob, target: AccessTarget::Org, to: AccessChange::OrgRole { role: OrgRole::Admin }.desired() };
        assert!(matches!(judge(&policy, &Grounds::Request(&set), &to_bob, &everyone), Ok(Allowed::Approvals { .. })));
    }

    #[test]
    fn lowering_someone_else_without_an_approver_is_refused() {
        let policy = Policy::default();
        let project = ProjectId::new(1).unwrap();
        let change = AccessChange::ProjectRole { project, role: ProjectRole::Viewer };
        let r = request("frank@example.com", "grace@example.com", change.clone(), &[], 0);
        let grace = email("grace@example.com");
        let effect = Effect::Access { subject: &grace, target: change.target(), to: change.desired() };
        let err = judge(&policy, &Grounds::Request(&r), &effect, &everyone).unwrap_err();
        assert!(err.contains("someone else's access"), "{err}");
        // The same change to one's own access is what the rule allows.
        let own = request("grace@example.com", "grace@example.com", change, &[], 0);
        assert!(matches!(judge(&policy, &Grounds::Request(&own), &effect, &everyone), Ok(Allowed::PolicyRule { .. })));
    }

    #[test]
    fn departed_and_self_approvals_do_not_count() {
        let policy = Policy::default();
        let change = AccessChange::OrgRole { role: OrgRole::Admin };
        let r = request("frank@example.com", "frank@example.com", change.clone(), &["frank@example.com", "eve@example.com"], 1);
        let frank = email("frank@example.com");
        let effect = Effect::Access { subject: &frank, target: change.target(), to: change.desired() };
        let left = |e: &Email| e.as_str() != "eve@example.com";
        assert!(judge(&policy, &Grounds::Request(&r), &effect, &left).is_err());
        assert!(judge(&policy, &Grounds::Request(&r), &effect, &everyone).is_ok());
    }

    #[test]
    fn a_request_allows_only_its_own_changes() {
        let policy = Policy::default();
        let change = AccessChange::OrgRole { role: OrgRole::Member };
        let r = request("frank@example.com", "frank@example.com", change, &["alice@example.com"], 1);
        let frank = email("frank@example.com");
        let admin =
            Effect::Access { subject: &frank, target: AccessTarget::Org, to: AccessChange::OrgRole { role: OrgRole::Admin }.desired() };
        assert!(judge(&policy, &Grounds::Request(&r), &admin, &everyone).unwrap_err().contains("does not ask"));
        let key = Effect::Key;
        assert!(judge(&policy, &Grounds::Request(&r), &key, &everyone).is_err());
    }

    #[test]
    fn a_bulk_set_without_approvals_changes_only_its_submitters_own_access_and_never_to_admin() {
        let policy = Policy::default();
        let project = ProjectId::new(1).unwrap();
        let viewer = AccessChange::ProjectRole { project, role: ProjectRole::Viewer };
        let mut set = request("frank@example.com", "frank@example.com", viewer.clone(), &[], 0);
        set.changes.clear();
        let (frank, grace) = (email("frank@example.com"), email("grace@example.com"));
        let own = Effect::Access { subject: &frank, target: viewer.target(), to: viewer.desired() };
        let other = Effect::Access { subject: &grace, target: viewer.target(), to: viewer.desired() };
        let admin = AccessChange::ProjectRole { project, role: ProjectRole::Admin };
        let own_admin = Effect::Access { subject: &frank, target: admin.target(), to: admin.desired() };
        assert!(matches!(judge(&policy, &Grounds::Request(&set), &own, &everyone), Ok(Allowed::PolicyRule { .. })));
        assert!(judge(&policy, &Grounds::Request(&set), &other, &everyone).is_err());
        assert!(judge(&policy, &Grounds::Request(&set), &own_admin, &everyone).is_err());
    }
}

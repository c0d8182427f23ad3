//! Offboarding: preview the departing member's objects and access, ask once, approve
//! once, then run the steps. Every step is one PostHog write (skipped when PostHog
//! already shows its outcome), a read-back, and one conditional write of the record
//! with the step's audit entry, so a crash between steps resumes at the first pending
//! step and a finished step is never repeated.

use std::collections::BTreeSet;

use crate::audit::{AuditDraft, AuditKind};
use crate::authorize::{Allowed, Authorization};
use crate::claims::{self, Claim};
use crate::error::{Error, Result};
use crate::model::AccessLevel;
use crate::model::Decision;
use crate::offboard::{HAND_OVER_LEVEL, OffboardStatus, OffboardStep, Offboarding, StepAction, StepStatus, private_insights_warning};
use crate::ports::{Guarded, Member, ObjectKind, OwnedObject, PostHogError};
use crate::types::{Actor, Email, Justification, OrgLevel, Principal, ProjectRole, RequestId, Role, Ticket};

use super::{Hogwarden, PostHogWrite, Written, applier};

/// What offboarding a member would do, before anything is asked or written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OffboardPreview {
    pub subject: Email,
    pub subject_name: String,
    pub subject_level: OrgLevel,
    pub new_owner: Email,
    /// Every object the member created, by project and kind.
    pub objects: Vec<OwnedObject>,
    /// The projects where the member has an explicit role.
    pub projects: Vec<(crate::types::ProjectId, String, ProjectRole)>,
    pub steps: Vec<StepAction>,
    pub warnings: Vec<String>,
}

/// How many offboardings one resume pass picks up.
const RESUME_BATCH: usize = 50;

impl Hogwarden {
    fn require_offboarder(&self, who: &Principal) -> Result<()> {
        if who.has(Role::Approver) { Ok(()) } else { Err(Error::Forbidden("Offboarding needs the approver or admin role.".into())) }
    }

    async fn active_member(&self, email: &Email, what: &str) -> Result<Member> {
        self.posthog
            .find_member(email)
            .await?
            .ok_or_else(|| Error::NotFound(format!("{email} ({what}) as a member of the PostHog organization")))
    }

    /// The inventory and the steps, read from PostHog now.
    #[tracing::instrument(skip_all, fields(subject = %subject))]
    pub async fn offboard_preview(&self, who: &Principal, subject: &Email, new_owner: &Email) -> Result<OffboardPreview> {
        self.require_offboarder(who)?;
        self.offboard_inventory(subject, new_owner).await
    }

    /// The preview without the caller's role check: for an offboarding an access
    /// review decided (the decision is the approval; see `usecases/review_removal.rs`).
    pub(crate) async fn offboard_inventory(&self, subject: &Email, new_owner: &Email) -> Result<OffboardPreview> {
        if subject == new_owner {
            return Err(Error::PolicyViolation("The new owner must be someone other than the departing member.".into()));
        }
        let member = self.active_member(subject, "the departing member").await?;
        if member.level == OrgLevel::Owner {
            return Err(Error::PolicyViolation(format!(
                "{subject} is an owner of the PostHog organization; Hogwarden never removes owners (only another owner can, in PostHog)."
            )));
        }
        self.active_member(new_owner, "the new owner").await?;
        let mut objects = Vec::new();
        let mut projects = Vec::new();
        let mut open = Vec::new();
        for project in self.posthog.list_projects().await? {
            objects.extend(self.posthog.objects_created_by(&member, project.id).await?);
            if let Some(role) = self.posthog.project_role(&member, project.id).await? {
                if self.posthog.project_open_to_org(project.id).await? {
                    open.push(project.name.clone());
                }
                projects.push((project.id, project.name, role));
            }
        }
        objects.sort();
        let mut warnings = Vec::new();
        let private: Vec<&OwnedObject> = objects.iter().filter(|o| o.kind == ObjectKind::Insight && o.private).collect();
        warnings.extend(private_insights_warning(&private, new_owner));
        if member.level == OrgLevel::Admin {
            warnings.push(format!("{subject} is an organization admin: removing them also ends their admin access to every project."));
        }
        if !open.is_empty() {
            warnings.push(format!(
                "Open to the whole organization: {}. Removing the explicit role there changes nothing by itself; the removal from the organization ends that access.",
                open.join(", ")
            ));
        }
        if objects.is_empty() {
            warnings.push(format!("{subject} created no dashboards, insights, feature flags or notebooks: nothing to hand over."));
        }
        let mut steps: Vec<StepAction> = objects.iter().cloned().map(|object| StepAction::HandOver { object }).collect();
        steps.extend(
            projects.iter().map(|(project, name, _)| StepAction::RemoveFromProject { project: *project, project_name: name.clone() }),
        );
        steps.push(StepAction::RemoveFromOrg);
        Ok(OffboardPreview {
            subject: subject.clone(),
            subject_name: member.name,
            subject_level: member.level,
            new_owner: new_owner.clone(),
            objects,
            projects,
            steps,
            warnings,
        })
    }

    /// Records an offboarding request; it waits for approval (always: it removes a
    /// member and grants someone else manager access).
    #[tracing::instrument(skip_all, fields(subject = %subject))]
    pub async fn offboard_request(
        &self,
        who: &Principal,
        subject: &Email,
        new_owner: &Email,
        justification: Justification,
        ticket: Option<Ticket>,
    ) -> Result<Offboarding> {
        let preview = self.offboard_preview(who, subject, new_owner).await?;
        let under_way = |open: Offboarding| Error::Conflict(format!("{subject} already has an offboarding under way ({}).", open.id));
        let (seen, open) = self.offboarding_claim(subject, None).await?;
        if let Some(open) = open {
            return Err(under_way(open));
        }
        let record =
            self.offboarding_record(RequestId::new(), &who.email, preview, justification, ticket, self.policy.approvals_required.max(1));
        let details = requested_details(&record);
        let audit = self.draft(who.actor(), AuditKind::Requested, subject, record.id, None, details);
        let claim = Claim { key: claims::offboarding_key(subject), holder: record.id, replaces: seen };
        if let Err(e) = self.store.put_offboarding_claimed(Guarded::create(record.clone()), claim, vec![audit]).await {
            // Another offboarding of the same person was recorded at the same moment.
            if let (Error::Conflict(_), (_, Some(open))) = (&e, self.offboarding_claim(subject, Some(record.id)).await?) {
                return Err(under_way(open));
            }
            return Err(e);
        }
        let approvers =
            self.policy.approvers.iter().filter(|a| **a != record.requester && **a != record.subject).cloned().collect::<Vec<_>>();
        for approver in approvers {
            self.tell(
                &approver,
                format!("Offboarding of {subject} waits for your approval"),
                format!("{} asks to offboard {subject}; objects go to {new_owner}. Reason: {}", who.email, record.justification.as_str()),
                Some(self.page_link(&format!("offboarding/{}", record.id))),
            )
            .await;
        }
        Ok(record)
    }

    /// The holder of `subject`'s offboarding claim as read now (what a new offboarding's
    /// claim replaces), and an offboarding of `subject` that is pending or running,
    /// other than `except`: the claim's holder, or for offboardings recorded before
    /// claims existed, one found by listing. A claim held by a finished (done,
    /// failed or denied) offboarding is free to replace.
    pub(crate) async fn offboarding_claim(
        &self,
        subject: &Email,
        except: Option<RequestId>,
    ) -> Result<(Option<RequestId>, Option<Offboarding>)> {
        let open = |o: &Offboarding| &o.subject == subject && Some(o.id) != except && o.status.is_open();
        let seen = self.store.get_claim(&claims::offboarding_key(subject)).await?;
        if let Some(holder) = seen
            && let Some(record) = self.store.get_offboarding(holder).await?
            && open(&record)
        {
            return Ok((seen, Some(record)));
        }
        let live = self.store.list_offboardings(None, 500).await?;
        Ok((seen, live.into_iter().find(open)))
    }

    /// A new, pending offboarding record of the preview's member and steps.
    pub(crate) fn offboarding_record(
        &self,
        id: RequestId,
        requester: &Email,
        preview: OffboardPreview,
        justification: Justification,
        ticket: Option<Ticket>,
        approvals_required: u8,
    ) -> Offboarding {
        let now = self.clock.now();
        Offboarding {
            id,
            requester: requester.clone(),
            subject: preview.subject,
            new_owner: preview.new_owner,
            justification,
            ticket,
            status: OffboardStatus::Pending,
            approvals_required,
            approvals: Vec::new(),
            denial: None,
            steps: preview.steps.into_iter().map(OffboardStep::new).collect(),
            warnings: preview.warnings,
            failure: None,
            created_at: now,
            updated_at: now,
            version: 1,
        }
    }

    pub async fn offboarding(&self, who: &Principal, id: RequestId) -> Result<Offboarding> {
        let record = self.store.get_offboarding(id).await?.ok_or_else(|| Error::NotFound(format!("offboarding {id}")))?;
        if who.has(Role::Approver) || record.requester == who.email {
            Ok(record)
        } else {
            Err(Error::NotFound(format!("offboarding {id}")))
        }
    }

    pub async fn offboardings(&self, who: &Principal) -> Result<Vec<Offboarding>> {
        self.require_offboarder(who)?;
        let mut all = self.store.list_offboardings(None, 500).await?;
        all.reverse();
        Ok(all)
    }

    /// One approval; with enough of them the steps run at once.
    #[tracing::instrument(skip_all, fields(offboarding = %id, approver = %who.email))]
    pub async fn offboard_approve(&self, who: &Principal, id: RequestId, reason: Option<String>) -> Result<Offboarding> {
        let mut record = self.store.get_offboarding(id).await?.ok_or_else(|| Error::NotFound(format!("offboarding {id}")))?;
        if record.requester == who.email {
            return Err(Error::Forbidden("You cannot approve your own request; another approver must.".into()));
        }
        if record.subject == who.email {
            return Err(Error::Forbidden("You cannot approve your own offboarding.".into()));
        }
        if record.new_owner == who.email {
            return Err(Error::Forbidden(
                "You receive this offboarding's objects, so you cannot approve it; another approver must.".into(),
            ));
        }
        self.require_active_approver(who, "approve offboardings").await?;
        if record.status != OffboardStatus::Pending {
            return Err(Error::Conflict(format!("The offboarding is already {}.", record.status.as_str())));
        }
        if record.approvals.iter().any(|a| a.by == who.email) {
            return Err(Error::Conflict("You already approved this offboarding.".into()));
        }
        let now = self.clock.now();
        record.approvals.push(Decision { by: who.email.clone(), at: now, reason: reason.clone() });
        let approved = record.approvals.len() >= usize::from(record.approvals_required);
        if approved {
            record.status = OffboardStatus::Approved;
        }
        let expected = record.version;
        record.version += 1;
        record.updated_at = now;
        let details = serde_json::json!({
            "offboarding": true, "reason": reason, "approvals": record.approvals.len(), "approvals_required": record.approvals_required,
        });
        let audit = self.draft(who.actor(), AuditKind::Approved, &record.subject, id, None, details);
        self.store.put_offboarding(Guarded::update(record.clone(), expected), vec![audit]).await.map_err(|e| match e {
            Error::Conflict(_) => Error::Conflict("Someone else decided this offboarding at the same moment; reload it.".into()),
            other => other,
        })?;
        if !approved {
            return Ok(record);
        }
        match self.offboard_run(id).await {
            Ok(done) => Ok(done),
            Err(Error::Upstream(e)) if e.is_transient() => {
                tracing::warn!(error = %e, "offboarding paused; the sweep resumes it");
                Ok(self.store.get_offboarding(id).await?.unwrap_or(record))
            }
            Err(e) => Err(e),
        }
    }

    pub async fn offboard_deny(&self, who: &Principal, id: RequestId, reason: Option<String>) -> Result<Offboarding> {
        self.require_active_approver(who, "deny offboardings").await?;
        let mut record = self.store.get_offboarding(id).await?.ok_or_else(|| Error::NotFound(format!("offboarding {id}")))?;
        if record.status != OffboardStatus::Pending {
            return Err(Error::Conflict(format!("The offboarding is already {}.", record.status.as_str())));
        }
        let now = self.clock.now();
        record.status = OffboardStatus::Denied;
        record.denial = Some(Decision { by: who.email.clone(), at: now, reason: reason.clone() });
        let expected = record.version;
        record.version += 1;
        record.updated_at = now;
        let audit = self.draft(
            who.actor(),
            AuditKind::Denied,
            &record.subject,
            id,
            None,
            serde_json::json!({"offboarding": true, "reason": reason}),
        );
        self.store.put_offboarding(Guarded::update(record.clone(), expected), vec![audit]).await?;
        Ok(record)
    }

    /// Runs the pending steps of an approved offboarding, in order. Safe to call again
    /// at any time (after a crash, by the sweep, twice at once): finished steps are
    /// skipped, and a step whose outcome PostHog already shows is recorded without
    /// writing again.
    #[tracing::instrument(skip_all, fields(offboarding = %id))]
    pub async fn offboard_run(&self, id: RequestId) -> Result<Offboarding> {
        let mut record = self.store.get_offboarding(id).await?.ok_or_else(|| Error::NotFound(format!("offboarding {id}")))?;
        while record.status == OffboardStatus::Approved {
            let Some(index) = record.next_pending() else {
                record = self.finish_offboarding(record).await?;
                break;
            };
            let outcome = match self.run_step(&record, index).await {
                // PostHog refused for good, or the write path refused the write: the
                // step fails and a person looks.
                Err(Error::Upstream(e)) if !e.is_transient() => Err(e.to_string()),
                Err(Error::Forbidden(why)) => Err(why),
                Err(e) => return Err(e),
                Ok(done) => Ok(done),
            };
            let now = self.clock.now();
            let mut next = record.clone();
            let step = &mut next.steps[index];
            step.at = Some(now);
            let mut audit = Vec::new();
            match outcome {
                Ok((read_back, already, allowed)) => {
                    step.status = StepStatus::Done;
                    step.read_back = Some(read_back.clone());
                    step.already_in_place = already;
                    audit.push(self.step_audit(&record, &step.action, &read_back, already, allowed.as_ref()));
                }
                Err(e) => {
                    step.status = StepStatus::Failed;
                    step.error = Some(e.clone());
                    next.status = OffboardStatus::Failed;
                    next.failure = Some(format!("{}: {e}", step.action.describe(&record.new_owner)));
                    audit.push(self.draft(
                        applier(),
                        AuditKind::ApplyFailed,
                        &record.subject,
                        id,
                        None,
                        serde_json::json!({"offboarding": true, "step": index, "error": e}),
                    ));
                }
            }
            let expected = next.version;
            next.version += 1;
            next.updated_at = now;
            match self.store.put_offboarding(Guarded::update(next.clone(), expected), audit).await {
                Ok(_) => record = next,
                // Another runner recorded this step first: carry on from what it wrote.
                Err(Error::Conflict(_)) => {
                    record = self.store.get_offboarding(id).await?.ok_or_else(|| Error::NotFound(format!("offboarding {id}")))?;
                }
                Err(e) => return Err(e),
            }
        }
        Ok(record)
    }

    /// Picks up approved offboardings that stopped (PostHog unavailable, a crash) and
    /// have not moved for `idle` (so a run in progress is not raced).
    pub async fn offboard_resume(&self, idle: chrono::Duration) -> Result<Vec<RequestId>> {
        let now = self.clock.now();
        let mut resumed = Vec::new();
        for record in self.store.list_offboardings(Some(OffboardStatus::Approved), RESUME_BATCH).await? {
            if now - record.updated_at < idle {
                continue;
            }
            match self.offboard_run(record.id).await {
                Ok(_) => resumed.push(record.id),
                Err(e) => tracing::warn!(offboarding = %record.id, error = %e, "offboarding still paused"),
            }
        }
        Ok(resumed)
    }

    /// One step against PostHog: read, write only if needed, read back. Returns the
    /// read-back and whether the outcome was already in place.
    async fn run_step(&self, record: &Offboarding, index: usize) -> Result<(String, bool, Option<Allowed>)> {
        let action = &record.steps[index].action;
        let auth = Authorization::Offboarding(record.id);
        if let StepAction::HandOver { object } = action {
            let owner = self.posthog.find_member(&record.new_owner).await?.ok_or_else(|| {
                Error::Upstream(PostHogError::Rejected {
                    status: 404,
                    code: "not_found".into(),
                    detail: format!("the new owner {} is no longer a member of the PostHog organization", record.new_owner),
                })
            })?;
            if self.posthog.object_access(object, &owner).await?.as_deref() == Some(HAND_OVER_LEVEL) {
                return Ok((HAND_OVER_LEVEL.to_owned(), true, None));
            }
            let write = PostHogWrite::ObjectAccess { object, member: &owner, level: HAND_OVER_LEVEL };
            let (Written::ObjectAccess(found), allowed) = self.writes().write(write, &auth).await? else {
                return Err(Error::Storage("an object access write was answered with something else".into()));
            };
            return match found.as_deref() {
                Some(HAND_OVER_LEVEL) => Ok((HAND_OVER_LEVEL.to_owned(), false, Some(allowed))),
                other => Err(Error::Upstream(PostHogError::NotConfirmed {
                    expected: HAND_OVER_LEVEL.into(),
                    found: other.unwrap_or("no access").into(),
                })),
            };
        }
        let Some(member) = self.posthog.find_member(&record.subject).await? else {
            // Gone already: every removal is in place.
            return Ok(("not a member".into(), true, None));
        };
        match action {
            StepAction::RemoveFromProject { project, .. } => {
                if self.posthog.project_role(&member, *project).await?.is_none() {
                    return Ok(("no explicit access".into(), true, None));
                }
                let write = PostHogWrite::ProjectRole { member: &member, project: *project, role: None };
                let (written, allowed) = self.writes().write(write, &auth).await?;
                match written.access_level()? {
                    AccessLevel::Project(None) | AccessLevel::Org(_) => Ok(("no explicit access".into(), false, Some(allowed))),
                    AccessLevel::Project(Some(role)) => Err(Error::Upstream(PostHogError::NotConfirmed {
                        expected: "no explicit access".into(),
                        found: role.as_str().into(),
                    })),
                }
            }
            StepAction::RemoveFromOrg => {
                let (Written::StillMember(still), allowed) =
                    self.writes().write(PostHogWrite::RemoveMember { member: &member }, &auth).await?
                else {
                    return Err(Error::Storage("a member removal was answered with something else".into()));
                };
                if still {
                    Err(Error::Upstream(PostHogError::NotConfirmed { expected: "not a member".into(), found: "still a member".into() }))
                } else {
                    Ok(("not a member".into(), false, Some(allowed)))
                }
            }
            StepAction::HandOver { .. } => unreachable!("handled above"),
        }
    }

    fn step_audit(
        &self,
        record: &Offboarding,
        action: &StepAction,
        read_back: &str,
        already: bool,
        allowed: Option<&Allowed>,
    ) -> AuditDraft {
        let (kind, mut details) = match action {
            StepAction::HandOver { object } => (
                AuditKind::HandedOver,
                serde_json::json!({
                    "object": object, "from": record.subject, "to": record.new_owner, "level": HAND_OVER_LEVEL,
                    "read_back": read_back, "already_in_place": already,
                    "note": "PostHog's created_by is read-only: the new owner holds manager access instead",
                }),
            ),
            StepAction::RemoveFromProject { project, project_name } => (
                AuditKind::MemberRemoved,
                serde_json::json!({"scope": "project", "project": project, "project_name": project_name, "read_back": read_back, "already_in_place": already}),
            ),
            StepAction::RemoveFromOrg => (
                AuditKind::MemberRemoved,
                serde_json::json!({"scope": "organization", "read_back": read_back, "already_in_place": already}),
            ),
        };
        // What allowed the write (none when PostHog already showed the outcome).
        details["authorization"] = allowed.map_or(serde_json::Value::Null, Allowed::to_json);
        self.draft(applier(), kind, &record.subject, record.id, None, details)
    }

    async fn finish_offboarding(&self, mut record: Offboarding) -> Result<Offboarding> {
        let now = self.clock.now();
        let expected = record.version;
        record.status = OffboardStatus::Done;
        record.version += 1;
        record.updated_at = now;
        let handed: BTreeSet<String> = record.objects().map(OwnedObject::describe).collect();
        let details = serde_json::json!({
            "new_owner": record.new_owner,
            "handed_over": handed,
            "steps": record.steps.len(),
        });
        let audit = self.draft(Actor::System("offboard".into()), AuditKind::Offboarded, &record.subject, record.id, None, details);
        match self.store.put_offboarding(Guarded::update(record.clone(), expected), vec![audit]).await {
            Ok(_) => {}
            Err(Error::Conflict(_)) => {
                return self.store.get_offboarding(record.id).await?.ok_or_else(|| Error::NotFound(format!("offboarding {}", record.id)));
            }
            Err(e) => return Err(e),
        }
        let objects = record.objects().count();
        self.tell(
            &record.new_owner,
            format!("You now manage {objects} object(s) from {}", record.subject),
            format!("{} left the organization; you have manager access on what they created.", record.subject),
            Some(self.page_link(&format!("offboarding/{}", record.id))),
        )
        .await;
        Ok(record)
    }
}

/// The `requested` audit entry's details of a new offboarding.
pub(crate) fn requested_details(record: &Offboarding) -> serde_json::Value {
    serde_json::json!({
        "offboarding": true,
        "new_owner": record.new_owner,
        "reason": record.justification.as_str(),
        "steps": record.steps.iter().map(|s| s.action.describe(&record.new_owner)).collect::<Vec<_>>(),
        "warnings": record.warnings,
    })
}

//! A review's "revoke" of an organization membership: the person leaves the
//! organization through the offboarding machinery (`usecases/offboard.rs`): each
//! object they created handed over as manager access, the private-insight warning,
//! every project, then the organization, each step resumable and audited. The review
//! decision is the approval, so the offboarding is recorded approved at once.
//!
//! Who receives the hand-overs: the policy's `reviews.hand_over_to`, else the reviewer
//! who decided (the admin who closed the campaign, for an item the `revoke` close
//! policy decided). Never the person leaving.
//!
//! The item's remediation names the offboarding (`request_id`, `offboarding: true`) and
//! is written before the offboarding exists, so a retry (closing again, the Lambda
//! retried) finds the same offboarding and never creates a second one.

use serde_json::json;

use crate::audit::AuditKind;
use crate::claims::{self, Claim};
use crate::error::{Error, Result};
use crate::model::Decision;
use crate::offboard::{OffboardStatus, Offboarding, StepAction};
use crate::ports::Guarded;
use crate::reviews::{CampaignId, ItemDecision, Remediation, RemediationStatus, ReviewCommit, ReviewItem, Verdict};
use crate::types::{Email, Justification, Principal, RequestId, Role};

use super::Hogwarden;
use super::offboard::OffboardPreview;

/// Who requests the changes an access review decides: the review itself, so the
/// reviewer who decides is the approver and never also the requester.
pub(super) fn review_requester() -> Email {
    Email::parse(crate::authorize::REVIEW_REQUESTER).expect("a valid address")
}

impl Hogwarden {
    /// Who receives the objects of `person` when `decider` removes them.
    fn hand_over_owner(&self, person: &Email, decider: &Email) -> Result<Email> {
        // The reviewer's decision is the removal's approval: an approver never also
        // receives what the removal hands over, so without `hand_over_to` nobody does.
        match &self.policy.reviews.hand_over_to {
            Some(owner) if owner != person && owner != decider => Ok(owner.clone()),
            Some(owner) if owner == decider => Err(Error::PolicyViolation(format!(
                "{decider} decided this removal, so they cannot also receive {person}'s objects: another reviewer or an admin must decide it."
            ))),
            _ => Err(Error::PolicyViolation(format!(
                "Nobody can receive {person}'s objects: name who does in the policy's reviews.hand_over_to (someone other than the reviewers)."
            ))),
        }
    }

    /// What revoking an organization-membership item would do, before the decision:
    /// the new owner, the objects handed over, the steps and the warnings (private
    /// insights lost with the person, admin access ending). For the item's reviewer
    /// and admins.
    #[tracing::instrument(skip_all, fields(campaign = %campaign, item = %item_id))]
    pub async fn review_removal_preview(&self, who: &Principal, campaign: &CampaignId, item_id: &str) -> Result<OffboardPreview> {
        let item = self
            .store
            .reviews()
            .get_item(campaign, item_id)
            .await?
            .ok_or_else(|| Error::NotFound(format!("item {item_id} of campaign {campaign}")))?;
        if item.reviewer.as_ref() != Some(&who.email) && !who.has(Role::Admin) {
            return Err(Error::Forbidden("Only the item's reviewer or an admin can preview its removal.".into()));
        }
        if !item.removes_member(&Verdict::Revoke) {
            return Err(Error::PolicyViolation(
                "Only an organization-membership item removes the person from the organization; this item is project access.".into(),
            ));
        }
        item.check_verdict(&Verdict::Revoke).map_err(Error::PolicyViolation)?;
        let decider = item.reviewer.clone().unwrap_or_else(|| who.email.clone());
        let new_owner = self.hand_over_owner(&item.person, &decider)?;
        self.offboard_inventory(&item.person, &new_owner).await
    }

    /// Carries out a revoke of an organization membership as an offboarding approved
    /// by the decision. Safe to call again at any point.
    pub(super) async fn remediate_removal(&self, item: ReviewItem, decision: &ItemDecision, closer: &Email) -> Result<()> {
        let reviews = self.store.reviews();
        let item = self.start_remediation(item, true).await?;
        let Some(remediation) = item.remediation.clone() else { return Ok(()) };
        let id = remediation.request_id;
        let decider = super::campaign::decider(decision, closer);
        let outcome = match self.store.get_offboarding(id).await? {
            Some(record) => Ok(Some(record)),
            None => self.create_review_offboarding(&item, decision, &decider, id).await,
        };
        let outcome = match outcome {
            Ok(Some(record)) if record.status == OffboardStatus::Approved => self.offboard_run(id).await.map(Some),
            other => other,
        };
        let now = self.clock.now();
        let (status, applied_at, error) = match &outcome {
            // Not a member any more: nothing left to remove.
            Ok(None) => (RemediationStatus::Applied, Some(now), None),
            Ok(Some(r)) if r.status == OffboardStatus::Done => {
                let removed = r.steps.iter().find(|s| s.action == StepAction::RemoveFromOrg).and_then(|s| s.at);
                (RemediationStatus::Applied, removed.or(Some(now)), None)
            }
            Ok(Some(r)) if r.status == OffboardStatus::Failed => (RemediationStatus::Failed, None, r.failure.clone()),
            Ok(Some(_)) => (RemediationStatus::Pending, None, None),
            // The rules refuse it (an owner, nobody to hand over to): it will not go through by retrying.
            Err(e @ (Error::PolicyViolation(_) | Error::NotFound(_))) => (RemediationStatus::Failed, None, Some(e.to_string())),
            Err(e) => (RemediationStatus::Pending, None, Some(e.to_string())),
        };
        let fresh = reviews.get_item(&item.campaign, &item.id).await?.unwrap_or(item);
        let next_remediation = Remediation { request_id: id, status, applied_at, error, offboarding: true };
        if fresh.remediation.as_ref() != Some(&next_remediation) {
            let expected = fresh.version;
            let mut next = fresh;
            next.remediation = Some(next_remediation);
            next.version = expected + 1;
            match reviews.commit_review(ReviewCommit { items: vec![Guarded::update(next, expected)], ..ReviewCommit::default() }).await {
                Ok(_) | Err(Error::Conflict(_)) => {}
                Err(e) => return Err(e),
            }
        }
        outcome.map(drop)
    }

    /// A revoke or downgrade of project access of a person the same campaign removes
    /// from the organization: the offboarding removes that access too, so the item
    /// follows the removal's remediation instead of a request of its own.
    pub(super) async fn cover_by_removal(&self, item: ReviewItem, org_item: &str) -> Result<()> {
        let reviews = self.store.reviews();
        let Some(org) = reviews.get_item(&item.campaign, org_item).await? else { return Ok(()) };
        let Some(removal) = org.remediation.filter(|r| r.offboarding) else { return Ok(()) };
        if item.remediation.as_ref() == Some(&removal) {
            return Ok(());
        }
        let expected = item.version;
        let mut next = item;
        next.remediation = Some(removal);
        next.version = expected + 1;
        match reviews.commit_review(ReviewCommit { items: vec![Guarded::update(next, expected)], ..ReviewCommit::default() }).await {
            Ok(_) | Err(Error::Conflict(_)) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Records the offboarding, approved by the decision; `None` when the person is no
    /// longer a member of the organization.
    async fn create_review_offboarding(
        &self,
        item: &ReviewItem,
        decision: &ItemDecision,
        decider: &Email,
        id: RequestId,
    ) -> Result<Option<Offboarding>> {
        if self.posthog.find_member(&item.person).await?.is_none() {
            return Ok(None);
        }
        let new_owner = self.hand_over_owner(&item.person, decider)?;
        let under_way = |other: Offboarding| {
            Error::Conflict(format!(
                "{} already has an offboarding under way ({}); finish or deny it, then close the campaign again.",
                item.person, other.id
            ))
        };
        let (seen, open) = self.offboarding_claim(&item.person, Some(id)).await?;
        if let Some(other) = open {
            return Err(under_way(other));
        }
        if seen == Some(id) {
            // Created by an earlier run of the same remediation: carry on with it.
            return self.store.get_offboarding(id).await;
        }
        let preview = self.offboard_inventory(&item.person, &new_owner).await?;
        let reason = decision.reason.clone().unwrap_or_else(|| "Access review decision".into());
        let justification = Justification::parse(&format!("Access review {}: {reason}", item.campaign))?;
        // The decision is the one approval: recorded approved, it runs at once.
        let mut record = self.offboarding_record(id, &review_requester(), preview, justification, None, 1);
        record.status = OffboardStatus::Approved;
        record.approvals = vec![Decision { by: decider.clone(), at: decision.at, reason: decision.reason.clone() }];
        let mut requested = super::offboard::requested_details(&record);
        requested["campaign"] = json!(item.campaign);
        requested["item"] = json!(item.id);
        let approved = json!({
            "offboarding": true,
            "campaign": item.campaign,
            "item": item.id,
            "approved_by": "the access review decision",
            "decided_by": decision.by.to_string(),
            "reason": decision.reason,
            "approvals": 1,
            "approvals_required": 1,
        });
        let audit = vec![
            self.draft(decision.by.clone(), AuditKind::Requested, &item.person, id, None, requested),
            self.draft(decision.by.clone(), AuditKind::Approved, &item.person, id, None, approved),
        ];
        let claim = Claim { key: claims::offboarding_key(&item.person), holder: id, replaces: seen };
        match self.store.put_offboarding_claimed(Guarded::create(record.clone()), claim, audit).await {
            Ok(_) => Ok(Some(record)),
            Err(Error::Conflict(why)) => match self.store.get_offboarding(id).await? {
                // Created by a concurrent run of the same remediation: carry on with it.
                Some(record) => Ok(Some(record)),
                // Another offboarding of the person was recorded at the same moment.
                None => match self.offboarding_claim(&item.person, Some(id)).await? {
                    (_, Some(other)) => Err(under_way(other)),
                    _ => Err(Error::Conflict(why)),
                },
            },
            Err(e) => Err(e),
        }
    }
}

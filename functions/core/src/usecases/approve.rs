//! Approving a request: the guard against self-approval, the conditional write that
//! makes two approvers at once approve once, and the baseline read that the apply
//! and the revert rely on.

use crate::audit::AuditKind;
use crate::error::{Error, Result};
use crate::model::{AccessChange, AccessLevel, AccessRequest, AccessTarget, Decision, RequestStatus};
use crate::ports::{Commit, Guarded, Member, PostHogError};
use crate::types::{Actor, Principal, RequestId};

use super::Hogwarden;

/// What one attempt at recording an approval did.
enum Recorded {
    /// Approved, still waiting for more approvals.
    Pending(AccessRequest),
    /// Fully approved: to be applied.
    Approved(AccessRequest),
    /// The request changed since it was read; read it again.
    Changed,
}

impl Hogwarden {
    #[tracing::instrument(skip_all, fields(request_id = %id, approver = %who.email))]
    pub async fn approve(&self, who: &Principal, id: RequestId, reason: Option<String>) -> Result<AccessRequest> {
        let request = self.store.get_request(id).await?.ok_or_else(|| Error::NotFound(format!("request {id}")))?;
        // Own requests first: that is the answer that tells the requester what to do.
        if request.requester == who.email {
            return Err(Error::Forbidden("You cannot approve your own request; another approver must.".into()));
        }
        if request.subject == who.email {
            return Err(Error::Forbidden("You cannot approve a request that changes your own access; another approver must.".into()));
        }
        self.require_active_approver(who, "approve requests").await?;
        // A bulk change set names its subjects item by item: an approver who gains
        // access by one of its items may not approve it.
        if request.changes.is_empty() && self.store.get_change_set(id).await?.is_some() {
            let items = self.store.list_change_items(id).await?;
            if items.iter().any(|i| i.subject == who.email && i.status != crate::changeset::ItemStatus::NoOp) {
                return Err(Error::Forbidden("This change set changes your own access; another approver must approve it.".into()));
            }
        }
        self.approve_as(who.actor(), request, reason).await
    }

    /// Records one approval (by a person or by policy) and applies the request once
    /// enough approvals are in. When the request changed since it was read (a reminder
    /// was recorded, or another approver decided at the same moment), it is read again
    /// and the decision re-checked on the fresh copy, so a reminder never costs an
    /// approver a "reload" and a second approval never overwrites the first.
    pub(super) async fn approve_as(&self, actor: Actor, mut request: AccessRequest, reason: Option<String>) -> Result<AccessRequest> {
        const ATTEMPTS: usize = 3;
        for _ in 0..ATTEMPTS {
            let id = request.id;
            match self.record_approval(&actor, request, &reason).await? {
                Recorded::Pending(r) => return Ok(r),
                Recorded::Approved(r) => return self.apply_approved(r).await,
                Recorded::Changed => {
                    request = self.store.get_request(id).await?.ok_or_else(|| Error::NotFound(format!("request {id}")))?;
                }
            }
        }
        Err(Error::Conflict("Someone else decided this request at the same moment; reload it.".into()))
    }

    /// One conditional write of one approval, with its audit entry.
    async fn record_approval(&self, actor: &Actor, mut request: AccessRequest, reason: &Option<String>) -> Result<Recorded> {
        let now = self.clock.now();
        if request.status != RequestStatus::Pending {
            return Err(Error::Conflict(format!("The request is already {}.", request.status.as_str())));
        }
        if request.expires_at <= now {
            return Err(Error::Conflict("The request expired before it was approved; ask again.".into()));
        }
        if let Actor::Person(email) = actor {
            if request.approvals.iter().any(|a| &a.by == email) {
                return Err(Error::Conflict("You already approved this request.".into()));
            }
            request.approvals.push(Decision { by: email.clone(), at: now, reason: reason.clone() });
        }
        let expected = request.version;
        let fully_approved = request.approvals.len() >= usize::from(request.approvals_required);
        // A bulk change set (a request without changes of its own) reads each item's
        // baseline when the item is applied.
        if fully_approved && request.extends.is_none() && !request.changes.is_empty() {
            let member = self.member(&request).await?;
            request.baselines = self.baselines(&request, &member).await?;
        }
        if fully_approved {
            request.status = RequestStatus::Approved;
        }
        request.updated_at = now;
        request.version = expected + 1;
        let details = serde_json::json!({
            "reason": reason,
            "approvals": request.approvals.len(),
            "approvals_required": request.approvals_required,
            "baselines": request.baselines,
        });
        let audit = self.draft(actor.clone(), AuditKind::Approved, &request.subject, request.id, None, details);
        let commit = Commit { requests: vec![Guarded::update(request.clone(), expected)], audit: vec![audit], ..Commit::default() };
        match self.store.commit(commit).await {
            Ok(_) if fully_approved => Ok(Recorded::Approved(request)),
            Ok(_) => Ok(Recorded::Pending(request)),
            Err(Error::Conflict(_)) => Ok(Recorded::Changed),
            Err(e) => Err(e),
        }
    }

    async fn apply_approved(&self, request: AccessRequest) -> Result<AccessRequest> {
        match self.apply(request.id).await {
            Ok(applied) => Ok(applied),
            // keys-alerts: writes are paused; the approval is recorded and the sweep
            // applies it once they resume, but the approver hears why now.
            Err(Error::Upstream(e @ PostHogError::Paused(_))) => {
                tracing::warn!(error = %e, "apply deferred until PostHog writes resume");
                Err(Error::Upstream(e))
            }
            // Approved but PostHog is unavailable: the sweep applies it later.
            Err(Error::Upstream(e)) if e.is_transient() => {
                tracing::warn!(error = %e, "apply deferred to the next sweep");
                Ok(self.store.get_request(request.id).await?.unwrap_or(request))
            }
            Err(e) => Err(e),
        }
    }

    pub(super) async fn member(&self, request: &AccessRequest) -> Result<Member> {
        self.posthog.find_member(&request.subject).await?.ok_or_else(|| {
            Error::Upstream(PostHogError::Rejected {
                status: 404,
                code: "not_found".into(),
                detail: format!("{} is no longer a member of the PostHog organization", request.subject),
            })
        })
    }

    /// The access to restore when each change ends. When another live grant already
    /// covers the same target, its baseline is the true one (the current access is
    /// itself temporary).
    async fn baselines(&self, request: &AccessRequest, member: &Member) -> Result<Vec<AccessLevel>> {
        let mut out = Vec::with_capacity(request.changes.len());
        for change in &request.changes {
            let live = self.store.list_active_grants_for_target(&request.subject, change.target()).await?;
            let baseline = match live.iter().filter(|g| g.expires_at.is_some()).min_by_key(|g| g.applied_at) {
                Some(earliest) => earliest.baseline,
                None => self.current(member, change).await?,
            };
            out.push(baseline);
        }
        Ok(out)
    }

    /// What PostHog reports now for the target of a change.
    pub(super) async fn current(&self, member: &Member, change: &AccessChange) -> Result<AccessLevel> {
        Ok(match change.target() {
            AccessTarget::Org => {
                // `find_member` is fresh per call, so re-read instead of trusting `member.level`.
                let fresh = self.posthog.find_member(&member.email).await?.unwrap_or_else(|| member.clone());
                AccessLevel::Org(fresh.level)
            }
            AccessTarget::Project(p) => AccessLevel::Project(self.posthog.project_role(member, p).await?),
        })
    }
}

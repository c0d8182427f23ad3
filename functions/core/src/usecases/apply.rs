//! Applying an approved request in PostHog: one write per change, each confirmed by a
//! read-back, then one conditional commit that records the grants. Safe to run again:
//! a change already in place is not written twice, and the baselines recorded at
//! approval are used, never the (already changed) current state.

use crate::audit::AuditKind;
use crate::authorize::{Allowed, Authorization};
use crate::error::{Error, Result};
use crate::model::{AccessChange, AccessLevel, AccessRequest, Grant, GrantStatus, RequestStatus};
use crate::ports::{Commit, Guarded, Member};
use crate::types::{GrantId, RequestId};

use super::{Hogwarden, PostHogWrite, applier};

impl Hogwarden {
    /// Applies an approved request. A request in any other status is returned as is.
    #[tracing::instrument(skip_all, fields(request_id = %id))]
    pub async fn apply(&self, id: crate::types::RequestId) -> Result<AccessRequest> {
        let mut request = self.store.get_request(id).await?.ok_or_else(|| Error::NotFound(format!("request {id}")))?;
        if request.status != RequestStatus::Approved {
            return Ok(request);
        }
        if request.extends.is_some() {
            return self.apply_extension(request).await;
        }
        // A bulk change set is applied item by item by `bulk_run`, within a time budget.
        if request.changes.is_empty() && self.store.get_change_set(id).await?.is_some() {
            return Ok(request);
        }
        let member = match self.member(&request).await {
            Ok(m) => m,
            Err(Error::Upstream(e)) if !e.is_transient() => return self.fail(request, Vec::new(), e.to_string()).await,
            Err(e) => return Err(e),
        };

        let mut applied: Vec<(AccessChange, AccessLevel, AccessLevel)> = Vec::new();
        let mut authorization = None;
        for (change, baseline) in request.changes.iter().zip(request.baselines.iter()) {
            match self.write(&member, change, id).await {
                Ok((confirmed, allowed)) => {
                    authorization = allowed.or(authorization);
                    applied.push((change.clone(), *baseline, confirmed));
                }
                Err(Error::Upstream(e)) if !e.is_transient() => {
                    let grants = self.grants(&request, &applied, Some(self.clock.now()));
                    return self.fail(request, grants, e.to_string()).await;
                }
                // The write path refused it: its authorization does not hold. Nothing was
                // sent; what did land is rolled back.
                Err(Error::Forbidden(why)) => {
                    let grants = self.grants(&request, &applied, Some(self.clock.now()));
                    return self.fail(request, grants, why).await;
                }
                Err(e) => return Err(e),
            }
        }

        let now = self.clock.now();
        let expires_at = request.expiry_if_applied_at(now);
        let grants = self.grants(&request, &applied, expires_at);
        let expected = request.version;
        request.status = RequestStatus::Applied;
        request.updated_at = now;
        request.version = expected + 1;
        let details = serde_json::json!({
            "grants": grants.iter().map(|g| serde_json::json!({
                "grant_id": g.id, "change": g.change, "baseline": g.baseline, "read_back": g.confirmed,
            })).collect::<Vec<_>>(),
            "expires_at": expires_at,
            "authorization": authorization.as_ref().map_or(serde_json::Value::Null, Allowed::to_json),
        });
        let audit = self.draft(applier(), AuditKind::Applied, &request.subject, id, None, details);
        let commit = Commit {
            requests: vec![Guarded::update(request.clone(), expected)],
            grants: grants.iter().cloned().map(Guarded::create).collect(),
            audit: vec![audit],
            ..Commit::default()
        };
        match self.store.commit(commit).await {
            Ok(_) => {}
            // Someone else applied it at the same moment: theirs stands.
            Err(Error::Conflict(_)) => {
                return self.store.get_request(id).await?.ok_or_else(|| Error::NotFound(format!("request {id}")));
            }
            Err(e) => return Err(e),
        }
        tracing::info!(grants = grants.len(), "request applied");
        let until = expires_at.map(|t| format!(" until {}", t.format("%Y-%m-%d %H:%M UTC"))).unwrap_or_default();
        let what: Vec<String> = request.changes.iter().map(AccessChange::describe).collect();
        let informed = self
            .tell(
                &request.subject,
                "Your PostHog access changed".into(),
                format!("You now have {}{until}. Reason: {}", what.join(", "), request.justification.as_str()),
                Some(self.request_link(id)),
            )
            .await;
        if informed {
            request = self.mark_informed(request).await;
        }
        Ok(request)
    }

    /// Writes one change unless PostHog already shows it, through the one write path
    /// with the request as its authorization; returns the read-back and what allowed
    /// the write (`None` when nothing was written).
    async fn write(&self, member: &Member, change: &AccessChange, request: RequestId) -> Result<(AccessLevel, Option<Allowed>)> {
        let desired = change.desired();
        if self.current(member, change).await? == desired {
            return Ok((desired, None));
        }
        let auth = Authorization::Request(request);
        let write = match change {
            AccessChange::OrgRole { role } => PostHogWrite::OrgLevel { member, level: role.level() },
            AccessChange::ProjectRole { project, role } => PostHogWrite::ProjectRole { member, project: *project, role: Some(*role) },
            AccessChange::RemoveFromProject { project } => PostHogWrite::ProjectRole { member, project: *project, role: None },
        };
        let (written, allowed) = self.writes().write(write, &auth).await?;
        Ok((written.access_level()?, Some(allowed)))
    }

    fn grants(
        &self,
        request: &AccessRequest,
        applied: &[(AccessChange, AccessLevel, AccessLevel)],
        expires_at: Option<chrono::DateTime<chrono::Utc>>,
    ) -> Vec<Grant> {
        let now = self.clock.now();
        applied
            .iter()
            .map(|(change, baseline, confirmed)| Grant {
                id: GrantId::new(),
                request_id: request.id,
                subject: request.subject.clone(),
                change: change.clone(),
                baseline: *baseline,
                confirmed: *confirmed,
                status: GrantStatus::Active,
                applied_at: now,
                expires_at,
                ended_at: None,
                revert_failures: 0,
                last_error: None,
                revert_claimed_until: None,
                reminded_days: Vec::new(),
                extensions: Vec::new(),
                version: 1,
            })
            .collect()
    }

    /// PostHog refused a change for good. Changes of this request that did land are
    /// recorded as grants due now, so the sweep reverts them: all or nothing.
    async fn fail(&self, mut request: AccessRequest, partial: Vec<Grant>, why: String) -> Result<AccessRequest> {
        let now = self.clock.now();
        let expected = request.version;
        request.status = RequestStatus::Failed;
        request.failure = Some(why.clone());
        request.updated_at = now;
        request.version = expected + 1;
        let details = serde_json::json!({ "error": why, "rolled_back": partial.iter().map(|g| g.id).collect::<Vec<_>>() });
        let audit = self.draft(applier(), AuditKind::ApplyFailed, &request.subject, request.id, None, details);
        let commit = Commit {
            requests: vec![Guarded::update(request.clone(), expected)],
            grants: partial.into_iter().map(Guarded::create).collect(),
            audit: vec![audit],
            ..Commit::default()
        };
        match self.store.commit(commit).await {
            Ok(_) | Err(Error::Conflict(_)) => {}
            Err(e) => return Err(e),
        }
        self.tell(&request.requester, "Your access request could not be applied".into(), why, Some(self.request_link(request.id))).await;
        Ok(request)
    }
}

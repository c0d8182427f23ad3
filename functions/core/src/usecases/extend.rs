//! Extending an active temporary grant: one grant, one timer. The extension is a
//! request of its own that always needs an approver, capped by policy; once
//! approved, the grant's end moves and the audit log keeps the guide's access-log
//! entry (original expiration, extended to, reason, approved by).

use chrono::{DateTime, Utc};

use crate::audit::AuditKind;
use crate::error::{Error, Result};
use crate::model::{AccessRequest, Extension, GrantStatus, RequestStatus};
use crate::ports::{Commit, Guarded};
use crate::types::{GrantId, Justification, Principal, RequestId, Role};

use super::{Hogwarden, applier};

impl Hogwarden {
    /// Asks to move the end of an active temporary grant to `until`.
    #[tracing::instrument(skip_all, fields(grant_id = %id, by = %who.email))]
    pub async fn request_extension(
        &self,
        who: &Principal,
        id: GrantId,
        until: DateTime<Utc>,
        reason: Justification,
    ) -> Result<AccessRequest> {
        let grant = self.store.get_grant(id).await?.ok_or_else(|| Error::NotFound(format!("grant {id}")))?;
        let original = self.store.get_request(grant.request_id).await?;
        let sponsor = original.as_ref().map(|r| &r.requester);
        let allowed = who.has(Role::Requester)
            && (grant.subject == who.email || sponsor == Some(&who.email) || who.has(Role::Approver) || who.has(Role::Admin));
        if !allowed {
            return Err(Error::NotFound(format!("grant {id}")));
        }
        if grant.status != GrantStatus::Active {
            return Err(Error::Conflict(format!("The access has already ended ({}); ask for it again instead.", grant.status.as_str())));
        }
        let Some(current_end) = grant.expires_at else {
            return Err(Error::Conflict("This access is permanent; there is nothing to extend.".into()));
        };
        let now = self.clock.now();
        if until <= current_end {
            return Err(Error::PolicyViolation(format!(
                "An extension must end after the current end, {}.",
                current_end.format("%Y-%m-%d %H:%M UTC")
            )));
        }
        let max = self.policy.max_duration(&grant.change);
        if until - now > max.as_chrono() {
            return Err(Error::PolicyViolation(format!(
                "Access to {} may last at most {max} from now; {} is further away.",
                grant.change.describe(),
                until.format("%Y-%m-%d %H:%M UTC")
            )));
        }
        let waiting = self.store.list_requests_for_user(&grant.subject, 500).await?;
        if waiting.iter().any(|r| r.extends == Some(id) && r.status == RequestStatus::Pending) {
            return Err(Error::Conflict("An extension of this access already waits for approval.".into()));
        }

        let request = AccessRequest {
            id: RequestId::new(),
            requester: who.email.clone(),
            subject: grant.subject.clone(),
            changes: vec![grant.change.clone()],
            duration: None,
            ends_at: Some(until),
            extends: Some(id),
            approvers_reminded: false,
            informed_at: None,
            justification: reason,
            ticket: original.as_ref().and_then(|r| r.ticket.clone()),
            status: RequestStatus::Pending,
            created_at: now,
            updated_at: now,
            expires_at: (now + chrono::Duration::minutes(self.policy.pending_ttl_minutes))
                .min(current_end.max(now + chrono::Duration::minutes(1))),
            // An extension always needs a person's approval.
            approvals_required: self.policy.approvals_required.max(1),
            approvals: Vec::new(),
            denial: None,
            baselines: Vec::new(),
            failure: None,
            version: 1,
        };
        let details = serde_json::json!({
            "extends": id,
            "original_expiration": current_end,
            "extend_to": until,
            "justification": request.justification,
        });
        let audit = self.draft(who.actor(), AuditKind::Requested, &request.subject, request.id, Some(id), details);
        self.store.commit(Commit { requests: vec![Guarded::create(request.clone())], audit: vec![audit], ..Commit::default() }).await?;
        self.tell_approvers(&request, "An extension of temporary access waits for your approval").await;
        Ok(request)
    }

    /// Applies an approved extension: the grant's end moves, in one commit with the
    /// request and the access-log entry. Safe to run twice.
    pub(super) async fn apply_extension(&self, mut request: AccessRequest) -> Result<AccessRequest> {
        let (Some(id), Some(until)) = (request.extends, request.ends_at) else {
            return Err(Error::Storage("an extension request without its grant or end".into()));
        };
        let now = self.clock.now();
        let expected_request = request.version;
        request.updated_at = now;
        request.version = expected_request + 1;
        let grant = self.store.get_grant(id).await?.ok_or_else(|| Error::NotFound(format!("grant {id}")))?;
        let Some(original) = grant.expires_at.filter(|_| grant.status == GrantStatus::Active) else {
            request.status = RequestStatus::Failed;
            request.failure = Some("The access ended before the extension was approved; ask for it again.".into());
            let audit = self.draft(
                applier(),
                AuditKind::ApplyFailed,
                &request.subject,
                request.id,
                Some(id),
                serde_json::json!({ "reason": request.failure }),
            );
            let commit =
                Commit { requests: vec![Guarded::update(request.clone(), expected_request)], audit: vec![audit], ..Commit::default() };
            self.store.commit(commit).await?;
            return Ok(request);
        };
        let approved_by: Vec<_> = request.approvals.iter().map(|a| a.by.clone()).collect();
        let mut g = grant.clone();
        let expected_grant = g.version;
        g.expires_at = Some(until.max(original));
        g.reminded_days.clear();
        g.extensions.push(Extension {
            request_id: request.id,
            original_expiration: original,
            extended_to: until,
            reason: request.justification.as_str().to_owned(),
            approved_by: approved_by.clone(),
            at: now,
        });
        g.version = expected_grant + 1;
        request.status = RequestStatus::Applied;
        let details = serde_json::json!({
            "grant_id": id,
            "original_expiration": original,
            "extended_to": until,
            "reason": request.justification,
            "approved_by": approved_by,
        });
        let audit = self.draft(applier(), AuditKind::Extended, &request.subject, request.id, Some(id), details);
        let commit = Commit {
            requests: vec![Guarded::update(request.clone(), expected_request)],
            grants: vec![Guarded::update(g, expected_grant)],
            audit: vec![audit],
            ..Commit::default()
        };
        match self.store.commit(commit).await {
            Ok(_) => {}
            // A concurrent apply (or the sweep ending the grant) got there first.
            Err(Error::Conflict(_)) => {
                return self.store.get_request(request.id).await?.ok_or_else(|| Error::NotFound(format!("request {}", request.id)));
            }
            Err(e) => return Err(e),
        }
        self.tell(
            &request.subject,
            "Your temporary PostHog access was extended".into(),
            format!(
                "Your {} now ends at {} instead of {}.",
                grant.change.describe(),
                until.format("%Y-%m-%d %H:%M UTC"),
                original.format("%Y-%m-%d %H:%M UTC")
            ),
            Some(self.request_link(request.id)),
        )
        .await;
        Ok(request)
    }
}

//! Denying a request, with a reason the requester will read.

use crate::audit::AuditKind;
use crate::error::{Error, Result};
use crate::model::{AccessRequest, Decision, RequestStatus};
use crate::ports::{Commit, Guarded};
use crate::types::{Justification, Principal, RequestId};

use super::Hogwarden;

impl Hogwarden {
    #[tracing::instrument(skip_all, fields(request_id = %id, approver = %who.email))]
    pub async fn deny(&self, who: &Principal, id: RequestId, reason: Justification) -> Result<AccessRequest> {
        self.require_active_approver(who, "deny requests").await?;
        let mut request = self.store.get_request(id).await?.ok_or_else(|| Error::NotFound(format!("request {id}")))?;
        if request.status != RequestStatus::Pending {
            return Err(Error::Conflict(format!("The request is already {}.", request.status.as_str())));
        }
        let now = self.clock.now();
        let expected = request.version;
        request.status = RequestStatus::Denied;
        request.denial = Some(Decision { by: who.email.clone(), at: now, reason: Some(reason.as_str().to_owned()) });
        request.updated_at = now;
        request.version = expected + 1;
        let audit = self.draft(who.actor(), AuditKind::Denied, &request.subject, id, None, serde_json::json!({ "reason": reason }));
        self.store
            .commit(Commit { requests: vec![Guarded::update(request.clone(), expected)], audit: vec![audit], ..Commit::default() })
            .await
            .map_err(|e| match e {
                Error::Conflict(_) => Error::Conflict("Someone else decided this request at the same moment; reload it.".into()),
                other => other,
            })?;
        self.tell(
            &request.requester,
            "Your access request was denied".into(),
            format!("{} denied your request: {}", who.email, reason.as_str()),
            Some(self.request_link(id)),
        )
        .await;
        Ok(request)
    }
}

//! The roles guide's security checklist, answered for one request: approved by whom,
//! the least access that was asked for, documented (request and reason), the person
//! informed, an end or review date when temporary, and the audit entries.

use chrono::{DateTime, Utc};

use crate::audit::AuditEntry;
use crate::error::Result;
use crate::model::{AccessRequest, Grant, RequestStatus};
use crate::ports::{AuditQuery, Commit, Guarded};
use crate::types::{Principal, RequestId};

use super::Hogwarden;

/// The checklist for one request. `None` where the answer is not known yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checklist {
    /// The approvers, or `["policy"]` when policy needed none.
    pub approved_by: Vec<String>,
    /// Whether PostHog's read-back of every change is exactly what was asked for.
    pub least_access: Option<bool>,
    /// The reason (always required) and the ticket, if one was given.
    pub reason: String,
    pub ticket: Option<String>,
    /// When the person was told of the change.
    pub informed_at: Option<DateTime<Utc>>,
    pub temporary: bool,
    /// When temporary access ends (the latest end of its grants, or the end asked for).
    pub ends_at: Option<DateTime<Utc>>,
    /// The audit entries of this request, by sequence number.
    pub audit_entries: Vec<u64>,
}

impl Checklist {
    /// Whether every item holds (for applied requests).
    pub fn complete(&self) -> bool {
        !self.approved_by.is_empty()
            && self.least_access == Some(true)
            && self.informed_at.is_some()
            && (!self.temporary || self.ends_at.is_some())
            && !self.audit_entries.is_empty()
    }
}

impl Hogwarden {
    /// A request with its grants, audit entries and checklist, for its page and export.
    pub async fn request_record(&self, who: &Principal, id: RequestId) -> Result<(AccessRequest, Vec<Grant>, Vec<AuditEntry>, Checklist)> {
        let (request, grants) = self.get_request(who, id).await?;
        let query = AuditQuery { request_id: Some(id), limit: 500, ..AuditQuery::default() };
        let mut entries = self.store.list_audit(&query).await?;
        entries.sort_by_key(|e| e.seq);
        let checklist = checklist(&request, &grants, &entries);
        Ok((request, grants, entries, checklist))
    }

    /// Records that the person was told; best effort (a lost race leaves it unset).
    pub(super) async fn mark_informed(&self, request: AccessRequest) -> AccessRequest {
        let mut r = request.clone();
        let expected = r.version;
        r.informed_at = Some(self.clock.now());
        r.version = expected + 1;
        match self.store.commit(Commit { requests: vec![Guarded::update(r.clone(), expected)], ..Commit::default() }).await {
            Ok(_) => r,
            Err(e) => {
                tracing::warn!(error = %e, "could not record that the person was informed");
                request
            }
        }
    }
}

fn checklist(request: &AccessRequest, grants: &[Grant], entries: &[AuditEntry]) -> Checklist {
    let decided =
        matches!(request.status, RequestStatus::Approved | RequestStatus::Applied | RequestStatus::Reverted | RequestStatus::Failed);
    let approved_by = if !request.approvals.is_empty() {
        request.approvals.iter().map(|a| a.by.to_string()).collect()
    } else if decided && request.approvals_required == 0 {
        vec!["policy".to_owned()]
    } else {
        Vec::new()
    };
    let least_access =
        (!grants.is_empty()).then(|| grants.iter().all(|g| g.confirmed == g.change.desired()) && grants.len() == request.changes.len());
    let ends_at = grants.iter().filter_map(|g| g.expires_at).max().or(request.ends_at);
    Checklist {
        approved_by,
        least_access,
        reason: request.justification.as_str().to_owned(),
        ticket: request.ticket.as_ref().map(|t| t.as_str().to_owned()),
        informed_at: request.informed_at,
        temporary: request.is_temporary(),
        ends_at,
        audit_entries: entries.iter().map(|e| e.seq).collect(),
    }
}

//! Reading: a person's requests and grants, the approver inbox, active grants, and
//! the audit log with its chain verification. Who may see what is decided here.

use crate::audit::{AuditEntry, ChainAnchor, ChainVerification, about_project, verify_chain_against};
use crate::error::{Error, Result};
use crate::model::{AccessRequest, Grant, RequestStatus};
use crate::ports::AuditQuery;
use crate::types::{Principal, ProjectId, RequestId, Role};

use super::Hogwarden;

/// How much of the data a caller may see.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Visibility {
    Own,
    All,
}

/// Audit entries plus whether the whole chain verifies.
#[derive(Debug, Clone)]
pub struct AuditPage {
    pub entries: Vec<AuditEntry>,
    pub verification: ChainVerification,
}

const MAX_LIST: usize = 500;

impl Hogwarden {
    pub fn visibility(who: &Principal) -> Visibility {
        if who.has(Role::Approver) { Visibility::All } else { Visibility::Own }
    }

    pub async fn my_requests(&self, who: &Principal) -> Result<Vec<AccessRequest>> {
        self.store.list_requests_for_user(&who.email, MAX_LIST).await
    }

    pub async fn get_request(&self, who: &Principal, id: RequestId) -> Result<(AccessRequest, Vec<Grant>)> {
        let request = self.store.get_request(id).await?.ok_or_else(|| Error::NotFound(format!("request {id}")))?;
        if Self::visibility(who) == Visibility::Own && request.requester != who.email && request.subject != who.email {
            return Err(Error::NotFound(format!("request {id}")));
        }
        let grants = self.store.list_grants_for_request(id).await?;
        Ok((request, grants))
    }

    /// Pending requests, oldest first. Approvers see their own too (shown, not approvable).
    pub async fn inbox(&self, who: &Principal) -> Result<Vec<AccessRequest>> {
        if !who.has(Role::Approver) {
            return Err(Error::Forbidden("You need the approver role to see the approval inbox.".into()));
        }
        let now = self.clock.now();
        let mut pending = self.store.list_requests_by_status(RequestStatus::Pending, MAX_LIST).await?;
        pending.retain(|r| r.expires_at > now);
        Ok(pending)
    }

    /// Active grants: all of them for approvers and admins, one's own otherwise.
    pub async fn active_grants(&self, who: &Principal) -> Result<Vec<Grant>> {
        match Self::visibility(who) {
            Visibility::All => self.store.list_active_grants(MAX_LIST).await,
            Visibility::Own => {
                let mut mine = self.store.list_grants_for_user(&who.email, MAX_LIST).await?;
                mine.retain(|g| g.status == crate::model::GrantStatus::Active);
                Ok(mine)
            }
        }
    }

    /// Audit entries (newest first) and the verification of the whole chain. With
    /// `project`, only the entries about that PostHog project ([`about_project`]), looked
    /// for in the whole log: the verification reads every entry anyway.
    pub async fn audit(&self, who: &Principal, mut query: AuditQuery, project: Option<ProjectId>) -> Result<AuditPage> {
        if Self::visibility(who) == Visibility::Own {
            query.subject = Some(who.email.clone());
        }
        query.limit = query.limit.clamp(1, MAX_LIST);
        let Some(project) = project else {
            let entries = self.store.list_audit(&query).await?;
            let verification = self.verify_audit().await?;
            return Ok(AuditPage { entries, verification });
        };
        let all = self.audit_chain().await?;
        let verification = verify_chain_against(&all, None);
        let matching: Vec<&AuditEntry> = all.iter().filter(|e| query.matches(e)).collect();
        let mut entries: Vec<AuditEntry> = about_project(&matching, project).into_iter().cloned().collect();
        entries.sort_by_key(|e| std::cmp::Reverse(e.seq));
        entries.truncate(query.limit);
        Ok(AuditPage { entries, verification })
    }

    /// Walks the whole chain in pages and verifies it.
    pub async fn verify_audit(&self) -> Result<ChainVerification> {
        self.verify_audit_against(None).await
    }

    /// Walks the whole chain in pages and verifies it, and that it still holds
    /// `anchor`, an entry recorded earlier (so a chain cut short at its end shows).
    pub async fn verify_audit_against(&self, anchor: Option<&ChainAnchor>) -> Result<ChainVerification> {
        Ok(verify_chain_against(&self.audit_chain().await?, anchor))
    }

    /// The whole chain, oldest first, read in pages.
    async fn audit_chain(&self) -> Result<Vec<AuditEntry>> {
        const PAGE: usize = 1000;
        let mut all = Vec::new();
        let mut after = 0;
        loop {
            let page = self.store.audit_chain_page(after, PAGE).await?;
            let done = page.len() < PAGE;
            if let Some(last) = page.last() {
                after = last.seq;
            }
            all.extend(page);
            if done {
                break;
            }
        }
        Ok(all)
    }
}

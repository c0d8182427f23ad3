//! Reading: a person's requests and grants, the approver inbox, active grants, and
//! the audit log with its chain verification. Who may see what is decided here.

use crate::audit::{AuditEntry, ChainAnchor, ChainVerification, about_project, verify_chain_against};
use crate::error::{Error, Result};
use crate::model::{AccessRequest, Grant, RequestStatus};
use crate::ports::{AuditQuery, Store};
use crate::types::{ParseError, Principal, ProjectId, RequestId, Role};

use super::Hogwarden;

/// How much of the data a caller may see.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Visibility {
    Own,
    All,
}

/// One page of audit entries. Listing never verifies the chain (that reads all of
/// it; see [`Hogwarden::verify_audit_as`]).
#[derive(Debug, Clone)]
pub struct AuditPage {
    pub entries: Vec<AuditEntry>,
    /// A project search stopped at this entry: older entries were not searched. Ask
    /// again with `before_seq` = this to search further back.
    pub searched_back_to: Option<u64>,
}

/// How many of the newest entries (before a `before_seq`) one project search reads.
pub const PROJECT_SEARCH_WINDOW: u64 = 1000;

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

    /// Audit entries, newest first, read through the store's query: never the whole
    /// chain. With `project`, the entries about that PostHog project ([`about_project`])
    /// among at most [`PROJECT_SEARCH_WINDOW`] entries before `before_seq` (the newest
    /// when `None`); the page says where the search stopped when older entries remain.
    pub async fn audit(
        &self,
        who: &Principal,
        mut query: AuditQuery,
        project: Option<ProjectId>,
        before_seq: Option<u64>,
    ) -> Result<AuditPage> {
        if Self::visibility(who) == Visibility::Own {
            query.subject = Some(who.email.clone());
        }
        query.limit = query.limit.clamp(1, MAX_LIST);
        audit_page(&*self.store, &query, project, before_seq).await
    }

    /// [`Hogwarden::verify_audit_against`] for a person: admins only, since it reads
    /// the whole chain (until a verified-through checkpoint lets it read less).
    pub async fn verify_audit_as(&self, who: &Principal, anchor: Option<&ChainAnchor>) -> Result<ChainVerification> {
        if !who.has(Role::Admin) {
            return Err(Error::Forbidden("You need the admin role to verify the whole audit chain.".into()));
        }
        self.verify_audit_against(anchor).await
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

/// [`Hogwarden::audit`] once the caller's visibility is applied to `query`.
async fn audit_page(store: &dyn Store, query: &AuditQuery, project: Option<ProjectId>, before_seq: Option<u64>) -> Result<AuditPage> {
    let Some(project) = project else {
        if before_seq.is_some() {
            return Err(ParseError::Other("'before_seq' continues a project search: use it together with 'project'".into()).into());
        }
        let entries = store.list_audit(query).await?;
        return Ok(AuditPage { entries, searched_back_to: None });
    };
    let newest = match before_seq {
        Some(before) => before.saturating_sub(1),
        None => store.list_audit(&AuditQuery { limit: 1, ..AuditQuery::default() }).await?.first().map_or(0, |e| e.seq),
    };
    let span = newest.min(PROJECT_SEARCH_WINDOW);
    let after = newest - span;
    let window = if span == 0 { Vec::new() } else { store.audit_chain_page(after, usize::try_from(span).unwrap_or(usize::MAX)).await? };
    let matching: Vec<&AuditEntry> = window.iter().filter(|e| e.seq <= newest && query.matches(e)).collect();
    let mut entries: Vec<AuditEntry> = about_project(&matching, project).into_iter().cloned().collect();
    entries.sort_by_key(|e| std::cmp::Reverse(e.seq));
    entries.truncate(query.limit);
    Ok(AuditPage { entries, searched_back_to: (after > 0).then_some(after + 1) })
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use async_trait::async_trait;
    use chrono::{DateTime, TimeZone, Utc};
    use serde_json::json;

    use super::*;
    use crate::audit::{AuditDraft, AuditKind};
    use crate::changeset::{ChangeItem, ChangeSet};
    use crate::model::{AccessTarget, RequestStatus};
    use crate::offboard::{OffboardStatus, Offboarding};
    use crate::ports::{Commit, Guarded};
    use crate::types::{Actor, Email, GrantId};

    /// A chain held in memory that counts the entries each read hands out; every other
    /// port method fails (the audit list must not need it).
    struct CountingChain {
        chain: Vec<AuditEntry>,
        entries_read: AtomicUsize,
    }

    impl CountingChain {
        /// `len` entries; the 5th names project 7 and, like the 2nd-newest, belongs to `request`.
        fn new(len: u64, request: RequestId) -> Self {
            let mut chain: Vec<AuditEntry> = Vec::new();
            for n in 1..=len {
                let about = n == 5 || n == len - 1;
                let draft = AuditDraft {
                    at: Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap() + chrono::Duration::seconds(i64::try_from(n).unwrap()),
                    actor: Actor::System("test".into()),
                    kind: AuditKind::Reminded,
                    subject: None,
                    request_id: about.then_some(request),
                    grant_id: None,
                    details: if n == 5 { json!({ "change": { "project_id": 7 } }) } else { json!({ "n": n }) },
                };
                let head = chain.last().map(|e| (e.seq, e.hash.clone()));
                chain.push(draft.seal(head.as_ref().map(|(s, h)| (*s, h.as_str()))));
            }
            Self { chain, entries_read: AtomicUsize::new(0) }
        }

        fn hand_out(&self, entries: Vec<AuditEntry>) -> Vec<AuditEntry> {
            self.entries_read.fetch_add(entries.len(), Ordering::SeqCst);
            entries
        }
    }

    fn not_in_this_test<T>() -> Result<T> {
        Err(Error::Storage("not part of the audit list".into()))
    }

    #[async_trait]
    impl Store for CountingChain {
        async fn commit(&self, _: Commit) -> Result<Vec<AuditEntry>> {
            not_in_this_test()
        }
        async fn get_request(&self, _: RequestId) -> Result<Option<AccessRequest>> {
            not_in_this_test()
        }
        async fn list_requests_for_user(&self, _: &Email, _: usize) -> Result<Vec<AccessRequest>> {
            not_in_this_test()
        }
        async fn list_requests_by_status(&self, _: RequestStatus, _: usize) -> Result<Vec<AccessRequest>> {
            not_in_this_test()
        }
        async fn get_grant(&self, _: GrantId) -> Result<Option<Grant>> {
            not_in_this_test()
        }
        async fn list_grants_for_request(&self, _: RequestId) -> Result<Vec<Grant>> {
            not_in_this_test()
        }
        async fn list_grants_for_user(&self, _: &Email, _: usize) -> Result<Vec<Grant>> {
            not_in_this_test()
        }
        async fn list_grants_due(&self, _: DateTime<Utc>, _: usize) -> Result<Vec<Grant>> {
            not_in_this_test()
        }
        async fn list_active_grants(&self, _: usize) -> Result<Vec<Grant>> {
            not_in_this_test()
        }
        async fn list_active_grants_for_target(&self, _: &Email, _: AccessTarget) -> Result<Vec<Grant>> {
            not_in_this_test()
        }
        async fn list_audit(&self, query: &AuditQuery) -> Result<Vec<AuditEntry>> {
            Ok(self.hand_out(self.chain.iter().rev().filter(|e| query.matches(e)).take(query.limit).cloned().collect()))
        }
        async fn audit_chain_page(&self, after_seq: u64, limit: usize) -> Result<Vec<AuditEntry>> {
            Ok(self.hand_out(self.chain.iter().filter(|e| e.seq > after_seq).take(limit).cloned().collect()))
        }
        async fn put_offboarding(&self, _: Guarded<Offboarding>, _: Vec<AuditDraft>) -> Result<Vec<AuditEntry>> {
            not_in_this_test()
        }
        async fn put_offboarding_claimed(
            &self,
            _: Guarded<Offboarding>,
            _: crate::claims::Claim,
            _: Vec<AuditDraft>,
        ) -> Result<Vec<AuditEntry>> {
            not_in_this_test()
        }
        async fn get_offboarding(&self, _: RequestId) -> Result<Option<Offboarding>> {
            not_in_this_test()
        }
        async fn list_offboardings(&self, _: Option<OffboardStatus>, _: usize) -> Result<Vec<Offboarding>> {
            not_in_this_test()
        }
        async fn put_change_items(&self, _: &[ChangeItem]) -> Result<()> {
            not_in_this_test()
        }
        async fn get_change_set(&self, _: RequestId) -> Result<Option<ChangeSet>> {
            not_in_this_test()
        }
        async fn find_change_sets(&self, _: &Email, _: &str) -> Result<Vec<ChangeSet>> {
            not_in_this_test()
        }
        async fn list_change_items(&self, _: RequestId) -> Result<Vec<ChangeItem>> {
            not_in_this_test()
        }
        async fn get_claim(&self, _: &str) -> Result<Option<RequestId>> {
            not_in_this_test()
        }
        fn reviews(&self) -> &dyn crate::reviews::ReviewStore {
            panic!("the audit list reads no reviews")
        }
        fn keys(&self) -> &dyn crate::consumers::KeyStore {
            panic!("the audit list reads no keys")
        }
        fn alerts(&self) -> &dyn crate::alerts::AlertStore {
            panic!("the audit list reads no alerts")
        }
    }

    fn query(limit: usize) -> AuditQuery {
        AuditQuery { limit, ..AuditQuery::default() }
    }

    #[tokio::test]
    async fn listing_a_long_chain_reads_the_page_not_the_chain() {
        // Arrange
        let store = CountingChain::new(5000, RequestId::new());

        // Act
        let page = audit_page(&store, &query(50), None, None).await.unwrap();

        // Assert
        assert_eq!(page.entries.len(), 50);
        assert_eq!(page.entries[0].seq, 5000, "newest first");
        assert_eq!(store.entries_read.load(Ordering::SeqCst), 50);
    }

    #[tokio::test]
    async fn a_project_search_reads_a_bounded_window_and_says_where_it_stopped() {
        // Arrange: the project is named by entry 5 only; entry 4999 is of the same request.
        let request = RequestId::new();
        let store = CountingChain::new(5000, request);
        let project = ProjectId::new(7).unwrap();

        // Act: the newest window, then on back until the search reaches the start.
        let newest = audit_page(&store, &query(100), Some(project), None).await.unwrap();
        let read_by_one_search = store.entries_read.load(Ordering::SeqCst);
        let mut before = newest.searched_back_to;
        let mut found = newest.entries.clone();
        let mut searches = 1;
        while let Some(b) = before {
            let page = audit_page(&store, &query(100), Some(project), Some(b)).await.unwrap();
            found.extend(page.entries);
            before = page.searched_back_to;
            searches += 1;
        }
        let stray = audit_page(&store, &query(100), None, Some(10)).await;

        // Assert: one search reads the window plus the newest entry, never the chain.
        assert!(read_by_one_search <= 1 + usize::try_from(PROJECT_SEARCH_WINDOW).unwrap(), "{read_by_one_search} entries read");
        assert_eq!(newest.searched_back_to, Some(4001));
        assert_eq!(searches, 5);
        assert_eq!(
            found.iter().map(|e| e.seq).collect::<Vec<_>>(),
            [5],
            "entry 4999 is linked only when its request's entry is in the same window"
        );
        assert!(matches!(stray, Err(Error::Invalid(_))), "before_seq without a project is refused");
    }
}

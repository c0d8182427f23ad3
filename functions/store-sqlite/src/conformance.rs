//! The `Store` conformance suite: what every `Store` adapter must do, checked only
//! through the port, so the SQLite store and the DynamoDB store are held to the
//! same behaviour. Each check takes a fresh, empty store and panics with a message
//! when the store misbehaves.
//!
//! Run it for an adapter with [`crate::store_conformance_tests!`], which writes one
//! `#[tokio::test]` per check (the caller needs `tokio` as a dev-dependency):
//!
//! ```text
//! async fn fresh_store() -> (Arc<dyn Store>, impl Send) {
//!     let dir = tempfile::TempDir::new().unwrap();
//!     let store = SqliteStore::open(&dir.path().join("db.sqlite")).unwrap();
//!     (Arc::new(store), dir) // the second value lives as long as the test
//! }
//! hogwarden_store_sqlite::store_conformance_tests!(fresh_store);
//! ```
//!
//! The contract these checks pin down, beyond the port's doc comments: lists break
//! ties by id; the audit `from`/`to` filters are inclusive; audit timestamps keep
//! microseconds, and the entries `commit` returns equal the ones read back.

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use hogwarden_core::Error;
use hogwarden_core::audit::{AuditDraft, AuditEntry, AuditKind, verify_chain};
use hogwarden_core::changeset::{ChangeItem, ChangeSet, ItemStatus};
use hogwarden_core::model::{AccessChange, AccessLevel, AccessRequest, AccessTarget, Grant, GrantStatus, RequestStatus};
use hogwarden_core::ports::{AuditQuery, Commit, Guarded, Store};
use hogwarden_core::types::{Actor, Email, GrantDuration, GrantId, Justification, OrgLevel, OrgRole, ProjectId, ProjectRole, RequestId};

#[path = "conformance_offboard.rs"]
mod offboard;
pub use offboard::*;
#[path = "conformance_claims.rs"]
mod claims;
pub use claims::*;

// ---------------------------------------------------------------- fixtures

/// Fixtures: records with plausible defaults that a check adjusts field by field.
pub mod fixtures {
    use super::*;

    /// A fixed starting time with sub-microsecond digits, so precision bugs show.
    pub fn t0() -> DateTime<Utc> {
        DateTime::from_timestamp(1_893_488_400, 123_456_789).expect("valid time")
    }

    /// `t0` plus some minutes.
    pub fn at(minutes: i64) -> DateTime<Utc> {
        t0() + Duration::minutes(minutes)
    }

    /// `name@example.com`.
    pub fn email(name: &str) -> Email {
        Email::parse(&format!("{name}@example.com")).expect("valid email")
    }

    pub fn project(id: i64) -> AccessTarget {
        AccessTarget::Project(ProjectId::new(id).expect("positive id"))
    }

    /// A pending one-hour request by `requester` for `subject` to be admin of project 1001.
    pub fn request(requester: &str, subject: &str, created_at: DateTime<Utc>) -> AccessRequest {
        AccessRequest {
            id: RequestId::new(),
            requester: email(requester),
            subject: email(subject),
            changes: vec![AccessChange::ProjectRole { project: ProjectId::new(1001).expect("id"), role: ProjectRole::Admin }],
            duration: Some(GrantDuration::from_minutes(60).expect("duration")),
            ends_at: None,
            extends: None,
            approvers_reminded: false,
            informed_at: None,
            justification: Justification::parse("investigate the checkout funnel").expect("justification"),
            ticket: None,
            status: RequestStatus::Pending,
            created_at,
            updated_at: created_at,
            expires_at: created_at + Duration::days(1),
            approvals_required: 1,
            approvals: Vec::new(),
            denial: None,
            baselines: Vec::new(),
            failure: None,
            version: 1,
        }
    }

    /// A request in `status`.
    pub fn request_in(status: RequestStatus, requester: &str, created_at: DateTime<Utc>) -> AccessRequest {
        AccessRequest { status, ..request(requester, requester, created_at) }
    }

    /// An active admin grant of `request` at `target`, applied at `applied_at`.
    pub fn grant(request: &AccessRequest, target: AccessTarget, applied_at: DateTime<Utc>, expires_at: Option<DateTime<Utc>>) -> Grant {
        let (change, baseline, confirmed) = match target {
            AccessTarget::Org => {
                (AccessChange::OrgRole { role: OrgRole::Admin }, AccessLevel::Org(OrgLevel::Member), AccessLevel::Org(OrgLevel::Admin))
            }
            AccessTarget::Project(project) => (
                AccessChange::ProjectRole { project, role: ProjectRole::Admin },
                AccessLevel::Project(None),
                AccessLevel::Project(Some(ProjectRole::Admin)),
            ),
        };
        Grant {
            id: GrantId::new(),
            request_id: request.id,
            subject: request.subject.clone(),
            change,
            baseline,
            confirmed,
            status: GrantStatus::Active,
            applied_at,
            expires_at,
            ended_at: None,
            revert_failures: 0,
            last_error: None,
            revert_claimed_until: None,
            reminded_days: Vec::new(),
            extensions: Vec::new(),
            version: 1,
        }
    }

    /// An audit draft whose details carry `marker`, so checks can tell entries apart.
    pub fn draft(
        marker: u64,
        at: DateTime<Utc>,
        actor: Actor,
        kind: AuditKind,
        subject: Option<&Email>,
        request: Option<RequestId>,
    ) -> AuditDraft {
        AuditDraft {
            at,
            actor,
            kind,
            subject: subject.cloned(),
            request_id: request,
            grant_id: None,
            details: serde_json::json!({ "marker": marker, "note": "conformance" }),
        }
    }

    /// A person as actor.
    pub fn person(name: &str) -> Actor {
        Actor::Person(email(name))
    }

    /// A copy of `record` one version on, for a guarded update.
    pub fn next_request(record: &AccessRequest) -> AccessRequest {
        AccessRequest { version: record.version + 1, ..record.clone() }
    }

    pub fn next_grant(record: &Grant) -> Grant {
        Grant { version: record.version + 1, ..record.clone() }
    }
}

use fixtures::*;

// ---------------------------------------------------------------- helpers

/// Creates records in one commit, without audit entries.
pub async fn save(store: &dyn Store, requests: &[AccessRequest], grants: &[Grant]) {
    let commit = Commit {
        requests: requests.iter().cloned().map(Guarded::create).collect(),
        grants: grants.iter().cloned().map(Guarded::create).collect(),
        ..Commit::default()
    };
    store.commit(commit).await.expect("creating fresh records succeeds");
}

/// Appends audit drafts in one commit.
pub async fn append(store: &dyn Store, drafts: Vec<AuditDraft>) -> Vec<AuditEntry> {
    store.commit(Commit { audit: drafts, ..Commit::default() }).await.expect("appending audit entries succeeds")
}

/// The whole chain, read in pages of `page` entries.
pub async fn whole_chain(store: &dyn Store, page: usize) -> Vec<AuditEntry> {
    let mut all: Vec<AuditEntry> = Vec::new();
    loop {
        let after = all.last().map_or(0, |e| e.seq);
        let next = store.audit_chain_page(after, page).await.expect("reading the chain succeeds");
        let done = next.len() < page;
        all.extend(next);
        if done {
            return all;
        }
    }
}

fn request_ids(list: &[AccessRequest]) -> Vec<RequestId> {
    list.iter().map(|r| r.id).collect()
}

fn grant_ids(list: &[Grant]) -> Vec<GrantId> {
    list.iter().map(|g| g.id).collect()
}

fn markers(list: &[AuditEntry]) -> Vec<u64> {
    list.iter().map(|e| e.details["marker"].as_u64().expect("marker")).collect()
}

fn assert_conflict<T: std::fmt::Debug>(outcome: hogwarden_core::error::Result<T>, what: &str) {
    match outcome {
        Err(Error::Conflict(message)) => assert!(!message.is_empty(), "{what}: a conflict says what happened"),
        other => panic!("{what}: expected a conflict, got {other:?}"),
    }
}

// ---------------------------------------------------------------- access patterns

/// Approver inbox: requests in one status, oldest first, within the limit.
pub async fn the_inbox_lists_requests_in_one_status_oldest_first(store: &dyn Store) {
    // Arrange
    let newest = request("ana", "ana", at(30));
    let oldest = request("bo", "bo", at(10));
    let middle = request("cy", "cy", at(20));
    let approved = request_in(RequestStatus::Approved, "dee", at(5));
    save(store, &[newest.clone(), oldest.clone(), middle.clone(), approved.clone()], &[]).await;

    // Act
    let inbox = store.list_requests_by_status(RequestStatus::Pending, 10).await.unwrap();
    let first_two = store.list_requests_by_status(RequestStatus::Pending, 2).await.unwrap();
    let approved_list = store.list_requests_by_status(RequestStatus::Approved, 10).await.unwrap();

    // Assert
    assert_eq!(request_ids(&inbox), vec![oldest.id, middle.id, newest.id]);
    assert_eq!(request_ids(&first_two), vec![oldest.id, middle.id]);
    assert_eq!(request_ids(&approved_list), vec![approved.id]);
}

/// A request leaves the inbox when its status changes.
pub async fn a_request_leaves_the_inbox_when_its_status_changes(store: &dyn Store) {
    let r = request("ana", "ana", at(0));
    save(store, std::slice::from_ref(&r), &[]).await;
    let approved = AccessRequest { status: RequestStatus::Approved, ..next_request(&r) };

    store.commit(Commit { requests: vec![Guarded::update(approved, 1)], ..Commit::default() }).await.unwrap();

    assert!(store.list_requests_by_status(RequestStatus::Pending, 10).await.unwrap().is_empty());
    assert_eq!(request_ids(&store.list_requests_by_status(RequestStatus::Approved, 10).await.unwrap()), vec![r.id]);
}

/// A person's requests: the ones they asked for and the ones about them, newest
/// first, each once.
pub async fn a_users_requests_are_those_they_asked_for_or_are_about_them_newest_first_once(store: &dyn Store) {
    // Arrange
    let for_herself = request("ana", "ana", at(1));
    let for_bo = request("ana", "bo", at(2));
    let about_ana = request("bo", "ana", at(3));
    let unrelated = request("cy", "cy", at(4));
    save(store, &[for_herself.clone(), for_bo.clone(), about_ana.clone(), unrelated], &[]).await;

    // Act
    let anas = store.list_requests_for_user(&email("ana"), 10).await.unwrap();
    let bos = store.list_requests_for_user(&email("bo"), 10).await.unwrap();
    let anas_latest = store.list_requests_for_user(&email("ana"), 2).await.unwrap();
    let nobodys = store.list_requests_for_user(&email("zed"), 10).await.unwrap();

    // Assert
    assert_eq!(request_ids(&anas), vec![about_ana.id, for_bo.id, for_herself.id]);
    assert_eq!(request_ids(&bos), vec![about_ana.id, for_bo.id]);
    assert_eq!(request_ids(&anas_latest), vec![about_ana.id, for_bo.id]);
    assert!(nobodys.is_empty());
}

/// Expiry sweep: only active grants that expire at or before `now`, soonest first.
pub async fn due_grants_are_active_grants_expiring_at_or_before_now_soonest_first(store: &dyn Store) {
    // Arrange
    let r = request_in(RequestStatus::Applied, "ana", at(0));
    let now = at(20);
    let due_first = grant(&r, project(1), at(1), Some(at(10)));
    let due_exactly_now = grant(&r, project(2), at(1), Some(now));
    let not_yet = grant(&r, project(3), at(1), Some(now + Duration::microseconds(1)));
    let permanent = grant(&r, project(4), at(1), None);
    let reverted = Grant { status: GrantStatus::Reverted, ..grant(&r, project(5), at(1), Some(at(5))) };
    let conflicted = Grant { status: GrantStatus::Conflict, ..grant(&r, project(6), at(1), Some(at(2))) };
    let set = [due_exactly_now.clone(), not_yet, permanent, reverted, conflicted, due_first.clone()];
    save(store, std::slice::from_ref(&r), &set).await;

    // Act
    let due = store.list_grants_due(now, 10).await.unwrap();
    let first = store.list_grants_due(now, 1).await.unwrap();
    let before_any = store.list_grants_due(at(9), 10).await.unwrap();

    // Assert
    assert_eq!(grant_ids(&due), vec![due_first.id, due_exactly_now.id]);
    assert_eq!(grant_ids(&first), vec![due_first.id]);
    assert!(before_any.is_empty(), "nothing is due before the first expiry: {before_any:?}");
}

/// A reverted grant is no longer due: the sweep's query follows status changes.
pub async fn a_reverted_grant_is_no_longer_due(store: &dyn Store) {
    let r = request_in(RequestStatus::Applied, "ana", at(0));
    let g = grant(&r, project(1), at(1), Some(at(10)));
    save(store, std::slice::from_ref(&r), std::slice::from_ref(&g)).await;
    let reverted = Grant { status: GrantStatus::Reverted, ended_at: Some(at(11)), ..next_grant(&g) };

    store.commit(Commit { grants: vec![Guarded::update(reverted.clone(), 1)], ..Commit::default() }).await.unwrap();

    assert!(store.list_grants_due(at(60), 10).await.unwrap().is_empty());
    assert_eq!(store.get_grant(g.id).await.unwrap(), Some(reverted));
}

/// An extended grant moves in the due index: due at its new end, not its old one.
pub async fn an_extended_grant_is_due_at_its_new_end(store: &dyn Store) {
    let r = request_in(RequestStatus::Applied, "ana", at(0));
    let g = grant(&r, project(1), at(1), Some(at(10)));
    save(store, std::slice::from_ref(&r), std::slice::from_ref(&g)).await;
    let extended = Grant { expires_at: Some(at(30)), reminded_days: vec![7], ..next_grant(&g) };

    store.commit(Commit { grants: vec![Guarded::update(extended.clone(), 1)], ..Commit::default() }).await.unwrap();

    assert!(store.list_grants_due(at(20), 10).await.unwrap().is_empty(), "not due at the old end");
    assert_eq!(grant_ids(&store.list_grants_due(at(30), 10).await.unwrap()), vec![g.id]);
    assert_eq!(store.get_grant(g.id).await.unwrap(), Some(extended));
}

/// All active grants: soonest expiry first, permanent ones last, within the limit.
pub async fn active_grants_list_soonest_expiry_first_and_permanent_ones_last(store: &dyn Store) {
    // Arrange
    let r = request_in(RequestStatus::Applied, "ana", at(0));
    let permanent_old = grant(&r, project(1), at(1), None);
    let permanent_new = grant(&r, project(2), at(2), None);
    let later = grant(&r, project(3), at(1), Some(at(90)));
    let sooner = grant(&r, project(4), at(1), Some(at(30)));
    let reverted = Grant { status: GrantStatus::Reverted, ..grant(&r, project(5), at(1), Some(at(10))) };
    save(store, std::slice::from_ref(&r), &[permanent_new.clone(), later.clone(), permanent_old.clone(), reverted, sooner.clone()]).await;

    // Act
    let all = store.list_active_grants(10).await.unwrap();
    let three = store.list_active_grants(3).await.unwrap();
    let one = store.list_active_grants(1).await.unwrap();

    // Assert
    assert_eq!(grant_ids(&all), vec![sooner.id, later.id, permanent_old.id, permanent_new.id]);
    assert_eq!(grant_ids(&three), vec![sooner.id, later.id, permanent_old.id]);
    assert_eq!(grant_ids(&one), vec![sooner.id]);
}

/// A person's grants, newest first, within the limit; nobody else's.
pub async fn a_users_grants_are_listed_newest_first(store: &dyn Store) {
    // Arrange
    let anas = request_in(RequestStatus::Applied, "ana", at(0));
    let bos = request_in(RequestStatus::Applied, "bo", at(0));
    let first = grant(&anas, project(1), at(1), None);
    let third = Grant { status: GrantStatus::Reverted, ..grant(&anas, project(2), at(3), Some(at(4))) };
    let second = grant(&anas, AccessTarget::Org, at(2), Some(at(60)));
    let other = grant(&bos, project(1), at(5), None);
    save(store, &[anas, bos], &[first.clone(), third.clone(), second.clone(), other]).await;

    // Act
    let all = store.list_grants_for_user(&email("ana"), 10).await.unwrap();
    let latest = store.list_grants_for_user(&email("ana"), 2).await.unwrap();

    // Assert
    assert_eq!(grant_ids(&all), vec![third.id, second.id, first.id]);
    assert_eq!(grant_ids(&latest), vec![third.id, second.id]);
}

/// A request's grants: all of them, in the order they were written, and no others.
pub async fn a_requests_grants_are_all_of_its_grants_in_written_order(store: &dyn Store) {
    let r = request_in(RequestStatus::Applied, "ana", at(0));
    let other = request_in(RequestStatus::Applied, "bo", at(0));
    let written: Vec<Grant> = (1..=4).map(|p| grant(&r, project(p), at(1), Some(at(60)))).collect();
    let mut all = written.clone();
    all.push(grant(&other, project(1), at(1), None));
    save(store, &[r.clone(), other], &all).await;

    let found = store.list_grants_for_request(r.id).await.unwrap();

    assert_eq!(found, written);
    assert!(store.list_grants_for_request(RequestId::new()).await.unwrap().is_empty());
}

/// Overlap check: active grants of one person at one target, and nothing else.
pub async fn active_grants_for_a_target_match_the_person_the_target_and_active_status(store: &dyn Store) {
    // Arrange
    let anas = request_in(RequestStatus::Applied, "ana", at(0));
    let bos = request_in(RequestStatus::Applied, "bo", at(0));
    let early = grant(&anas, project(1), at(1), Some(at(60)));
    let late = grant(&anas, project(1), at(2), None);
    let other_project = grant(&anas, project(2), at(1), None);
    let org = grant(&anas, AccessTarget::Org, at(1), None);
    let reverted = Grant { status: GrantStatus::Reverted, ..grant(&anas, project(1), at(1), Some(at(2))) };
    let other_person = grant(&bos, project(1), at(1), None);
    save(store, &[anas, bos], &[late.clone(), early.clone(), other_project.clone(), org.clone(), reverted, other_person]).await;

    // Act
    let project_one = store.list_active_grants_for_target(&email("ana"), project(1)).await.unwrap();
    let at_org = store.list_active_grants_for_target(&email("ana"), AccessTarget::Org).await.unwrap();
    let none = store.list_active_grants_for_target(&email("cy"), project(1)).await.unwrap();

    // Assert
    assert_eq!(grant_ids(&project_one), vec![early.id, late.id]);
    assert_eq!(grant_ids(&at_org), vec![org.id]);
    assert!(none.is_empty());
}

/// Records come back exactly as written, nanoseconds included; unknown ids read as `None`.
pub async fn records_read_back_exactly_as_written(store: &dyn Store) {
    let mut r = request("ana", "bo", at(0));
    r.approvals = vec![hogwarden_core::model::Decision { by: email("cy"), at: at(1), reason: Some("ok".into()) }];
    r.baselines = vec![AccessLevel::Project(None)];
    let g =
        Grant { last_error: Some("PostHog is unavailable".into()), revert_failures: 2, ..grant(&r, AccessTarget::Org, at(2), Some(at(3))) };
    save(store, std::slice::from_ref(&r), std::slice::from_ref(&g)).await;

    assert_eq!(store.get_request(r.id).await.unwrap(), Some(r));
    assert_eq!(store.get_grant(g.id).await.unwrap(), Some(g));
    assert_eq!(store.get_request(RequestId::new()).await.unwrap(), None);
    assert_eq!(store.get_grant(GrantId::new()).await.unwrap(), None);
}

/// The audit log: each filter on its own and together, newest first, within the limit.
pub async fn the_audit_log_filters_by_subject_actor_kind_request_and_time_newest_first(store: &dyn Store) {
    // Arrange
    let (ana, bo) = (email("ana"), email("bo"));
    let (r1, r2) = (RequestId::new(), RequestId::new());
    append(
        store,
        vec![
            draft(1, at(1), person("ana"), AuditKind::Requested, Some(&ana), Some(r1)),
            draft(2, at(2), person("bo"), AuditKind::Approved, Some(&ana), Some(r1)),
            draft(3, at(3), Actor::System("apply".into()), AuditKind::Applied, Some(&ana), Some(r1)),
        ],
    )
    .await;
    append(
        store,
        vec![
            draft(4, at(4), person("bo"), AuditKind::Requested, Some(&bo), Some(r2)),
            draft(5, at(5), person("cy"), AuditKind::Denied, Some(&bo), Some(r2)),
        ],
    )
    .await;
    let query = |f: fn(&mut AuditQuery)| {
        let mut q = AuditQuery { limit: 100, ..AuditQuery::default() };
        f(&mut q);
        q
    };

    // Act + Assert
    let all = store.list_audit(&query(|_| {})).await.unwrap();
    assert_eq!(markers(&all), vec![5, 4, 3, 2, 1]);
    let by_subject = store.list_audit(&query(|q| q.subject = Some(email("ana")))).await.unwrap();
    assert_eq!(markers(&by_subject), vec![3, 2, 1]);
    let by_actor = store.list_audit(&query(|q| q.actor = Some(email("bo")))).await.unwrap();
    assert_eq!(markers(&by_actor), vec![4, 2]);
    let by_kind = store.list_audit(&query(|q| q.kind = Some(AuditKind::Requested))).await.unwrap();
    assert_eq!(markers(&by_kind), vec![4, 1]);
    let r2_filter = AuditQuery { request_id: Some(r2), limit: 100, ..AuditQuery::default() };
    assert_eq!(markers(&store.list_audit(&r2_filter).await.unwrap()), vec![5, 4]);
    let window = store.list_audit(&query(|q| (q.from, q.to) = (Some(at(2)), Some(at(4))))).await.unwrap();
    assert_eq!(markers(&window), vec![4, 3, 2], "from and to are inclusive");
    let combined = store.list_audit(&query(|q| (q.subject, q.actor) = (Some(email("ana")), Some(email("bo"))))).await.unwrap();
    assert_eq!(markers(&combined), vec![2]);
    let limited = store.list_audit(&AuditQuery { limit: 2, ..AuditQuery::default() }).await.unwrap();
    assert_eq!(markers(&limited), vec![5, 4]);
    let nothing = store.list_audit(&query(|q| q.kind = Some(AuditKind::Reverted))).await.unwrap();
    assert!(nothing.is_empty());
}

/// Chain paging: ascending `seq` after the given one, within the limit.
pub async fn the_audit_chain_pages_in_sequence_order_after_a_given_entry(store: &dyn Store) {
    for batch in 0..5u64 {
        let drafts = (0..3u64).map(|i| draft(batch * 3 + i + 1, at(0), person("ana"), AuditKind::Requested, None, None)).collect();
        append(store, drafts).await;
    }

    let first = store.audit_chain_page(0, 4).await.unwrap();
    let middle = store.audit_chain_page(4, 4).await.unwrap();
    let tail = store.audit_chain_page(13, 4).await.unwrap();
    let past_end = store.audit_chain_page(15, 4).await.unwrap();
    let whole = whole_chain(store, 4).await;

    assert_eq!(first.iter().map(|e| e.seq).collect::<Vec<_>>(), vec![1, 2, 3, 4]);
    assert_eq!(middle.iter().map(|e| e.seq).collect::<Vec<_>>(), vec![5, 6, 7, 8]);
    assert_eq!(tail.iter().map(|e| e.seq).collect::<Vec<_>>(), vec![14, 15]);
    assert!(past_end.is_empty());
    assert_eq!(markers(&whole), (1..=15).collect::<Vec<_>>());
    assert!(verify_chain(&whole).valid);
}

/// What `commit` returns is what is stored: same seq, hash and (microsecond) time.
pub async fn committed_audit_entries_read_back_as_returned(store: &dyn Store) {
    let r = request("ana", "ana", at(0));
    let drafts = vec![
        draft(1, at(0), person("ana"), AuditKind::Requested, Some(&r.subject), Some(r.id)),
        draft(2, at(0) + Duration::nanoseconds(999), Actor::System("sweep".into()), AuditKind::Expired, Some(&r.subject), Some(r.id)),
    ];

    let sealed = store.commit(Commit { requests: vec![Guarded::create(r)], audit: drafts, ..Commit::default() }).await.unwrap();

    assert_eq!(sealed.iter().map(|e| e.seq).collect::<Vec<_>>(), vec![1, 2]);
    assert_eq!(whole_chain(store, 10).await, sealed);
    assert!(verify_chain(&sealed).valid);
}

// ---------------------------------------------------------------- guarded writes

/// An update that expects an older version conflicts and changes nothing.
pub async fn an_update_expecting_a_stale_version_conflicts(store: &dyn Store) {
    // Arrange
    let r = request("ana", "ana", at(0));
    save(store, std::slice::from_ref(&r), &[]).await;
    let approved = AccessRequest { status: RequestStatus::Approved, ..next_request(&r) };
    store.commit(Commit { requests: vec![Guarded::update(approved.clone(), 1)], ..Commit::default() }).await.unwrap();

    // Act
    let denied = AccessRequest { status: RequestStatus::Denied, ..next_request(&r) };
    let outcome = store.commit(Commit { requests: vec![Guarded::update(denied, 1)], ..Commit::default() }).await;

    // Assert
    assert_conflict(outcome, "a stale update");
    assert_eq!(store.get_request(r.id).await.unwrap(), Some(approved));
}

/// Two writers expecting the same version at once: exactly one wins, the other
/// conflicts, and only the winner's audit entry is written.
pub async fn two_updates_expecting_the_same_version_apply_once(store: &dyn Store) {
    // Arrange
    let r = request("ana", "ana", at(0));
    save(store, std::slice::from_ref(&r), &[]).await;
    let attempt = |status: RequestStatus, marker: u64| Commit {
        requests: vec![Guarded::update(AccessRequest { status, ..next_request(&r) }, 1)],
        audit: vec![draft(marker, at(1), person("bo"), AuditKind::Approved, Some(&r.subject), Some(r.id))],
        ..Commit::default()
    };

    // Act
    let (a, b) = tokio::join!(store.commit(attempt(RequestStatus::Approved, 1)), store.commit(attempt(RequestStatus::Denied, 2)));

    // Assert
    let (winner, loser) = match (&a, &b) {
        (Ok(_), Err(Error::Conflict(_))) => (RequestStatus::Approved, 2),
        (Err(Error::Conflict(_)), Ok(_)) => (RequestStatus::Denied, 1),
        _ => panic!("exactly one of two racing updates must win: {a:?} / {b:?}"),
    };
    let stored = store.get_request(r.id).await.unwrap().unwrap();
    assert_eq!((stored.status, stored.version), (winner, 2));
    let chain = whole_chain(store, 10).await;
    assert_eq!(chain.len(), 1, "only the winner's audit entry is written");
    assert_ne!(markers(&chain)[0], loser);
}

/// Creating a record whose id exists conflicts, for requests and grants alike.
pub async fn creating_a_record_twice_conflicts(store: &dyn Store) {
    let r = request("ana", "ana", at(0));
    let g = grant(&r, project(1), at(1), None);
    save(store, std::slice::from_ref(&r), std::slice::from_ref(&g)).await;

    let again_request = store.commit(Commit { requests: vec![Guarded::create(r.clone())], ..Commit::default() }).await;
    let again_grant = store.commit(Commit { grants: vec![Guarded::create(g.clone())], ..Commit::default() }).await;

    assert_conflict(again_request, "creating a request twice");
    assert_conflict(again_grant, "creating a grant twice");
    assert_eq!(store.get_request(r.id).await.unwrap(), Some(r));
}

/// Updating a record that was never created conflicts.
pub async fn updating_a_missing_record_conflicts(store: &dyn Store) {
    let r = request("ana", "ana", at(0));

    let outcome = store.commit(Commit { requests: vec![Guarded::update(next_request(&r), 1)], ..Commit::default() }).await;

    assert_conflict(outcome, "updating a missing request");
    assert_eq!(store.get_request(r.id).await.unwrap(), None);
}

/// One failed guard fails the whole commit: no record and no audit entry is written.
pub async fn a_conflict_rolls_back_the_whole_commit(store: &dyn Store) {
    // Arrange
    let existing = request("ana", "ana", at(0));
    save(store, std::slice::from_ref(&existing), &[]).await;
    append(store, vec![draft(1, at(0), person("ana"), AuditKind::Requested, None, None)]).await;
    let fresh = request("bo", "bo", at(1));
    let fresh_grant = grant(&fresh, project(1), at(1), None);
    let stale = AccessRequest { status: RequestStatus::Denied, version: 3, ..existing.clone() };

    // Act: the stale guard comes last, after writes that would succeed on their own.
    let outcome = store
        .commit(Commit {
            requests: vec![Guarded::create(fresh.clone()), Guarded::update(stale, 2)],
            grants: vec![Guarded::create(fresh_grant.clone())],
            audit: vec![draft(2, at(1), person("cy"), AuditKind::Denied, None, None)],
            ..Commit::default()
        })
        .await;

    // Assert
    assert_conflict(outcome, "a commit with one stale guard");
    assert_eq!(store.get_request(fresh.id).await.unwrap(), None, "the created request was rolled back");
    assert_eq!(store.get_grant(fresh_grant.id).await.unwrap(), None, "the created grant was rolled back");
    assert_eq!(store.get_request(existing.id).await.unwrap(), Some(existing));
    assert_eq!(markers(&whole_chain(store, 10).await), vec![1], "no audit entry was added");
}

/// A record whose version is not the expected one plus one is a caller bug: refused
/// as a storage error, and nothing is written.
pub async fn a_write_that_skips_a_version_is_refused(store: &dyn Store) {
    let r = request("ana", "ana", at(0));
    let not_one = AccessRequest { version: 2, ..r.clone() };
    let created = store.commit(Commit { requests: vec![Guarded::create(not_one)], ..Commit::default() }).await;
    assert!(matches!(created, Err(Error::Storage(_))), "a new record must carry version 1: {created:?}");
    assert_eq!(store.get_request(r.id).await.unwrap(), None);

    save(store, std::slice::from_ref(&r), &[]).await;
    let unchanged = AccessRequest { status: RequestStatus::Approved, ..r.clone() };
    let updated = store.commit(Commit { requests: vec![Guarded::update(unchanged, 1)], ..Commit::default() }).await;
    assert!(matches!(updated, Err(Error::Storage(_))), "an update must carry expected + 1: {updated:?}");
    assert_eq!(store.get_request(r.id).await.unwrap(), Some(r));
}

/// Many commits, some from concurrent tasks: the chain has every entry once, in
/// contiguous `seq` order, and verifies.
pub async fn the_chain_verifies_after_many_commits_including_concurrent_ones(store: &Arc<dyn Store>) {
    const SEQUENTIAL: u64 = 12;
    const TASKS: u64 = 6;
    const PER_TASK: u64 = 5;
    // Arrange + Act: sequential commits first, then racing tasks, each commit also
    // moving its own request along so state and audit are written together.
    for i in 0..SEQUENTIAL {
        append(store.as_ref(), vec![draft(i, at(0), person("ana"), AuditKind::Requested, None, None)]).await;
    }
    let mut tasks = Vec::new();
    for t in 0..TASKS {
        let store = Arc::clone(store);
        tasks.push(tokio::spawn(async move {
            let mut r = request("bo", "bo", at(1));
            save(store.as_ref(), std::slice::from_ref(&r), &[]).await;
            for i in 0..PER_TASK {
                let next = next_request(&r);
                let marker = 1000 * (t + 1) + i * 2;
                let drafts = vec![
                    draft(marker, at(2), person("bo"), AuditKind::Approved, Some(&r.subject), Some(r.id)),
                    draft(marker + 1, at(2), Actor::System("apply".into()), AuditKind::Applied, Some(&r.subject), Some(r.id)),
                ];
                store
                    .commit(Commit { requests: vec![Guarded::update(next.clone(), r.version)], audit: drafts, ..Commit::default() })
                    .await
                    .unwrap();
                r = next;
            }
        }));
    }
    for task in tasks {
        task.await.expect("writer task finished");
    }

    // Assert
    let chain = whole_chain(store.as_ref(), 7).await;
    let expected = SEQUENTIAL + TASKS * PER_TASK * 2;
    assert_eq!(chain.iter().map(|e| e.seq).collect::<Vec<_>>(), (1..=expected).collect::<Vec<_>>(), "seq is contiguous from 1");
    let verification = verify_chain(&chain);
    assert!(verification.valid, "{verification:?}");
    let mut seen = markers(&chain);
    seen.sort_unstable();
    seen.dedup();
    assert_eq!(seen.len() as u64, expected, "every entry is in the chain once");
}

// ---------------------------------------------------------------- bulk change sets

/// A change set of `n` pending items (project roles in project 1001) for a new request.
pub fn change_set(requester: &str, digest: &str, n: u32, created_at: DateTime<Utc>) -> (AccessRequest, ChangeSet, Vec<ChangeItem>) {
    let r = AccessRequest { changes: Vec::new(), ..request(requester, requester, created_at) };
    let set = ChangeSet {
        request_id: r.id,
        requester: email(requester),
        digest: digest.to_owned(),
        format: "csv".into(),
        total: n as usize,
        claimed_until: None,
        started_at: None,
        finished_at: None,
        created_at,
        updated_at: created_at,
        version: 1,
    };
    let items = (0..n)
        .map(|seq| ChangeItem {
            request_id: r.id,
            seq,
            line: seq as usize + 2,
            subject: email(&format!("person{seq}")),
            target: "Production".into(),
            change: AccessChange::ProjectRole { project: ProjectId::new(1001).expect("positive"), role: ProjectRole::Member },
            ends_at: None,
            status: ItemStatus::Pending,
            baseline: None,
            read_back: None,
            error: None,
            grant_id: None,
            attempts: 0,
            updated_at: created_at,
            version: 1,
        })
        .collect();
    (r, set, items)
}

async fn save_change_set(store: &dyn Store, r: &AccessRequest, set: &ChangeSet, items: &[ChangeItem]) {
    store.put_change_items(items).await.expect("putting a new set's items succeeds");
    store
        .commit(Commit { requests: vec![Guarded::create(r.clone())], change_sets: vec![Guarded::create(set.clone())], ..Commit::default() })
        .await
        .expect("creating the set succeeds");
}

/// A set's header and items read back as written, items in `seq` order; the same
/// requester and digest find it, newest first.
pub async fn a_change_set_reads_back_with_its_items_in_order_and_is_found_by_digest(store: &dyn Store) {
    // Arrange: items written out of order, two sets from the same text, one other.
    let (r1, s1, mut items1) = change_set("ana", "sha256:aa", 120, at(0));
    items1.reverse();
    save_change_set(store, &r1, &s1, &items1).await;
    let (r2, s2, items2) = change_set("ana", "sha256:aa", 3, at(5));
    save_change_set(store, &r2, &s2, &items2).await;
    let (r3, s3, items3) = change_set("bo", "sha256:aa", 1, at(6));
    save_change_set(store, &r3, &s3, &items3).await;

    // Act
    let header = store.get_change_set(r1.id).await.unwrap();
    let read = store.list_change_items(r1.id).await.unwrap();
    let found = store.find_change_sets(&email("ana"), "sha256:aa").await.unwrap();
    let none = store.find_change_sets(&email("ana"), "sha256:bb").await.unwrap();

    // Assert
    assert_eq!(header.as_ref(), Some(&s1));
    items1.reverse();
    assert_eq!(read, items1, "items read back whole, in seq order");
    assert_eq!(found.iter().map(|s| s.request_id).collect::<Vec<_>>(), vec![r2.id, r1.id], "newest first, this requester only");
    assert!(none.is_empty());
    assert!(store.get_change_set(RequestId::new()).await.unwrap().is_none());
}

/// An item moves on only from the version it was read at; a stale write changes
/// nothing, neither the item nor the grant and audit entry committed with it.
pub async fn a_stale_item_write_conflicts_and_rolls_back_its_grant_and_audit(store: &dyn Store) {
    // Arrange
    let (r, set, items) = change_set("ana", "sha256:cc", 2, at(0));
    save_change_set(store, &r, &set, &items).await;
    let done = |marker: u64| {
        let g = grant(&r, project(1001), at(1), None);
        let item = ChangeItem { status: ItemStatus::Done, grant_id: Some(g.id), version: 2, ..items[0].clone() };
        let audit = draft(marker, at(1), person("ana"), AuditKind::Applied, Some(&email("person0")), Some(r.id));
        (
            g.id,
            Commit {
                grants: vec![Guarded::create(g)],
                change_items: vec![Guarded::update(item, 1)],
                audit: vec![audit],
                ..Commit::default()
            },
        )
    };
    let (first_grant, first) = done(1);
    let (second_grant, second) = done(2);

    // Act
    store.commit(first).await.expect("the first write from version 1 succeeds");
    let again = store.commit(second).await;

    // Assert
    assert_conflict(again, "a second write from version 1");
    let read = store.list_change_items(r.id).await.unwrap();
    assert_eq!((read[0].status, read[0].version, read[0].grant_id), (ItemStatus::Done, 2, Some(first_grant)));
    assert_eq!(read[1], items[1], "the other item is untouched");
    assert!(store.get_grant(second_grant).await.unwrap().is_none(), "the losing commit's grant is not written");
    let chain = whole_chain(store, 50).await;
    assert_eq!(markers(&chain), vec![1], "the losing commit's audit entry is not written");
}

/// Items can only be put for a set whose header does not exist yet: a set that
/// started cannot be reset by writing its items again.
pub async fn items_cannot_be_put_again_once_their_set_exists(store: &dyn Store) {
    // Arrange
    let (r, set, items) = change_set("ana", "sha256:dd", 2, at(0));
    save_change_set(store, &r, &set, &items).await;
    let moved = ChangeItem { status: ItemStatus::InFlight, version: 2, ..items[0].clone() };
    store.commit(Commit { change_items: vec![Guarded::update(moved.clone(), 1)], ..Commit::default() }).await.unwrap();

    // Act
    let again = store.put_change_items(&items).await;

    // Assert
    assert_conflict(again, "putting the items of an existing set");
    assert_eq!(store.list_change_items(r.id).await.unwrap()[0], moved);
}

/// Writes one conformance `#[tokio::test]` per check for a `Store` adapter.
///
/// `$make` is a path to an `async fn() -> (Arc<dyn Store>, G)` that returns a fresh,
/// empty store and anything that must live as long as the test (a temporary folder,
/// an emulator handle).
#[macro_export]
macro_rules! store_conformance_tests {
    ($make:path) => {
        $crate::store_conformance_tests!(@each $make;
            the_inbox_lists_requests_in_one_status_oldest_first,
            a_request_leaves_the_inbox_when_its_status_changes,
            a_users_requests_are_those_they_asked_for_or_are_about_them_newest_first_once,
            due_grants_are_active_grants_expiring_at_or_before_now_soonest_first,
            a_reverted_grant_is_no_longer_due,
            an_extended_grant_is_due_at_its_new_end,
            active_grants_list_soonest_expiry_first_and_permanent_ones_last,
            a_users_grants_are_listed_newest_first,
            a_requests_grants_are_all_of_its_grants_in_written_order,
            active_grants_for_a_target_match_the_person_the_target_and_active_status,
            records_read_back_exactly_as_written,
            the_audit_log_filters_by_subject_actor_kind_request_and_time_newest_first,
            the_audit_chain_pages_in_sequence_order_after_a_given_entry,
            committed_audit_entries_read_back_as_returned,
            an_update_expecting_a_stale_version_conflicts,
            two_updates_expecting_the_same_version_apply_once,
            creating_a_record_twice_conflicts,
            updating_a_missing_record_conflicts,
            a_conflict_rolls_back_the_whole_commit,
            a_write_that_skips_a_version_is_refused,
            offboardings_read_back_and_list_by_status_oldest_first,
            a_stale_offboarding_write_conflicts_and_writes_no_audit,
            a_step_recorded_twice_at_once_lands_once,
            a_change_set_reads_back_with_its_items_in_order_and_is_found_by_digest,
            a_stale_item_write_conflicts_and_rolls_back_its_grant_and_audit,
            items_cannot_be_put_again_once_their_set_exists,
            two_creations_with_the_same_claim_at_once_land_once,
            a_claim_is_replaced_only_by_a_writer_naming_its_holder,
            offboarding_claims_land_once_and_are_replaced_only_by_naming_the_holder,
        );
        // Checks that hand the store to spawned tasks take the `Arc` itself.
        $crate::store_conformance_tests!(@shared $make;
            the_chain_verifies_after_many_commits_including_concurrent_ones,
        );
    };
    (@each $make:path; $($check:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $check() {
                let (store, _keep_alive) = $make().await;
                $crate::conformance::$check(&*store).await;
            }
        )*
    };
    (@shared $make:path; $($check:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $check() {
                let (store, _keep_alive) = $make().await;
                $crate::conformance::$check(&store).await;
            }
        )*
    };
}

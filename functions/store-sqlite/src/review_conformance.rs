//! The `ReviewStore` conformance suite: what every store must do with review campaigns,
//! their items, the drift ledger and findings, checked only through the port (reached
//! as `Store::reviews`). Run it for an adapter with [`crate::review_conformance_tests!`],
//! which takes the same constructor as [`crate::store_conformance_tests!`].

use chrono::{DateTime, Duration, Utc};
use hogwarden_core::Error;
use hogwarden_core::audit::{AuditKind, verify_chain};
use hogwarden_core::model::{AccessLevel, AccessTarget};
use hogwarden_core::ports::{Guarded, Store};
use hogwarden_core::reviews::{
    AccessSummary, Campaign, CampaignId, CampaignStatus, ClosePolicy, DriftFinding, DriftKind, FindingStatus, LedgerEntry, LedgerHead,
    ReviewCommit, ReviewItem, Signals,
};
use hogwarden_core::types::{Actor, OrgLevel, ProjectId, ProjectRole};

use crate::conformance::fixtures::{at, draft, email, person};
use crate::conformance::whole_chain;

/// An open campaign opened at `opened_at`.
pub fn campaign(id: &str, opened_at: DateTime<Utc>) -> Campaign {
    Campaign {
        id: CampaignId::parse(id).expect("valid id"),
        title: "Q1 2030 Access Review".into(),
        status: CampaignStatus::Open,
        opened_by: Actor::System("quarterly-review".into()),
        opened_at,
        due_at: opened_at + Duration::days(14),
        close_policy: ClosePolicy::Skip,
        summary: AccessSummary { organization: "Acme Corp".into(), total_members: 2, ..AccessSummary::default() },
        item_count: 2,
        closed_at: None,
        closed_by: None,
        last_reminded_at: None,
        reminders_sent: 0,
        version: 1,
    }
}

/// An undecided item of `campaign` about `name`'s organization level (or project `project`).
pub fn item(campaign: &Campaign, name: &str, project: Option<i64>) -> ReviewItem {
    let target = project.map_or(AccessTarget::Org, |p| AccessTarget::Project(ProjectId::new(p).expect("positive")));
    ReviewItem {
        campaign: campaign.id.clone(),
        id: hogwarden_core::reviews::item_id(&email(name), target),
        person: email(name),
        name: name.into(),
        target,
        project_name: project.map(|p| format!("Project {p}")),
        access: if project.is_some() { AccessLevel::Project(Some(ProjectRole::Member)) } else { AccessLevel::Org(OrgLevel::Admin) },
        signals: Signals { last_login: Some(campaign.opened_at), is_2fa_enabled: true, joined_at: None, through_hogwarden: false },
        suggestions: Vec::new(),
        reviewer: Some(email("rita")),
        assigned_by: None,
        decision: None,
        skipped: false,
        remediation: None,
        version: 1,
    }
}

fn finding(name: &str, version: u64) -> DriftFinding {
    DriftFinding {
        id: hogwarden_core::reviews::item_id(&email(name), AccessTarget::Org),
        person: email(name),
        target: AccessTarget::Org,
        kind: DriftKind::LevelDiffers,
        expected: Some(AccessLevel::Org(OrgLevel::Member)),
        found: Some(AccessLevel::Org(OrgLevel::Admin)),
        changed_by: None,
        detected_at: at(1),
        status: FindingStatus::Open,
        revert_request: None,
        version,
    }
}

fn assert_conflict<T: std::fmt::Debug>(outcome: hogwarden_core::error::Result<T>, what: &str) {
    match outcome {
        Err(Error::Conflict(message)) => assert!(!message.is_empty(), "{what}: a conflict says what happened"),
        other => panic!("{what}: expected a conflict, got {other:?}"),
    }
}

pub async fn a_campaign_and_its_items_read_back_exactly_and_campaigns_list_newest_first(store: &dyn Store) {
    // Arrange
    let reviews = store.reviews();
    let old = campaign("2030-q1", at(0));
    let new = campaign("2030-q2", at(60));
    let items = vec![item(&new, "ana", None), item(&new, "bo", Some(7))];

    // Act
    for c in [&old, &new] {
        reviews
            .commit_review(ReviewCommit { campaigns: vec![Guarded::create(c.clone())], ..ReviewCommit::default() })
            .await
            .expect("create");
    }
    let created = reviews.put_new_items(&items).await.expect("items");

    // Assert
    assert_eq!(created, 2);
    assert_eq!(reviews.get_campaign(&new.id).await.unwrap(), Some(new.clone()));
    let listed: Vec<CampaignId> = reviews.list_campaigns(10).await.unwrap().into_iter().map(|c| c.id).collect();
    assert_eq!(listed, [new.id.clone(), old.id.clone()]);
    let mut expected = items.clone();
    expected.sort_by(|a, b| a.id.cmp(&b.id));
    assert_eq!(reviews.list_items(&new.id).await.unwrap(), expected, "a campaign's items, by id, and nothing else of the partition");
    assert!(reviews.list_items(&old.id).await.unwrap().is_empty());
    assert_eq!(reviews.get_item(&new.id, &items[1].id).await.unwrap(), Some(items[1].clone()));
}

pub async fn opening_the_same_campaign_twice_conflicts_and_records_one_snapshot(store: &dyn Store) {
    let reviews = store.reviews();
    let c = campaign("2030-q1", at(0));
    let commit = || ReviewCommit {
        campaigns: vec![Guarded::create(c.clone())],
        audit: vec![draft(1, at(0), person("ana"), AuditKind::AccessSnapshot, None, None)],
        ..ReviewCommit::default()
    };
    let (a, b) = tokio::join!(reviews.commit_review(commit()), reviews.commit_review(commit()));
    assert!(a.is_ok() != b.is_ok(), "exactly one opening wins: {a:?} / {b:?}");
    assert_conflict(if a.is_ok() { b } else { a }, "the second opening");
    let chain = whole_chain(store, 100).await;
    assert_eq!(chain.len(), 1, "the losing commit's audit entry is not written");
}

pub async fn a_stale_item_update_conflicts_and_writes_nothing(store: &dyn Store) {
    // Arrange
    let reviews = store.reviews();
    let c = campaign("2030-q1", at(0));
    reviews.commit_review(ReviewCommit { campaigns: vec![Guarded::create(c.clone())], ..ReviewCommit::default() }).await.unwrap();
    let original = item(&c, "ana", None);
    reviews.put_new_items(std::slice::from_ref(&original)).await.unwrap();
    let mut decided = original.clone();
    decided.skipped = true;
    decided.version = 2;
    reviews.commit_review(ReviewCommit { items: vec![Guarded::update(decided.clone(), 1)], ..ReviewCommit::default() }).await.unwrap();

    // Act: a second writer still holding version 1, with an audit entry and a campaign change.
    let mut stale = original.clone();
    stale.version = 2;
    let mut closed = c.clone();
    closed.status = CampaignStatus::Closed;
    closed.version = 2;
    let outcome = reviews
        .commit_review(ReviewCommit {
            campaigns: vec![Guarded::update(closed, 1)],
            items: vec![Guarded::update(stale, 1)],
            audit: vec![draft(1, at(1), person("bo"), AuditKind::ReviewDecided, None, None)],
            ..ReviewCommit::default()
        })
        .await;

    // Assert
    assert_conflict(outcome, "a stale item");
    assert_eq!(reviews.get_item(&c.id, &original.id).await.unwrap(), Some(decided));
    assert_eq!(reviews.get_campaign(&c.id).await.unwrap().unwrap().status, CampaignStatus::Open, "the whole commit rolled back");
    assert!(whole_chain(store, 100).await.is_empty());
}

pub async fn putting_new_items_leaves_existing_ones_alone(store: &dyn Store) {
    let reviews = store.reviews();
    let c = campaign("2030-q1", at(0));
    let first = item(&c, "ana", None);
    reviews.put_new_items(std::slice::from_ref(&first)).await.unwrap();
    let mut changed = first.clone();
    changed.reviewer = Some(email("zed"));
    let created = reviews.put_new_items(&[changed, item(&c, "bo", None)]).await.unwrap();
    assert_eq!(created, 1);
    assert_eq!(reviews.get_item(&c.id, &first.id).await.unwrap(), Some(first));
}

pub async fn the_ledger_its_head_and_findings_are_guarded(store: &dyn Store) {
    // Arrange
    let reviews = store.reviews();
    let entry = |name: &str, level, version| LedgerEntry { person: email(name), target: AccessTarget::Org, level, seq: 0, version };
    reviews.put_ledger(&[entry("ana", Some(AccessLevel::Org(OrgLevel::Member)), 1), entry("bo", None, 1)]).await.unwrap();
    reviews.put_ledger(&[entry("ana", Some(AccessLevel::Org(OrgLevel::Admin)), 2)]).await.unwrap();
    let head = LedgerHead { seq: 3, baseline_at: at(0), checked_at: at(0), version: 1 };

    // Act / Assert: the head is created once and moves by version.
    reviews.commit_review(ReviewCommit { head: Some(Guarded::create(head.clone())), ..ReviewCommit::default() }).await.unwrap();
    assert_conflict(
        reviews.commit_review(ReviewCommit { head: Some(Guarded::create(head.clone())), ..ReviewCommit::default() }).await,
        "a second baseline",
    );
    let moved = LedgerHead { seq: 9, checked_at: at(5), version: 2, ..head.clone() };
    reviews.commit_review(ReviewCommit { head: Some(Guarded::update(moved.clone(), 1)), ..ReviewCommit::default() }).await.unwrap();
    assert_eq!(reviews.ledger_head().await.unwrap(), Some(moved));
    let ledger = reviews.list_ledger().await.unwrap();
    assert_eq!(ledger.len(), 2);
    assert_eq!(ledger.iter().find(|e| e.person == email("ana")).unwrap().level, Some(AccessLevel::Org(OrgLevel::Admin)));

    // Findings: created once, resolved only at the version read.
    reviews.commit_review(ReviewCommit { findings: vec![Guarded::create(finding("ana", 1))], ..ReviewCommit::default() }).await.unwrap();
    let mut reverting = finding("ana", 2);
    reverting.status = FindingStatus::Reverting;
    reviews.commit_review(ReviewCommit { findings: vec![Guarded::update(reverting.clone(), 1)], ..ReviewCommit::default() }).await.unwrap();
    let id = reverting.id.clone();
    assert_conflict(
        reviews.commit_review(ReviewCommit { resolved: vec![(id.clone(), 1)], ..ReviewCommit::default() }).await,
        "a stale resolve",
    );
    assert_eq!(reviews.get_finding(&id).await.unwrap(), Some(reverting));
    // Adopting: the ledger entry and the resolve and the audit entry together.
    let adopted = entry("ana", Some(AccessLevel::Org(OrgLevel::Admin)), 3);
    reviews
        .commit_review(ReviewCommit {
            ledger: vec![Guarded::update(adopted, 2)],
            resolved: vec![(id.clone(), 2)],
            audit: vec![draft(1, at(6), person("ana"), AuditKind::DriftAdopted, None, None)],
            ..ReviewCommit::default()
        })
        .await
        .unwrap();
    assert!(reviews.list_findings().await.unwrap().is_empty());
    assert_eq!(reviews.get_finding(&id).await.unwrap(), None);
}

pub async fn review_commits_extend_the_one_audit_chain(store: &dyn Store) {
    let reviews = store.reviews();
    crate::conformance::append(store, vec![draft(1, at(0), person("ana"), AuditKind::Requested, None, None)]).await;
    let c = campaign("2030-q1", at(1));
    let sealed = reviews
        .commit_review(ReviewCommit {
            campaigns: vec![Guarded::create(c)],
            audit: vec![draft(2, at(1), person("ana"), AuditKind::AccessSnapshot, None, None)],
            ..ReviewCommit::default()
        })
        .await
        .unwrap();
    crate::conformance::append(store, vec![draft(3, at(2), person("bo"), AuditKind::Approved, None, None)]).await;
    assert_eq!(sealed.len(), 1);
    assert_eq!(sealed[0].seq, 2);
    let chain = whole_chain(store, 100).await;
    assert_eq!(chain.len(), 3);
    assert!(verify_chain(&chain).valid);
}

pub async fn identities_are_created_once_updated_by_version_and_listed_by_email(store: &dyn Store) {
    use hogwarden_core::identity::{Identity, IdentitySource};
    // Arrange
    let reviews = store.reviews();
    let claims = |pairs: &[(&str, &str)]| -> hogwarden_core::sso::Claims {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), vec![(*v).to_owned()])).collect()
    };
    let grace = Identity::updated(None, &email("grace"), &claims(&[("manager", "bo@example.com")]), IdentitySource::SignIn, at(0)).unwrap();
    let ana = Identity::updated(None, &email("ana"), &claims(&[("department", "Product")]), IdentitySource::Sync, at(0)).unwrap();
    let put = |g: Guarded<Identity>| reviews.commit_review(ReviewCommit { identities: vec![g], ..ReviewCommit::default() });

    // Act
    put(Guarded::create(grace.clone())).await.expect("create");
    put(Guarded::create(ana.clone())).await.expect("create another");
    let twice = put(Guarded::create(grace.clone())).await;
    let moved =
        Identity::updated(Some(&grace), &email("grace"), &claims(&[("manager", "cy@example.com")]), IdentitySource::SignIn, at(1)).unwrap();
    put(Guarded::update(moved.clone(), grace.version)).await.expect("update");
    let gone = Identity::updated(Some(&grace), &email("grace"), &claims(&[("active", "false")]), IdentitySource::Sync, at(2)).unwrap();
    let stale = put(Guarded::update(gone, grace.version)).await;

    // Assert
    assert_conflict(twice, "creating an identity twice");
    assert_conflict(stale, "an update from a stale version");
    let stored = reviews.get_identity(&email("grace")).await.unwrap().expect("stored");
    assert_eq!(stored, moved, "the stale update wrote nothing");
    assert_eq!(stored.manager, Some(email("cy")));
    assert_eq!(reviews.get_identity(&email("nobody")).await.unwrap(), None);
    let listed: Vec<_> = reviews.list_identities().await.unwrap().into_iter().map(|i| i.email).collect();
    assert_eq!(listed, [email("ana"), email("grace")]);
    assert!(reviews.list_findings().await.unwrap().is_empty() && reviews.list_ledger().await.unwrap().is_empty(), "their own partition");
}

/// Writes one `#[tokio::test]` per review-store check, for a store constructor like
/// [`crate::store_conformance_tests!`]'s.
#[macro_export]
macro_rules! review_conformance_tests {
    ($make:path) => {
        $crate::review_conformance_tests!(@each $make;
            a_campaign_and_its_items_read_back_exactly_and_campaigns_list_newest_first,
            opening_the_same_campaign_twice_conflicts_and_records_one_snapshot,
            a_stale_item_update_conflicts_and_writes_nothing,
            putting_new_items_leaves_existing_ones_alone,
            the_ledger_its_head_and_findings_are_guarded,
            review_commits_extend_the_one_audit_chain,
            identities_are_created_once_updated_by_version_and_listed_by_email,
        );
    };
    (@each $make:path; $($check:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $check() {
                let (store, _keep_alive) = $make().await;
                $crate::review_conformance::$check(&*store).await;
            }
        )*
    };
}

//! Conformance checks for claims (`hogwarden_core::claims`): a claim is taken in the
//! same atomic write as its record, so of two creations with the same claim exactly
//! one lands, a claim is replaced only by a writer naming the holder it saw, and a
//! failed claim writes nothing of its commit.

use hogwarden_core::audit::AuditKind;
use hogwarden_core::claims::Claim;
use hogwarden_core::offboard::OffboardStatus;
use hogwarden_core::ports::{Commit, Guarded, Store};

use super::fixtures::{at, draft, email, person};
use super::offboard::offboarding;
use super::{assert_conflict, change_set, markers, whole_chain};

const KEY: &str = "CSET#ana@example.com#sha256:aa";

/// The commit that creates a change set (request, header, one audit entry with
/// `marker`) and takes `KEY` from `replaces`.
fn create_set(minutes: i64, marker: u64, replaces: Option<hogwarden_core::types::RequestId>) -> (Commit, Claim) {
    let (r, set, _) = change_set("ana", "sha256:aa", 0, at(minutes));
    let claim = Claim { key: KEY.into(), holder: r.id, replaces };
    let audit = draft(marker, at(minutes), person("ana"), AuditKind::Requested, Some(&email("ana")), Some(r.id));
    let commit = Commit {
        requests: vec![Guarded::create(r)],
        change_sets: vec![Guarded::create(set)],
        audit: vec![audit],
        claims: vec![claim.clone()],
        ..Commit::default()
    };
    (commit, claim)
}

/// Two change sets created at once with the same claim: exactly one lands (header,
/// request, audit entry and claim), the other conflicts and writes nothing.
pub async fn two_creations_with_the_same_claim_at_once_land_once(store: &dyn Store) {
    // Arrange
    let (a, claim_a) = create_set(0, 1, None);
    let (b, claim_b) = create_set(0, 2, None);

    // Act
    let (ra, rb) = tokio::join!(store.commit(a), store.commit(b));

    // Assert
    assert!(ra.is_ok() ^ rb.is_ok(), "exactly one of two racing creations must win: {ra:?} / {rb:?}");
    let (winner, loser, loss) = if ra.is_ok() { (claim_a, claim_b, rb.map(drop)) } else { (claim_b, claim_a, ra.map(drop)) };
    assert_conflict(loss, "the second creation with the same claim");
    assert_eq!(store.get_claim(KEY).await.unwrap(), Some(winner.holder));
    assert!(store.get_change_set(winner.holder).await.unwrap().is_some());
    assert!(store.get_change_set(loser.holder).await.unwrap().is_none(), "the loser's set is not written");
    assert!(store.get_request(loser.holder).await.unwrap().is_none(), "the loser's request is not written");
    assert_eq!(whole_chain(store, 10).await.len(), 1, "only the winner's audit entry");
    let found = store.find_change_sets(&email("ana"), "sha256:aa").await.unwrap();
    assert!(found.iter().all(|s| s.request_id == winner.holder), "one set exists");
    assert_eq!(store.get_claim("CSET#bo@example.com#sha256:aa").await.unwrap(), None, "claims are per key");
}

/// A claim is replaced by a writer naming the holder it saw (its record finished);
/// a writer naming a holder that is no longer there, or naming none, conflicts and
/// writes nothing.
pub async fn a_claim_is_replaced_only_by_a_writer_naming_its_holder(store: &dyn Store) {
    // Arrange
    let (first, first_claim) = create_set(0, 1, None);
    store.commit(first).await.expect("the first creation takes the free claim");

    // Act
    let (second, second_claim) = create_set(1, 2, Some(first_claim.holder));
    store.commit(second).await.expect("naming the holder seen replaces the claim");
    let (stale, stale_claim) = create_set(2, 3, Some(first_claim.holder));
    let stale = store.commit(stale).await;
    let (blind, blind_claim) = create_set(3, 4, None);
    let blind = store.commit(blind).await;

    // Assert
    assert_conflict(stale, "replacing a claim from a holder that is gone");
    assert_conflict(blind, "creating a claim that is held");
    assert_eq!(store.get_claim(KEY).await.unwrap(), Some(second_claim.holder));
    for lost in [stale_claim.holder, blind_claim.holder] {
        assert!(store.get_change_set(lost).await.unwrap().is_none(), "a failed claim writes no set");
        assert!(store.get_request(lost).await.unwrap().is_none(), "a failed claim writes no request");
    }
    assert_eq!(markers(&whole_chain(store, 10).await), vec![1, 2], "a failed claim writes no audit entry");
}

/// The same for offboardings: two at once with the same claim land once; a claim held
/// by a finished one is replaced by naming it, a stale replace conflicts.
pub async fn offboarding_claims_land_once_and_are_replaced_only_by_naming_the_holder(store: &dyn Store) {
    // Arrange
    let key = "OFFBOARD#laura@example.com";
    let (a, b) = (offboarding("laura", 0), offboarding("laura", 0));
    let claim = |o: &hogwarden_core::offboard::Offboarding, replaces| Claim { key: key.into(), holder: o.id, replaces };
    let entry = |marker, o: &hogwarden_core::offboard::Offboarding| {
        vec![draft(marker, at(0), person("alice"), AuditKind::Requested, Some(&o.subject), Some(o.id))]
    };

    // Act: a race
    let (ra, rb) = tokio::join!(
        store.put_offboarding_claimed(Guarded::create(a.clone()), claim(&a, None), entry(1, &a)),
        store.put_offboarding_claimed(Guarded::create(b.clone()), claim(&b, None), entry(2, &b)),
    );

    // Assert
    assert!(ra.is_ok() ^ rb.is_ok(), "exactly one of two racing offboardings must win: {ra:?} / {rb:?}");
    let (winner, loser, loss) = if ra.is_ok() { (&a, &b, rb.map(drop)) } else { (&b, &a, ra.map(drop)) };
    assert_conflict(loss, "a second offboarding with the same claim");
    assert_eq!(store.get_claim(key).await.unwrap(), Some(winner.id));
    assert!(store.get_offboarding(loser.id).await.unwrap().is_none(), "the loser's offboarding is not written");
    assert_eq!(whole_chain(store, 10).await.len(), 1);

    // Act: the winner is denied; a new one names it, a stale one names it too.
    let denied = hogwarden_core::offboard::Offboarding { status: OffboardStatus::Denied, version: 2, ..winner.clone() };
    store.put_offboarding(Guarded::update(denied, 1), Vec::new()).await.unwrap();
    let (c, d) = (offboarding("laura", 5), offboarding("laura", 6));
    store.put_offboarding_claimed(Guarded::create(c.clone()), claim(&c, Some(winner.id)), entry(3, &c)).await.expect("naming the holder");
    let stale = store.put_offboarding_claimed(Guarded::create(d.clone()), claim(&d, Some(winner.id)), entry(4, &d)).await;

    // Assert
    assert_conflict(stale, "replacing an offboarding claim from a holder that is gone");
    assert_eq!(store.get_claim(key).await.unwrap(), Some(c.id));
    assert!(store.get_offboarding(d.id).await.unwrap().is_none());
    assert_eq!(whole_chain(store, 10).await.len(), 2, "the stale write's audit entry is not written");
}

//! A chain cut short at its end still links up by itself; the head that a verification
//! reports, kept outside Hogwarden (a review's evidence, a ticket), shows it later.

use hogwarden_api_types as dto;
use hogwarden_e2e::{APPROVER, MEMBER, spawn_stack};

#[tokio::test]
async fn entries_removed_from_the_chains_end_are_detected_against_an_earlier_anchor() {
    // Arrange: a request approved and applied (three entries), and the head kept.
    let t = spawn_stack().await;
    let request = t.request_temporary_admin(MEMBER, 60).await;
    assert_eq!(t.approve(APPROVER, &request.id).await.status, 200);
    let before: dto::VerificationDto = t.get(APPROVER, "/api/audit/verify").await.json();
    assert!(before.valid, "{before:?}");
    let (seq, hash) = (before.head_seq.expect("a head"), before.head_hash.clone().expect("a head hash"));
    assert_eq!(seq, before.entries);
    let anchored = format!("/api/audit/verify?anchor_seq={seq}&anchor_hash={hash}");
    let intact: dto::VerificationDto = t.get(APPROVER, &anchored).await.json();
    assert!(intact.valid, "{intact:?}");

    // Act: someone with file access removes the last entry (the `applied` one).
    let removed = t.raw_db().execute("DELETE FROM audit WHERE seq = ?1", [i64::try_from(seq).unwrap()]).unwrap();
    assert_eq!(removed, 1);

    // Assert: alone, the shorter chain verifies; against the anchor it does not.
    let alone: dto::VerificationDto = t.get(APPROVER, "/api/audit/verify").await.json();
    assert!(alone.valid, "nothing inside the chain is broken: {alone:?}");
    assert_eq!(alone.entries, seq - 1);
    let against: dto::VerificationDto = t.get(APPROVER, &anchored).await.json();
    assert!(!against.valid, "{against:?}");
    assert_eq!(against.first_broken_seq, Some(seq));
    assert!(against.problem.as_deref().unwrap_or_default().contains("removed from its end"), "{against:?}");
    t.shutdown().await;
}

#[tokio::test]
async fn a_malformed_anchor_is_refused_naming_the_parameter() {
    let t = spawn_stack().await;
    for (query, names) in [
        ("anchor_seq=3", "go together"),
        ("anchor_hash=abc", "go together"),
        ("anchor_seq=0&anchor_hash=aa", "anchor_seq"),
        ("anchor_seq=2&anchor_hash=not-a-hash", "anchor_hash"),
        ("anchor_seq=two&anchor_hash=aa", "anchor_seq"),
        ("anchor=1", "anchor"),
    ] {
        let reply = t.get(APPROVER, &format!("/api/audit/verify?{query}")).await;
        assert_eq!(reply.status, 400, "{query}: {:?}", reply.body);
        assert!(reply.message().contains(names), "{query}: {}", reply.message());
    }
    t.shutdown().await;
}

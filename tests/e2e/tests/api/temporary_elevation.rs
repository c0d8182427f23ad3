//! The walking skeleton's scenario: a member asks for temporary Admin, cannot approve
//! it themselves, an approver approves, PostHog shows Admin, the sweep restores
//! Member on time, and the audit chain tells the story and detects tampering.

use hogwarden_api_types as dto;
use hogwarden_e2e::{APPROVER, MEMBER, spawn_stack};

#[tokio::test]
async fn temporary_admin_is_granted_on_approval_and_reverted_on_time() {
    // Arrange
    let t = spawn_stack().await;
    assert_eq!(t.sandbox().member_level(MEMBER), Some(1), "frank starts as a member");

    // Act: ask, try to self-approve, get approved.
    let request = t.request_temporary_admin(MEMBER, 60).await;
    assert_eq!(request.status, "pending");
    assert!(!request.can_approve);
    let own = t.approve(MEMBER, &request.id).await;
    let approved = t.approve(APPROVER, &request.id).await;

    // Assert: self-approval refused, approval applied and read back.
    assert_eq!(own.status, 403, "{:?}", own.body);
    assert!(own.message().contains("own request"), "{}", own.message());
    assert_eq!(approved.status, 200, "{:?}", approved.body);
    let approved: dto::RequestDto = approved.json();
    assert_eq!(approved.status, "applied");
    assert_eq!(t.sandbox().member_level(MEMBER), Some(8), "PostHog shows Admin");
    let grant = &approved.grants[0];
    assert_eq!(grant.confirmed, "admin", "the read-back is recorded");
    assert_eq!(grant.baseline, "member");
    assert_eq!(grant.seconds_left, Some(3600), "the duration counts from when it was applied");
    let mine: dto::GrantList = t.get(MEMBER, "/api/grants").await.json();
    assert_eq!(mine.grants.len(), 1);

    // Act: not yet due, then past expiry.
    t.clock.advance(chrono::Duration::minutes(59));
    let early = t.stack.app.sweep().await.unwrap();
    assert_eq!(early.reverted, 0);
    assert_eq!(t.sandbox().member_level(MEMBER), Some(8));
    t.clock.advance(chrono::Duration::minutes(2));
    let report = t.stack.app.sweep().await.unwrap();

    // Assert: one sweep restores Member.
    assert_eq!(report.reverted, 1, "{report:?}");
    assert_eq!(t.sandbox().member_level(MEMBER), Some(1));
    let after: dto::RequestDto = t.get(MEMBER, &format!("/api/requests/{}", request.id)).await.json();
    assert_eq!(after.status, "reverted");
    assert_eq!(after.grants[0].status, "reverted");

    let audit = t.audit(APPROVER).await;
    let mut entries = audit.entries.clone();
    entries.sort_by_key(|e| e.seq);
    let kinds: Vec<&str> = entries.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(kinds, ["requested", "approved", "applied", "reverted"]);
    assert_eq!(entries[0].actor, MEMBER);
    assert_eq!(entries[1].actor, APPROVER);
    assert_eq!(entries[2].details["grants"][0]["read_back"]["level"], "admin");
    assert_eq!(entries[3].details["read_back"]["level"], "member");
    let verification = t.verify().await;
    assert!(verification.valid, "{verification:?}");
    assert_eq!(verification.entries, 4);

    // Act: someone with file access edits one audit row.
    let changed = t.raw_db().execute("UPDATE audit SET details = '{\"reason\":\"nothing to see\"}' WHERE seq = 2", []).unwrap();
    assert_eq!(changed, 1);

    // Assert: verification fails and names the entry.
    let v: dto::VerificationDto = t.get(APPROVER, "/api/audit/verify").await.json();
    assert!(!v.valid);
    assert_eq!(v.first_broken_seq, Some(2), "{v:?}");
    t.shutdown().await;
}

#[tokio::test]
async fn a_revert_never_overwrites_a_change_made_in_posthog_meanwhile() {
    // Arrange: frank is temporary Admin; then an owner makes him an owner by hand in PostHog.
    let t = spawn_stack().await;
    let request = t.request_temporary_admin(MEMBER, 30).await;
    assert_eq!(t.approve(APPROVER, &request.id).await.status, 200);
    t.sandbox().set_member_level_as(posthog_sandbox::SERVICE_EMAIL, MEMBER, 15).unwrap();
    let patches_before = t.posthog_calls("PATCH", "/api/organizations/");

    // Act
    t.clock.advance(chrono::Duration::minutes(31));
    let report = t.stack.app.sweep().await.unwrap();

    // Assert: conflict recorded, nothing written, the hand-made level stands.
    assert_eq!(report.conflicts, 1, "{report:?}");
    assert_eq!(report.reverted, 0);
    assert_eq!(t.posthog_calls("PATCH", "/api/organizations/"), patches_before, "no PostHog write");
    assert_eq!(t.sandbox().member_level(MEMBER), Some(15));
    let kinds = t.audit_kinds().await;
    assert_eq!(kinds.last().map(String::as_str), Some("revert_conflict"));
    let audit = t.audit(APPROVER).await;
    let conflict = audit.entries.iter().find(|e| e.kind == "revert_conflict").unwrap();
    assert_eq!(conflict.details["found"]["level"], "owner");
    assert_eq!(conflict.details["expected"]["level"], "admin");
    t.shutdown().await;
}

#[tokio::test]
async fn a_member_can_revoke_their_grant_early() {
    let t = spawn_stack().await;
    let request = t.request_temporary_admin(MEMBER, 60).await;
    let approved: dto::RequestDto = t.approve(APPROVER, &request.id).await.json();
    let grant_id = &approved.grants[0].id;

    let someone_else = t.post("grace@example.com", &format!("/api/grants/{grant_id}/revoke"), serde_json::json!({})).await;
    assert_eq!(someone_else.status, 404, "another member cannot see or revoke it");
    let revoked = t.post(MEMBER, &format!("/api/grants/{grant_id}/revoke"), serde_json::json!({})).await;

    assert_eq!(revoked.status, 200, "{:?}", revoked.body);
    assert_eq!(revoked.json::<dto::GrantDto>().status, "reverted");
    assert_eq!(t.sandbox().member_level(MEMBER), Some(1));
    let again = t.post(MEMBER, &format!("/api/grants/{grant_id}/revoke"), serde_json::json!({})).await;
    assert_eq!(again.status, 409);
    assert_eq!(t.audit_kinds().await, ["requested", "approved", "applied", "reverted"]);
    t.shutdown().await;
}

#[tokio::test]
async fn a_denied_request_changes_nothing_in_posthog() {
    let t = spawn_stack().await;
    let writes = t.sandbox().write_count();
    let request = t.request_temporary_admin(MEMBER, 60).await;

    let denied = t
        .post(APPROVER, &format!("/api/requests/{}/deny", request.id), serde_json::json!({ "reason": "Use a staging project instead" }))
        .await;

    assert_eq!(denied.status, 200, "{:?}", denied.body);
    assert_eq!(denied.json::<dto::RequestDto>().status, "denied");
    assert_eq!(t.sandbox().write_count(), writes);
    assert_eq!(t.approve("bob@example.com", &request.id).await.status, 409, "a denied request cannot be approved");
    assert!(t.stack.outbox.sent().iter().any(|n| n.to.as_str() == MEMBER && n.body.contains("staging project")));
    t.shutdown().await;
}

#[tokio::test]
async fn an_unanswered_request_expires() {
    let t = spawn_stack().await;
    let request = t.request_temporary_admin(MEMBER, 60).await;

    t.clock.advance(chrono::Duration::hours(73));
    let report = t.stack.app.sweep().await.unwrap();

    assert_eq!(report.expired_requests, 1);
    let r: dto::RequestDto = t.get(MEMBER, &format!("/api/requests/{}", request.id)).await.json();
    assert_eq!(r.status, "expired");
    assert_eq!(t.approve(APPROVER, &request.id).await.status, 409);
    t.shutdown().await;
}

//! The walking skeleton's scenario, entirely through Lambda events: request and
//! approve through the grants Lambda, PostHog shows Admin, time passes, the
//! scheduler's sweep input to the reverts Lambda restores Member, and the audit
//! chain in DynamoDB tells the story and verifies.

use chrono::Duration;
use hogwarden_api_types as dto;
use hogwarden_aws_e2e::{APPROVER, AwsTestStack, MEMBER, OTHER_MEMBER, Reply, invoke, scheduler_event, spawn_aws_stack};

#[tokio::test]
async fn temporary_admin_is_applied_on_approval_and_reverted_by_the_scheduled_sweep() {
    // Arrange
    let t = spawn_aws_stack().await;
    assert_eq!(t.sandbox.member_level(MEMBER), Some(1), "frank starts as a member");

    // Act: frank asks, tries to approve his own request, alice approves.
    let request = t.request_temporary_admin(MEMBER, 60).await;
    let own = Reply::from_lambda(invoke(&t.grants, AwsTestStack::approve_event(MEMBER, &request.id)).await.unwrap());
    let approved = Reply::from_lambda(invoke(&t.grants, AwsTestStack::approve_event(APPROVER, &request.id)).await.unwrap());

    // Assert: refused, then applied and read back.
    assert_eq!(request.status, "pending");
    assert_eq!(own.status, 403, "{:?}", own.body);
    assert_eq!(approved.status, 200, "{:?}", approved.body);
    assert_eq!(approved.raw["headers"]["content-type"], "application/json", "{:?}", approved.raw);
    let approved: dto::RequestDto = approved.json();
    assert_eq!(approved.status, "applied");
    assert_eq!(approved.grants[0].confirmed, "admin");
    assert_eq!(approved.grants[0].seconds_left, Some(3600));
    assert_eq!(t.sandbox.member_level(MEMBER), Some(8), "PostHog shows Admin");

    // Act: a sweep before expiry, then one after.
    t.clock.advance(Duration::minutes(59));
    let early = invoke(&t.reverts, scheduler_event("sweep", t.clock_now(), "exec-early")).await.unwrap();
    t.clock.advance(Duration::minutes(2));
    let due = invoke(&t.reverts, scheduler_event("sweep", t.clock_now(), "exec-due")).await.unwrap();

    // Assert: only the second reverts, and PostHog shows Member again.
    assert_eq!(early["outcome"]["reverted"], 0, "{early}");
    assert_eq!(due["task"], "sweep");
    assert_eq!(due["execution_id"], "exec-due");
    assert_eq!(due["outcome"]["reverted"], 1, "{due}");
    assert_eq!(t.sandbox.member_level(MEMBER), Some(1));
    let after: dto::RequestDto = t.call(&t.grants, Some(MEMBER), "GET", &format!("/api/requests/{}", request.id), None).await.json();
    assert_eq!(after.status, "reverted");
    assert_eq!(after.grants[0].status, "reverted");

    let audit = t.audit().await;
    let mut entries = audit.entries.clone();
    entries.sort_by_key(|e| e.seq);
    let kinds: Vec<&str> = entries.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(kinds, ["requested", "approved", "applied", "reverted"]);
    assert_eq!(entries[0].actor, MEMBER);
    assert_eq!(entries[1].actor, APPROVER);
    assert_eq!(entries[3].details["read_back"]["level"], "member");
    let verification = t.verify().await;
    assert!(verification.valid, "{verification:?}");
    assert_eq!(verification.entries, 4);
    t.shutdown().await;
}

#[tokio::test]
async fn a_member_revokes_early_through_the_reverts_lambda() {
    let t = spawn_aws_stack().await;
    let request = t.request_temporary_admin(MEMBER, 60).await;
    let approved: dto::RequestDto =
        Reply::from_lambda(invoke(&t.grants, AwsTestStack::approve_event(APPROVER, &request.id)).await.unwrap()).json();
    let path = format!("/api/grants/{}/revoke", approved.grants[0].id);

    let stranger = t.call(&t.reverts, Some(OTHER_MEMBER), "POST", &path, Some(serde_json::json!({}))).await;
    let revoked = t.call(&t.reverts, Some(MEMBER), "POST", &path, Some(serde_json::json!({}))).await;

    assert_eq!(stranger.status, 404, "{:?}", stranger.body);
    assert_eq!(revoked.status, 200, "{:?}", revoked.body);
    assert_eq!(revoked.json::<dto::GrantDto>().status, "reverted");
    assert_eq!(t.sandbox.member_level(MEMBER), Some(1));
    assert_eq!(t.audit_kinds().await, ["requested", "approved", "applied", "reverted"]);
    t.shutdown().await;
}

//! Lambda delivers events at least once and runs containers side by side: two
//! approvals at once, a scheduled sweep delivered twice, the same HTTP event invoked
//! twice. Each changes PostHog once and leaves one audit entry.

use chrono::Duration;
use hogwarden_api_types as dto;
use hogwarden_aws_e2e::{APPROVER, AwsTestStack, MEMBER, Reply, SECOND_APPROVER, invoke, scheduler_event, spawn_aws_stack};

const ORG_WRITES: &str = "/api/organizations/";

fn count(kinds: &[String], kind: &str) -> usize {
    kinds.iter().filter(|k| *k == kind).count()
}

#[tokio::test]
async fn two_approvers_at_once_in_two_containers_apply_once() {
    // Arrange
    let t = spawn_aws_stack().await;
    let request = t.request_temporary_admin(MEMBER, 60).await;
    let writes = t.posthog_calls("PATCH", ORG_WRITES);

    // Act
    let (a, b) = tokio::join!(
        invoke(&t.grants, AwsTestStack::approve_event(APPROVER, &request.id)),
        invoke(&t.grants_other_container, AwsTestStack::approve_event(SECOND_APPROVER, &request.id)),
    );

    // Assert: one wins, the other hears it was decided meanwhile.
    let (a, b) = (Reply::from_lambda(a.unwrap()), Reply::from_lambda(b.unwrap()));
    let mut statuses = [a.status, b.status];
    statuses.sort();
    assert_eq!(statuses, [200, 409], "{:?} / {:?}", a.body, b.body);
    let loser = if a.status == 409 { &a } else { &b };
    assert_eq!(loser.code(), "conflict");
    assert_eq!(t.posthog_calls("PATCH", ORG_WRITES) - writes, 1, "one PostHog write");
    assert_eq!(t.sandbox.member_level(MEMBER), Some(8));
    let kinds = t.audit_kinds().await;
    assert_eq!(count(&kinds, "approved"), 1, "{kinds:?}");
    assert_eq!(count(&kinds, "applied"), 1, "{kinds:?}");
    assert!(t.verify().await.valid);
    t.shutdown().await;
}

#[tokio::test]
async fn a_sweep_input_delivered_twice_reverts_once() {
    // Arrange: a grant past its expiry.
    let t = spawn_aws_stack().await;
    let request = t.request_temporary_admin(MEMBER, 5).await;
    let approved = Reply::from_lambda(invoke(&t.grants, AwsTestStack::approve_event(APPROVER, &request.id)).await.unwrap());
    assert_eq!(approved.status, 200, "{:?}", approved.body);
    t.clock.advance(Duration::minutes(6));
    let writes = t.posthog_calls("PATCH", ORG_WRITES);
    let event = scheduler_event("sweep", t.clock_now(), "c8a3e0f2-6b1d-4e7a-9f3c-2d5b8a1e4c70");

    // Act: the same input reaches two containers at once, then a retry comes later.
    let (a, b) = tokio::join!(invoke(&t.reverts, event.clone()), invoke(&t.reverts_other_container, event.clone()));
    let retry = invoke(&t.reverts, event).await;

    // Assert
    let reverted: Vec<u64> = [a, b, retry].into_iter().map(|r| r.unwrap()["outcome"]["reverted"].as_u64().unwrap()).collect();
    assert_eq!(reverted.iter().sum::<u64>(), 1, "{reverted:?}");
    assert_eq!(t.posthog_calls("PATCH", ORG_WRITES) - writes, 1, "one PostHog write");
    assert_eq!(t.sandbox.member_level(MEMBER), Some(1));
    assert_eq!(count(&t.audit_kinds().await, "reverted"), 1);
    t.shutdown().await;
}

#[tokio::test]
async fn the_same_http_event_invoked_twice_changes_posthog_once() {
    // Arrange
    let t = spawn_aws_stack().await;
    let request = t.request_temporary_admin(MEMBER, 60).await;
    let approve = AwsTestStack::approve_event(APPROVER, &request.id);
    let writes = t.posthog_calls("PATCH", ORG_WRITES);

    // Act: one approve event, invoked twice (a client retry after a timeout).
    let first = Reply::from_lambda(invoke(&t.grants, approve.clone()).await.unwrap());
    let again = Reply::from_lambda(invoke(&t.grants, approve).await.unwrap());

    // Assert: applied once; the repeat is told it is already decided.
    assert_eq!(first.status, 200, "{:?}", first.body);
    assert_eq!(again.status, 409, "{:?}", again.body);
    assert_eq!(t.posthog_calls("PATCH", ORG_WRITES) - writes, 1, "one PostHog write for the approval");
    let grant_id = first.json::<dto::RequestDto>().grants[0].id.clone();

    // Act: one revoke event, invoked twice, on two containers.
    let revoke =
        hogwarden_aws_e2e::http_event(Some(MEMBER), "POST", &format!("/api/grants/{grant_id}/revoke"), Some(serde_json::json!({})));
    let first = Reply::from_lambda(invoke(&t.reverts, revoke.clone()).await.unwrap());
    let again = Reply::from_lambda(invoke(&t.reverts_other_container, revoke).await.unwrap());

    // Assert
    assert_eq!(first.status, 200, "{:?}", first.body);
    assert_eq!(again.status, 409, "{:?}", again.body);
    assert_eq!(t.posthog_calls("PATCH", ORG_WRITES) - writes, 2, "one more PostHog write for the revoke");
    assert_eq!(t.sandbox.member_level(MEMBER), Some(1));
    assert_eq!(t.audit_kinds().await, ["requested", "approved", "applied", "reverted"]);
    t.shutdown().await;
}

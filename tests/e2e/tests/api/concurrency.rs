//! Races and retries head-on: two approvers at once, two sweeps at once, a sweep that
//! meets PostHog failing. Each must apply or revert exactly once and lose nothing.

use hogwarden_api_types as dto;
use hogwarden_e2e::{APPROVER, MEMBER, SECOND_APPROVER, spawn_stack, spawn_stack_with};
use posthog_sandbox::FaultKind;

#[tokio::test]
async fn two_approvals_at_the_same_moment_apply_once() {
    // Arrange
    let t = spawn_stack().await;
    let request = t.request_temporary_admin(MEMBER, 60).await;
    let patches = t.posthog_calls("PATCH", "/api/organizations/");

    // Act
    let (a, b) = tokio::join!(t.approve(APPROVER, &request.id), t.approve(SECOND_APPROVER, &request.id));

    // Assert: one wins, the other is told it was decided meanwhile.
    let mut statuses = [a.status, b.status];
    statuses.sort();
    assert_eq!(statuses, [200, 409], "{:?} / {:?}", a.body, b.body);
    let loser = if a.status == 409 { &a } else { &b };
    assert_eq!(loser.code(), "conflict");
    assert_eq!(t.posthog_calls("PATCH", "/api/organizations/") - patches, 1, "one PostHog write");
    let kinds = t.audit_kinds().await;
    assert_eq!(kinds.iter().filter(|k| *k == "approved").count(), 1);
    assert_eq!(kinds.iter().filter(|k| *k == "applied").count(), 1);
    let r: dto::RequestDto = t.get(MEMBER, &format!("/api/requests/{}", request.id)).await.json();
    assert_eq!(r.grants.len(), 1, "one grant");
    t.shutdown().await;
}

#[tokio::test]
async fn when_two_approvals_are_needed_two_approvers_at_the_same_moment_both_count() {
    // Arrange: policy needs two approvers.
    let t = spawn_stack_with(|c| c.policy.approvals_required = 2).await;
    let request = t.request_temporary_admin(MEMBER, 60).await;
    assert_eq!(request.approvals_required, 2);

    // Act
    let (a, b) = tokio::join!(t.approve(APPROVER, &request.id), t.approve(SECOND_APPROVER, &request.id));

    // Assert: neither approval is lost to the other's write; the request is applied once.
    assert_eq!((a.status, b.status), (200, 200), "{:?} / {:?}", a.body, b.body);
    let r: dto::RequestDto = t.get(MEMBER, &format!("/api/requests/{}", request.id)).await.json();
    let mut by: Vec<_> = r.approvals.iter().map(|d| d.by.as_str()).collect();
    by.sort_unstable();
    assert_eq!(by, [APPROVER, SECOND_APPROVER]);
    assert_eq!(r.status, "applied");
    assert_eq!(t.sandbox().member_level(MEMBER), Some(8));
    assert_eq!(t.audit_kinds().await.iter().filter(|k| *k == "approved").count(), 2);
    t.shutdown().await;
}

#[tokio::test]
async fn a_sweep_run_twice_reverts_once() {
    let t = spawn_stack().await;
    let request = t.request_temporary_admin(MEMBER, 5).await;
    assert_eq!(t.approve(APPROVER, &request.id).await.status, 200);
    t.clock.advance(chrono::Duration::minutes(6));
    let patches = t.posthog_calls("PATCH", "/api/organizations/");

    let (a, b) = tokio::join!(t.stack.app.sweep(), t.stack.app.sweep());
    let c = t.stack.app.sweep().await.unwrap();

    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!(a.reverted + b.reverted + c.reverted, 1, "{a:?} {b:?} {c:?}");
    assert_eq!(t.posthog_calls("PATCH", "/api/organizations/") - patches, 1, "one PostHog write");
    assert_eq!(t.audit_kinds().await.iter().filter(|k| *k == "reverted").count(), 1);
    assert_eq!(t.sandbox().member_level(MEMBER), Some(1));
    t.shutdown().await;
}

#[tokio::test]
async fn a_sweep_that_meets_posthog_errors_leaves_the_grant_due_and_the_next_one_reverts_it() {
    // Arrange
    let t = spawn_stack().await;
    let request = t.request_temporary_admin(MEMBER, 10).await;
    assert_eq!(t.approve(APPROVER, &request.id).await.status, 200);
    t.clock.advance(chrono::Duration::minutes(11));
    // More failures than the client retries, so this sweep cannot get through.
    t.sandbox().fail_next(http::Method::PATCH, "/api/organizations/", 50, FaultKind::ServerError);

    // Act
    let failed = t.stack.app.sweep().await.unwrap();

    // Assert: nothing lost, the grant is still active and due.
    assert_eq!(failed.reverted, 0);
    assert_eq!(failed.deferred, 1, "{failed:?}");
    assert_eq!(t.sandbox().member_level(MEMBER), Some(8));
    let grants: dto::GrantList = t.get(APPROVER, "/api/grants").await.json();
    assert_eq!(grants.grants.len(), 1);
    assert!(grants.grants[0].last_error.is_some());

    // Act: PostHog recovers.
    t.sandbox().clear_faults();
    let next = t.stack.app.sweep().await.unwrap();

    // Assert
    assert_eq!(next.reverted, 1, "{next:?}");
    assert_eq!(t.sandbox().member_level(MEMBER), Some(1));
    let kinds = t.audit_kinds().await;
    assert_eq!(kinds, ["requested", "approved", "applied", "revert_failed", "reverted"]);
    assert!(t.verify().await.valid);
    t.shutdown().await;
}

#[tokio::test]
async fn an_approval_while_posthog_is_down_is_applied_by_a_later_sweep() {
    let t = spawn_stack().await;
    let request = t.request_temporary_admin(MEMBER, 60).await;
    t.sandbox().fail_next(http::Method::PATCH, "/api/organizations/", 50, FaultKind::DropConnection);

    let approved = t.approve(APPROVER, &request.id).await;

    assert_eq!(approved.status, 200, "{:?}", approved.body);
    assert_eq!(approved.json::<dto::RequestDto>().status, "approved", "approved, not yet applied");
    assert_eq!(t.sandbox().member_level(MEMBER), Some(1));
    t.sandbox().clear_faults();
    t.clock.advance(chrono::Duration::minutes(1));
    let report = t.stack.app.sweep().await.unwrap();
    assert_eq!(report.applied_retries, 1, "{report:?}");
    assert_eq!(t.sandbox().member_level(MEMBER), Some(8));
    let r: dto::RequestDto = t.get(MEMBER, &format!("/api/requests/{}", request.id)).await.json();
    assert_eq!(r.status, "applied");
    assert_eq!(r.grants[0].baseline, "member", "the baseline read at approval is kept");
    t.shutdown().await;
}

//! Who is told what, through the local stack: the person is told of new access,
//! approvers of requests waiting with a deep link to the request's page, and
//! nobody who left the PostHog organization (or was deactivated) is an approver
//! or a recipient. The outbox shows what was sent.

use hogwarden_e2e::{APPROVER, MEMBER, SECOND_APPROVER, spawn_stack};
use posthog_sandbox::SERVICE_EMAIL;

#[tokio::test]
async fn approvers_are_told_with_a_link_and_the_person_is_told_of_new_access() {
    // Arrange
    let t = spawn_stack().await;

    // Act
    let request = t.request_temporary_admin(MEMBER, 60).await;
    let waiting = t.stack.outbox.sent();
    assert_eq!(t.approve(SECOND_APPROVER, &request.id).await.status, 200);

    // Assert
    let link = format!("{}/#/requests/{}", t.stack.url, request.id);
    for approver in [APPROVER, SECOND_APPROVER] {
        let told = waiting.iter().find(|n| n.to.as_str() == approver).unwrap_or_else(|| panic!("{approver} was told: {waiting:?}"));
        assert!(told.subject.contains("waits for your approval"), "{told:?}");
        assert_eq!(told.link.as_deref(), Some(link.as_str()), "a deep link to the page, nothing that acts");
    }
    let sent = t.stack.outbox.sent();
    assert!(
        sent.iter().any(|n| n.to.as_str() == MEMBER && n.body.contains("You now have") && n.body.contains(" until ")),
        "frank is told of his access and when it ends: {sent:?}"
    );
    t.shutdown().await;
}

#[tokio::test]
async fn a_removed_approver_is_not_told_and_a_removed_person_gets_nothing() {
    // Arrange: bob (an approver) leaves the organization; grace is deactivated.
    let t = spawn_stack().await;
    t.sandbox().remove_member_as(SERVICE_EMAIL, SECOND_APPROVER).expect("bob is removed");
    t.sandbox().deactivate_user("grace@example.com").expect("grace is deactivated");

    // Act
    let request = t.request_temporary_admin(MEMBER, 60).await;
    let for_grace = t
        .post(
            APPROVER,
            "/api/requests",
            serde_json::json!({ "subject_email": "grace@example.com", "changes": [{ "kind": "org_role", "role": "admin" }],
                                "duration_minutes": 60, "reason": "On call this week" }),
        )
        .await;

    // Assert
    let sent = t.stack.outbox.sent();
    let told: Vec<&str> =
        sent.iter().filter(|n| n.link.as_deref().is_some_and(|l| l.ends_with(&request.id))).map(|n| n.to.as_str()).collect();
    assert_eq!(told, vec![APPROVER], "only alice, still a member, is told: {sent:?}");
    assert!(for_grace.status < 500, "{:?}", for_grace.body);
    assert!(sent.iter().all(|n| n.to.as_str() != "grace@example.com" && n.to.as_str() != SECOND_APPROVER), "{sent:?}");
    t.shutdown().await;
}

#[tokio::test]
async fn an_approver_who_left_the_organization_cannot_approve_with_a_token_issued_before() {
    // Arrange: bob signs in, then leaves the organization.
    let t = spawn_stack().await;
    let request = t.request_temporary_admin(MEMBER, 60).await;
    t.sandbox().remove_member_as(SERVICE_EMAIL, SECOND_APPROVER).expect("bob is removed");

    // Act
    let refused = t.approve(SECOND_APPROVER, &request.id).await;
    let allowed = t.approve(APPROVER, &request.id).await;

    // Assert: refused with the reason, nothing recorded for bob; alice still can.
    assert_eq!(refused.status, 403, "{:?}", refused.body);
    assert!(refused.body.to_string().contains("no longer an active member"), "{:?}", refused.body);
    assert_eq!(allowed.status, 200, "{:?}", allowed.body);
    let approved: hogwarden_api_types::RequestDto = t.get(APPROVER, &format!("/api/requests/{}", request.id)).await.json();
    assert_eq!(approved.approvals.iter().map(|a| a.by.as_str()).collect::<Vec<_>>(), [APPROVER]);
    t.shutdown().await;
}

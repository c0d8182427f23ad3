//! The roles guide's security checklist on every request: approved by whom, least
//! access, documented, person informed, end date when temporary, audit entry ids;
//! shown on the request's page and in its export.

use hogwarden_api_types as dto;
use hogwarden_e2e::{APPROVER, MEMBER, SECOND_APPROVER, spawn_stack};

#[tokio::test]
async fn an_applied_request_shows_a_complete_checklist_and_exports_it() {
    // Arrange
    let t = spawn_stack().await;
    let request = t.request_temporary_admin(MEMBER, 60).await;
    let pending: dto::RequestDto = t.get(MEMBER, &format!("/api/requests/{}", request.id)).await.json();

    // Act
    assert_eq!(t.approve(SECOND_APPROVER, &request.id).await.status, 200);
    let page: dto::RequestDto = t.get(MEMBER, &format!("/api/requests/{}", request.id)).await.json();
    let export = t.get(MEMBER, &format!("/api/requests/{}/export", request.id)).await;

    // Assert: pending → nothing claimed yet; applied → every item holds.
    let before = pending.checklist.expect("the page carries the checklist");
    assert!(before.approved_by.is_empty() && before.least_access.is_none() && before.informed_at.is_none());
    assert!(!before.complete);
    let c = page.checklist.expect("checklist");
    assert_eq!(c.approved_by, [SECOND_APPROVER]);
    assert_eq!(c.least_access, Some(true));
    assert_eq!(c.reason, "Configure the new feature flag experiment");
    assert_eq!(c.ticket.as_deref(), Some("OPS-42"));
    assert!(c.informed_at.is_some(), "frank was told");
    assert!(t.stack.outbox.sent().iter().any(|n| n.to.as_str() == MEMBER && n.subject.contains("access changed")));
    assert!(c.temporary);
    assert_eq!(c.ends_at, page.grants[0].expires_at);
    assert_eq!(c.audit_entries, [1, 2, 3], "requested, approved, applied");
    assert!(c.complete);
    assert_eq!(export.status, 200);
    assert_eq!(export.headers["content-type"], "text/markdown; charset=utf-8");
    let md = export.body.as_str().unwrap();
    assert!(md.contains("- [x] Approved by: bob@example.com"), "{md}");
    assert!(md.contains("- [x] Least access"), "{md}");
    assert!(md.contains("- [x] Person informed"), "{md}");
    assert!(md.contains("- [x] End date set"), "{md}");
    assert!(md.contains("- [x] Audit entries: #1, #2, #3"), "{md}");
    assert!(md.contains("| organization role admin | member | admin | active |"), "{md}");
    t.shutdown().await;
}

#[tokio::test]
async fn a_request_policy_approved_says_so_and_others_cannot_read_it() {
    let t = spawn_stack().await;
    let production = t.sandbox().project_id("Production").unwrap();
    let reply = t
        .post(
            MEMBER,
            "/api/requests",
            serde_json::json!({ "changes": [{ "kind": "project_role", "project_id": production, "role": "viewer" }],
                                "reason": "Look at the production dashboards" }),
        )
        .await;
    let r: dto::RequestDto = reply.json();

    let page: dto::RequestDto = t.get(MEMBER, &format!("/api/requests/{}", r.id)).await.json();
    let stranger = t.get("grace@example.com", &format!("/api/requests/{}/export", r.id)).await;
    let approver = t.get(APPROVER, &format!("/api/requests/{}/export", r.id)).await;

    let c = page.checklist.unwrap();
    assert_eq!(c.approved_by, ["policy"], "viewer needs no approver under the default policy");
    assert!(!c.temporary && c.ends_at.is_none());
    assert!(c.complete);
    assert_eq!(stranger.status, 404, "another member cannot read it");
    assert_eq!(approver.status, 200);
    t.shutdown().await;
}

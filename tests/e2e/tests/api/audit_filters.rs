//! The audit log's filters as the web front end uses them: by project (entries whose
//! details name it, plus the other entries of the same requests), by kind and person;
//! and the front end's runtime configuration served by the local stack.

use hogwarden_api_types as dto;
use hogwarden_e2e::{MEMBER, OTHER_MEMBER, spawn_stack};

fn kinds(list: &dto::AuditList) -> Vec<&str> {
    let mut entries: Vec<&dto::AuditEntryDto> = list.entries.iter().collect();
    entries.sort_by_key(|e| e.seq);
    entries.into_iter().map(|e| e.kind.as_str()).collect()
}

#[tokio::test]
async fn the_project_filter_keeps_every_entry_of_the_requests_about_that_project() {
    // Arrange: Frank gets project Viewer on Production (applied by policy, no approver);
    // Grace asks for temporary organization Admin.
    let t = spawn_stack().await;
    let production = t.sandbox().project_id("Production").expect("seeded project");
    let mobile = t.sandbox().project_id("Mobile App").expect("seeded project");
    let viewer = t
        .post(
            MEMBER,
            "/api/requests",
            serde_json::json!({
                "changes": [{ "kind": "project_role", "project_id": production, "role": "viewer" }],
                "reason": "Read the production dashboards for the launch review",
            }),
        )
        .await;
    assert_eq!(viewer.status, 201, "{:?}", viewer.body);
    let viewer: dto::RequestDto = viewer.json();
    assert_eq!(viewer.status, "applied", "project Viewer needs no approval by default");
    t.request_temporary_admin(OTHER_MEMBER, 30).await;

    // Act
    let about_production: dto::AuditList = t.get(hogwarden_e2e::APPROVER, &format!("/api/audit?project={production}")).await.json();
    let about_mobile: dto::AuditList = t.get(hogwarden_e2e::APPROVER, &format!("/api/audit?project={mobile}")).await.json();
    let requested_production: dto::AuditList =
        t.get(hogwarden_e2e::APPROVER, &format!("/api/audit?project={production}&kind=requested&limit=1")).await.json();

    // Assert
    assert_eq!(kinds(&about_production), ["requested", "approved", "applied"]);
    assert!(about_production.entries.iter().all(|e| e.request_id.as_deref() == Some(viewer.id.as_str())));
    assert!(about_production.verification.valid);
    assert!(about_mobile.entries.is_empty(), "{:?}", about_mobile.entries);
    assert_eq!(kinds(&requested_production), ["requested"]);
    t.shutdown().await;
}

#[tokio::test]
async fn the_project_filter_searches_the_whole_log_and_the_csv_export_honours_it() {
    // Arrange: Frank's Production request, then 600 newer entries about nothing in
    // Production (more than a page of the audit list).
    let t = spawn_stack().await;
    let production = t.sandbox().project_id("Production").expect("seeded project");
    let body = serde_json::json!({
        "changes": [{ "kind": "project_role", "project_id": production, "role": "viewer" }],
        "reason": "Read the production dashboards for the launch review",
    });
    let viewer: dto::RequestDto = t.post(MEMBER, "/api/requests", body).await.json();
    let grace = hogwarden_core::types::Email::parse(OTHER_MEMBER).unwrap();
    let noise = (0..600)
        .map(|i| hogwarden_core::audit::AuditDraft {
            at: viewer.created_at + chrono::Duration::seconds(i + 1),
            actor: hogwarden_core::types::Actor::System("sweep".into()),
            kind: hogwarden_core::audit::AuditKind::Reminded,
            subject: Some(grace.clone()),
            request_id: None,
            grant_id: None,
            details: serde_json::json!({ "what": "a reminder about nothing in Production", "n": i }),
        })
        .collect();
    t.stack.app.store.commit(hogwarden_core::ports::Commit { audit: noise, ..Default::default() }).await.unwrap();

    // Act
    let listed: dto::AuditList = t.get(hogwarden_e2e::APPROVER, &format!("/api/audit?project={production}")).await.json();
    let csv = t.http.get(t.url(&format!("/api/audit/export?project={production}"))).bearer_auth(t.token(hogwarden_e2e::APPROVER));
    let csv = csv.send().await.unwrap().text().await.unwrap();
    let zero = t.get(hogwarden_e2e::APPROVER, "/api/audit?project=0").await;

    // Assert: found behind the 600, in the list and in the export alone.
    assert_eq!(kinds(&listed), ["requested", "approved", "applied"]);
    assert!(listed.verification.valid && listed.verification.entries > 600);
    let rows: Vec<&str> = csv.lines().skip(1).collect();
    assert_eq!(rows.len(), 3, "{csv}");
    assert!(rows.iter().all(|r| r.contains(&viewer.id)), "{csv}");
    assert_eq!(zero.status, 400);
    assert!(zero.message().contains("'project'"), "{}", zero.message());
    t.shutdown().await;
}

#[tokio::test]
async fn a_project_filter_that_is_not_a_number_is_refused_in_words() {
    // Arrange
    let t = spawn_stack().await;

    // Act
    let r = t.get(MEMBER, "/api/audit?project=production").await;

    // Assert
    assert_eq!(r.status, 400, "{:?}", r.body);
    assert!(!r.message().is_empty());
    t.shutdown().await;
}

#[tokio::test]
async fn the_local_stack_tells_the_front_end_to_use_the_dev_sign_in_on_the_same_origin() {
    // Arrange
    let t = spawn_stack().await;

    // Act
    let r = t.send(None, reqwest::Method::GET, "/config.json", None).await;

    // Assert
    assert_eq!(r.status, 200);
    assert_eq!(r.body, serde_json::json!({ "api_url": "", "auth": { "mode": "dev" } }));
    t.shutdown().await;
}

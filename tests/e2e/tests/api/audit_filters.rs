//! The audit log's filters as the web front end uses them: by project (entries whose
//! details name it, plus the other entries of the same requests, among a bounded number
//! of the newest entries), by kind and person; chain verification for admins only; and
//! the front end's runtime configuration served by the local stack.

use hogwarden_api_types as dto;
use hogwarden_e2e::{APPROVER, MEMBER, OTHER_MEMBER, SECOND_APPROVER, spawn_stack};

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
    assert_eq!(about_production.searched_back_to, None, "a short log is searched whole");
    assert!(about_mobile.entries.is_empty(), "{:?}", about_mobile.entries);
    assert_eq!(kinds(&requested_production), ["requested"]);
    t.shutdown().await;
}

#[tokio::test]
async fn the_project_filter_finds_a_request_behind_600_newer_entries_and_the_csv_export_honours_it() {
    // Arrange: Frank's Production request, then 600 newer entries about nothing in
    // Production (more than a page of the audit list).
    let (t, production, viewer) = production_request_behind(600).await;

    // Act
    let listed: dto::AuditList = t.get(hogwarden_e2e::APPROVER, &format!("/api/audit?project={production}")).await.json();
    let csv = t.http.get(t.url(&format!("/api/audit/export?project={production}"))).bearer_auth(t.token(hogwarden_e2e::APPROVER));
    let csv = csv.send().await.unwrap().text().await.unwrap();
    let zero = t.get(hogwarden_e2e::APPROVER, "/api/audit?project=0").await;

    // Assert: found behind the 600, in the list and in the export alone.
    assert_eq!(kinds(&listed), ["requested", "approved", "applied"]);
    assert_eq!(listed.searched_back_to, None, "600 entries are within one search");
    let verification = t.verify().await;
    assert!(verification.valid && verification.entries > 600);
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

#[tokio::test]
async fn a_project_search_on_a_long_log_stops_after_a_bounded_window_and_continues_on_request() {
    // Arrange: Frank's Production request, then 2500 newer entries about nothing in it.
    let (t, production, _) = production_request_behind(2500).await;

    // Act: search back window by window, as the "searched back to" link does.
    let mut pages = Vec::new();
    let mut path = format!("/api/audit?project={production}");
    loop {
        let r = t.get(APPROVER, &path).await;
        assert_eq!(r.status, 200, "{:?}", r.body);
        let page: dto::AuditList = r.json();
        let next = page.searched_back_to;
        pages.push(page);
        match next {
            Some(seq) => path = format!("/api/audit?project={production}&before_seq={seq}"),
            None => break,
        }
    }
    let stray = t.get(APPROVER, "/api/audit?before_seq=10").await;

    // Assert: the newest search stopped 1000 entries back; the last one found the request.
    let total = t.verify().await.entries;
    assert_eq!(pages[0].searched_back_to, Some(total - 999));
    assert!(pages[0].entries.is_empty());
    assert_eq!(pages.len(), 3, "{:?}", pages.iter().map(|p| p.searched_back_to).collect::<Vec<_>>());
    assert_eq!(kinds(pages.last().unwrap()), ["requested", "approved", "applied"]);
    assert_eq!(stray.status, 400, "{:?}", stray.body);
    t.shutdown().await;
}

#[tokio::test]
async fn only_admins_verify_the_whole_chain() {
    // Arrange
    let t = spawn_stack().await;
    let no_group = t.stack.issuer.issue("mallory@example.com", "Mallory", &[], chrono::Duration::minutes(5)).unwrap();

    // Act
    let admin = t.get(APPROVER, "/api/audit/verify").await;
    let approver = t.get(SECOND_APPROVER, "/api/audit/verify").await;
    let member = t.get(MEMBER, "/api/audit/verify").await;
    let stranger = t.http.get(t.url("/api/audit/verify")).bearer_auth(no_group).send().await.unwrap().status().as_u16();
    let listed = t.get(MEMBER, "/api/audit").await;

    // Assert
    assert_eq!(admin.status, 200, "{:?}", admin.body);
    assert_eq!((approver.status, member.status, stranger), (403, 403, 403));
    assert!(member.message().contains("admin"), "{}", member.message());
    assert_eq!(listed.status, 200, "the list stays open to everyone: {:?}", listed.body);
    assert!(listed.body.get("verification").is_none(), "the list does not verify the chain: {:?}", listed.body);
    t.shutdown().await;
}

/// A stack with frank's Production request, then `newer` audit entries about nothing in
/// Production, written straight to the store.
async fn production_request_behind(newer: i64) -> (hogwarden_e2e::TestStack, i64, dto::RequestDto) {
    let t = spawn_stack().await;
    let production = t.sandbox().project_id("Production").expect("seeded project");
    let body = serde_json::json!({
        "changes": [{ "kind": "project_role", "project_id": production, "role": "viewer" }],
        "reason": "Read the production dashboards for the launch review",
    });
    let viewer: dto::RequestDto = t.post(MEMBER, "/api/requests", body).await.json();
    let grace = hogwarden_core::types::Email::parse(OTHER_MEMBER).unwrap();
    let noise = (0..newer)
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
    (t, production, viewer)
}

//! Scenario 7, offboarding and ownership transfer: preview the departing member's
//! dashboards, insights, feature flags and notebooks (PostHog's `created_by`), one
//! request approved once, each object handed to the new owner as `manager` access
//! (PostHog cannot reassign `created_by`), the private-insight warning, then removal
//! from every project and the organization: each step audited, read back and resumable.

use hogwarden_api_types as dto;
use hogwarden_e2e::{APPROVER, MEMBER, OTHER_MEMBER, SECOND_APPROVER, spawn_stack};
use posthog_sandbox::{FaultKind, ObjectKind};
use serde_json::json;

const LAURA: &str = "laura@example.com";

fn segment(kind: &str) -> &'static str {
    match kind {
        "dashboard" => "dashboards",
        "insight" => "insights",
        "feature_flag" => "feature_flags",
        _ => "notebooks",
    }
}

fn sandbox_kind(kind: &str) -> ObjectKind {
    match kind {
        "dashboard" => ObjectKind::Dashboard,
        "insight" => ObjectKind::Insight,
        "feature_flag" => ObjectKind::FeatureFlag,
        _ => ObjectKind::Notebook,
    }
}

fn object_path(o: &dto::OwnedObjectDto) -> String {
    format!("/api/projects/{}/{}/{}/access_controls/", o.project_id, segment(&o.kind), o.key)
}

#[tokio::test]
async fn the_preview_lists_what_the_member_created_and_warns_about_private_insights() {
    let t = spawn_stack().await;
    let r = t.post(APPROVER, "/api/offboardings/preview", json!({"email": LAURA, "new_owner": OTHER_MEMBER})).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let p: dto::OffboardPreviewDto = r.json();
    let mut seen: Vec<(String, String)> = p.objects.iter().map(|o| (o.kind.clone(), o.name.clone())).collect();
    seen.sort();
    assert_eq!(
        seen,
        [
            ("dashboard", "Checkout funnel"),
            ("dashboard", "Staging smoke tests"),
            ("feature_flag", "new-checkout"),
            ("insight", "Signup conversion"),
            ("insight", "Untitled draft"),
            ("notebook", "Checkout experiment notes"),
        ]
        .map(|(k, n)| (k.to_owned(), n.to_owned()))
    );
    assert_eq!(p.objects.iter().filter(|o| o.private).map(|o| o.name.as_str()).collect::<Vec<_>>(), ["Untitled draft"]);
    assert!(p.warnings.iter().any(|w| w.contains("private (unsaved) insight") && w.contains("Untitled draft")), "{:?}", p.warnings);
    assert_eq!(p.projects.len(), 1);
    assert_eq!((p.projects[0].name.as_str(), p.projects[0].role.as_str()), ("Web App", "member"));
    assert_eq!(p.steps.len(), 6 + 1 + 1);
    assert_eq!(p.steps.last().map(String::as_str), Some("Remove from the organization"));

    // Bad input says what is wrong and changes nothing.
    let before = t.sandbox().write_count();
    let r = t.post(MEMBER, "/api/offboardings/preview", json!({"email": LAURA, "new_owner": OTHER_MEMBER})).await;
    assert_eq!(r.status, 403, "{:?}", r.body);
    let r = t.post(APPROVER, "/api/offboardings/preview", json!({"email": "laura", "new_owner": OTHER_MEMBER})).await;
    assert_eq!(r.status, 400);
    assert!(r.message().contains("email"), "{}", r.message());
    let r = t.post(APPROVER, "/api/offboardings/preview", json!({"email": LAURA, "new_owner": LAURA})).await;
    assert_eq!(r.status, 422);
    let r = t.post(APPROVER, "/api/offboardings/preview", json!({"email": "nobody@example.com", "new_owner": OTHER_MEMBER})).await;
    assert_eq!(r.status, 404);
    let r = t.post(APPROVER, "/api/offboardings/preview", json!({"email": "hogwarden-bot@acme.example", "new_owner": OTHER_MEMBER})).await;
    assert_eq!(r.status, 422, "owners are never removed: {:?}", r.body);
    let r = t.post(APPROVER, "/api/offboardings", json!({"email": LAURA, "new_owner": OTHER_MEMBER, "reason": "x"})).await;
    assert_eq!(r.status, 400, "a reason is required");
    assert_eq!(t.sandbox().write_count(), before);
    t.shutdown().await;
}

#[tokio::test]
async fn offboarding_hands_every_object_to_the_new_owner_then_removes_the_member() {
    let t = spawn_stack().await;
    let r = t
        .post(
            APPROVER,
            "/api/offboardings",
            json!({"email": LAURA, "new_owner": OTHER_MEMBER, "reason": "Leaves Acme on Friday", "ticket": "HR-7"}),
        )
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let created: dto::OffboardingDto = r.json();
    assert_eq!(created.status, "pending");
    assert!(created.steps.iter().all(|s| s.status == "pending"));
    assert_eq!(t.sandbox().member_level(LAURA), Some(1), "nothing happens before approval");

    // One request, one offboarding at a time, and never approved by its requester.
    let again =
        t.post(APPROVER, "/api/offboardings", json!({"email": LAURA, "new_owner": OTHER_MEMBER, "reason": "Leaves Acme on Friday"})).await;
    assert_eq!(again.status, 409);
    let own = t.post(APPROVER, &format!("/api/offboardings/{}/approve", created.id), json!({})).await;
    assert_eq!(own.status, 403);

    let r = t.post(SECOND_APPROVER, &format!("/api/offboardings/{}/approve", created.id), json!({"comment": "HR confirmed"})).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let done: dto::OffboardingDto = r.json();
    assert_eq!(done.status, "done", "{:?}", done);
    assert!(done.steps.iter().all(|s| s.status == "done" && s.read_back.is_some()), "{:?}", done.steps);

    // PostHog's final state: the new owner manages each object; laura is gone.
    let sandbox = t.sandbox();
    let handed: Vec<&dto::OwnedObjectDto> = done.steps.iter().filter_map(|s| s.object.as_ref()).collect();
    assert_eq!(handed.len(), 6);
    for o in &handed {
        let level = sandbox.object_access(sandbox_kind(&o.kind), o.project_id, &o.key, OTHER_MEMBER);
        assert_eq!(level.as_deref(), Some("manager"), "{o:?}");
    }
    assert_eq!(sandbox.member_level(LAURA), None);
    assert!(!sandbox.member_emails().iter().any(|e| e == LAURA));
    let web = sandbox.project_id("Web App").unwrap();
    assert_eq!(sandbox.project_access(web, LAURA), None);

    // The audit: requested, approved, one hand-over per object, two removals, done.
    let mut entries: Vec<dto::AuditEntryDto> =
        t.audit(APPROVER).await.entries.into_iter().filter(|e| e.request_id.as_deref() == Some(&created.id)).collect();
    entries.sort_by_key(|e| e.seq);
    let kinds: Vec<&str> = entries.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(
        kinds,
        [
            "requested",
            "approved",
            "handed_over",
            "handed_over",
            "handed_over",
            "handed_over",
            "handed_over",
            "handed_over",
            "member_removed",
            "member_removed",
            "offboarded"
        ]
    );
    for e in entries.iter().filter(|e| e.kind == "handed_over") {
        assert_eq!(e.details["to"], OTHER_MEMBER);
        assert_eq!(e.details["level"], "manager");
        assert_eq!(e.details["read_back"], "manager");
    }
    assert_eq!(entries[9].details["scope"], "organization");
    let verify = t.get(APPROVER, "/api/audit/verify").await;
    assert_eq!(verify.status, 200);
    assert_eq!(verify.body["valid"], true, "{:?}", verify.body);

    let page = t.get(APPROVER, &format!("/api/offboardings/{}", created.id)).await;
    assert_eq!(page.json::<dto::OffboardingDto>().status, "done");
    let list = t.get(APPROVER, "/api/offboardings").await;
    assert_eq!(list.json::<dto::OffboardingList>().offboardings.len(), 1);
    assert_eq!(t.get(MEMBER, "/api/offboardings").await.status, 403);
    t.shutdown().await;
}

#[tokio::test]
async fn an_offboarding_stopped_midway_resumes_without_repeating_a_step() {
    let t = spawn_stack().await;
    let r =
        t.post(APPROVER, "/api/offboardings", json!({"email": LAURA, "new_owner": OTHER_MEMBER, "reason": "Leaves Acme on Friday"})).await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let created: dto::OffboardingDto = r.json();
    let objects: Vec<dto::OwnedObjectDto> = created.steps.iter().filter_map(|s| s.object.clone()).collect();

    // PostHog fails every write of the fourth hand-over, past the client's retries.
    let stuck = object_path(&objects[3]);
    t.sandbox().fail_next(http::Method::PUT, &stuck, 100, FaultKind::ServerError);
    let r = t.post(SECOND_APPROVER, &format!("/api/offboardings/{}/approve", created.id), json!({})).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let paused: dto::OffboardingDto = r.json();
    assert_eq!(paused.status, "approved", "it stops, it does not fail: {paused:?}");
    let statuses: Vec<&str> = paused.steps.iter().map(|s| s.status.as_str()).collect();
    assert_eq!(statuses[..4], ["done", "done", "done", "pending"]);
    assert_eq!(t.sandbox().member_level(LAURA), Some(1), "the member stays until every hand-over is done");

    // PostHog is back; resuming carries on from the fourth step.
    t.sandbox().clear_faults();
    let r = t.post(APPROVER, &format!("/api/offboardings/{}/resume", created.id), json!({})).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.json::<dto::OffboardingDto>().status, "done");

    // No step was written twice: one successful PUT per object, one DELETE of the member.
    let requests = t.sandbox().requests();
    for o in &objects {
        let path = object_path(o);
        let ok = requests.iter().filter(|q| q.method == http::Method::PUT && q.path == path && q.status == Some(200)).count();
        assert_eq!(ok, 1, "{path} was written {ok} times");
    }
    let deletes =
        requests.iter().filter(|q| q.method == http::Method::DELETE && q.path.contains("/members/") && q.status == Some(204)).count();
    assert_eq!(deletes, 1);
    let handed = t.audit(APPROVER).await.entries.iter().filter(|e| e.kind == "handed_over").count();
    assert_eq!(handed, 6, "one audit entry per hand-over, none repeated");
    // Resuming a finished offboarding changes nothing.
    let writes = t.sandbox().write_count();
    let r = t.post(APPROVER, &format!("/api/offboardings/{}/resume", created.id), json!({})).await;
    assert_eq!(r.status, 200);
    assert_eq!(t.sandbox().write_count(), writes);
    t.shutdown().await;
}

#[tokio::test]
async fn the_sweep_resumes_a_paused_offboarding() {
    let t = spawn_stack().await;
    let r =
        t.post(APPROVER, "/api/offboardings", json!({"email": LAURA, "new_owner": OTHER_MEMBER, "reason": "Leaves Acme on Friday"})).await;
    let created: dto::OffboardingDto = r.json();
    t.sandbox().fail_next(http::Method::DELETE, "/api/organizations/", 100, FaultKind::ServerError);
    let paused: dto::OffboardingDto = t.post(SECOND_APPROVER, &format!("/api/offboardings/{}/approve", created.id), json!({})).await.json();
    assert_eq!(paused.status, "approved");
    assert_eq!(paused.steps.last().map(|s| s.status.as_str()), Some("pending"));
    t.sandbox().clear_faults();
    t.clock.advance(chrono::Duration::minutes(2));
    t.stack.app.sweep().await.expect("sweep runs");
    let done: dto::OffboardingDto = t.get(APPROVER, &format!("/api/offboardings/{}", created.id)).await.json();
    assert_eq!(done.status, "done");
    assert_eq!(t.sandbox().member_level(LAURA), None);
    t.shutdown().await;
}

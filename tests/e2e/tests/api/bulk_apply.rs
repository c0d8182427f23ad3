//! Bulk change sets as one access request: a large set is approved once, applied item
//! by item within PostHog's rate limit with per-item status, audited per item, and
//! resumed after a crash without applying anything twice.

use std::time::Duration;

use hogwarden_api_types as dto;
use hogwarden_core::changeset::ItemStatus;
use hogwarden_core::ports::{Commit, Guarded};
use hogwarden_core::types::RequestId;
use hogwarden_e2e::{APPROVER, MEMBER, SECOND_APPROVER, TestStack, spawn_stack};
use posthog_sandbox::{Budget, RateLimit, SERVICE_EMAIL};
use serde_json::json;

const NEW_ON_WEB_APP: [&str; 12] =
    ["ivan", "judy", "karl", "rupert", "sybil", "trent", "walter", "xavier", "yvonne", "zara", "aaron", "bella"];

fn large_csv() -> String {
    let mut csv = String::from("email,project,role,end_date\n");
    for p in NEW_ON_WEB_APP {
        csv.push_str(&format!("{p}@example.com,Web App,member,\n"));
    }
    csv.push_str("laura@example.com,Web App,member,\n"); // line 14: already a member
    csv.push_str("heidi@example.com,Production,viewer,2026-06-30\n"); // line 15
    csv.push_str("frank@example.com,Staging,none,\n"); // line 16
    csv
}

async fn submit(t: &TestStack, csv: &str) -> hogwarden_e2e::Reply {
    t.post(APPROVER, "/api/bulk/sets", json!({ "format": "csv", "content": csv, "reason": "Quarterly access clean-up, OPS-77" })).await
}

/// Calls apply until the set is finished; returns the last answer.
async fn apply_to_the_end(t: &TestStack, id: &str) -> dto::BulkSetDto {
    for _ in 0..200 {
        let r = t.post(APPROVER, &format!("/api/bulk/sets/{id}/apply?budget_seconds=5"), json!({})).await;
        assert_eq!(r.status, 200, "{:?}", r.body);
        let set: dto::BulkSetDto = r.json();
        if set.phase == "finished" {
            return set;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the change set did not finish");
}

#[tokio::test]
async fn a_large_change_set_is_one_request_approved_once_and_applied_item_by_item() {
    // Arrange
    let t = spawn_stack().await;
    let web_app = t.sandbox().project_id("Web App").unwrap();
    let production = t.sandbox().project_id("Production").unwrap();
    let staging = t.sandbox().project_id("Staging").unwrap();
    let baseline: dto::DriftReportDto = t.post(APPROVER, "/api/drift/check", json!({})).await.json();
    assert!(baseline.baseline_taken);

    // Act: submit, submit the same text again, try to apply before approval.
    let first = submit(&t, &large_csv()).await;
    let again = submit(&t, &large_csv()).await;
    let created: dto::BulkSetDto = first.json();
    let early = t.post(APPROVER, &format!("/api/bulk/sets/{}/apply", created.id), json!({})).await;
    let writes_before_approval = t.sandbox().write_count();
    let approved = t.approve(SECOND_APPROVER, &created.id).await;
    // Two runs at once: the claim lets one of them apply.
    let path = format!("/api/bulk/sets/{}/apply?budget_seconds=5", created.id);
    let (a, b) = tokio::join!(t.post(APPROVER, &path, json!({})), t.post(APPROVER, &path, json!({})));
    let report = apply_to_the_end(&t, &created.id).await;
    let writes_after = t.sandbox().write_count();
    let replay = t.post(APPROVER, &path, json!({})).await;

    // Assert: one request, approval needed because the set is large.
    assert_eq!(first.status, 201, "{:?}", first.body);
    assert_eq!((created.phase.as_str(), created.approvals_required, created.total), ("awaiting_approval", 1, 15));
    assert_eq!((created.pending, created.no_op), (14, 1));
    assert_eq!(again.status, 200, "the same file finds the same set");
    assert_eq!(again.json::<dto::BulkSetDto>().id, created.id);
    assert_eq!(early.status, 409, "{:?}", early.body);
    assert!(early.message().contains("waits for approval"), "{}", early.message());
    assert_eq!(writes_before_approval, 0, "nothing is written before approval");
    assert_eq!(approved.status, 200, "{:?}", approved.body);
    assert_eq!(approved.json::<dto::RequestDto>().status, "approved");
    assert_eq!((a.status, b.status), (200, 200));

    // The report and PostHog's final state.
    assert_eq!((report.done, report.no_op, report.failed, report.pending, report.in_flight), (14, 1, 0, 0, 0), "{report:?}");
    assert_eq!(report.request_status, "applied");
    for p in NEW_ON_WEB_APP {
        assert_eq!(t.sandbox().project_access(web_app, &format!("{p}@example.com")).as_deref(), Some("member"), "{p}");
    }
    assert_eq!(t.sandbox().project_access(production, "heidi@example.com").as_deref(), Some("member"), "viewer = member + viewer rules");
    assert!(!t.sandbox().resource_access(production, "heidi@example.com").is_empty(), "heidi's viewer rules");
    assert_eq!(t.sandbox().project_access(staging, "frank@example.com"), None, "frank removed from Staging");
    let full: dto::BulkSetDto = t.get(APPROVER, &format!("/api/bulk/sets/{}", created.id)).await.json();
    let heidi = full.items.iter().find(|i| i.line == 15).unwrap();
    assert_eq!((heidi.status.as_str(), heidi.baseline.as_deref(), heidi.read_back.as_deref()), ("done", Some("member"), Some("viewer")));
    assert_eq!(full.items.iter().find(|i| i.line == 14).unwrap().status, "no_op");

    // Every change is audited: one `applied` entry per done item, about its person.
    let entries = t.audit(APPROVER).await.entries;
    let applied: Vec<_> = entries.iter().filter(|e| e.kind == "applied" && e.request_id.as_deref() == Some(&created.id)).collect();
    assert_eq!(applied.len(), 15, "14 items and the set's report");
    assert!(applied.iter().any(|e| e.subject.as_deref() == Some("heidi@example.com") && e.details["bulk_line"] == 15));
    // The end date became a temporary grant that the sweep reverts on its own.
    let heidi_email = hogwarden_core::types::Email::parse("heidi@example.com").unwrap();
    let grants = t.stack.app.store.list_grants_for_user(&heidi_email, 10).await.unwrap();
    assert!(grants.iter().any(|g| g.expires_at.is_some_and(|e| e.to_rfc3339() == "2026-07-01T00:00:00+00:00")), "{grants:?}");

    // Applying a finished set again writes nothing.
    assert_eq!(replay.status, 200);
    assert_eq!(t.sandbox().write_count(), writes_after);

    // Drift counts every item as Hogwarden's own change.
    let drift: dto::DriftReportDto = t.post(APPROVER, "/api/drift/check", json!({})).await.json();
    assert!(drift.findings.is_empty(), "{:?}", drift.findings);
    t.shutdown().await;
}

#[tokio::test]
async fn a_crash_between_the_posthog_write_and_the_status_write_does_not_write_twice() {
    // Arrange: a small set (3 changes), approved.
    let t = spawn_stack().await;
    let web_app = t.sandbox().project_id("Web App").unwrap();
    let csv = "email,project,role\nivan@example.com,Web App,member\njudy@example.com,Web App,member\nkarl@example.com,Web App,member\n";
    let set: dto::BulkSetDto = submit(&t, csv).await.json();
    assert_eq!(t.approve(SECOND_APPROVER, &set.id).await.status, 200);
    // The crash: ivan's write reached PostHog, then the process died before recording it.
    let id = RequestId::parse(&set.id).unwrap();
    let store = t.stack.app.store.clone();
    let item = store.list_change_items(id).await.unwrap().remove(0);
    assert_eq!(item.subject.as_str(), "ivan@example.com");
    let flight = hogwarden_core::changeset::ChangeItem {
        status: ItemStatus::InFlight,
        baseline: Some(hogwarden_core::model::AccessLevel::Project(None)),
        attempts: 1,
        version: 2,
        ..item
    };
    store.commit(Commit { change_items: vec![Guarded::update(flight, 1)], ..Commit::default() }).await.unwrap();
    t.sandbox().set_project_access_as(SERVICE_EMAIL, web_app, "ivan@example.com", Some("member")).unwrap();
    let writes = t.sandbox().write_count();

    // Act
    let report = apply_to_the_end(&t, &set.id).await;

    // Assert: ivan's item is done without a second write; the other two took one each.
    assert_eq!((report.done, report.failed), (3, 0));
    assert_eq!(t.sandbox().write_count() - writes, 2, "one write for judy, one for karl, none again for ivan");
    let items = store.list_change_items(id).await.unwrap();
    assert_eq!((items[0].status, items[0].attempts), (ItemStatus::Done, 1));
    let entries = t.audit(APPROVER).await.entries;
    let ivan = entries.iter().find(|e| e.kind == "applied" && e.subject.as_deref() == Some("ivan@example.com")).unwrap();
    assert_eq!(ivan.details["confirmed_after_restart"], true);
    assert_eq!(ivan.details["baseline"], json!({ "kind": "project", "level": null }));
    t.shutdown().await;
}

#[tokio::test]
async fn a_change_set_with_bad_rows_is_refused_naming_them_and_nothing_is_stored() {
    // Arrange
    let t = spawn_stack().await;
    let csv = "email,project,role\nivan@example.com,Web App,member\nnobody@example.com,Web App,member\nivan@example.com,Web App,admin\n";

    // Act
    let bad = submit(&t, csv).await;
    let member = t.post(MEMBER, "/api/bulk/sets", json!({ "format": "csv", "content": large_csv() })).await;
    let no_ops = submit(&t, "email,project,role\nlaura@example.com,Web App,member\n").await;
    let unknown = t.get(APPROVER, &format!("/api/bulk/sets/{}", RequestId::new())).await;

    // Assert
    assert_eq!(bad.status, 400, "{:?}", bad.body);
    assert!(bad.message().contains("lines 3, 4"), "{}", bad.message());
    assert_eq!(member.status, 403);
    assert_eq!(no_ops.status, 422, "{:?}", no_ops.body);
    assert_eq!(unknown.status, 404);
    let mine: dto::RequestList = t.get(APPROVER, "/api/requests").await.json();
    assert!(mine.requests.is_empty(), "nothing was stored: {mine:?}");
    assert_eq!(t.sandbox().write_count(), 0);
    t.shutdown().await;
}

#[tokio::test]
async fn under_a_low_rate_limit_every_item_still_lands_once() {
    // Arrange: 4 requests per second instead of 480 per minute, on PostHog's side only,
    // so the client meets 429s and waits them out.
    let t = spawn_stack().await;
    let web_app = t.sandbox().project_id("Web App").unwrap();
    let set: dto::BulkSetDto = submit(&t, &large_csv()).await.json();
    assert_eq!(t.approve(SECOND_APPROVER, &set.id).await.status, 200);
    t.sandbox().set_rate_limit(RateLimit { burst: Budget { count: 4, window: Duration::from_secs(1) }, ..RateLimit::default() });

    // Act
    let report = apply_to_the_end(&t, &set.id).await;

    // Assert
    assert_eq!((report.done, report.no_op, report.failed), (14, 1, 0), "{report:?}");
    for p in NEW_ON_WEB_APP {
        assert_eq!(t.sandbox().project_access(web_app, &format!("{p}@example.com")).as_deref(), Some("member"), "{p}");
    }
    assert!(t.sandbox().throttled_count() > 0, "the sandbox did throttle");
    t.shutdown().await;
}

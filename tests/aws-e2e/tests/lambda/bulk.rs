//! A bulk change set on the AWS composition: submitted and approved through the grants
//! Lambda, applied by the reverts Lambda's `bulk_apply` schedule in DynamoDB (moto),
//! the second container's run leaving a claimed set alone.

use chrono::{TimeZone, Utc};
use hogwarden_api_types as dto;
use hogwarden_aws_e2e::{APPROVER, SECOND_APPROVER, invoke, scheduler_event, spawn_aws_stack};
use serde_json::json;

#[tokio::test]
async fn the_bulk_apply_schedule_applies_an_approved_set_once_in_dynamodb() {
    // Arrange: 12 rows (more than policy lets through without approval), approved.
    let t = spawn_aws_stack().await;
    let people = ["ivan", "judy", "karl", "rupert", "sybil", "trent", "walter", "xavier", "yvonne", "zara", "aaron", "bella"];
    let csv: String = std::iter::once("email,project,role\n".to_owned())
        .chain(people.iter().map(|p| format!("{p}@example.com,Web App,member\n")))
        .collect();
    let body = json!({ "format": "csv", "content": csv });
    let submitted = t.call(&t.grants, Some(APPROVER), "POST", "/api/bulk/sets", Some(body.clone())).await;
    let again = t.call(&t.grants_other_container, Some(APPROVER), "POST", "/api/bulk/sets", Some(body)).await;
    let set: dto::BulkSetDto = submitted.json();
    let approved = t.call(&t.grants, Some(SECOND_APPROVER), "POST", &format!("/api/requests/{}/approve", set.id), Some(json!({}))).await;
    let writes = t.sandbox.write_count();
    let at = Utc.with_ymd_and_hms(2026, 3, 15, 9, 1, 0).unwrap();

    // Act: two containers get the schedule at once, then one more run.
    let (a, b) = tokio::join!(
        invoke(&t.reverts, scheduler_event("bulk_apply", at, "exec-b1")),
        invoke(&t.reverts_other_container, scheduler_event("bulk_apply", at, "exec-b1"))
    );
    let later = invoke(&t.reverts, scheduler_event("bulk_apply", at, "exec-b2")).await.expect("a run after the end is harmless");
    let report = t.call(&t.grants, Some(APPROVER), "GET", &format!("/api/bulk/sets/{}", set.id), None).await;

    // Assert
    assert_eq!(submitted.status, 201, "{:?}", submitted.body);
    assert_eq!(again.status, 200, "the same text finds the same set: {:?}", again.body);
    assert_eq!(again.json::<dto::BulkSetDto>().id, set.id);
    assert_eq!((set.phase.as_str(), set.approvals_required), ("awaiting_approval", 1));
    assert_eq!(approved.status, 200, "{:?}", approved.body);
    let (a, b) = (a.expect("first container"), b.expect("second container"));
    assert_eq!(a["task"], "bulk_apply");
    let finished = a["outcome"]["finished"].as_u64().unwrap() + b["outcome"]["finished"].as_u64().unwrap();
    assert_eq!(finished, 1, "one container applied the set, the other left it alone: {a} {b}");
    assert_eq!(later["outcome"]["sets"], 0, "{later}");
    let report: dto::BulkSetDto = report.json();
    assert_eq!((report.phase.as_str(), report.done, report.failed), ("finished", 12, 0), "{report:?}");
    assert_eq!(t.sandbox.write_count() - writes, 12, "one PostHog write per row");
    let web_app = t.sandbox.project_id("Web App").unwrap();
    for p in people {
        assert_eq!(t.sandbox.project_access(web_app, &format!("{p}@example.com")).as_deref(), Some("member"), "{p}");
    }
    let audit = t.audit().await;
    assert_eq!(audit.entries.iter().filter(|e| e.kind == "applied" && e.request_id.as_deref() == Some(&set.id)).count(), 13);
    let verification = t.verify().await;
    assert!(verification.valid, "{verification:?}");
    t.shutdown().await;
}

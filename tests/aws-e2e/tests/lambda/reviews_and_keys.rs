//! The reviews and key-rotation Lambdas: their HTTP routes for admins, and their
//! scheduled inputs (`quarterly_review`, `key_check`) reaching the use cases.

use chrono::{TimeZone, Utc};
use hogwarden_api_types as dto;
use hogwarden_aws_e2e::{APPROVER, MEMBER, invoke, scheduler_event, spawn_aws_stack};

#[tokio::test]
async fn the_quarterly_schedule_records_an_access_snapshot_and_admins_see_who_has_what() {
    // Arrange
    let t = spawn_aws_stack().await;
    let at = Utc.with_ymd_and_hms(2026, 4, 1, 6, 0, 0).unwrap();

    // Act
    let outcome = invoke(&t.reviews, scheduler_event("quarterly_review", at, "exec-q2")).await.expect("the snapshot is taken");
    let overview = t.call(&t.reviews, Some(APPROVER), "GET", "/api/access", None).await;
    let refused = t.call(&t.reviews, Some(MEMBER), "GET", "/api/access", None).await;

    // Assert
    assert_eq!(outcome["task"], "quarterly_review");
    assert_eq!(outcome["execution_id"], "exec-q2");
    assert_eq!(outcome["outcome"]["members"], 43, "{outcome}");
    assert_eq!(outcome["outcome"]["admins"], 5, "{outcome}");
    assert_eq!(outcome["outcome"]["projects"], 4, "{outcome}");
    let audit = t.audit().await;
    let snapshot = audit.entries.iter().find(|e| e.kind == "access_snapshot").expect("the snapshot is audited");
    assert_eq!(snapshot.actor, "hogwarden:quarterly-review");
    assert_eq!(snapshot.details["members"], 43);
    let verification = t.verify().await;
    assert!(verification.valid, "{verification:?}");
    assert_eq!(overview.status, 200, "{:?}", overview.body);
    assert_eq!(overview.json::<dto::AccessOverviewDto>().members.len(), 43);
    assert_eq!(refused.status, 403, "{:?}", refused.body);
    t.shutdown().await;
}

#[tokio::test]
async fn the_key_check_schedule_reports_a_key_posthog_rejects_and_the_audit_records_it() {
    // Arrange
    let t = spawn_aws_stack().await;
    let key = t.sandbox.service_api_key();
    let at = Utc.with_ymd_and_hms(2026, 3, 15, 9, 5, 0).unwrap();

    // Act: a check while the key works, then PostHog rolls it (as after a leak).
    let healthy = invoke(&t.key_rotation, scheduler_event("key_check", at, "exec-1")).await.expect("checked");
    let listed = t.call(&t.key_rotation, Some(APPROVER), "GET", "/api/keys", None).await;
    let refused = t.call(&t.key_rotation, Some(MEMBER), "GET", "/api/keys", None).await;
    t.sandbox.roll_api_key(&key).expect("the sandbox rolls the key");
    let rejected = invoke(&t.key_rotation, scheduler_event("key_check", at, "exec-2")).await.expect("a 401 is an answer");

    // Assert
    assert_eq!(healthy["outcome"]["accepted"], true, "{healthy}");
    assert_eq!(rejected["outcome"]["accepted"], false, "{rejected}");
    assert_eq!(rejected["outcome"]["fingerprint"], healthy["outcome"]["fingerprint"]);
    assert_eq!(listed.status, 200, "{:?}", listed.body);
    let keys: dto::KeyList = listed.json();
    assert_eq!(keys.keys[0].accepted, Some(true));
    assert_eq!(serde_json::json!(keys.keys[0].fingerprint), healthy["outcome"]["fingerprint"]);
    assert!(!listed.raw.to_string().contains(&key), "the key never leaves the server");
    assert!(!rejected.to_string().contains(&key));
    assert_eq!(refused.status, 403, "{:?}", refused.body);
    let kinds = t.audit_kinds().await;
    assert_eq!(kinds.iter().filter(|k| *k == "service_key_rejected").count(), 1, "{kinds:?}");
    t.shutdown().await;
}

#[tokio::test]
async fn the_hourly_remind_schedule_reaches_the_reverts_lambda_and_reminds_once() {
    // Arrange: a request waits for approval until its last day.
    let t = spawn_aws_stack().await;
    let request = t.request_temporary_admin(MEMBER, 60).await;
    t.clock.advance(chrono::Duration::hours(49));
    let at = t.clock_now();

    // Act: the schedule fires, then Lambda retries the same delivery.
    let first = invoke(&t.reverts, scheduler_event("remind", at, "exec-remind-1")).await.expect("reminders run");
    let retry = invoke(&t.reverts, scheduler_event("remind", at, "exec-remind-1")).await.expect("a retry is harmless");

    // Assert
    assert_eq!(first["task"], "remind");
    assert_eq!(first["outcome"]["requests"], 1, "{first}");
    assert_eq!(retry["outcome"]["requests"], 0, "reminded once: {retry}");
    let kinds = t.audit_kinds().await;
    assert_eq!(kinds.iter().filter(|k| *k == "reminded").count(), 1, "{kinds:?}");
    let audit = t.audit().await;
    assert!(audit.entries.iter().any(|e| e.kind == "reminded" && e.request_id.as_deref() == Some(request.id.as_str())));
    t.shutdown().await;
}

#[tokio::test]
async fn a_retried_quarterly_schedule_opens_the_campaign_once_and_the_reminder_and_drift_tasks_run() {
    // Arrange
    let t = spawn_aws_stack().await;
    let at = Utc.with_ymd_and_hms(2026, 4, 1, 7, 0, 0).unwrap();

    // Act: the schedule fires, and EventBridge retries it; then the other review tasks.
    let first = invoke(&t.reviews, scheduler_event("quarterly_review", at, "exec-q2")).await.expect("opened");
    let retried = invoke(&t.reviews, scheduler_event("quarterly_review", at, "exec-q2")).await.expect("found");
    let reminders = invoke(&t.reviews, scheduler_event("review_reminders", at, "exec-r1")).await.expect("reminders run");
    let baseline = invoke(&t.reviews, scheduler_event("drift_check", at, "exec-d1")).await.expect("drift checked");
    let campaigns = t.call(&t.reviews, Some(APPROVER), "GET", "/api/reviews", None).await;

    // Assert: one campaign and one snapshot in DynamoDB, whatever the retries.
    assert_eq!(first["outcome"]["campaign"], "2026-q2", "{first}");
    assert_eq!(first["outcome"]["opened"], true, "{first}");
    assert_eq!(retried["outcome"]["opened"], false, "{retried}");
    assert_eq!(retried["outcome"]["items"], first["outcome"]["items"]);
    let audit = t.audit().await;
    assert_eq!(audit.entries.iter().filter(|e| e.kind == "access_snapshot").count(), 1);
    assert_eq!(reminders["outcome"]["campaigns"], 0, "nothing is due for a reminder on the opening day");
    assert_eq!(baseline["outcome"]["baseline_taken"], true, "{baseline}");
    assert_eq!(campaigns.status, 200, "{:?}", campaigns.body);
    assert_eq!(campaigns.json::<dto::CampaignList>().campaigns.len(), 1);
    t.shutdown().await;
}

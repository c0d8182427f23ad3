//! Temporary access over time: contractor end dates with reminders, extensions (one
//! grant, one timer, the guide's access-log entry), overlapping grants, approver
//! reminders, and the exportable access log. The clock is moved by hand.

use chrono::{DateTime, Duration, Utc};
use hogwarden_api_types as dto;
use hogwarden_core::ports::Clock;
use hogwarden_e2e::{APPROVER, MEMBER, SECOND_APPROVER, TestStack, spawn_stack};
use serde_json::json;

const CONTRACTOR: &str = "yvonne@example.com";

fn told(t: &TestStack, to: &str, subject_contains: &str) -> usize {
    t.stack.outbox.sent().iter().filter(|n| n.to.as_str() == to && n.subject.contains(subject_contains)).count()
}

async fn extend(t: &TestStack, who: &str, grant: &str, until: DateTime<Utc>) -> hogwarden_e2e::Reply {
    t.post(who, &format!("/api/grants/{grant}/extend"), json!({ "until": until, "reason": "The migration slipped by a week" })).await
}

#[tokio::test]
async fn contractor_access_ends_on_its_date_with_reminders_seven_and_one_day_before() {
    // Arrange: alice sponsors a contractor's Web App access until a fixed date.
    let t = spawn_stack().await;
    let web = t.sandbox().project_id("Web App").unwrap();
    let start = t.clock.now();
    let end = start + Duration::days(30);
    let reply = t
        .post(
            APPROVER,
            "/api/requests",
            json!({ "subject_email": CONTRACTOR, "changes": [{ "kind": "project_role", "project_id": web, "role": "member" }],
                    "ends_at": end, "reason": "Contract: checkout redesign", "ticket": "HR-301" }),
        )
        .await;
    assert_eq!(reply.status, 201, "{:?}", reply.body);
    let request: dto::RequestDto = reply.json();
    let applied: dto::RequestDto = t.approve(SECOND_APPROVER, &request.id).await.json();
    assert_eq!(applied.grants[0].expires_at, Some(end), "the end date is kept as given");
    assert_eq!(t.sandbox().project_access(web, CONTRACTOR).as_deref(), Some("member"));

    // Act + Assert: nothing 8 days before, the 7-day reminder once, the 1-day reminder once.
    t.clock.set(end - Duration::days(8));
    assert_eq!(t.stack.app.remind().await.unwrap().grants, 0);
    t.clock.set(end - Duration::days(7) + Duration::minutes(1));
    assert_eq!(t.stack.app.remind().await.unwrap().grants, 1);
    assert_eq!(t.stack.app.remind().await.unwrap().grants, 0, "a second run sends nothing new");
    assert_eq!(told(&t, CONTRACTOR, "ends in 6 days"), 1);
    assert_eq!(told(&t, APPROVER, "Access you sponsored ends"), 1, "the sponsor is told too");
    t.clock.set(end - Duration::days(1) + Duration::minutes(1));
    assert_eq!(t.stack.app.remind().await.unwrap().grants, 1);
    assert_eq!(told(&t, CONTRACTOR, "ends in 23 hours"), 1);
    t.clock.set(end + Duration::minutes(1));
    assert_eq!(t.stack.app.sweep().await.unwrap().reverted, 1);
    assert_eq!(t.sandbox().project_access(web, CONTRACTOR), None, "removed at the end date by itself");
    assert_eq!(t.sandbox().member_level(CONTRACTOR), Some(1), "still in the organization");
    let kinds = t.audit_kinds().await;
    assert_eq!(kinds, ["requested", "approved", "applied", "reminded", "reminded", "reverted"]);
    t.shutdown().await;
}

#[tokio::test]
async fn an_extension_needs_approval_moves_the_one_timer_and_keeps_the_access_log_entry() {
    // Arrange: frank holds Admin for an hour.
    let t = spawn_stack().await;
    let request = t.request_temporary_admin(MEMBER, 60).await;
    let applied: dto::RequestDto = t.approve(SECOND_APPROVER, &request.id).await.json();
    let grant = applied.grants[0].clone();
    let original = grant.expires_at.unwrap();
    t.clock.advance(Duration::minutes(30));
    let until = original + Duration::hours(2);

    // Act: ask, fail to self-approve, get approved.
    let asked = extend(&t, MEMBER, &grant.id, until).await;
    assert_eq!(asked.status, 201, "{:?}", asked.body);
    let ext: dto::RequestDto = asked.json();
    assert_eq!((ext.status.as_str(), ext.extends.as_deref()), ("pending", Some(grant.id.as_str())));
    assert_eq!(t.approve(MEMBER, &ext.id).await.status, 403);
    let approved = t.approve(SECOND_APPROVER, &ext.id).await;

    // Assert: one grant, its end moved, the access-log facts recorded.
    assert_eq!(approved.status, 200, "{:?}", approved.body);
    let grants: dto::GrantList = t.get(MEMBER, "/api/grants").await.json();
    assert_eq!(grants.grants.len(), 1, "one grant, one timer");
    let g = &grants.grants[0];
    assert_eq!(g.expires_at, Some(until));
    assert_eq!(g.extensions.len(), 1);
    assert_eq!(g.extensions[0].original_expiration, original);
    assert_eq!(g.extensions[0].extended_to, until);
    assert_eq!(g.extensions[0].approved_by, [SECOND_APPROVER]);
    assert_eq!(g.extensions[0].reason, "The migration slipped by a week");
    t.clock.set(original + Duration::minutes(1));
    assert_eq!(t.stack.app.sweep().await.unwrap().reverted, 0, "the old end no longer applies");
    assert_eq!(t.sandbox().member_level(MEMBER), Some(8));
    t.clock.set(until + Duration::minutes(1));
    assert_eq!(t.stack.app.sweep().await.unwrap().reverted, 1);
    assert_eq!(t.sandbox().member_level(MEMBER), Some(1));

    // The access log exports with the extension's columns.
    let csv = t.get(APPROVER, "/api/audit/export").await;
    assert_eq!(csv.status, 200);
    assert_eq!(csv.headers["content-type"], "text/csv; charset=utf-8");
    let text = csv.body.as_str().unwrap().to_owned();
    let mut rows = csv::Reader::from_reader(text.as_bytes());
    let headers = rows.headers().unwrap().clone();
    let extended: Vec<csv::StringRecord> = rows.records().map(Result::unwrap).filter(|r| &r[3] == "extended").collect();
    assert_eq!(extended.len(), 1, "{text}");
    let col = |name: &str| headers.iter().position(|h| h == name).unwrap();
    assert_eq!(extended[0][col("approved_by")], *SECOND_APPROVER);
    assert_eq!(extended[0][col("reason")], *"The migration slipped by a week");
    assert_eq!(DateTime::parse_from_rfc3339(&extended[0][col("original_expiration")]).unwrap(), original);
    assert_eq!(DateTime::parse_from_rfc3339(&extended[0][col("extended_to")]).unwrap(), until);
    t.shutdown().await;
}

#[tokio::test]
async fn extensions_that_policy_or_state_forbid_are_refused_and_change_nothing() {
    let t = spawn_stack().await;
    let request = t.request_temporary_admin(MEMBER, 60).await;
    let applied: dto::RequestDto = t.approve(SECOND_APPROVER, &request.id).await.json();
    let grant = applied.grants[0].clone();
    let end = grant.expires_at.unwrap();

    let earlier = extend(&t, MEMBER, &grant.id, end - Duration::minutes(5)).await;
    let too_long = extend(&t, MEMBER, &grant.id, t.clock.now() + Duration::hours(25)).await;
    let first = extend(&t, MEMBER, &grant.id, end + Duration::hours(1)).await;
    let second = extend(&t, MEMBER, &grant.id, end + Duration::hours(2)).await;
    let stranger = extend(&t, "grace@example.com", &grant.id, end + Duration::hours(1)).await;

    assert_eq!(earlier.status, 422, "{:?}", earlier.body);
    assert!(earlier.message().contains("after the current end"), "{}", earlier.message());
    assert_eq!(too_long.status, 422, "{:?}", too_long.body);
    assert!(too_long.message().contains("may last at most 1 d from now"), "{}", too_long.message());
    assert_eq!(first.status, 201);
    assert_eq!(second.status, 409, "{:?}", second.body);
    assert!(second.message().contains("already waits"), "{}", second.message());
    assert_eq!(stranger.status, 404, "someone else's grant is not revealed");

    // The grant ends before anyone approves: the extension cannot be approved.
    t.clock.set(end + Duration::minutes(1));
    assert_eq!(t.stack.app.sweep().await.unwrap().reverted, 1);
    let first: dto::RequestDto = first.json();
    let late = t.approve(SECOND_APPROVER, &first.id).await;
    assert_eq!(late.status, 409, "{:?}", late.body);
    assert_eq!(t.sandbox().member_level(MEMBER), Some(1));
    t.shutdown().await;
}

#[tokio::test]
async fn an_earlier_expiry_never_removes_access_a_later_grant_still_covers() {
    let t = spawn_stack().await;
    let short = t.request_temporary_admin(MEMBER, 60).await;
    assert_eq!(t.approve(SECOND_APPROVER, &short.id).await.status, 200);
    t.clock.advance(Duration::minutes(10));
    let long = t.request_temporary_admin(MEMBER, 180).await;
    let long: dto::RequestDto = t.approve(SECOND_APPROVER, &long.id).await.json();
    assert_eq!(long.grants[0].seconds_left, Some(180 * 60), "a duration counts from when the grant is applied");

    t.clock.advance(Duration::minutes(51));
    let first = t.stack.app.sweep().await.unwrap();
    assert_eq!(first.reverted, 1, "{first:?}");
    assert_eq!(t.sandbox().member_level(MEMBER), Some(8), "the later grant still covers Admin");
    t.clock.advance(Duration::minutes(130));
    assert_eq!(t.stack.app.sweep().await.unwrap().reverted, 1);
    assert_eq!(t.sandbox().member_level(MEMBER), Some(1), "back to the true baseline");
    t.shutdown().await;
}

#[tokio::test]
async fn approvers_are_told_of_a_new_request_and_reminded_once_before_it_expires() {
    let t = spawn_stack().await;
    let request = t.request_temporary_admin(MEMBER, 60).await;
    let waiting = |who: &str| told(&t, who, "waits for your approval");
    assert_eq!((waiting(APPROVER), waiting(SECOND_APPROVER)), (1, 1), "both approvers are told");
    let link = t.stack.outbox.sent().into_iter().find(|n| n.to.as_str() == APPROVER).and_then(|n| n.link).unwrap();
    assert!(link.ends_with(&format!("/requests/{}", request.id)), "a deep link to the page, not an action: {link}");
    assert_eq!(waiting(MEMBER), 0, "the requester is not an approver of their own request");

    t.clock.advance(Duration::hours(47));
    assert_eq!(t.stack.app.remind().await.unwrap().requests, 0, "more than a day left");
    t.clock.advance(Duration::hours(2));
    assert_eq!(t.stack.app.remind().await.unwrap().requests, 1);
    assert_eq!(t.stack.app.remind().await.unwrap().requests, 0, "reminded once");
    assert_eq!(told(&t, SECOND_APPROVER, "Reminder"), 1);
    assert_eq!(told(&t, APPROVER, "Reminder"), 1);
    t.shutdown().await;
}

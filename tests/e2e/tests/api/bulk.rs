//! Bulk change sets: the plan compares each row with PostHog and reports changes,
//! no-ops and errors with line numbers, writing nothing.

use hogwarden_api_types as dto;
use hogwarden_e2e::{APPROVER, MEMBER, spawn_stack};
use serde_json::json;

const CSV: &str = "email,project,role,end_date
laura@example.com,Mobile App,member,
laura@example.com,Web App,member,
nobody@example.com,Web App,member,
heidi@example.com,Atlantis,viewer,
heidi@example.com,,owner,
heidi@example.com,Production,viewer,31/12/2026
heidi@example.com,Staging,admin,2025-01-01
laura@example.com,mobile app,viewer,
heidi@example.com,Staging,admin,2026-03-16
victor@example.com,1001,member,
";

#[tokio::test]
async fn the_plan_reports_each_row_with_its_line_and_writes_nothing() {
    let t = spawn_stack().await;
    let writes = t.sandbox().write_count();

    let reply = t.post(APPROVER, "/api/bulk/plan", json!({ "format": "csv", "content": CSV })).await;

    assert_eq!(reply.status, 200, "{:?}", reply.body);
    let plan: dto::BulkPlanDto = reply.json();
    let by_line = |line: usize| plan.items.iter().find(|i| i.line == line).unwrap_or_else(|| panic!("line {line} in {plan:?}"));
    let expect = |line: usize, action: &str, needle: &str| {
        let item = by_line(line);
        assert_eq!(item.action, action, "line {line}: {item:?}");
        assert!(item.message.as_deref().unwrap_or_default().contains(needle), "line {line}: {item:?}");
    };
    expect(2, "change", "");
    expect(3, "no_op", "already");
    expect(4, "error", "not a member");
    expect(5, "error", "no project 'Atlantis'");
    expect(6, "error", "Owner is never granted");
    expect(7, "error", "not a date");
    expect(8, "error", "in the past");
    expect(9, "error", "duplicate of line 2");
    expect(10, "change", "");
    expect(11, "change", "");
    assert_eq!(by_line(2).current.as_deref(), Some("no access"));
    assert_eq!(by_line(2).desired.as_deref(), Some("member"));
    assert_eq!(by_line(2).target, "Mobile App");
    assert_eq!(by_line(10).ends_at.map(|t| t.to_rfc3339()).as_deref(), Some("2026-03-17T00:00:00+00:00"));
    assert_eq!(by_line(11).current.as_deref(), Some("viewer"), "project by id, viewer read back as such");
    assert_eq!((plan.changes, plan.no_ops, plan.errors), (3, 1, 6));
    assert_eq!(t.sandbox().write_count(), writes, "a plan writes nothing");
    assert!(t.audit_kinds().await.is_empty());
    t.shutdown().await;
}

#[tokio::test]
async fn a_json_change_set_is_planned_and_bad_input_is_refused_whole() {
    let t = spawn_stack().await;
    let json_set = json!([{ "email": "grace@example.com", "project": "Web App", "role": "admin" }]).to_string();

    let ok = t.post(APPROVER, "/api/bulk/plan", json!({ "format": "json", "content": json_set })).await;
    let member = t.post(MEMBER, "/api/bulk/plan", json!({ "format": "json", "content": "[]" })).await;
    let format = t.post(APPROVER, "/api/bulk/plan", json!({ "format": "xlsx", "content": "" })).await;
    let header = t.post(APPROVER, "/api/bulk/plan", json!({ "format": "csv", "content": "who,what\nx,y\n" })).await;
    let big_rows: String = (0..3000).map(|i| format!("person{i}@example.com,Web App,viewer,\n")).collect();
    let big =
        t.post(APPROVER, "/api/bulk/plan", json!({ "format": "csv", "content": format!("email,project,role,end_date\n{big_rows}") })).await;

    assert_eq!(ok.status, 200, "{:?}", ok.body);
    let plan: dto::BulkPlanDto = ok.json();
    assert_eq!((plan.items[0].line, plan.items[0].action.as_str()), (1, "change"));
    assert_eq!(member.status, 403);
    assert_eq!(format.status, 400);
    assert!(format.message().contains("'format' must be 'csv' or 'json'"), "{}", format.message());
    assert_eq!(header.status, 400);
    assert!(header.message().contains("must name the columns"), "{}", header.message());
    assert_eq!(big.status, 200, "a change set larger than other bodies is accepted: {:?}", big.status);
    let big: dto::BulkPlanDto = big.json();
    assert_eq!(big.errors, 3000, "every unknown person is reported");
    t.shutdown().await;
}

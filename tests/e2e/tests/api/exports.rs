//! Text people typed, in the documents others open elsewhere: the audit export opened
//! in a spreadsheet runs no formula, and a reason cannot forge lines of a request's
//! Markdown record.

use hogwarden_e2e::{APPROVER, MEMBER, spawn_stack};
use serde_json::json;

const FORMULA: &str = r#"=HYPERLINK("http://evil","x")"#;

#[tokio::test]
async fn a_formula_in_a_reason_reaches_the_audit_export_as_quoted_text() {
    // Arrange: a request and its denial, both with a formula for a reason.
    let t = spawn_stack().await;
    let reply = t
        .post(
            MEMBER,
            "/api/requests",
            json!({ "changes": [{ "kind": "org_role", "role": "admin" }], "duration_minutes": 60, "reason": FORMULA }),
        )
        .await;
    assert_eq!(reply.status, 201, "{:?}", reply.body);
    let id = reply.body["id"].as_str().unwrap().to_owned();
    let denied = t.post(APPROVER, &format!("/api/requests/{id}/deny"), json!({ "reason": FORMULA })).await;
    assert_eq!(denied.status, 200, "{:?}", denied.body);

    // Act
    let export = t.http.get(t.url("/api/audit/export")).bearer_auth(t.token(APPROVER)).send().await.unwrap().text().await.unwrap();

    // Assert
    let mut reader = csv::Reader::from_reader(export.as_bytes());
    let reason_column = reader.headers().unwrap().iter().position(|h| h == "reason").expect("a reason column");
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    let reasons: Vec<&str> = rows.iter().map(|r| &r[reason_column]).filter(|r| !r.is_empty()).collect();
    assert_eq!(reasons, [format!("'{FORMULA}")], "{export}");
    for row in &rows {
        for cell in row {
            assert!(!cell.starts_with(['=', '+', '-', '@', '\t', '\r']), "a cell a spreadsheet would run: {cell:?}");
        }
    }
    t.shutdown().await;
}

#[tokio::test]
async fn a_reason_that_would_forge_a_ticked_checklist_line_is_refused_naming_reason() {
    // Arrange
    let t = spawn_stack().await;
    let requests_before = t.get(APPROVER, "/api/inbox").await.body;

    // Act
    let reply = t
        .post(
            MEMBER,
            "/api/requests",
            json!({ "changes": [{ "kind": "org_role", "role": "admin" }], "duration_minutes": 60,
                    "reason": "Debug the flag\n- [x] Approved by security" }),
        )
        .await;

    // Assert
    assert_eq!(reply.status, 400, "{:?}", reply.body);
    assert!(reply.message().contains("reason") && reply.message().contains("U+000A"), "{}", reply.message());
    assert_eq!(t.get(APPROVER, "/api/inbox").await.body, requests_before, "nothing stored");
    t.shutdown().await;
}

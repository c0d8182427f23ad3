//! Hogwarden's own key is replaced through a form: PostHog must accept the new key with
//! every scope Hogwarden uses before it is stored; the running stack uses it at once.

use hogwarden_e2e::{APPROVER, MEMBER, spawn_stack};
use serde_json::json;

#[tokio::test]
async fn an_admin_replaces_a_rejected_service_key_with_one_posthog_accepts_and_writes_resume() {
    // Arrange: PostHog rolls Hogwarden's key (a leak), so the stack's key is dead.
    let t = spawn_stack().await;
    let old = t.sandbox().service_api_key();
    let new = t.sandbox().roll_api_key(&old).unwrap();
    let bot = posthog_sandbox::SERVICE_EMAIL;
    let narrow = t.sandbox().issue_api_key(bot, &["organization:read"]).unwrap();
    let before = t.get(APPROVER, "/api/keys").await;

    // Act
    let by_member = t.send(Some(MEMBER), reqwest::Method::PUT, "/api/keys/service", Some(json!({ "key": new }))).await;
    let not_a_key = t.send(Some(APPROVER), reqwest::Method::PUT, "/api/keys/service", Some(json!({ "key": "hello" }))).await;
    let dead = t.send(Some(APPROVER), reqwest::Method::PUT, "/api/keys/service", Some(json!({ "key": old }))).await;
    let lacking = t.send(Some(APPROVER), reqwest::Method::PUT, "/api/keys/service", Some(json!({ "key": narrow }))).await;
    let still_dead = t.get(APPROVER, "/api/keys").await;
    let stored = t.send(Some(APPROVER), reqwest::Method::PUT, "/api/keys/service", Some(json!({ "key": new }))).await;
    let after = t.get(APPROVER, "/api/keys").await;

    // Assert
    assert_eq!(before.body["keys"][0]["accepted"], false, "{:?}", before.body);
    assert_eq!(by_member.status, 403, "{:?}", by_member.body);
    assert_eq!(not_a_key.status, 422, "{:?}", not_a_key.body);
    assert_eq!(dead.status, 422, "{:?}", dead.body);
    assert_eq!(lacking.status, 422, "{:?}", lacking.body);
    assert!(lacking.message().contains("organization_member:write"), "{}", lacking.message());
    assert_eq!(still_dead.body["keys"][0]["accepted"], false, "nothing was stored by a refused form");
    assert_eq!(stored.status, 200, "{:?}", stored.body);
    assert_eq!(after.body["keys"][0]["accepted"], true, "the running stack uses the new key: {:?}", after.body);
    for reply in [&by_member, &not_a_key, &dead, &lacking, &stored, &after] {
        let text = reply.body.to_string();
        assert!(!text.contains(&new) && !text.contains(&old) && !text.contains(&narrow), "a key value in an answer");
    }
    assert!(t.audit(APPROVER).await.entries.iter().any(|e| e.kind == "key_rotation" && e.details["step"] == "service_key_replaced"));
}

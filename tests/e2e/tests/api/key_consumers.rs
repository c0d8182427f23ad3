//! Key consumers on the local stack: admins add, list and remove the places each key is
//! used in; bad input answers 4xx naming the field and changes nothing; the same place
//! added twice, or removed twice, changes nothing; the inventory shows each key's consumers.

use hogwarden_e2e::{APPROVER, MEMBER, OTHER_MEMBER, TestStack, spawn_stack};
use serde_json::{Value, json};

async fn consumers(t: &TestStack) -> Vec<Value> {
    let r = t.get(APPROVER, "/api/keys/consumers").await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    r.body["consumers"].as_array().cloned().unwrap_or_default()
}

async fn audit_len(t: &TestStack) -> usize {
    t.audit(APPROVER).await.entries.len()
}

#[tokio::test]
async fn admins_add_list_and_remove_consumers_and_the_inventory_shows_them() {
    // Arrange
    let t = spawn_stack().await;
    let web = t.sandbox().project_id("Web App").unwrap();
    let key = format!("project_token:{web}");
    let form = json!({ "key": key, "kind": "frontend_sdk", "name": "Web app, VITE_POSTHOG_KEY in acme/web", "owner": MEMBER });

    // Act
    let added = t.post(APPROVER, "/api/keys/consumers", form.clone()).await;
    let audit_after_add = audit_len(&t).await;
    let again = t.post(APPROVER, "/api/keys/consumers", form.clone()).await;
    let inventory = t.get(APPROVER, "/api/keys").await;

    // Assert
    assert_eq!(added.status, 201, "{:?}", added.body);
    assert_eq!(added.body["owner"], MEMBER);
    assert_eq!(again.status, 200, "the same place again is the same record: {:?}", again.body);
    assert_eq!(again.body["id"], added.body["id"]);
    assert_eq!(audit_len(&t).await, audit_after_add, "a repeated add writes nothing");
    assert_eq!(consumers(&t).await.len(), 1);
    let token =
        inventory.body["keys"].as_array().unwrap().iter().find(|k| k["project_id"] == json!(web) && k["kind"] == "project_token").unwrap();
    assert_eq!(token["key_ref"], json!(key));
    assert_eq!(token["consumers"][0]["name"], "Web app, VITE_POSTHOG_KEY in acme/web");
    let entry = t.audit(APPROVER).await.entries.into_iter().find(|e| e.kind == "key_consumer").expect("audited");
    assert_eq!(entry.details["action"], "added");

    // Act: remove with a stale version, then properly, then again.
    let id = added.body["id"].as_str().unwrap().to_owned();
    let stale = t.send(Some(APPROVER), reqwest::Method::DELETE, &format!("/api/keys/consumers/{id}?version=7"), None).await;
    let removed = t.send(Some(APPROVER), reqwest::Method::DELETE, &format!("/api/keys/consumers/{id}?version=1"), None).await;
    let audit_after_remove = audit_len(&t).await;
    let twice = t.send(Some(APPROVER), reqwest::Method::DELETE, &format!("/api/keys/consumers/{id}"), None).await;

    // Assert
    assert_eq!(stale.status, 409, "{:?}", stale.body);
    assert!(stale.message().starts_with("version"), "{}", stale.message());
    assert_eq!(removed.status, 200, "{:?}", removed.body);
    assert_eq!(twice.status, 200);
    assert_eq!(audit_len(&t).await, audit_after_remove, "removing a removed consumer writes nothing");
    assert!(consumers(&t).await.is_empty());
    let kinds = t.audit_kinds().await;
    assert_eq!(kinds.iter().filter(|k| *k == "key_consumer").count(), 2, "{kinds:?}");
}

#[tokio::test]
async fn bad_consumer_input_answers_4xx_naming_the_field_and_changes_nothing() {
    // Arrange
    let t = spawn_stack().await;
    let web = t.sandbox().project_id("Web App").unwrap();
    let good = || json!({ "key": format!("project_token:{web}"), "kind": "server", "name": "api host", "owner": OTHER_MEMBER });
    let with = |field: &str, value: Value| {
        let mut v = good();
        v[field] = value;
        v
    };
    let before = (consumers(&t).await, audit_len(&t).await);

    // Act
    let cases = [
        ("unknown key", with("key", json!("project_token:999999")), 404, "key"),
        ("malformed key", with("key", json!("phc_not_a_reference")), 400, "key"),
        ("unmanaged secret", with("key", json!("secret:nobody/rotates-this")), 404, "key"),
        ("bad kind", with("kind", json!("satellite")), 400, "kind"),
        ("bad email", with("owner", json!("not-an-email")), 400, "owner"),
        ("empty name", with("name", json!("  ")), 400, "name"),
    ];
    let mut answers = Vec::new();
    for (what, body, _, _) in &cases {
        answers.push((what, t.post(APPROVER, "/api/keys/consumers", body.clone()).await));
    }
    let not_admin = t.post(MEMBER, "/api/keys/consumers", good()).await;
    let missing_field = t.post(APPROVER, "/api/keys/consumers", json!({ "key": "service_key" })).await;
    let bad_id = t.send(Some(APPROVER), reqwest::Method::DELETE, "/api/keys/consumers/..%2Fx", None).await;
    let unknown_id = t.send(Some(APPROVER), reqwest::Method::DELETE, "/api/keys/consumers/cdeadbeef", None).await;

    // Assert
    for ((what, reply), (_, _, status, field)) in answers.iter().zip(cases.iter()) {
        assert_eq!(reply.status, *status, "{what}: {:?}", reply.body);
        assert!(reply.message().contains(field), "{what}: the message names '{field}': {}", reply.message());
    }
    assert_eq!(not_admin.status, 403);
    assert_eq!(missing_field.status, 400, "{:?}", missing_field.body);
    assert_eq!(bad_id.status, 400, "{:?}", bad_id.body);
    assert_eq!(unknown_id.status, 404, "{:?}", unknown_id.body);
    assert_eq!((consumers(&t).await, audit_len(&t).await), before, "refused input changed something");
}

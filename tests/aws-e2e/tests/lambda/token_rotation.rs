//! The key-rotation Lambda runs guided project-token rotations: consumers added and a
//! rotation started over HTTP (records on DynamoDB), the admin's reset in PostHog found by
//! the `token_rotation_check` schedule (every 5 minutes), the new token stored in Secrets Manager and proved with a
//! capture event; a retried schedule changes nothing.

use chrono::{TimeZone, Utc};
use hogwarden_aws_e2e::{APPROVER, MEMBER, invoke, scheduler_event, spawn_aws_stack};
use hogwarden_core::ports::{Stage, Vault};
use hogwarden_core::types::ProjectId;
use hogwarden_core::usecases::{TEST_EVENT, project_token_secret};
use secrecy::ExposeSecret;
use serde_json::json;

#[tokio::test]
async fn the_token_rotation_check_schedule_finishes_a_guided_token_rotation_once_the_token_is_reset() {
    // Arrange
    let t = spawn_aws_stack().await;
    let web = t.sandbox.project_id("Mobile App").unwrap();
    let added = t
        .call(
            &t.key_rotation,
            Some(APPROVER),
            "POST",
            "/api/keys/consumers",
            Some(json!({ "key": format!("project_token:{web}"), "kind": "mobile_app", "name": "iOS app", "owner": MEMBER })),
        )
        .await;
    let started = t.call(&t.key_rotation, Some(APPROVER), "POST", &format!("/api/keys/rotations/{web}"), Some(json!({}))).await;
    let at = Utc.with_ymd_and_hms(2026, 3, 15, 9, 5, 0).unwrap();

    // Act
    let before_reset = invoke(&t.key_rotation, scheduler_event("token_rotation_check", at, "exec-1")).await.expect("checked");
    let new_token = t.sandbox.reset_project_token_as(APPROVER, web).expect("an admin resets it in PostHog");
    let after_reset = invoke(&t.key_rotation, scheduler_event("token_rotation_check", at, "exec-2")).await.expect("checked");
    let retried = invoke(&t.key_rotation, scheduler_event("token_rotation_check", at, "exec-2")).await.expect("a retry is harmless");
    let shown = t.call(&t.key_rotation, Some(APPROVER), "GET", &format!("/api/keys/rotations/{web}"), None).await;

    // Assert
    assert_eq!(added.status, 201, "{:?}", added.body);
    assert_eq!(started.status, 201, "{:?}", started.body);
    assert_eq!(started.body["warned"], json!([MEMBER]));
    assert_eq!(before_reset["outcome"]["finished"], 0, "{before_reset}");
    assert_eq!(after_reset["outcome"]["finished"], 1, "{after_reset}");
    assert_eq!(retried["outcome"]["finished"], 0, "{retried}");
    assert_eq!(shown.body["status"], "done", "{:?}", shown.body);
    let vault = hogwarden_store_aws::SecretsManagerVault::new(aws_sdk_secretsmanager::Client::new(&t.sdk));
    let stored = vault.get(&project_token_secret(ProjectId::new(web).unwrap()), Stage::Current).await.unwrap().expect("stored");
    assert_eq!(stored.expose_secret(), new_token);
    assert_eq!(t.sandbox.captured_events(web).iter().filter(|e| e.event == TEST_EVENT).count(), 1);
    assert!(!shown.raw.to_string().contains(&new_token));
    let kinds = t.audit_kinds().await;
    assert_eq!(kinds.iter().filter(|k| *k == "key_consumer").count(), 1, "{kinds:?}");
    t.shutdown().await;
}

#[tokio::test]
async fn keys_posthog_shows_only_masked_take_consumers_through_the_key_rotation_lambda() {
    // Arrange: a project secret key made in PostHog outside Hogwarden, and Frank's
    // personal key in PostHog's organization list, imported over HTTP.
    let t = spawn_aws_stack().await;
    let production = t.sandbox.project_id("Production").unwrap();
    let made = t.sandbox.create_secret_key_as(APPROVER, production, "edge flags", &["feature_flag:read"]).unwrap();
    t.sandbox.create_personal_key_as(MEMBER, "exports", &["query:read"], chrono::Duration::days(1)).unwrap();
    let list = t.sandbox.organization_personal_keys_as(APPROVER, 1000, 0).unwrap();
    let imported = t.call(&t.key_rotation, Some(APPROVER), "POST", "/api/keys/personal/import", Some(list)).await;
    let inventory = t.call(&t.key_rotation, Some(APPROVER), "GET", "/api/keys", None).await;
    let key_ref = |found: &dyn Fn(&serde_json::Value) -> bool| {
        inventory.body["keys"].as_array().unwrap().iter().find(|k| found(k)).and_then(|k| k["key_ref"].as_str()).map(str::to_owned)
    };
    let secret_ref = key_ref(&|k| k["key_id"] == made.id.as_str()).expect("the secret key is listed");
    let personal_ref = key_ref(&|k| k["note"].as_str().is_some_and(|n| n.contains(MEMBER))).expect("Frank's key is listed");

    // Act
    let mut added = Vec::new();
    for (key, name) in [(&secret_ref, "edge workers"), (&personal_ref, "export cron"), (&format!("secret_key:{production}:gone"), "x")] {
        let form = json!({ "key": key, "kind": "server", "name": name, "owner": MEMBER });
        added.push(t.call(&t.key_rotation, Some(APPROVER), "POST", "/api/keys/consumers", Some(form)).await.status);
    }
    let listed = t.call(&t.key_rotation, Some(APPROVER), "GET", "/api/keys", None).await;

    // Assert: both recorded on DynamoDB; a key PostHog does not list is a 404.
    assert_eq!(imported.status, 200, "{:?}", imported.body);
    assert_eq!(added, [201, 201, 404]);
    let names: Vec<&str> = listed.body["keys"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|k| k["consumers"].as_array().unwrap().iter().map(|c| c["name"].as_str().unwrap()))
        .collect();
    assert_eq!(names.len(), 2, "{names:?}");
    assert!(names.contains(&"edge workers") && names.contains(&"export cron"), "{names:?}");
    t.shutdown().await;
}

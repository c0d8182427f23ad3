//! Guided project-token (`phc_`) rotation on the local stack with the sandbox, end to end:
//! consumers are warned before the reset, an admin resets the token in PostHog (the
//! sandbox's session path: PostHog refuses it to any API key), Hogwarden detects the new
//! token, stores it, proves it with a capture event the sandbox accepts, and tells the
//! consumers to update; every step is recorded once however often it is retried. A
//! leaked `phc_` opens the rotation; a `phs_` rotation tells its consumers once.

use hogwarden_core::keys::{RotationStep, fingerprint, short_fingerprint};
use hogwarden_core::ports::{Clock, Notification, Stage, Vault};
use hogwarden_core::types::ProjectId;
use hogwarden_core::usecases::{TEST_EVENT, project_token_secret};
use hogwarden_core::webhooks::sign_generic;
use hogwarden_e2e::{APPROVER, MEMBER, OTHER_MEMBER, TestStack, spawn_stack, spawn_stack_with};
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Value, json};

async fn add_consumer(t: &TestStack, key: &str, kind: &str, name: &str, owner: &str) {
    let r = t.post(APPROVER, "/api/keys/consumers", json!({ "key": key, "kind": kind, "name": name, "owner": owner })).await;
    assert_eq!(r.status, 201, "{:?}", r.body);
}

fn sent(t: &TestStack, subject_part: &str) -> Vec<Notification> {
    t.stack.outbox.sent().into_iter().filter(|n| n.subject.contains(subject_part)).collect()
}

fn step_at(rotation: &Value, kind: &str) -> Value {
    rotation["steps"].as_array().unwrap().iter().find(|s| s["kind"] == kind).unwrap()["at"].clone()
}

/// The guided rotation's audit steps, oldest first.
async fn audited_steps(t: &TestStack) -> Vec<String> {
    let mut entries = t.audit(APPROVER).await.entries;
    entries.sort_by_key(|e| e.seq);
    entries
        .into_iter()
        .filter(|e| e.kind == "key_rotation" && e.details["rotation"] == "project_token")
        .map(|e| e.details["step"].as_str().unwrap_or_default().to_owned())
        .collect()
}

#[tokio::test]
async fn a_guided_rotation_warns_before_the_reset_detects_stores_verifies_and_notifies_once() {
    // Arrange: two places use the Web App token.
    let t = spawn_stack().await;
    let web = t.sandbox().project_id("Web App").unwrap();
    let key = format!("project_token:{web}");
    add_consumer(&t, &key, "frontend_sdk", "Web app bundle", MEMBER).await;
    add_consumer(&t, &key, "ci_variable", "POSTHOG_TOKEN in acme/web CI", OTHER_MEMBER).await;
    let old_token = t.sandbox().project_token(web).unwrap();
    let mut answers: Vec<String> = Vec::new();

    // Act: start (twice), check before anyone resets.
    let started = t.post(APPROVER, &format!("/api/keys/rotations/{web}"), json!({ "reason": "yearly rotation" })).await;
    let warnings = sent(&t, "will be reset");
    let token_at_warning = t.sandbox().project_token(web).unwrap();
    let second = t.post(APPROVER, &format!("/api/keys/rotations/{web}"), json!({})).await;
    let early_check = t.post(APPROVER, &format!("/api/keys/rotations/{web}/check"), json!({})).await;
    answers.extend([&started, &second, &early_check].map(|r| r.body.to_string()));

    // Assert: warned before the reset, nothing else moved.
    assert_eq!(started.status, 201, "{:?}", started.body);
    assert!(step_at(&started.body, "consumers_warned").is_string());
    assert!(step_at(&started.body, "reset_detected").is_null());
    assert_eq!(started.body["warned"], json!([MEMBER, OTHER_MEMBER]));
    assert_eq!(warnings.iter().map(|n| n.to.to_string()).collect::<Vec<_>>(), vec![MEMBER, OTHER_MEMBER]);
    assert_eq!(token_at_warning, old_token, "the warning went out before the token was reset");
    assert_eq!(second.status, 200, "a second start returns the open one");
    assert_eq!(second.body["id"], started.body["id"]);
    assert_eq!(early_check.body["version"], started.body["version"], "nothing to detect yet");
    assert!(started.body["instructions"].as_str().unwrap().contains("Reset"), "the page says where to reset");

    // Act: an admin resets the token in PostHog (session only), then Hogwarden checks, twice.
    let refused = t
        .http
        .patch(format!("{}/api/projects/{web}/reset_token/", t.sandbox().base_url()))
        .bearer_auth(t.sandbox().service_api_key())
        .send()
        .await
        .unwrap()
        .status()
        .as_u16();
    let new_token = t.sandbox().reset_project_token_as(APPROVER, web).unwrap();
    let done = t.post(APPROVER, &format!("/api/keys/rotations/{web}/check"), json!({})).await;
    let again = t.post(APPROVER, &format!("/api/keys/rotations/{web}/check"), json!({})).await;
    let shown = t.get(APPROVER, &format!("/api/keys/rotations/{web}")).await;
    let inventory = t.get(APPROVER, "/api/keys").await;
    answers.extend([&done, &again, &shown, &inventory].map(|r| r.body.to_string()));

    // Assert
    assert_eq!(refused, 403, "PostHog refuses reset_token to an API key");
    assert_eq!(done.status, 200, "{:?}", done.body);
    assert_eq!(done.body["status"], "done");
    for step in ["started", "consumers_warned", "reset_detected", "stored", "capture_verified", "consumers_notified"] {
        assert!(step_at(&done.body, step).is_string(), "{step} has a time: {}", done.body);
    }
    assert_eq!(done.body["new_fingerprint"], json!(short_fingerprint(&fingerprint(&new_token))));
    assert_eq!(done.body["old_fingerprint"], json!(short_fingerprint(&fingerprint(&old_token))));
    let stored = t.stack.vault.get(&project_token_secret(ProjectId::new(web).unwrap()), Stage::Current).await.unwrap().unwrap();
    assert_eq!(stored.expose_secret(), new_token, "the vault holds the new token");
    let events = t.sandbox().captured_events(web);
    assert_eq!(events.iter().filter(|e| e.event == TEST_EVENT).count(), 1, "one test event, accepted by capture");
    let updates = sent(&t, "Update the PostHog project token");
    assert_eq!(updates.iter().map(|n| n.to.to_string()).collect::<Vec<_>>(), vec![MEMBER, OTHER_MEMBER]);
    assert_eq!(again.body["version"], done.body["version"], "a retried check changes nothing");
    assert_eq!(sent(&t, "will be reset").len(), 2, "warned once");
    assert_eq!(
        audited_steps(&t).await,
        vec!["started", "consumers_warned", "reset_detected", "stored", "capture_verified", "consumers_notified"],
        "every step recorded once"
    );
    let token_key =
        inventory.body["keys"].as_array().unwrap().iter().find(|k| k["key_ref"] == json!(format!("project_token:{web}"))).unwrap();
    assert_eq!(token_key["rotation_status"], "done");
    for value in [&old_token, &new_token] {
        assert!(!answers.iter().any(|a| a.contains(value.as_str())), "a token value in an answer");
    }
    let audit = serde_json::to_string(&t.audit(APPROVER).await.entries.iter().map(|e| e.details.clone()).collect::<Vec<_>>()).unwrap();
    assert!(!audit.contains(&old_token) && !audit.contains(&new_token));
}

#[tokio::test]
async fn starting_a_rotation_is_for_admins_of_known_projects_only() {
    // Arrange
    let t = spawn_stack().await;
    let web = t.sandbox().project_id("Web App").unwrap();

    // Act
    let member = t.post(MEMBER, &format!("/api/keys/rotations/{web}"), json!({})).await;
    let unknown = t.post(APPROVER, "/api/keys/rotations/999999", json!({})).await;
    let malformed = t.post(APPROVER, "/api/keys/rotations/web", json!({})).await;
    let none_yet = t.get(APPROVER, &format!("/api/keys/rotations/{web}")).await;
    let check_none = t.post(APPROVER, &format!("/api/keys/rotations/{web}/check"), json!({})).await;

    // Assert
    assert_eq!((member.status, unknown.status, malformed.status, none_yet.status, check_none.status), (403, 404, 400, 404, 404));
    assert!(audited_steps(&t).await.is_empty());
}

#[tokio::test]
async fn a_leaked_project_token_opens_the_guided_rotation_and_warns_the_owners() {
    // Arrange
    let t = spawn_stack().await;
    let web = t.sandbox().project_id("Web App").unwrap();
    add_consumer(&t, &format!("project_token:{web}"), "mobile_app", "iOS app", MEMBER).await;
    t.stack.vault.put_current("hogwarden/webhooks/generic", SecretString::from("k")).await.unwrap();
    let leaked = t.sandbox().project_token(web).unwrap();
    let post = |delivery: &'static str| {
        let body = json!({ "token": leaked }).to_string();
        let ts = t.clock.now().timestamp().to_string();
        let signature = sign_generic(b"k", &ts, delivery, body.as_bytes());
        t.http
            .post(t.url("/webhooks/generic"))
            .header("content-type", "application/json")
            .header("x-hogwarden-signature", signature)
            .header("x-hogwarden-timestamp", ts)
            .header("x-hogwarden-delivery", delivery)
            .body(body)
            .send()
    };

    // Act
    let first = post("leak-1").await.unwrap();
    let (first_status, first_text) = (first.status().as_u16(), first.text().await.unwrap());
    let second = post("leak-2").await.unwrap().text().await.unwrap();
    let rotation = t.get(APPROVER, &format!("/api/keys/rotations/{web}")).await;

    // Assert
    assert_eq!(first_status, 202, "{first_text}");
    assert!(first_text.contains("guided rotation opened"), "{first_text}");
    assert!(second.contains("already open"), "{second}");
    assert_eq!(rotation.status, 200);
    assert_eq!(rotation.body["status"], "open");
    assert_eq!(rotation.body["started_by"], "hogwarden:leak-alert");
    assert_eq!(rotation.body["warned"], json!([MEMBER]));
    assert_eq!(sent(&t, "will be reset").len(), 1, "the owner is warned once");
    assert!(!first_text.contains(&leaked) && !second.contains(&leaked) && !rotation.body.to_string().contains(&leaked));
}

#[tokio::test]
async fn a_project_secret_key_rotation_tells_its_consumers_once_even_when_finish_is_retried() {
    // Arrange
    const FLAGS_KEY: &str = "hogwarden/flags-key";
    let t = spawn_stack_with(|c| c.policy.keys.managed_secrets = vec![FLAGS_KEY.into()]).await;
    let production = t.sandbox().project_id("Production").unwrap();
    t.stack.rotation.enrol(FLAGS_KEY, "enrol-1", ProjectId::new(production).unwrap(), &["feature_flag:read".into()]).await.unwrap();
    add_consumer(&t, &format!("secret:{FLAGS_KEY}"), "server", "flag service", OTHER_MEMBER).await;

    // Act
    let report = t.stack.rotation.rotate_with(FLAGS_KEY, "rotation-token-1").await.unwrap();
    let retried = t.stack.rotation.step(FLAGS_KEY, RotationStep::FinishSecret, "rotation-token-1").await.unwrap();
    t.stack.rotation.rotate_with(FLAGS_KEY, "rotation-token-1").await.unwrap();

    // Assert
    assert!(report.previous_fingerprint.is_some());
    assert_eq!(serde_json::to_value(retried).unwrap(), json!("already_done"));
    let told = sent(&t, "project secret key you use was rotated");
    assert_eq!(told.len(), 1, "told once: {told:?}");
    assert_eq!(told[0].to.to_string(), OTHER_MEMBER);
    assert!(told[0].body.contains(&report.current_fingerprint));
    let mut entries = t.audit(APPROVER).await.entries;
    entries.retain(|e| e.kind == "key_rotation" && e.details["step"] == "consumers_notified");
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0].details["owners"], json!([OTHER_MEMBER]));
}

#[tokio::test]
async fn a_late_finish_of_an_older_rotation_never_brings_back_the_key_a_newer_one_replaced() {
    // Arrange: two rotations in a row; the first one's version is now previous.
    const FLAGS_KEY: &str = "hogwarden/flags-key";
    let t = spawn_stack_with(|c| c.policy.keys.managed_secrets = vec![FLAGS_KEY.into()]).await;
    let production = t.sandbox().project_id("Production").unwrap();
    t.stack.rotation.enrol(FLAGS_KEY, "enrol-1", ProjectId::new(production).unwrap(), &["feature_flag:read".into()]).await.unwrap();
    let first = t.stack.rotation.rotate_with(FLAGS_KEY, "rotation-token-1").await.unwrap();
    let second = t.stack.rotation.rotate_with(FLAGS_KEY, "rotation-token-2").await.unwrap();
    assert_ne!(first.current_fingerprint, second.current_fingerprint);

    // Act: the first rotation's finishSecret arrives again, late.
    let late = t.stack.rotation.step(FLAGS_KEY, RotationStep::FinishSecret, "rotation-token-1").await.unwrap();
    let after = t.stack.rotation.rotate_with(FLAGS_KEY, "rotation-token-2").await.unwrap();

    // Assert: nothing moved; the second rotation's key is still current.
    assert_eq!(serde_json::to_value(late).unwrap(), json!("already_done"));
    assert_eq!(after.current_fingerprint, second.current_fingerprint);
}

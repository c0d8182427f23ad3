//! No PostHog key value in any log line or API answer: this test records every tracing
//! event (all targets, TRACE) while a project secret key is enrolled, rotated, leaked and
//! rotated at once, refused webhooks are sent, a personal key is reported, a project
//! token gets consumers and a guided rotation (warned, reset, detected, stored, proved by
//! capture, consumers told), the new token is leaked (the rotation opens again), the
//! keys page is read, personal keys are imported and their owners reminded, Hogwarden's
//! own key leaks (writes paused) and the alert history and key status are read; then it
//! scans the log and every answer for `phc_`, `phs_` and `phx_`
//! values (a prefix followed by 20 or more key characters).

use std::io::Write;
use std::sync::{Arc, Mutex, PoisonError};

use hogwarden_core::types::ProjectId;
use hogwarden_core::webhooks::sign_generic;
use hogwarden_e2e::{APPROVER, MEMBER, spawn_stack_with};
use secrecy::{ExposeSecret, SecretString};
use serde_json::json;

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Every `ph?_` key-shaped value in `text`.
/// Posts a generic-format leak alert for `value`, signed with the test's key `k` unless
/// a (bad) `signature` is given, and returns its status and body.
async fn generic_leak(t: &hogwarden_e2e::TestStack, value: &str, delivery: &str, signature: Option<&str>) -> String {
    use hogwarden_core::ports::Clock;
    let body = json!({ "token": value }).to_string();
    let ts = t.clock.now().timestamp().to_string();
    let signature = signature.map_or_else(|| sign_generic(b"k", &ts, delivery, body.as_bytes()), str::to_owned);
    let response = t
        .http
        .post(t.url("/webhooks/generic"))
        .header("content-type", "application/json")
        .header("x-hogwarden-signature", signature)
        .header("x-hogwarden-timestamp", &ts)
        .header("x-hogwarden-delivery", delivery)
        .body(body)
        .send()
        .await
        .unwrap();
    format!("{} {}", response.status(), response.text().await.unwrap())
}

fn key_values(text: &str) -> Vec<String> {
    let mut found = Vec::new();
    for prefix in ["phc_", "phs_", "phx_"] {
        let mut rest = text;
        while let Some(i) = rest.find(prefix) {
            let tail: String = rest[i + 4..].chars().take_while(char::is_ascii_alphanumeric).collect();
            if tail.len() >= 20 {
                found.push(format!("{prefix}{tail}"));
            }
            rest = &rest[i + 4..];
        }
    }
    found
}

#[tokio::test]
async fn no_key_value_appears_in_logs_or_answers_of_rotation_and_leak_handling() {
    // Arrange: capture every log line of this process.
    let captured = Captured::default();
    let writer = captured.clone();
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new("trace"))
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .try_init()
        .expect("the only subscriber in this test process");
    let t = spawn_stack_with(|c| c.policy.keys.managed_secrets = vec!["hogwarden/flags-key".into()]).await;
    let project = t.sandbox().project_id("Production").unwrap();
    let mut answers = Vec::new();

    // Act: enrol, rotate on schedule, then leak the key (rotated at once), then refused
    // webhooks, a leaked personal key, and the keys page.
    t.stack
        .rotation
        .enrol("hogwarden/flags-key", "enrol-1", ProjectId::new(project).unwrap(), &["feature_flag:read".into()])
        .await
        .unwrap();
    let report = t.stack.rotation.rotate("hogwarden/flags-key").await.unwrap();
    answers.push(serde_json::to_string(&report).unwrap());
    t.stack.vault.put_current("hogwarden/webhooks/generic", SecretString::from("k")).await.unwrap();
    let leaked = t.stack.rotation.current_value("hogwarden/flags-key").await.unwrap().expose_secret().to_owned();
    let personal = t.sandbox().create_personal_key_as(MEMBER, "ci", &["project:read"], chrono::Duration::days(1)).unwrap();
    for (i, token) in [leaked.as_str(), personal.as_str()].into_iter().enumerate() {
        answers.push(generic_leak(&t, token, &format!("d-{i}"), None).await);
        answers.push(generic_leak(&t, token, &format!("bad-{i}"), Some("sha256=00")).await);
    }
    // The guided project-token rotation, its consumers, and a leaked project token.
    let web = t.sandbox().project_id("Web App").unwrap();
    let tokens_before = t.sandbox().project_token(web).unwrap();
    let consumer = json!({ "key": format!("project_token:{web}"), "kind": "frontend_sdk", "name": "web bundle", "owner": MEMBER });
    answers.push(t.post(APPROVER, "/api/keys/consumers", consumer).await.body.to_string());
    answers.push(t.post(APPROVER, &format!("/api/keys/rotations/{web}"), json!({})).await.body.to_string());
    let new_token = t.sandbox().reset_project_token_as(APPROVER, web).unwrap();
    answers.push(t.post(APPROVER, &format!("/api/keys/rotations/{web}/check"), json!({})).await.body.to_string());
    answers.push(t.get(APPROVER, "/api/keys/consumers").await.body.to_string());
    answers.push(generic_leak(&t, &new_token, "phc-leak", None).await);
    answers.push(t.get(APPROVER, &format!("/api/keys/rotations/{web}")).await.body.to_string());
    answers.push(t.get(APPROVER, "/api/keys/rotations").await.body.to_string());
    answers.push(serde_json::to_string(&t.stack.outbox.sent()).unwrap());
    assert_ne!(tokens_before, new_token);
    // keys-alerts: a personal-key import and its reminders, Hogwarden's own key leaking
    // (writes paused, an approval refused), then every new answer.
    t.clock.set(chrono::Utc::now());
    let old_personal = t.sandbox().create_personal_key_as(MEMBER, "old", &["*"], chrono::Duration::days(200)).unwrap();
    let list = t.sandbox().organization_personal_keys_as(APPROVER, 1000, 0).unwrap();
    answers.push(t.post(APPROVER, "/api/keys/personal/import", list).await.body.to_string());
    t.stack.app.sweep().await.unwrap();
    // Consumers of keys Hogwarden sees only masked (a person's key, a project secret key
    // it does not rotate), then both leak and the places' owners are told.
    let unmanaged = t.sandbox().create_secret_key_as(APPROVER, project, "edge", &["feature_flag:read"]).unwrap().value;
    let inventory = t.get(APPROVER, "/api/keys").await.body;
    let masked_refs: Vec<String> = inventory["keys"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|k| [&old_personal, &unmanaged].iter().any(|v| k["mask"] == json!(format!("{}...{}", &v[..4], &v[v.len() - 4..]))))
        .map(|k| k["key_ref"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(masked_refs.len(), 2, "{inventory}");
    for (i, key) in masked_refs.iter().enumerate() {
        let consumer = json!({ "key": key, "kind": "server", "name": format!("job {i}"), "owner": APPROVER });
        answers.push(t.post(APPROVER, "/api/keys/consumers", consumer).await.body.to_string());
    }
    answers.push(generic_leak(&t, &unmanaged, "masked-phs", None).await);
    answers.push(generic_leak(&t, &old_personal, "masked-phx", None).await);
    answers.extend(t.stack.outbox.sent().into_iter().map(|n| format!("{} {}", n.subject, n.body)));
    let waiting = t.request_temporary_admin(MEMBER, 60).await;
    let own = t.sandbox().service_api_key();
    answers.push(generic_leak(&t, &own, "own-1", None).await);
    answers.push(t.approve(APPROVER, &waiting.id).await.body.to_string());
    for path in ["/api/keys/alerts", "/api/keys/status", "/api/keys/personal"] {
        answers.push(t.get(APPROVER, path).await.body.to_string());
    }
    answers.push(t.get(APPROVER, "/api/keys").await.body.to_string());
    answers.push(serde_json::to_string(&t.audit(APPROVER).await.entries.iter().map(|e| e.details.clone()).collect::<Vec<_>>()).unwrap());

    // Assert
    assert!(answers.iter().any(|a| a.starts_with("202")), "the leak alerts were handled: {answers:?}");
    assert!(answers.iter().any(|a| a.contains("posthog_writes_paused")), "the own-key leak paused writes: {answers:?}");
    assert!(answers.iter().any(|a| a.contains("Your PostHog personal API key")), "a reminder was sent: {answers:?}");
    let log = String::from_utf8_lossy(&captured.0.lock().unwrap()).into_owned();
    assert!(log.len() > 1000 && log.contains("leaked-key alert handled"), "the log was captured ({} bytes)", log.len());
    let in_log = key_values(&log);
    assert!(in_log.is_empty(), "key values in the log: {in_log:?}");
    let in_answers: Vec<String> = answers.iter().flat_map(|a| key_values(a)).collect();
    assert!(in_answers.is_empty(), "key values in answers: {in_answers:?}");
    // The scan can fail: the values it looks for are real.
    assert_eq!(key_values(&format!("x {leaked} y")), vec![leaked.clone()]);
    assert_eq!(key_values(&format!("x {new_token} y")), vec![new_token.clone()]);
    assert!(answers.iter().any(|a| a.contains("guided rotation opened")), "the leaked token opened a rotation");
    let told = answers.iter().filter(|a| a.starts_with("A PostHog key you use leaked")).count();
    assert_eq!(told, 3, "the masked keys' places' owners (twice) and the person whose key leaked: {answers:?}");
}

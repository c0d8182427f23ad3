//! Project secret key rotation on the key-rotation Lambda, driven by Secrets Manager's
//! own rotation events (fixture `secretsmanager-rotation.json`), against Secrets Manager
//! on moto and the PostHog sandbox: consumers reading AWSCURRENT never hold a key PostHog
//! rejects, any step run twice changes nothing, and a failed testSecret leaves AWSCURRENT
//! alone while the next rotation completes.

use aws_sdk_secretsmanager::Client;
use hogwarden_aws_e2e::{AwsTestStack, invoke, spawn_aws_stack};
use hogwarden_core::keys::StoredSecretKey;
use secrecy::SecretString;
use serde_json::{Value, json};

const STEPS: [&str; 4] = ["createSecret", "setSecret", "testSecret", "finishSecret"];

fn rotation_event(step: &str, secret: &str, token: &str) -> Value {
    let mut event: Value = serde_json::from_str(include_str!("../../fixtures/secretsmanager-rotation.json")).unwrap();
    event["Step"] = json!(step);
    event["SecretId"] = json!(secret);
    event["ClientRequestToken"] = json!(token);
    event
}

struct Rotated {
    t: AwsTestStack,
    secret: String,
    project: i64,
    sm: Client,
}

async fn enrolled() -> Rotated {
    let t = spawn_aws_stack().await;
    let secret = format!("hogwarden/flags-key-{}", uuid::Uuid::new_v4());
    let project = t.sandbox.project_id("Production").unwrap();
    t.rotation
        .enrol(
            &secret,
            &uuid::Uuid::new_v4().to_string(),
            hogwarden_core::types::ProjectId::new(project).unwrap(),
            &["feature_flag:read".into()],
        )
        .await
        .expect("the project is enrolled");
    let sm = Client::new(&t.sdk);
    Rotated { t, secret, project, sm }
}

impl Rotated {
    /// What a consumer does: read AWSCURRENT and take `value`. (The stage is named:
    /// moto answers a stage-less read with the first value put, whatever is current.)
    async fn current_value(&self) -> String {
        let out = self.sm.get_secret_value().secret_id(&self.secret).version_stage("AWSCURRENT").send().await.expect("AWSCURRENT readable");
        let stored = StoredSecretKey::parse(&SecretString::from(out.secret_string.unwrap())).unwrap();
        stored.value
    }

    /// Whether PostHog accepts `value` where a `phs_` key is used.
    async fn posthog_accepts(&self, value: &str) -> bool {
        let url = format!("{}/api/feature_flag/local_evaluation/", self.t.sandbox.base_url());
        reqwest_status(&url, value).await == 200
    }

    async fn assert_consumers_fine(&self, when: &str) {
        let value = self.current_value().await;
        assert!(self.posthog_accepts(&value).await, "a consumer reading AWSCURRENT {when} holds a key PostHog rejects");
    }

    async fn step(&self, step: &str, token: &str) -> Result<Value, String> {
        invoke(&self.t.key_rotation, rotation_event(step, &self.secret, token)).await.map_err(|e| e.to_string())
    }

    async fn stages(&self) -> Vec<(String, Vec<String>)> {
        let out = self.sm.describe_secret().secret_id(&self.secret).send().await.unwrap();
        let mut v: Vec<(String, Vec<String>)> = out.version_ids_to_stages.unwrap_or_default().into_iter().collect();
        for (_, s) in &mut v {
            s.sort();
        }
        v.sort();
        v
    }
}

async fn reqwest_status(url: &str, bearer: &str) -> u16 {
    // std-only HTTP GET would be longer; the sandbox crate's dev client is reqwest.
    let client = posthog_sandbox_client();
    client.get(url).bearer_auth(bearer).send().await.map(|r| r.status().as_u16()).unwrap_or(0)
}

fn posthog_sandbox_client() -> reqwest::Client {
    reqwest::Client::new()
}

#[tokio::test]
async fn secrets_managers_four_steps_rotate_a_project_secret_key_with_overlap_and_each_step_twice_changes_nothing() {
    // Arrange
    let r = enrolled().await;
    let before = r.current_value().await;
    let token = uuid::Uuid::new_v4().to_string();
    r.assert_consumers_fine("before the rotation").await;

    // Act + Assert: every step twice; consumers fine after each.
    for step in STEPS {
        let first = r.step(step, &token).await.unwrap_or_else(|e| panic!("{step}: {e}"));
        let keys = r.t.sandbox.secret_keys(r.project);
        let stages = r.stages().await;
        let audit = r.t.audit().await.entries.len();
        r.assert_consumers_fine(&format!("after {step}")).await;
        let second = r.step(step, &token).await.unwrap_or_else(|e| panic!("{step} again: {e}"));
        assert_eq!(first["step"], step);
        assert_ne!(second["outcome"], "done", "{step} twice did something: {second}");
        assert_eq!(r.t.sandbox.secret_keys(r.project), keys, "{step} twice changed PostHog");
        assert_eq!(r.stages().await, stages, "{step} twice changed the secret's versions");
        assert_eq!(r.t.audit().await.entries.len(), audit, "{step} twice wrote to the audit log");
    }

    // Assert: a new key is current, the old one still works (grace period), both in PostHog.
    let after = r.current_value().await;
    assert_ne!(after, before);
    assert!(after.starts_with("phs_"));
    assert!(r.posthog_accepts(&before).await, "the old key keeps working during the grace period");
    assert_eq!(r.t.sandbox.secret_keys(r.project).len(), 2);
    let stages = r.stages().await;
    let current: Vec<_> = stages.iter().filter(|(_, s)| s.contains(&"AWSCURRENT".to_owned())).collect();
    assert_eq!(current.len(), 1);
    assert_eq!(current[0].0, token, "the token's version is AWSCURRENT");
    assert!(
        stages.iter().all(|(id, s)| !s.contains(&"AWSPENDING".to_owned()) || *id == token),
        "AWSPENDING is on the current version or none: {stages:?}"
    );
    let kinds = r.t.audit_kinds().await;
    assert!(kinds.iter().filter(|k| *k == "key_rotation").count() >= 3, "{kinds:?}");
    let audit = serde_json::to_string(&r.t.audit().await.entries.iter().map(|e| e.details.clone()).collect::<Vec<_>>()).unwrap();
    assert!(!audit.contains(&after) && !audit.contains(&before), "no key value in the audit log");
    r.t.shutdown().await;
}

#[tokio::test]
async fn a_failed_test_step_leaves_awscurrent_alone_and_the_next_rotation_completes() {
    // Arrange
    let r = enrolled().await;
    let before = r.current_value().await;
    let token = uuid::Uuid::new_v4().to_string();
    r.step("createSecret", &token).await.unwrap();
    r.step("setSecret", &token).await.unwrap();
    // PostHog loses the pending key (deleted by someone in PostHog's UI).
    let pending = r.t.sandbox.secret_keys(r.project).into_iter().find(|k| k.value != before).unwrap();
    let path = format!("{}/api/projects/{}/project_secret_api_keys/{}/", r.t.sandbox.base_url(), r.project, pending.id);
    let deleted = reqwest::Client::new().delete(path).bearer_auth(r.t.sandbox.service_api_key()).send().await.unwrap();
    assert_eq!(deleted.status().as_u16(), 204);

    // Act
    let failed = r.step("testSecret", &token).await;
    let still = r.current_value().await;
    let next = uuid::Uuid::new_v4().to_string();
    for step in STEPS {
        r.step(step, &next).await.unwrap_or_else(|e| panic!("{step} of the next rotation: {e}"));
    }

    // Assert
    let error = failed.expect_err("testSecret fails when PostHog rejects the pending key");
    assert!(error.contains("AWSCURRENT is unchanged"), "{error}");
    assert!(!error.contains("phs_"), "{error}");
    assert_eq!(still, before, "AWSCURRENT untouched by the failed rotation");
    r.assert_consumers_fine("after the failed rotation").await;
    let after = r.current_value().await;
    assert_ne!(after, before);
    r.assert_consumers_fine("after the next rotation").await;
    assert!(r.t.audit().await.entries.iter().any(|e| e.kind == "key_rotation" && e.details["outcome"] == "rejected"));
    r.t.shutdown().await;
}

#[tokio::test]
async fn the_old_key_is_deleted_in_posthog_only_after_the_grace_period() {
    // Arrange
    let r = enrolled().await;
    let before = r.current_value().await;
    r.t.rotation.rotate(&r.secret).await.expect("rotated");

    // Act
    let early = r.t.rotation.delete_expired_previous(&r.secret).await.unwrap();
    let still_works = r.posthog_accepts(&before).await;
    r.t.clock.advance(chrono::Duration::minutes(24 * 60 + 1));
    let late = r.t.rotation.delete_expired_previous(&r.secret).await.unwrap();
    let again = r.t.rotation.delete_expired_previous(&r.secret).await.unwrap();

    // Assert
    assert!(!early && still_works, "the old key stays during the grace period");
    assert!(late, "deleted after the grace period");
    assert!(!again, "deleting twice does nothing");
    assert!(!r.posthog_accepts(&before).await);
    r.assert_consumers_fine("after the old key was deleted").await;
    assert_eq!(r.t.sandbox.secret_keys(r.project).len(), 1);
    r.t.shutdown().await;
}

#[tokio::test]
async fn a_malformed_rotation_event_is_refused_and_changes_nothing() {
    let r = enrolled().await;
    let before = r.stages().await;

    let unknown_step = invoke(&r.t.key_rotation, rotation_event("dropSecret", &r.secret, "t-1")).await;
    let no_token = invoke(&r.t.key_rotation, json!({ "Step": "createSecret", "SecretId": r.secret })).await;
    let elsewhere = invoke(&r.t.reviews, rotation_event("createSecret", &r.secret, "t-2")).await;

    assert!(unknown_step.unwrap_err().to_string().contains("unknown step"));
    assert!(no_token.is_err());
    assert!(elsewhere.unwrap_err().to_string().contains("does not rotate secrets"));
    assert_eq!(r.stages().await, before);
    r.t.shutdown().await;
}

#[tokio::test]
async fn a_warm_container_picks_up_the_key_an_admin_stored_after_posthog_answers_401() {
    // Arrange: the container has read the key at cold start; then PostHog rolls it (a
    // leak) and an admin stores the new value in Secrets Manager.
    let t = spawn_aws_stack().await;
    let at = chrono::Utc::now();
    let old = t.sandbox.service_api_key();
    let new = t.sandbox.roll_api_key(&old).expect("rolled");
    Client::new(&t.sdk).put_secret_value().secret_id(&t.config.posthog_key_secret).secret_string(&new).send().await.unwrap();

    // Act: the same (warm) container checks the key.
    let checked = invoke(&t.key_rotation, hogwarden_aws_e2e::scheduler_event("key_check", at, "exec-warm")).await.expect("checked");

    // Assert
    assert_eq!(checked["outcome"]["accepted"], true, "{checked}");
    assert!(!checked.to_string().contains(&new));
    t.shutdown().await;
}

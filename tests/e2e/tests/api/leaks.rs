//! Leaked-key webhooks on the local stack with the sandbox: each one verified before
//! anything else, replays refused, and the response PostHog allows for each kind of key.
//! No key value appears in any answer or audit entry.

use hogwarden_core::types::ProjectId;
use hogwarden_core::webhooks::{sign, sign_generic};
use hogwarden_e2e::{APPROVER, MEMBER, TestStack, spawn_stack_with};
use posthog_sandbox::FaultKind;
use secrecy::SecretString;
use serde_json::{Value, json};

const FLAGS_KEY: &str = "hogwarden/flags-key";
const GENERIC_SECRET: &str = "generic-shared-secret";
const GITGUARDIAN_TOKEN: &str = "gitguardian-signature-token";

struct Leaks {
    t: TestStack,
    project: i64,
    /// Every answer body, scanned for key values at the end.
    seen: Vec<String>,
}

async fn leaks() -> Leaks {
    let t = spawn_stack_with(|c| c.policy.keys.managed_secrets = vec![FLAGS_KEY.into()]).await;
    let project = t.sandbox().project_id("Production").unwrap();
    t.stack.rotation.enrol(FLAGS_KEY, "enrol-1", ProjectId::new(project).unwrap(), &["feature_flag:read".into()]).await.expect("enrolled");
    t.stack.vault.put_current("hogwarden/webhooks/generic", SecretString::from(GENERIC_SECRET)).await.unwrap();
    t.stack.vault.put_current("hogwarden/webhooks/gitguardian", SecretString::from(GITGUARDIAN_TOKEN)).await.unwrap();
    Leaks { t, project, seen: Vec::new() }
}

/// The headers a generic sender signs a delivery with.
fn generic_headers(ts: &str, delivery: &str, body: &str) -> Vec<(&'static str, String)> {
    let sig = sign_generic(GENERIC_SECRET.as_bytes(), ts, delivery, body.as_bytes());
    vec![("x-hogwarden-signature", sig), ("x-hogwarden-timestamp", ts.to_owned()), ("x-hogwarden-delivery", delivery.to_owned())]
}

fn now_ts(t: &TestStack) -> String {
    use hogwarden_core::ports::Clock;
    t.clock.now().timestamp().to_string()
}

impl Leaks {
    async fn current_flags_key(&self) -> String {
        self.t.stack.rotation.current_value(FLAGS_KEY).await.map(|v| secrecy::ExposeSecret::expose_secret(&v).to_owned()).unwrap()
    }

    async fn posthog_accepts(&self, value: &str) -> bool {
        let url = format!("{}/api/feature_flag/local_evaluation/", self.t.sandbox().base_url());
        self.t.http.get(url).bearer_auth(value).send().await.unwrap().status().as_u16() == 200
    }

    async fn post(&mut self, provider: &str, headers: &[(&str, String)], body: &str) -> (u16, Value) {
        let mut request = self.t.http.post(self.t.url(&format!("/webhooks/{provider}"))).header("content-type", "application/json");
        for (k, v) in headers {
            request = request.header(*k, v);
        }
        let response = request.body(body.to_owned()).send().await.unwrap();
        let status = response.status().as_u16();
        let text = response.text().await.unwrap();
        self.seen.push(text.clone());
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    async fn generic(&mut self, delivery: &str, body: &str) -> (u16, Value) {
        let headers = generic_headers(&now_ts(&self.t), delivery, body);
        self.post("generic", &headers, body).await
    }

    async fn state(&self) -> (Vec<posthog_sandbox::SecretKeyRecord>, usize) {
        (self.t.sandbox().secret_keys(self.project), self.t.audit(APPROVER).await.entries.len())
    }
}

#[tokio::test]
async fn a_leaked_project_secret_key_is_rotated_at_once_and_the_leaked_one_dies() {
    // Arrange
    let mut l = leaks().await;
    let leaked = l.current_flags_key().await;

    // Act
    let (status, body) = l.generic("d-1", &json!({ "token": leaked, "source": "ci-log" }).to_string()).await;

    // Assert
    assert_eq!(status, 202, "{body}");
    assert_eq!(body["actions"][0]["kind"], "project_secret");
    assert!(body["actions"][0]["action"].as_str().unwrap().starts_with("rotated at once"), "{body}");
    let current = l.current_flags_key().await;
    assert_ne!(current, leaked);
    assert!(l.posthog_accepts(&current).await, "consumers reading the vault hold a working key");
    assert!(!l.posthog_accepts(&leaked).await, "the leaked key is dead");
    let audit = l.t.audit(APPROVER).await;
    let alert = audit.entries.iter().find(|e| e.kind == "key_alert").expect("the alert is audited");
    assert_eq!(alert.details["provider"], "generic");
    let dump = serde_json::to_string(&audit.entries.iter().map(|e| e.details.clone()).collect::<Vec<_>>()).unwrap();
    for value in [&leaked, &current] {
        assert!(!dump.contains(value.as_str()) && !l.seen.iter().any(|s| s.contains(value.as_str())), "a key value leaked out");
    }
}

#[tokio::test]
async fn bad_webhooks_are_refused_with_4xx_and_change_nothing() {
    // Arrange
    let mut l = leaks().await;
    let leaked = l.current_flags_key().await;
    let body = json!({ "token": leaked }).to_string();
    let (accepted, _) = l.generic("d-replay", &body).await;
    assert_eq!(accepted, 202);
    let before = l.state().await;
    let ts = now_ts(&l.t);
    let good_sig = sign_generic(GENERIC_SECRET.as_bytes(), &ts, "d-replay", body.as_bytes());
    let stale_ts = (now_ts(&l.t).parse::<i64>().unwrap() - 3600).to_string();
    let stale_sig = sign_generic(GENERIC_SECRET.as_bytes(), &stale_ts, "d-4", body.as_bytes());
    let malformed = "{\"tok\": 1}";
    let malformed_sig = sign_generic(GENERIC_SECRET.as_bytes(), &ts, "d-5", malformed.as_bytes());
    let h = |sig: &str, ts: &str, id: &str| {
        vec![("x-hogwarden-signature", sig.to_owned()), ("x-hogwarden-timestamp", ts.to_owned()), ("x-hogwarden-delivery", id.to_owned())]
    };

    // Act
    let replayed = l.post("generic", &h(&good_sig, &ts, "d-replay"), &body).await;
    let bad_signature = l.post("generic", &h("sha256=00ff", &ts, "d-2"), &body).await;
    let missing = l.post("generic", &[("x-hogwarden-timestamp", ts.clone()), ("x-hogwarden-delivery", "d-3".into())], &body).await;
    let stale = l.post("generic", &h(&stale_sig, &stale_ts, "d-4"), &body).await;
    let bad_body = l.post("generic", &h(&malformed_sig, &ts, "d-5"), malformed).await;
    let unknown = l.post("pastebin", &h(&good_sig, &ts, "d-6"), &body).await;
    let gg_unsigned = l.post("gitguardian", &[("timestamp", ts.clone())], &body).await;
    let no_timestamp =
        l.post("generic", &[("x-hogwarden-signature", good_sig.clone()), ("x-hogwarden-delivery", "d-7".into())], &body).await;

    // Assert
    assert_eq!(replayed.0, 409, "{:?}", replayed.1);
    assert_eq!(bad_signature.0, 401, "{:?}", bad_signature.1);
    assert_eq!(missing.0, 401, "{:?}", missing.1);
    assert_eq!(missing.1["error"]["code"], "missing_signature");
    assert_eq!(stale.0, 401, "{:?}", stale.1);
    assert_eq!(stale.1["error"]["code"], "stale");
    assert_eq!(bad_body.0, 400, "{:?}", bad_body.1);
    assert_eq!(unknown.0, 404, "{:?}", unknown.1);
    assert_eq!(gg_unsigned.0, 401, "{:?}", gg_unsigned.1);
    assert_eq!(no_timestamp.0, 400, "{:?}", no_timestamp.1);
    assert!(no_timestamp.1["error"]["message"].as_str().unwrap().contains("X-Hogwarden-Timestamp"));
    assert_eq!(l.state().await, before, "a refused webhook changed PostHog or the audit log");
}

#[tokio::test]
async fn a_gitguardian_alert_with_a_personal_key_is_reported_to_posthog_which_rolls_it() {
    // Arrange
    let mut l = leaks().await;
    let leaked = l.t.sandbox().create_personal_key_as(MEMBER, "laptop", &["project:read"], chrono::Duration::days(3)).unwrap();
    let body = json!({ "scan_result": { "matches": [{ "type": "PostHog Personal API Key", "match": leaked }] } }).to_string();
    let ts = now_ts(&l.t);
    let sig = sign(format!("{ts}{GITGUARDIAN_TOKEN}").as_bytes(), &[body.as_bytes()]);

    // Act
    let (status, reply) = l.post("gitguardian", &[("gitguardian-signature", sig), ("timestamp", ts)], &body).await;

    // Assert
    assert_eq!(status, 202, "{reply}");
    assert_eq!(reply["actions"][0]["kind"], "personal");
    assert!(reply["actions"][0]["action"].as_str().unwrap().contains("rolled"), "{reply}");
    let emails = l.t.sandbox().exposed_key_emails();
    assert_eq!(emails.len(), 1);
    assert_eq!(emails[0].to, MEMBER);
    let check =
        l.t.http.get(format!("{}/api/personal_api_keys/@current/", l.t.sandbox().base_url())).bearer_auth(&leaked).send().await.unwrap();
    assert_eq!(check.status().as_u16(), 401);
    assert!(!l.seen.iter().any(|s| s.contains(&leaked)));
}

/// A stack whose GitHub alert API (a sandbox) holds an alert for the managed key.
async fn github_leaks() -> (Leaks, posthog_sandbox::GitHubSandbox, u64, String) {
    let github = posthog_sandbox::GitHubSandbox::start("ghp_test_token").await.unwrap();
    let github_url = url::Url::parse(github.url()).unwrap();
    let t = spawn_stack_with(|c| {
        c.policy.keys.managed_secrets = vec![FLAGS_KEY.into()];
        c.github_api = github_url;
    })
    .await;
    let project = t.sandbox().project_id("Production").unwrap();
    t.stack.rotation.enrol(FLAGS_KEY, "enrol-1", ProjectId::new(project).unwrap(), &["feature_flag:read".into()]).await.unwrap();
    t.stack.vault.put_current("hogwarden/webhooks/github", SecretString::from("gh-webhook-secret")).await.unwrap();
    t.stack.vault.put_current("hogwarden/github-token", SecretString::from("ghp_test_token")).await.unwrap();
    let l = Leaks { t, project, seen: Vec::new() };
    let leaked = l.current_flags_key().await;
    let number = github.add_alert("acme/web", "posthog_feature_flags_secure_api_key", &leaked);
    (l, github, number, leaked)
}

/// A `secret_scanning_alert` delivery as GitHub sends it: body, signature over the body.
fn github_delivery(number: u64, created_at: chrono::DateTime<chrono::Utc>, delivery: &str) -> (String, Vec<(&'static str, String)>) {
    let body = json!({ "action": "created",
        "alert": { "number": number, "secret_type": "posthog_feature_flags_secure_api_key", "created_at": created_at.to_rfc3339(), "updated_at": null },
        "repository": { "full_name": "acme/web" } })
    .to_string();
    let sig = sign(b"gh-webhook-secret", &[body.as_bytes()]);
    let headers = vec![
        ("x-hub-signature-256", sig),
        ("x-github-delivery", delivery.to_owned()),
        ("x-github-event", "secret_scanning_alert".to_owned()),
    ];
    (body, headers)
}

#[tokio::test]
async fn a_github_secret_scanning_alert_is_read_from_githubs_alert_api_and_answered() {
    // Arrange: GitHub's API (sandbox) holds the alert; the webhook only names it.
    let (mut l, github, number, leaked) = github_leaks().await;
    let (body, headers) = github_delivery(number, now(&l.t), "gh-1");

    // Act
    let (status, reply) = l.post("github", &headers, &body).await;
    let (again, _) = l.post("github", &headers, &body).await;
    let bad = [
        ("x-hub-signature-256", "sha256=00".to_owned()),
        ("x-github-delivery", "gh-2".to_owned()),
        ("x-github-event", "secret_scanning_alert".to_owned()),
    ];
    let (forged, _) = l.post("github", &bad, &body).await;

    // Assert
    assert_eq!(status, 202, "{reply}");
    assert!(reply["actions"][0]["action"].as_str().unwrap().starts_with("rotated at once"), "{reply}");
    assert_eq!((again, forged), (409, 401));
    assert!(!l.posthog_accepts(&leaked).await);
    let current = l.current_flags_key().await;
    assert!(l.posthog_accepts(&current).await);
    assert!(!l.seen.iter().any(|s| s.contains(&leaked) || s.contains(&current)));
    github.shutdown();
}

fn now(t: &TestStack) -> chrono::DateTime<chrono::Utc> {
    use hogwarden_core::ports::Clock;
    t.clock.now()
}

fn key_alerts(entries: &[hogwarden_api_types::AuditEntryDto]) -> usize {
    entries.iter().filter(|e| e.kind == "key_alert").count()
}

// H1: PostHog answers 503 to the leak report; the scanner retries the same delivery.
#[tokio::test]
async fn a_leak_report_that_failed_on_a_posthog_503_is_made_when_the_delivery_is_retried_and_only_once() {
    // Arrange
    let mut l = leaks().await;
    let leaked = l.t.sandbox().create_personal_key_as(MEMBER, "laptop", &["project:read"], chrono::Duration::days(3)).unwrap();
    let body = json!({ "token": leaked }).to_string();
    l.t.sandbox().fail_next(http::Method::POST, "/api/revoke_leaked_key", 1, FaultKind::DatabaseUnavailable);

    // Act
    let (failed, failure) = l.generic("d-503", &body).await;
    let reported_after_failure = l.t.sandbox().exposed_key_emails().len();
    let (retried, reply) = l.generic("d-503", &body).await;
    let (replayed, replay) = l.generic("d-503", &body).await;

    // Assert
    assert!(failed >= 500, "the failure is the sender's to retry: {failed} {failure}");
    assert_eq!(reported_after_failure, 0, "PostHog did not take the first report");
    assert_eq!(retried, 202, "the retry is handled, not refused as a replay: {reply}");
    assert!(reply["actions"][0]["action"].as_str().unwrap().contains("rolled"), "{reply}");
    assert_eq!(replayed, 409, "{replay}");
    assert_eq!(replay["error"]["code"], "replayed");
    assert_eq!(l.t.sandbox().exposed_key_emails().len(), 1, "reported and rolled exactly once");
    let check =
        l.t.http.get(format!("{}/api/personal_api_keys/@current/", l.t.sandbox().base_url())).bearer_auth(&leaked).send().await.unwrap();
    assert_eq!(check.status().as_u16(), 401, "the leaked key is dead");
    assert_eq!(key_alerts(&l.t.audit(APPROVER).await.entries), 1, "one audited response");
}

// M4: the generic signature covers the delivery id.
#[tokio::test]
async fn a_generic_delivery_replayed_under_a_new_delivery_id_is_refused() {
    // Arrange: a delivery the attacker captured, handled once.
    let mut l = leaks().await;
    let leaked = l.t.sandbox().create_personal_key_as(MEMBER, "laptop", &["project:read"], chrono::Duration::days(3)).unwrap();
    let body = json!({ "token": leaked }).to_string();
    let mut captured = generic_headers(&now_ts(&l.t), "d-1", &body);
    let (first, _) = l.post("generic", &captured, &body).await;
    assert_eq!(first, 202);
    let before = (l.state().await, l.t.sandbox().exposed_key_emails().len(), l.t.stack.outbox.sent().len());

    // Act: the same signed request, with a delivery id never seen.
    captured[2].1 = "d-1-again".into();
    let (status, reply) = l.post("generic", &captured, &body).await;

    // Assert
    assert_eq!(status, 401, "{reply}");
    assert_eq!(reply["error"]["code"], "bad_signature");
    assert_eq!(
        (l.state().await, l.t.sandbox().exposed_key_emails().len(), l.t.stack.outbox.sent().len()),
        before,
        "nothing happened again"
    );
}

// M4: GitHub signs no time, so the alert's own times bound a delivery's age, and the
// body (not the unsigned delivery id) is what a replay is recognised by.
#[tokio::test]
async fn an_old_github_delivery_and_one_resent_under_a_new_delivery_id_are_refused() {
    // Arrange
    let (mut l, github, number, leaked) = github_leaks().await;
    let (old_body, old_headers) = github_delivery(number, now(&l.t) - chrono::Duration::days(4), "gh-old");
    let (body, headers) = github_delivery(number, now(&l.t) - chrono::Duration::minutes(1), "gh-1");

    // Act
    let (old, old_reply) = l.post("github", &old_headers, &old_body).await;
    let rotated_by_old = !l.posthog_accepts(&leaked).await;
    let (fresh, _) = l.post("github", &headers, &body).await;
    let after_fresh = l.state().await;
    let mut renamed = headers.clone();
    renamed[1].1 = "gh-1-again".into();
    let (resent, resent_reply) = l.post("github", &renamed, &body).await;

    // Assert
    assert_eq!(old, 401, "{old_reply}");
    assert_eq!(old_reply["error"]["code"], "stale");
    assert!(!rotated_by_old, "the old delivery changed nothing");
    assert_eq!(fresh, 202);
    assert_eq!(resent, 409, "{resent_reply}");
    assert_eq!(l.state().await, after_fresh, "the resent delivery changed nothing");
    github.shutdown();
}

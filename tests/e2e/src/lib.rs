//! The test harness: `spawn_stack()` starts the local stack (SQLite in a temp folder,
//! the PostHog sandbox in-process on a free port, a manual clock, no sweep timer) and
//! returns a [`TestStack`] with a typed API client per signed-in person.

use std::sync::Arc;
use std::time::Duration;

use chrono::{TimeZone, Utc};
use hogwarden_api_types as dto;
use hogwarden_core::ports::ManualClock;
use hogwarden_local::{Stack, StackConfig, StackHandle};
use posthog_sandbox::SandboxHandle;
use serde::de::DeserializeOwned;

/// A running stack for one test.
#[derive(Debug)]
pub struct TestStack {
    pub stack: StackHandle,
    pub clock: Arc<ManualClock>,
    pub http: reqwest::Client,
    _dir: tempfile::TempDir,
}

/// The sandbox's seeded people the tests act as (see tests/sandbox seed).
pub const MEMBER: &str = "frank@example.com";
pub const OTHER_MEMBER: &str = "grace@example.com";
pub const APPROVER: &str = "alice@example.com";
pub const SECOND_APPROVER: &str = "bob@example.com";

pub async fn spawn_stack() -> TestStack {
    spawn_stack_with(|_| {}).await
}

/// A test stack whose configuration `adjust` changes first (e.g. its policy).
pub async fn spawn_stack_with(adjust: impl FnOnce(&mut StackConfig)) -> TestStack {
    let dir = tempfile::tempdir().expect("temp dir");
    let clock = Arc::new(ManualClock::new(Utc.with_ymd_and_hms(2026, 3, 15, 9, 0, 0).unwrap()));
    let mut config = StackConfig::new(dir.path());
    config.sweep_interval = None;
    config.clock = clock.clone();
    config.posthog_retry_base = Duration::from_millis(10);
    adjust(&mut config);
    let stack = Stack::start(config).await.expect("stack starts");
    TestStack { stack, clock, http: reqwest::Client::new(), _dir: dir }
}

/// A response as the tests see it: status and JSON body.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub body: serde_json::Value,
    pub headers: reqwest::header::HeaderMap,
}

impl Reply {
    pub fn json<T: DeserializeOwned>(&self) -> T {
        serde_json::from_value(self.body.clone()).unwrap_or_else(|e| panic!("unexpected body {}: {e}", self.body))
    }

    /// The error message of an error reply.
    pub fn message(&self) -> String {
        self.body["error"]["message"].as_str().unwrap_or_default().to_owned()
    }

    pub fn code(&self) -> String {
        self.body["error"]["code"].as_str().unwrap_or_default().to_owned()
    }
}

impl TestStack {
    pub fn sandbox(&self) -> &SandboxHandle {
        self.stack.sandbox.as_ref().expect("the test stack runs the sandbox")
    }

    pub fn token(&self, email: &str) -> String {
        self.stack.token_for(email).expect("demo user")
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.stack.url)
    }

    /// Sends a request as `who` (None = no Authorization header).
    pub async fn send(&self, who: Option<&str>, method: reqwest::Method, path: &str, body: Option<serde_json::Value>) -> Reply {
        let mut req = self.http.request(method, self.url(path));
        if let Some(w) = who {
            req = req.bearer_auth(self.token(w));
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let res = req.send().await.expect("the stack answers");
        let status = res.status().as_u16();
        let headers = res.headers().clone();
        let text = res.text().await.unwrap_or_default();
        let body = serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text));
        Reply { status, body, headers }
    }

    pub async fn get(&self, who: &str, path: &str) -> Reply {
        self.send(Some(who), reqwest::Method::GET, path, None).await
    }

    pub async fn post(&self, who: &str, path: &str, body: serde_json::Value) -> Reply {
        self.send(Some(who), reqwest::Method::POST, path, Some(body)).await
    }

    /// Asks for temporary org Admin for oneself.
    pub async fn request_temporary_admin(&self, who: &str, minutes: i64) -> dto::RequestDto {
        let r = self
            .post(
                who,
                "/api/requests",
                serde_json::json!({
                    "changes": [{ "kind": "org_role", "role": "admin" }],
                    "duration_minutes": minutes,
                    "reason": "Configure the new feature flag experiment",
                    "ticket": "OPS-42",
                }),
            )
            .await;
        assert_eq!(r.status, 201, "{:?}", r.body);
        r.json()
    }

    pub async fn approve(&self, who: &str, id: &str) -> Reply {
        self.post(who, &format!("/api/requests/{id}/approve"), serde_json::json!({ "comment": "ok" })).await
    }

    pub async fn audit(&self, who: &str) -> dto::AuditList {
        let r = self.get(who, "/api/audit?limit=500").await;
        assert_eq!(r.status, 200, "{:?}", r.body);
        r.json()
    }

    /// The whole chain's verification, as an admin asks for it.
    pub async fn verify(&self) -> dto::VerificationDto {
        let r = self.get(APPROVER, "/api/audit/verify").await;
        assert_eq!(r.status, 200, "{:?}", r.body);
        r.json()
    }

    /// Audit kinds oldest first.
    pub async fn audit_kinds(&self) -> Vec<String> {
        let mut entries = self.audit(APPROVER).await.entries;
        entries.sort_by_key(|e| e.seq);
        entries.into_iter().map(|e| e.kind).collect()
    }

    /// Number of PostHog calls with this method whose path starts with `prefix`.
    pub fn posthog_calls(&self, method: &str, prefix: &str) -> usize {
        self.sandbox().requests().iter().filter(|r| r.method.as_str() == method && r.path.starts_with(prefix)).count()
    }

    /// Opens the SQLite database directly, as an attacker with file access could.
    pub fn raw_db(&self) -> rusqlite::Connection {
        rusqlite::Connection::open(&self.stack.database).expect("open db")
    }

    pub async fn shutdown(self) {
        self.stack.shutdown().await;
    }
}

/// A stack like [`spawn_stack`] with this policy (e.g. SSO rules).
pub async fn spawn_stack_with_policy(policy: hogwarden_core::policy::Policy) -> TestStack {
    spawn_stack_with(|c| c.policy = policy).await
}

impl TestStack {
    /// Signs in through the local stack's dev sign-in, as the web front end does.
    pub async fn dev_login(&self, email: &str) -> Reply {
        self.send(None, reqwest::Method::POST, "/auth/dev-login", Some(serde_json::json!({ "email": email }))).await
    }
}

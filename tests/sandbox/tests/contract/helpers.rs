//! The test harness: a sandbox on port 0, a client, and typed shortcuts for the requests the
//! contract tests repeat.

use std::net::SocketAddr;

use posthog_sandbox::{Sandbox, SandboxConfig, SandboxHandle};
use reqwest::{Client, Response};
use serde_json::Value;

pub const ALICE: &str = "alice@example.com";
pub const BOB: &str = "bob@example.com";
pub const FRANK: &str = "frank@example.com";
pub const GRACE: &str = "grace@example.com";
pub const QUENTIN: &str = "quentin@example.com";
pub const BOT: &str = "hogwarden-bot@acme.example";

/// A running sandbox, a client, and the keys tests act with.
pub struct TestSandbox {
    pub handle: SandboxHandle,
    pub client: Client,
    /// The service account's key (owner).
    pub bot_key: String,
}

fn loopback() -> SocketAddr {
    "127.0.0.1:0".parse().expect("loopback address")
}

/// Acme Corp, default switches.
pub async fn spawn() -> TestSandbox {
    spawn_with(SandboxConfig::acme_corp()).await
}

/// A sandbox started from `config`.
pub async fn spawn_with(config: SandboxConfig) -> TestSandbox {
    let handle = Sandbox::start(config, loopback()).await.expect("sandbox starts on port 0");
    let bot_key = handle.service_api_key();
    TestSandbox { handle, client: Client::new(), bot_key }
}

impl TestSandbox {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.handle.base_url())
    }

    pub fn members_path(&self) -> String {
        format!("/api/organizations/{}/members/", self.handle.organization_id())
    }

    pub fn member_path(&self, email: &str) -> String {
        let uuid = self.handle.user_uuid(email).expect("seeded user");
        format!("{}{uuid}/", self.members_path())
    }

    pub fn project(&self, name: &str) -> i64 {
        self.handle.project_id(name).expect("seeded project")
    }

    pub fn membership(&self, email: &str) -> String {
        self.handle.membership_id(email).expect("seeded member")
    }

    /// A key with every scope for the person with `email`.
    pub fn key_for(&self, email: &str) -> String {
        self.handle.issue_api_key(email, &["*"]).expect("key issued")
    }

    pub async fn get(&self, key: &str, path: &str) -> Response {
        self.client.get(self.url(path)).bearer_auth(key).send().await.expect("request sent")
    }

    pub async fn patch(&self, key: &str, path: &str, body: Value) -> Response {
        self.client.patch(self.url(path)).bearer_auth(key).json(&body).send().await.expect("request sent")
    }

    pub async fn put(&self, key: &str, path: &str, body: Value) -> Response {
        self.client.put(self.url(path)).bearer_auth(key).json(&body).send().await.expect("request sent")
    }

    pub async fn delete(&self, key: &str, path: &str) -> Response {
        self.client.delete(self.url(path)).bearer_auth(key).send().await.expect("request sent")
    }

    /// PATCH `{"level": level}` on `email`'s member path.
    pub async fn set_level(&self, key: &str, email: &str, level: Value) -> Response {
        let path = self.member_path(email);
        self.patch(key, &path, serde_json::json!({ "level": level })).await
    }

    pub fn access_path(&self, project: &str) -> String {
        format!("/api/projects/{}/access_controls/", self.project(project))
    }

    pub fn resource_access_path(&self, project: &str) -> String {
        format!("/api/projects/{}/resource_access_controls/", self.project(project))
    }
}

/// The status and JSON body of a response.
pub async fn status_and_json(response: Response) -> (u16, Value) {
    let status = response.status().as_u16();
    let body = response.json().await.unwrap_or(Value::Null);
    (status, body)
}

/// PostHog's error body.
pub fn error(kind: &str, code: &str, detail: &str, attr: Option<&str>) -> Value {
    serde_json::json!({ "type": kind, "code": code, "detail": detail, "attr": attr })
}

pub fn forbidden(detail: &str) -> Value {
    error("authentication_error", "permission_denied", detail, None)
}

impl TestSandbox {
    pub fn invites_path(&self) -> String {
        format!("/api/organizations/{}/invites/", self.handle.organization_id())
    }

    pub async fn post(&self, key: &str, path: &str, body: Value) -> Response {
        self.client.post(self.url(path)).bearer_auth(key).json(&body).send().await.expect("request sent")
    }

    /// POST an invite as the holder of `key`.
    pub async fn invite(&self, key: &str, body: Value) -> (u16, Value) {
        let path = self.invites_path();
        status_and_json(self.post(key, &path, body).await).await
    }
}

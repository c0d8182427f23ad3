//! The AWS composition under test: `spawn_aws_stack()` creates a uuid-named table
//! and a Secrets Manager secret on one moto_server (store-aws's harness), starts the
//! PostHog sandbox on a free port, and builds the four Lambdas with
//! `hogwarden_lambda` exactly as their `main`s do, except for a manual clock and the
//! emulator's SDK configuration. Tests then invoke the Lambdas with real event JSON
//! (`fixtures/`) through `Handler::handle`, the function the Lambda runtime calls.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use hogwarden_core::ports::{Clock, ManualClock};
use hogwarden_lambda::{AwsStack, Config, Handler, HandlerError, env};
use lambda_runtime::{Context, LambdaEvent};
use posthog_sandbox::{Sandbox, SandboxConfig, SandboxHandle};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

/// store-aws's moto harness, shared rather than copied.
#[path = "../../../functions/store-aws/tests/aws/harness.rs"]
pub mod moto;

/// The sandbox's seeded people the tests act as, with the groups their tokens carry.
pub const MEMBER: &str = "frank@example.com";
pub const OTHER_MEMBER: &str = "grace@example.com";
pub const APPROVER: &str = "alice@example.com";
pub const SECOND_APPROVER: &str = "bob@example.com";

fn groups_of(email: &str) -> &'static str {
    match email {
        APPROVER => "[hogwarden-requester hogwarden-approver hogwarden-admin]",
        SECOND_APPROVER => "[hogwarden-requester hogwarden-approver]",
        _ => "[hogwarden-requester]",
    }
}

const JWT_EVENT: &str = include_str!("../fixtures/apigw-v2-jwt-authorizer.json");
const NO_AUTHORIZER_EVENT: &str = include_str!("../fixtures/apigw-v2-no-authorizer.json");

/// One test's AWS deployment: the four Lambdas (grants and reverts twice, as two
/// containers side by side when Lambda scales out), one table, one secret, one PostHog.
#[derive(Debug)]
pub struct AwsTestStack {
    pub grants: Handler,
    pub grants_other_container: Handler,
    pub reverts: Handler,
    pub reverts_other_container: Handler,
    pub reviews: Handler,
    pub key_rotation: Handler,
    /// The key-rotation container's rotation use case (to enrol a project key).
    pub rotation: hogwarden_core::usecases::KeyRotation,
    pub clock: Arc<ManualClock>,
    pub sandbox: SandboxHandle,
    pub config: Config,
    pub sdk: aws_config::SdkConfig,
}

/// The variables infra/template.yaml sets, with this test's table and secret.
pub fn environment(table: &str, secret: &str, sandbox: &SandboxHandle) -> HashMap<&'static str, String> {
    [
        (env::TABLE, table.to_owned()),
        (env::POSTHOG_KEY_SECRET, secret.to_owned()),
        (env::POSTHOG_HOST, sandbox.base_url()),
        (env::POSTHOG_ORG_ID, sandbox.organization_id()),
        (env::WEB_URL, "https://hogwarden.example.com".to_owned()),
    ]
    .into_iter()
    .collect()
}

pub async fn spawn_aws_stack() -> AwsTestStack {
    let sandbox = Sandbox::start(SandboxConfig::acme_corp(), SocketAddr::from(([127, 0, 0, 1], 0))).await.expect("the sandbox starts");
    let sdk = moto::sdk_config().await;
    let table = format!("hogwarden-{}", uuid::Uuid::new_v4());
    hogwarden_store_aws::create_table(&aws_sdk_dynamodb::Client::new(&sdk), &table).await.expect("table created on moto");
    let secret = format!("hogwarden/posthog-key-{}", uuid::Uuid::new_v4());
    aws_sdk_secretsmanager::Client::new(&sdk)
        .create_secret()
        .name(&secret)
        .secret_string(sandbox.service_api_key())
        .send()
        .await
        .expect("secret created on moto");
    let vars = environment(&table, &secret, &sandbox);
    let mut config = Config::from_lookup(|name| vars.get(name).cloned()).expect("the environment is complete");
    // A review's removal hands the person's objects to someone who is not a reviewer
    // (the two-person rule).
    config.policy.reviews.hand_over_to = Some(hogwarden_core::types::Email::parse(OTHER_MEMBER).expect("an email"));
    let clock = Arc::new(ManualClock::new(Utc.with_ymd_and_hms(2026, 3, 15, 9, 0, 0).unwrap()));

    let container = || async {
        AwsStack::builder(config.clone())
            .sdk_config(sdk.clone())
            .clock(clock.clone())
            .posthog_retry_base(Duration::from_millis(10))
            .build()
            .await
            .expect("the Lambda starts")
    };
    let key_stack = container().await;
    AwsTestStack {
        grants: Handler::grants(&container().await),
        grants_other_container: Handler::grants(&container().await),
        reverts: Handler::reverts(&container().await),
        reverts_other_container: Handler::reverts(&container().await),
        reviews: Handler::reviews(&container().await),
        key_rotation: Handler::key_rotation(&key_stack),
        rotation: key_stack.rotation.clone(),
        clock,
        sandbox,
        config,
        sdk,
    }
}

/// A Lambda context as the runtime builds it for an invocation.
pub fn context() -> Context {
    let mut context = Context::default();
    context.request_id = uuid::Uuid::new_v4().to_string();
    context.invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:hogwarden-test".into();
    context
}

/// Invokes a Lambda with an event, as the runtime does.
pub async fn invoke(handler: &Handler, event: Value) -> Result<Value, HandlerError> {
    handler.handle(LambdaEvent::new(event, context())).await
}

/// An API Gateway HTTP API event for `method path` (with `?query` if any), as `who`
/// signed in through the JWT authorizer, or with no authorizer at all for `None`.
pub fn http_event(who: Option<&str>, method: &str, path_and_query: &str, body: Option<Value>) -> Value {
    let mut event: Value = serde_json::from_str(if who.is_some() { JWT_EVENT } else { NO_AUTHORIZER_EVENT }).expect("fixture is JSON");
    let (path, query) = path_and_query.split_once('?').unwrap_or((path_and_query, ""));
    event["routeKey"] = json!(format!("{method} {path}"));
    event["rawPath"] = json!(path);
    event["rawQueryString"] = json!(query);
    event["requestContext"]["routeKey"] = event["routeKey"].clone();
    event["requestContext"]["requestId"] = json!(uuid::Uuid::new_v4().to_string());
    event["requestContext"]["http"]["method"] = json!(method);
    event["requestContext"]["http"]["path"] = json!(path);
    if let Some(b) = body {
        event["body"] = json!(b.to_string());
        event["headers"]["content-type"] = json!("application/json");
    }
    if let Some(email) = who {
        let claims = &mut event["requestContext"]["authorizer"]["jwt"]["claims"];
        claims["email"] = json!(email);
        claims["sub"] = json!(format!("sub-{}", email.split('@').next().unwrap_or_default()));
        claims["groups"] = json!(groups_of(email));
    }
    event
}

/// A schedule's Input as EventBridge Scheduler delivers it: the fixture with its
/// context attributes substituted.
pub fn scheduler_event(task: &str, scheduled_time: DateTime<Utc>, execution_id: &str) -> Value {
    let template = std::fs::read_to_string(format!("{}/fixtures/scheduler-{task}.json", env!("CARGO_MANIFEST_DIR")))
        .unwrap_or_else(|e| panic!("no fixture for scheduled task {task}: {e}"));
    let input = template
        .replace("<aws.scheduler.scheduled-time>", &scheduled_time.format("%Y-%m-%dT%H:%M:%SZ").to_string())
        .replace("<aws.scheduler.execution-id>", execution_id);
    serde_json::from_str(&input).expect("the substituted input is JSON")
}

/// An API Gateway HTTP API response as the tests see it.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub body: Value,
    pub raw: Value,
}

impl Reply {
    /// Reads the payload-2.0 response a Lambda returned to API Gateway.
    pub fn from_lambda(raw: Value) -> Self {
        let status = raw["statusCode"].as_u64().unwrap_or_else(|| panic!("no statusCode in {raw}")) as u16;
        assert_eq!(raw["isBase64Encoded"], json!(false), "JSON answers are text: {raw}");
        let body = raw["body"].as_str().map(|b| serde_json::from_str(b).unwrap_or_else(|_| json!(b))).unwrap_or(Value::Null);
        Self { status, body, raw }
    }

    pub fn json<T: DeserializeOwned>(&self) -> T {
        serde_json::from_value(self.body.clone()).unwrap_or_else(|e| panic!("unexpected body {}: {e}", self.body))
    }

    pub fn code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or_default()
    }

    pub fn message(&self) -> &str {
        self.body["error"]["message"].as_str().unwrap_or_default()
    }
}

impl AwsTestStack {
    /// What the injected clock says now (a schedule fires at this time).
    pub fn clock_now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    /// Sends an HTTP event to a Lambda and reads its answer.
    pub async fn call(&self, handler: &Handler, who: Option<&str>, method: &str, path: &str, body: Option<Value>) -> Reply {
        let raw = invoke(handler, http_event(who, method, path, body)).await.unwrap_or_else(|e| panic!("{method} {path} failed: {e}"));
        Reply::from_lambda(raw)
    }

    pub async fn request_temporary_admin(&self, who: &str, minutes: i64) -> hogwarden_api_types::RequestDto {
        let body = json!({
            "changes": [{ "kind": "org_role", "role": "admin" }],
            "duration_minutes": minutes,
            "reason": "Configure the new feature flag experiment",
            "ticket": "OPS-42",
        });
        let r = self.call(&self.grants, Some(who), "POST", "/api/requests", Some(body)).await;
        assert_eq!(r.status, 201, "{:?}", r.body);
        r.json()
    }

    pub fn approve_event(who: &str, request_id: &str) -> Value {
        http_event(Some(who), "POST", &format!("/api/requests/{request_id}/approve"), Some(json!({ "comment": "ok" })))
    }

    pub async fn audit(&self) -> hogwarden_api_types::AuditList {
        let r = self.call(&self.grants, Some(APPROVER), "GET", "/api/audit?limit=500", None).await;
        assert_eq!(r.status, 200, "{:?}", r.body);
        r.json()
    }

    /// The whole chain's verification, as an admin asks for it.
    pub async fn verify(&self) -> hogwarden_api_types::VerificationDto {
        let r = self.call(&self.grants, Some(APPROVER), "GET", "/api/audit/verify", None).await;
        assert_eq!(r.status, 200, "{:?}", r.body);
        r.json()
    }

    /// Audit kinds, oldest first.
    pub async fn audit_kinds(&self) -> Vec<String> {
        let mut entries = self.audit().await.entries;
        entries.sort_by_key(|e| e.seq);
        entries.into_iter().map(|e| e.kind).collect()
    }

    /// PostHog calls with this method whose path starts with `prefix`.
    pub fn posthog_calls(&self, method: &str, prefix: &str) -> usize {
        self.sandbox.requests().iter().filter(|r| r.method.as_str() == method && r.path.starts_with(prefix)).count()
    }

    pub async fn shutdown(self) {
        self.sandbox.shutdown().await;
    }
}

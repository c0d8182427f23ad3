//! The real `hogwarden-reverts` binary, started as Lambda starts it: configuration
//! from the environment, the AWS SDK pointed at moto by `AWS_ENDPOINT_URL` (through
//! `aws_config::load_defaults`), the PostHog key read from Secrets Manager, then
//! events pulled from a stand-in for the Lambda Runtime API
//! (`/2018-06-01/runtime/invocation/next`, `.../{id}/response`, `.../{id}/error`).

use std::collections::VecDeque;
use std::io::Read;
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use chrono::{TimeZone, Utc};
use hogwarden_aws_e2e::{environment, http_event, moto, scheduler_event};
use posthog_sandbox::{Sandbox, SandboxConfig};
use serde_json::Value;

/// The Runtime API's side of the conversation: events to hand out, answers received.
#[derive(Default)]
struct RuntimeApi {
    events: Mutex<VecDeque<(String, Value)>>,
    answers: Mutex<Vec<(String, &'static str, Value)>>,
}

async fn next(State(api): State<Arc<RuntimeApi>>) -> impl IntoResponse {
    loop {
        let event = api.events.lock().unwrap().pop_front();
        if let Some((id, payload)) = event {
            let mut headers = HeaderMap::new();
            headers.insert("lambda-runtime-aws-request-id", HeaderValue::from_str(&id).unwrap());
            let deadline = Utc::now().timestamp_millis() + 60_000;
            headers.insert("lambda-runtime-deadline-ms", HeaderValue::from_str(&deadline.to_string()).unwrap());
            headers.insert(
                "lambda-runtime-invoked-function-arn",
                HeaderValue::from_static("arn:aws:lambda:us-east-1:123456789012:function:hogwarden-reverts"),
            );
            headers.insert("content-type", HeaderValue::from_static("application/json"));
            return (StatusCode::OK, headers, payload.to_string());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn record(api: &RuntimeApi, id: String, kind: &'static str, body: &Bytes) -> StatusCode {
    let value = serde_json::from_slice(body).unwrap_or_else(|_| Value::String(String::from_utf8_lossy(body).into_owned()));
    api.answers.lock().unwrap().push((id, kind, value));
    StatusCode::ACCEPTED
}

/// Stops the binary however the test ends.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_answers_http_and_scheduled_events_through_the_runtime_api() {
    // Arrange: a table and the key's secret on moto, the sandbox, the Runtime API.
    let sandbox = Sandbox::start(SandboxConfig::acme_corp(), SocketAddr::from(([127, 0, 0, 1], 0))).await.unwrap();
    let sdk = moto::sdk_config().await;
    let table = format!("hogwarden-{}", uuid::Uuid::new_v4());
    hogwarden_store_aws::create_table(&aws_sdk_dynamodb::Client::new(&sdk), &table).await.unwrap();
    let secret = format!("hogwarden/posthog-key-{}", uuid::Uuid::new_v4());
    aws_sdk_secretsmanager::Client::new(&sdk).create_secret().name(&secret).secret_string(sandbox.service_api_key()).send().await.unwrap();

    let api = Arc::new(RuntimeApi::default());
    let at = Utc.with_ymd_and_hms(2026, 3, 15, 9, 1, 0).unwrap();
    let mut unknown = scheduler_event("sweep", at, "exec-2");
    unknown["task"] = Value::from("compact");
    api.events.lock().unwrap().extend([
        ("inv-1".to_owned(), scheduler_event("sweep", at, "exec-1")),
        ("inv-2".to_owned(), unknown),
        ("inv-3".to_owned(), http_event(None, "POST", "/api/grants/g-1/revoke", Some(serde_json::json!({})))),
    ]);
    let routes = Router::new()
        .route("/2018-06-01/runtime/invocation/next", get(next))
        .route(
            "/2018-06-01/runtime/invocation/{id}/response",
            post(|State(api): State<Arc<RuntimeApi>>, Path(id): Path<String>, body: Bytes| async move { record(&api, id, "response", &body) }),
        )
        .route(
            "/2018-06-01/runtime/invocation/{id}/error",
            post(|State(api): State<Arc<RuntimeApi>>, Path(id): Path<String>, body: Bytes| async move { record(&api, id, "error", &body) }),
        )
        .route(
            "/2018-06-01/runtime/init/error",
            post(|State(api): State<Arc<RuntimeApi>>, body: Bytes| async move { record(&api, "init".into(), "error", &body) }),
        )
        .with_state(api.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let runtime_api = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, routes).await });

    // Act: start the binary as Lambda would, with the variables infra/template.yaml sets.
    let mut child = Command::new(env!("CARGO_BIN_EXE_hogwarden-reverts"));
    child
        .env_clear()
        .envs(environment(&table, &secret, &sandbox))
        .envs([
            ("AWS_LAMBDA_RUNTIME_API", runtime_api.to_string().as_str()),
            ("AWS_LAMBDA_FUNCTION_NAME", "hogwarden-reverts"),
            ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256"),
            ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST"),
            ("AWS_REGION", "us-east-1"),
            ("AWS_ACCESS_KEY_ID", "testing"),
            ("AWS_SECRET_ACCESS_KEY", "testing"),
            ("AWS_ENDPOINT_URL", moto::endpoint()),
            ("RUST_LOG", "info"),
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut running = Running(child.spawn().expect("the binary starts"));
    let started = Instant::now();
    while api.answers.lock().unwrap().len() < 3 {
        if let Ok(Some(status)) = running.0.try_wait() {
            let mut stderr = String::new();
            running.0.stderr.take().unwrap().read_to_string(&mut stderr).unwrap();
            panic!("the binary exited ({status}): {stderr}");
        }
        assert!(started.elapsed() < Duration::from_secs(60), "answers so far: {:?}", api.answers.lock().unwrap());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let _ = running.0.kill();
    let mut logs = String::new();
    running.0.stdout.take().unwrap().read_to_string(&mut logs).unwrap();
    drop(running);

    // Assert: one answer per invocation, each as Lambda expects it.
    let answers = api.answers.lock().unwrap().clone();
    let answer = |id: &str| answers.iter().find(|(i, _, _)| i == id).unwrap_or_else(|| panic!("no answer to {id}: {answers:?}"));
    let (_, kind, sweep) = answer("inv-1");
    assert_eq!((*kind, &sweep["task"], &sweep["execution_id"]), ("response", &Value::from("sweep"), &Value::from("exec-1")), "{sweep}");
    assert_eq!(sweep["outcome"]["reverted"], 0, "{sweep}");
    let (_, kind, unknown) = answer("inv-2");
    assert_eq!(*kind, "error", "{unknown}");
    assert_eq!(unknown["errorType"], "Hogwarden.UnknownTask", "{unknown}");
    assert_eq!(unknown["errorMessage"], "unknown scheduled task 'compact'; this function runs: sweep, remind, bulk_apply");
    let (_, kind, http) = answer("inv-3");
    assert_eq!(*kind, "response", "{http}");
    assert_eq!(http["statusCode"], 401, "{http}");
    let body: Value = serde_json::from_str(http["body"].as_str().unwrap()).unwrap();
    assert_eq!(body["error"]["code"], "unauthorized", "{body}");
    assert!(!answers.iter().any(|(id, _, _)| id == "init"), "no init error: {answers:?}");

    let lines: Vec<Value> = logs.lines().map(|l| serde_json::from_str(l).unwrap_or_else(|_| panic!("not a JSON log line: {l}"))).collect();
    assert!(lines.iter().any(|l| l["fields"]["message"] == "sweep report"), "{logs}");
    assert!(!logs.contains(&sandbox.service_api_key()), "the key is never logged");
    sandbox.shutdown().await;
}

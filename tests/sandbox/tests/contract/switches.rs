//! Latency, throttling and injected faults (contract §0 Rate limits, Error body).

use std::time::{Duration, Instant};

use http::Method;
use posthog_sandbox::{FaultKind, FaultPlan, RateLimit, SandboxConfig};
use serde_json::json;

use crate::helpers::{ALICE, FRANK, error, spawn, spawn_with, status_and_json};

/// A client that gives up after a few seconds, so a fault that stops closing connections
/// fails its test instead of hanging it.
fn guarded_client() -> reqwest::Client {
    reqwest::Client::builder().timeout(Duration::from_secs(5)).build().unwrap()
}

fn scaled_down() -> SandboxConfig {
    SandboxConfig::acme_corp().with_rate_limit(RateLimit::burst(8, Duration::from_secs(1)))
}

// §0 Rate limits: 429 `throttled` with `Retry-After`, and the budget comes back after the window.
#[tokio::test]
async fn over_budget_requests_get_429_with_retry_after_and_recover() {
    // Arrange
    let sandbox = spawn_with(scaled_down()).await;
    let path = sandbox.members_path();
    for _ in 0..8 {
        assert_eq!(sandbox.get(&sandbox.bot_key, &path).await.status().as_u16(), 200);
    }

    // Act
    let throttled = sandbox.get(&sandbox.bot_key, &path).await;
    let retry_after = throttled.headers()["retry-after"].to_str().unwrap().to_owned();
    let (status, body) = status_and_json(throttled).await;
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let recovered = sandbox.get(&sandbox.bot_key, &path).await;

    // Assert
    assert_eq!(status, 429);
    assert_eq!(retry_after, "1");
    assert_eq!(body, error("throttled_error", "throttled", "Request was throttled. Expected available in 1 second.", None));
    assert_eq!(recovered.status().as_u16(), 200);
    assert_eq!(sandbox.handle.throttled_count(), 1);
}

// §0 Rate limits: PostHog's text pluralises the wait, and a minute window waits most of it.
#[tokio::test]
async fn minute_window_asks_to_wait_whole_seconds() {
    // Arrange
    let sandbox = spawn_with(SandboxConfig::acme_corp().with_rate_limit(RateLimit::burst(1, Duration::from_secs(60)))).await;
    let path = sandbox.members_path();
    sandbox.get(&sandbox.bot_key, &path).await;

    // Act
    let throttled = sandbox.get(&sandbox.bot_key, &path).await;

    // Assert
    let retry_after: u64 = throttled.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    let (_, body) = status_and_json(throttled).await;
    assert!((59..=60).contains(&retry_after), "{retry_after}");
    assert_eq!(body["detail"], format!("Request was throttled. Expected available in {retry_after} seconds."));
}

// §0 Rate limits: the budget is per key.
#[tokio::test]
async fn each_key_has_its_own_budget() {
    // Arrange
    let sandbox = spawn_with(scaled_down()).await;
    let alice = sandbox.key_for(ALICE);
    let path = sandbox.members_path();
    for _ in 0..9 {
        sandbox.get(&sandbox.bot_key, &path).await;
    }

    // Act
    let response = sandbox.get(&alice, &path).await;

    // Assert
    assert_eq!(response.status().as_u16(), 200);
}

// §0 Rate limits: the sustained (hourly) budget applies too.
#[tokio::test]
async fn sustained_budget_also_throttles() {
    // Arrange
    let mut limit = RateLimit::posthog();
    limit.sustained.count = 3;
    let sandbox = spawn_with(SandboxConfig::acme_corp().with_rate_limit(limit)).await;
    let path = sandbox.members_path();
    for _ in 0..3 {
        sandbox.get(&sandbox.bot_key, &path).await;
    }

    // Act
    let response = sandbox.get(&sandbox.bot_key, &path).await;

    // Assert
    assert_eq!(response.status().as_u16(), 429);
    let wait: u64 = response.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!(wait > 3500, "{wait}");
}

// Switches: the rate limit can be changed at runtime.
#[tokio::test]
async fn rate_limit_can_be_switched_off_at_runtime() {
    // Arrange
    let sandbox = spawn_with(scaled_down()).await;
    let path = sandbox.members_path();
    sandbox.handle.set_rate_limit(RateLimit::disabled());

    // Act and assert
    for _ in 0..12 {
        assert_eq!(sandbox.get(&sandbox.bot_key, &path).await.status().as_u16(), 200);
    }
    assert_eq!(sandbox.handle.throttled_count(), 0);
}

// Switches: latency is added to every request.
#[tokio::test]
async fn latency_switch_delays_every_request() {
    // Arrange
    let sandbox = spawn().await;
    sandbox.handle.set_latency(Duration::from_millis(300));

    // Act
    let started = Instant::now();
    let response = sandbox.get(&sandbox.bot_key, &sandbox.members_path()).await;
    let slow = started.elapsed();
    sandbox.handle.set_latency(Duration::ZERO);
    let started = Instant::now();
    sandbox.get(&sandbox.bot_key, &sandbox.members_path()).await;
    let fast = started.elapsed();

    // Assert
    assert_eq!(response.status().as_u16(), 200);
    assert!(slow >= Duration::from_millis(300), "{slow:?}");
    assert!(fast < Duration::from_millis(300), "{fast:?}");
}

// §0 Error body: a 5xx is opaque, and an injected one happens before anything is written.
#[tokio::test]
async fn server_error_fault_writes_nothing() {
    // Arrange
    let sandbox = spawn().await;
    sandbox.handle.fail_next(Method::PATCH, "/api/organizations/", 1, FaultKind::ServerError);

    // Act
    let (status, body) = status_and_json(sandbox.set_level(&sandbox.bot_key, FRANK, json!(8)).await).await;
    let level_after_fault = sandbox.handle.member_level(FRANK);
    let retry = sandbox.set_level(&sandbox.bot_key, FRANK, json!(8)).await;

    // Assert
    assert_eq!(status, 500);
    assert_eq!(body, error("server_error", "error", "A server error occurred.", None));
    assert_eq!(level_after_fault, Some(1));
    assert_eq!(retry.status().as_u16(), 200);
    assert_eq!(sandbox.handle.member_level(FRANK), Some(8));
    assert_eq!(sandbox.handle.write_count(), 1);
}

// §0 Error body: `DatabaseUnavailable` is 503 with `Retry-After: 1`.
#[tokio::test]
async fn database_unavailable_fault_asks_to_retry_after_one_second() {
    // Arrange
    let sandbox = spawn().await;
    sandbox.handle.fail_next(Method::GET, "/api/", 1, FaultKind::DatabaseUnavailable);

    // Act
    let response = sandbox.get(&sandbox.bot_key, &sandbox.members_path()).await;

    // Assert
    assert_eq!(response.headers()["retry-after"], "1");
    let (status, body) = status_and_json(response).await;
    assert_eq!(status, 503);
    assert_eq!(body["code"], "database_unavailable");
    assert_eq!(body["type"], "server_error");
}

// `fail_next` only hits matching requests, exactly n times.
#[tokio::test]
async fn fail_next_is_deterministic() {
    // Arrange
    let sandbox = spawn().await;
    sandbox.handle.fail_next(Method::PATCH, "/api/organizations/", 2, FaultKind::Status5xx);

    // Act
    let read = sandbox.get(&sandbox.bot_key, &sandbox.members_path()).await.status().as_u16();
    let first = sandbox.set_level(&sandbox.bot_key, FRANK, json!(8)).await.status().as_u16();
    let second = sandbox.set_level(&sandbox.bot_key, FRANK, json!(8)).await.status().as_u16();
    let third = sandbox.set_level(&sandbox.bot_key, FRANK, json!(8)).await.status().as_u16();

    // Assert
    assert_eq!(read, 200);
    assert!([500, 503].contains(&first), "{first}");
    assert!([500, 503].contains(&second), "{second}");
    assert_eq!(third, 200);
}

// A dropped connection gives the client a connection error and writes nothing.
#[tokio::test]
async fn dropped_connection_gives_a_connection_error_and_writes_nothing() {
    // Arrange
    let sandbox = spawn().await;
    sandbox.handle.fail_next(Method::PATCH, "/api/organizations/", 1, FaultKind::DropConnection);

    // Act
    let result = guarded_client()
        .patch(sandbox.url(&sandbox.member_path(FRANK)))
        .bearer_auth(&sandbox.bot_key)
        .json(&json!({"level": 8}))
        .send()
        .await;

    // Assert
    let error = result.unwrap_err();
    assert!(!error.is_timeout(), "the connection must close, not hang: {error:?}");
    assert_eq!(sandbox.handle.member_level(FRANK), Some(1));
    assert_eq!(sandbox.handle.write_count(), 0);
    let recorded = sandbox.handle.requests();
    assert_eq!(recorded.last().unwrap().status, None);
    assert_eq!(recorded.last().unwrap().fault, Some(FaultKind::DropConnection));
}

// `DropAfterWrite`: the change is applied, then the connection is dropped, so only a
// read-back can tell the client it worked.
#[tokio::test]
async fn drop_after_write_applies_the_change_before_dropping() {
    // Arrange
    let sandbox = spawn().await;
    sandbox.handle.fail_next(Method::PATCH, "/api/organizations/", 1, FaultKind::DropAfterWrite);

    // Act
    let result = guarded_client()
        .patch(sandbox.url(&sandbox.member_path(FRANK)))
        .bearer_auth(&sandbox.bot_key)
        .json(&json!({"level": 8}))
        .send()
        .await;

    // Assert
    let error = result.unwrap_err();
    assert!(!error.is_timeout(), "the connection must close, not hang: {error:?}");
    assert_eq!(sandbox.handle.member_level(FRANK), Some(8));
    assert_eq!(sandbox.handle.write_count(), 1);
}

// A timeout fault holds the request past any client timeout; nothing is written.
#[tokio::test]
async fn timeout_fault_outlasts_a_one_second_client_timeout() {
    // Arrange
    let sandbox = spawn().await;
    sandbox.handle.fail_next(Method::PATCH, "/api/organizations/", 1, FaultKind::Timeout);
    let client = reqwest::Client::builder().timeout(Duration::from_secs(1)).build().unwrap();

    // Act
    let started = Instant::now();
    let result =
        client.patch(sandbox.url(&sandbox.member_path(FRANK))).bearer_auth(&sandbox.bot_key).json(&json!({"level": 8})).send().await;

    // Assert
    let error = result.unwrap_err();
    assert!(error.is_timeout(), "{error:?}");
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(sandbox.handle.member_level(FRANK), Some(1));
    sandbox.handle.clone().shutdown().await;
}

// Random faults come from the seeded generator: the same seed fails the same requests.
#[tokio::test]
async fn random_faults_are_reproducible_for_a_seed() {
    // Arrange
    let config = SandboxConfig::acme_corp()
        .with_rng_seed(1234)
        .with_faults(FaultPlan::random(0.5, vec![FaultKind::ServerError, FaultKind::DatabaseUnavailable]));
    let run = |config: SandboxConfig| async move {
        let sandbox = spawn_with(config).await;
        let mut statuses = Vec::new();
        for _ in 0..20 {
            statuses.push(sandbox.get(&sandbox.bot_key, &sandbox.members_path()).await.status().as_u16());
        }
        statuses
    };

    // Act
    let first = run(config.clone()).await;
    let second = run(config).await;

    // Assert
    assert_eq!(first, second);
    assert!(first.contains(&200));
    assert!(first.iter().any(|s| *s >= 500));
}

// Switches: random faults can be turned on and off at runtime.
#[tokio::test]
async fn fault_rate_can_be_set_and_cleared_at_runtime() {
    // Arrange
    let sandbox = spawn().await;
    sandbox.handle.set_fault_rate(1.0, vec![FaultKind::ServerError]);

    // Act
    let failed = sandbox.get(&sandbox.bot_key, &sandbox.members_path()).await.status().as_u16();
    sandbox.handle.clear_faults();
    let healthy = sandbox.get(&sandbox.bot_key, &sandbox.members_path()).await.status().as_u16();

    // Assert
    assert_eq!(failed, 500);
    assert_eq!(healthy, 200);
}

// Inspection: every request is recorded with method, path and status, never credentials.
#[tokio::test]
async fn requests_are_recorded_without_credentials() {
    // Arrange
    let sandbox = spawn().await;
    sandbox.get(&sandbox.bot_key, &sandbox.members_path()).await;
    sandbox.set_level(&sandbox.bot_key, FRANK, json!(7)).await;

    // Act
    let recorded = sandbox.handle.requests();

    // Assert
    assert_eq!(recorded.len(), 2);
    assert_eq!(recorded[0].method, Method::GET);
    assert_eq!(recorded[0].path, sandbox.members_path());
    assert_eq!(recorded[0].status, Some(200));
    assert_eq!(recorded[1].method, Method::PATCH);
    assert_eq!(recorded[1].status, Some(400));
    assert!(!format!("{recorded:?}").contains(&sandbox.bot_key));
    assert_eq!(sandbox.handle.write_count(), 0);
}

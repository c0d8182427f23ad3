//! Requests that never reach an endpoint's rules: unknown routes, wrong methods, malformed
//! bodies (contract §0 Error body), and the router driven without a server.

use axum::body::Body;
use http::{Request, StatusCode};
use http_body_util::BodyExt;
use posthog_sandbox::{SandboxConfig, SandboxState, router};
use serde_json::{Value, json};
use tower::ServiceExt;

use crate::helpers::{FRANK, error, spawn, status_and_json};

// §0 Error body: NotFound is `invalid_request` / `not_found`.
#[tokio::test]
async fn unknown_route_is_404_in_posthogs_shape() {
    // Arrange
    let sandbox = spawn().await;

    // Act
    let (status, body) = status_and_json(sandbox.get(&sandbox.bot_key, "/api/no_such_thing/").await).await;

    // Assert
    assert_eq!(status, 404);
    assert_eq!(body, error("invalid_request", "not_found", "Not found.", None));
}

// §0 Error body: ParseError is `invalid_request` / `parse_error`.
#[tokio::test]
async fn malformed_json_is_400_parse_error() {
    // Arrange
    let sandbox = spawn().await;

    // Act
    let response = sandbox
        .client
        .patch(sandbox.url(&sandbox.member_path(FRANK)))
        .bearer_auth(&sandbox.bot_key)
        .header("Content-Type", "application/json")
        .body("{\"level\": ")
        .send()
        .await
        .unwrap();

    // Assert
    let (status, body) = status_and_json(response).await;
    assert_eq!(status, 400);
    assert_eq!(body["type"], "invalid_request");
    assert_eq!(body["code"], "parse_error");
    assert!(body["detail"].as_str().unwrap().starts_with("JSON parse error"));
    assert_eq!(sandbox.handle.write_count(), 0);
}

// §0 Error body: MethodNotAllowed is `invalid_request` / `method_not_allowed`.
#[tokio::test]
async fn wrong_method_is_405_in_posthogs_shape() {
    // Arrange
    let sandbox = spawn().await;

    // Act
    let response = sandbox.client.post(sandbox.url(&sandbox.members_path())).bearer_auth(&sandbox.bot_key).send().await.unwrap();

    // Assert
    let (status, body) = status_and_json(response).await;
    assert_eq!(status, 405);
    assert_eq!(body, error("invalid_request", "method_not_allowed", "Method \"POST\" not allowed.", None));
}

// §1: a body that is not an object is DRF's "Expected a dictionary".
#[tokio::test]
async fn non_object_body_is_a_validation_error() {
    // Arrange
    let sandbox = spawn().await;

    // Act
    let (status, body) = status_and_json(sandbox.patch(&sandbox.bot_key, &sandbox.member_path(FRANK), json!([8])).await).await;

    // Assert
    assert_eq!(status, 400);
    assert_eq!(body["detail"], "Invalid data. Expected a dictionary, but got list.");
}

// Style habit 7: the router answers without a server, through `oneshot`.
#[tokio::test]
async fn router_serves_members_without_a_server() {
    // Arrange
    let state = SandboxState::new(&SandboxConfig::acme_corp());
    let request = Request::get(format!("/api/organizations/{}/members/?limit=1", state.organization_id()))
        .header("Authorization", format!("Bearer {}", state.service_api_key()))
        .body(Body::empty())
        .unwrap();

    // Act
    let response = router(state.clone()).oneshot(request).await.unwrap();

    // Assert
    assert_eq!(response.status(), StatusCode::OK);
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    let page: Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(page["count"], 43);
    assert_eq!(page["results"].as_array().unwrap().len(), 1);
    assert_eq!(state.requests().len(), 1);
}

//! Authentication and scopes (contract §0 Authentication, Scope checks, Error body; §6).

use serde_json::json;

use crate::helpers::{ALICE, FRANK, error, forbidden, spawn, status_and_json};

// §0 Error body: 401 `not_authenticated`, with `WWW-Authenticate: Bearer ...`.
#[tokio::test]
async fn missing_credentials_get_401_not_authenticated() {
    // Arrange
    let sandbox = spawn().await;

    // Act
    let response = sandbox.client.get(sandbox.url(&sandbox.members_path())).send().await.unwrap();

    // Assert
    let challenge = response.headers()["www-authenticate"].to_str().unwrap().to_owned();
    let (status, body) = status_and_json(response).await;
    assert_eq!(status, 401);
    assert_eq!(body, error("authentication_error", "not_authenticated", "Authentication credentials were not provided.", None));
    assert!(challenge.starts_with("Bearer"), "{challenge}");
}

// §0 Authentication: an unknown key is 401 `authentication_failed` with PostHog's text.
#[tokio::test]
async fn unknown_key_gets_401_authentication_failed() {
    // Arrange
    let sandbox = spawn().await;

    // Act
    let response = sandbox.get("phx_not_a_real_key", &sandbox.members_path()).await;

    // Assert
    assert!(response.headers().contains_key("www-authenticate"));
    let (status, body) = status_and_json(response).await;
    assert_eq!(status, 401);
    assert_eq!(
        body,
        error("authentication_error", "authentication_failed", "Personal API key found in request Authorization header is invalid.", None)
    );
}

// §0 Authentication: `test_header_resilient` — "Bearer  <key>  " works.
#[tokio::test]
async fn bearer_header_tolerates_extra_whitespace() {
    // Arrange
    let sandbox = spawn().await;

    // Act
    let response = sandbox
        .client
        .get(sandbox.url(&sandbox.members_path()))
        .header("Authorization", format!("Bearer  {}  ", sandbox.bot_key))
        .send()
        .await
        .unwrap();

    // Assert
    assert_eq!(response.status().as_u16(), 200);
}

// §0 Authentication: the query-string fallback works, and is never recorded in clear.
#[tokio::test]
async fn query_string_key_authenticates_and_is_redacted_from_the_log() {
    // Arrange
    let sandbox = spawn().await;
    let url = format!("{}?personal_api_key={}", sandbox.url(&sandbox.members_path()), sandbox.bot_key);

    // Act
    let response = sandbox.client.get(url).send().await.unwrap();

    // Assert
    assert_eq!(response.status().as_u16(), 200);
    let recorded = sandbox.handle.requests();
    let query = recorded[0].query.clone().unwrap();
    assert!(!query.contains(&sandbox.bot_key));
    assert!(query.contains("REDACTED"));
}

// §0 Authentication: keys of inactive users are rejected.
#[tokio::test]
async fn key_of_a_deactivated_user_is_rejected() {
    // Arrange
    let sandbox = spawn().await;
    let alice = sandbox.key_for(ALICE);
    sandbox.handle.deactivate_user(ALICE).unwrap();

    // Act
    let response = sandbox.get(&alice, &sandbox.members_path()).await;

    // Assert
    assert_eq!(response.status().as_u16(), 401);
}

// §9 / §5: a rolled key stops working at once and the new one works.
#[tokio::test]
async fn rolled_key_stops_working() {
    // Arrange
    let sandbox = spawn().await;
    let old = sandbox.key_for(ALICE);

    // Act
    let new = sandbox.handle.roll_api_key(&old).unwrap();

    // Assert
    assert_eq!(sandbox.get(&old, &sandbox.members_path()).await.status().as_u16(), 401);
    assert_eq!(sandbox.get(&new, &sandbox.members_path()).await.status().as_u16(), 200);
    assert!(new.starts_with("phx_"));
}

// §0 Scope checks: a key without the endpoint's scope gets 403 naming the scope.
#[tokio::test]
async fn key_without_the_required_scope_gets_403() {
    // Arrange
    let sandbox = spawn().await;
    let read_only = sandbox.handle.issue_api_key(ALICE, &["organization_member:read"]).unwrap();

    // Act
    let listed = sandbox.get(&read_only, &sandbox.members_path()).await;
    let (status, body) = status_and_json(sandbox.set_level(&read_only, FRANK, json!(8)).await).await;

    // Assert
    assert_eq!(listed.status().as_u16(), 200);
    assert_eq!(status, 403);
    assert_eq!(body, forbidden("API key missing required scope 'organization_member:write'"));
    assert_eq!(sandbox.handle.member_level(FRANK), Some(1));
}

// §0 Scope checks: `:write` satisfies `:read`; other objects are not covered.
#[tokio::test]
async fn write_scope_satisfies_read_of_the_same_object_only() {
    // Arrange
    let sandbox = spawn().await;
    let key = sandbox.handle.issue_api_key(ALICE, &["access_control:write"]).unwrap();
    let access = sandbox.access_path("Production");

    // Act
    let read = sandbox.get(&key, &access).await;
    let (status, body) = status_and_json(sandbox.get(&key, &sandbox.members_path()).await).await;

    // Assert
    assert_eq!(read.status().as_u16(), 200);
    assert_eq!(status, 403);
    assert_eq!(body, forbidden("API key missing required scope 'organization_member:read'"));
}

// §0 Scope checks: current code treats an empty scope list as no access.
#[tokio::test]
async fn key_with_no_scopes_has_no_access() {
    // Arrange
    let sandbox = spawn().await;
    let key = sandbox.handle.issue_api_key(ALICE, &[]).unwrap();

    // Act
    let response = sandbox.get(&key, &sandbox.members_path()).await;

    // Assert
    assert_eq!(response.status().as_u16(), 403);
}

// §5: scopes are `*` or `<object>:<read|write>`; anything else is refused when issued.
#[tokio::test]
async fn invalid_scopes_cannot_be_issued() {
    // Arrange
    let sandbox = spawn().await;

    // Act
    let refused = sandbox.handle.issue_api_key(ALICE, &["invalid"]);

    // Assert
    assert_eq!(refused.unwrap_err().to_string(), "Invalid scope: invalid");
}

// §6: the key acts with its owner's permissions, whatever its scopes.
#[tokio::test]
async fn star_key_of_a_member_still_has_only_member_rights() {
    // Arrange
    let sandbox = spawn().await;
    let frank = sandbox.key_for(FRANK);

    // Act
    let response = sandbox.set_level(&frank, ALICE, json!(1)).await;

    // Assert
    assert_eq!(response.status().as_u16(), 403);
    assert_eq!(sandbox.handle.member_level(ALICE), Some(8));
}

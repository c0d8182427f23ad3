//! Invitations: listing, sending and cancelling (contract §2c), with the scope of §0/§6.

use chrono::Duration;
use posthog_sandbox::{EXPIRED_INVITE, PENDING_INVITE};
use serde_json::{Value, json};

use crate::helpers::{ALICE, BOT, FRANK, QUENTIN, error, forbidden, spawn, status_and_json};

fn emails(page: &Value) -> Vec<String> {
    page["results"].as_array().unwrap().iter().map(|i| i["target_email"].as_str().unwrap().to_owned()).collect()
}

// §2c: the seeded Acme Corp has one pending and one expired invite; neither is a member.
#[tokio::test]
async fn acme_corp_lists_one_pending_and_one_expired_invite() {
    // Arrange
    let sandbox = spawn().await;

    // Act
    let (status, page) = status_and_json(sandbox.get(&sandbox.bot_key, &sandbox.invites_path()).await).await;

    // Assert
    assert_eq!(status, 200);
    assert_eq!(page["count"], 2);
    assert_eq!(emails(&page), vec![PENDING_INVITE, EXPIRED_INVITE]);
    assert_eq!(page["results"][0]["is_expired"], false);
    assert_eq!(page["results"][1]["is_expired"], true);
    assert_eq!(page["results"][0]["created_by"]["email"], ALICE);
    assert_eq!(page["results"][0]["private_project_access"], json!([{"id": sandbox.project("Web App"), "level": "member"}]));
    assert!(sandbox.handle.member_level(PENDING_INVITE).is_none());
}

// §2c, §0 Pagination: paginated, ordered `-created_at`.
#[tokio::test]
async fn invites_page_newest_first() {
    // Arrange
    let sandbox = spawn().await;
    sandbox.handle.invite_as(ALICE, "third@example.com", Duration::hours(1)).unwrap();
    let path = format!("{}?limit=2", sandbox.invites_path());

    // Act
    let (_, first) = status_and_json(sandbox.get(&sandbox.bot_key, &path).await).await;
    let (_, second) = status_and_json(sandbox.get(&sandbox.bot_key, &format!("{}?limit=2&offset=2", sandbox.invites_path())).await).await;

    // Assert
    assert_eq!(first["count"], 3);
    assert_eq!(emails(&first), vec!["third@example.com", PENDING_INVITE]);
    assert_eq!(first["next"], json!(format!("{}?limit=2&offset=2", sandbox.url(&sandbox.invites_path()))));
    assert_eq!(emails(&second), vec![EXPIRED_INVITE]);
    assert_eq!(second["next"], Value::Null);
}

// §2c: POST answers 201 with the invite object; the write-only fields are not echoed.
#[tokio::test]
async fn sending_an_invite_answers_201_with_the_invite() {
    // Arrange
    let sandbox = spawn().await;
    let production = sandbox.project("Production");
    let writes = sandbox.handle.write_count();

    // Act
    let (status, body) = sandbox
        .invite(
            &sandbox.bot_key,
            json!({"target_email": "ada@Example.COM", "first_name": "Ada", "level": 1, "message": "Welcome",
                   "private_project_access": [{"id": production, "level": "member"}], "send_email": true}),
        )
        .await;

    // Assert
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["target_email"], "ada@example.com");
    assert_eq!(body["level"], 1);
    assert_eq!(body["is_expired"], false);
    assert_eq!(body["emailing_attempt_made"], true);
    assert_eq!(body["created_by"]["email"], BOT);
    assert_eq!(body["private_project_access"], json!([{"id": production, "level": "member"}]));
    for field in ["id", "first_name", "created_at", "updated_at", "message"] {
        assert!(body.get(field).is_some(), "{field}");
    }
    assert!(body.get("send_email").is_none() && body.get("combine_pending_invites").is_none());
    assert_eq!(sandbox.handle.write_count(), writes + 1);
}

// §2c: "You cannot invite a user with a higher permission level than your own." (403).
#[tokio::test]
async fn inviting_above_your_own_level_is_403() {
    // Arrange
    let sandbox = spawn().await;
    let alice = sandbox.key_for(ALICE);
    let frank = sandbox.key_for(FRANK);

    // Act
    let (admin_status, admin_body) = sandbox.invite(&alice, json!({"target_email": "boss@example.com", "level": 15})).await;
    let (member_status, member_body) = sandbox.invite(&frank, json!({"target_email": "boss@example.com", "level": 8})).await;
    let (own_status, _) = sandbox.invite(&alice, json!({"target_email": "peer@example.com", "level": 8})).await;

    // Assert
    let expected = forbidden("You cannot invite a user with a higher permission level than your own.");
    assert_eq!((admin_status, admin_body), (403, expected.clone()));
    assert_eq!((member_status, member_body), (403, expected));
    assert_eq!(own_status, 201);
}

// §2c: "A user with this email address already belongs to the organization." (400).
#[tokio::test]
async fn inviting_a_member_is_400() {
    // Arrange
    let sandbox = spawn().await;
    let writes = sandbox.handle.write_count();

    // Act
    let (status, body) = sandbox.invite(&sandbox.bot_key, json!({"target_email": FRANK})).await;

    // Assert
    assert_eq!(status, 400);
    assert_eq!(
        body,
        error("validation_error", "invalid_input", "A user with this email address already belongs to the organization.", None)
    );
    assert_eq!(sandbox.handle.write_count(), writes);
}

// §2c: existing invites for the same email (pending or expired) are deleted.
#[tokio::test]
async fn a_new_invite_replaces_earlier_ones_for_the_same_email() {
    // Arrange
    let sandbox = spawn().await;

    // Act
    let (status, body) = sandbox.invite(&sandbox.bot_key, json!({"target_email": EXPIRED_INVITE})).await;

    // Assert
    assert_eq!(status, 201);
    let invites = sandbox.handle.invites();
    let for_email: Vec<_> = invites.iter().filter(|i| i.target_email == EXPIRED_INVITE).collect();
    assert_eq!(for_email.len(), 1);
    assert_eq!(json!(for_email[0].id), body["id"]);
    assert!(!for_email[0].is_expired);
}

// §2c, §1 Levels: `level` is one of 1, 8, 15; `target_email` is required and an email.
#[tokio::test]
async fn invite_fields_are_validated() {
    // Arrange
    let sandbox = spawn().await;

    // Act
    let (level_status, level_body) = sandbox.invite(&sandbox.bot_key, json!({"target_email": "x@example.com", "level": 5})).await;
    let (missing_status, missing_body) = sandbox.invite(&sandbox.bot_key, json!({"level": 1})).await;
    let (email_status, email_body) = sandbox.invite(&sandbox.bot_key, json!({"target_email": "nope"})).await;

    // Assert
    assert_eq!(
        (level_status, level_body),
        (400, error("validation_error", "invalid_choice", "\"5\" is not a valid choice.", Some("level")))
    );
    assert_eq!(
        (missing_status, missing_body),
        (400, error("validation_error", "required", "This field is required.", Some("target_email")))
    );
    assert_eq!(
        (email_status, email_body),
        (400, error("validation_error", "invalid_input", "Enter a valid email address.", Some("target_email")))
    );
}

// §2c: `private_project_access[].level` must be none/member/admin (the newest validator);
// an unknown project, or a restricted one the inviter cannot administer, is refused.
#[tokio::test]
async fn private_project_access_is_validated() {
    // Arrange
    let sandbox = spawn().await;
    let production = sandbox.project("Production");
    let web_app = sandbox.project("Web App");
    let frank = sandbox.key_for(FRANK);
    let quentin = sandbox.key_for(QUENTIN);
    let not_visible = "Project does not exist on this organization, or it is private and you do not have access to it.";

    // Act
    let (level_status, level_body) = sandbox
        .invite(&sandbox.bot_key, json!({"target_email": "x@example.com", "private_project_access": [{"id": production, "level": 8}]}))
        .await;
    let (unknown_status, unknown_body) = sandbox
        .invite(&sandbox.bot_key, json!({"target_email": "x@example.com", "private_project_access": [{"id": 9999, "level": "member"}]}))
        .await;
    let (member_status, member_body) = sandbox
        .invite(&frank, json!({"target_email": "x@example.com", "private_project_access": [{"id": web_app, "level": "member"}]}))
        .await;
    let (project_admin_status, _) = sandbox
        .invite(&quentin, json!({"target_email": "x@example.com", "private_project_access": [{"id": web_app, "level": "member"}]}))
        .await;

    // Assert
    let invalid = |detail: &str| error("validation_error", "invalid_input", detail, Some("private_project_access"));
    assert_eq!((level_status, level_body), (400, invalid("The \"level\" field must be a valid access level.")));
    assert_eq!((unknown_status, unknown_body), (400, invalid(not_visible)));
    assert_eq!((member_status, member_body), (400, invalid(not_visible)));
    assert_eq!(project_admin_status, 201);
}

// §2c: invites are valid for INVITE_DAYS_VALIDITY = 3 days (`is_expired`), by the clock.
#[tokio::test]
async fn an_invite_expires_three_days_after_it_was_sent() {
    // Arrange
    let sandbox = spawn().await;
    let (_, sent) = sandbox.invite(&sandbox.bot_key, json!({"target_email": "late@example.com"})).await;
    let is_expired =
        |page: &Value| page["results"].as_array().unwrap().iter().find(|i| i["id"] == sent["id"]).map(|i| i["is_expired"].clone()).unwrap();

    // Act
    sandbox.handle.advance_clock(Duration::days(3) - Duration::minutes(1));
    let (_, before) = status_and_json(sandbox.get(&sandbox.bot_key, &sandbox.invites_path()).await).await;
    sandbox.handle.advance_clock(Duration::minutes(2));
    let (_, after) = status_and_json(sandbox.get(&sandbox.bot_key, &sandbox.invites_path()).await).await;

    // Assert
    assert_eq!(is_expired(&before), false);
    assert_eq!(is_expired(&after), true);
}

// §2c: DELETE answers 204 and the invite is gone; an unknown id is 404.
#[tokio::test]
async fn cancelling_an_invite_answers_204_then_404() {
    // Arrange
    let sandbox = spawn().await;
    let id = sandbox.handle.invites().into_iter().find(|i| i.target_email == PENDING_INVITE).unwrap().id;
    let path = format!("{}{id}/", sandbox.invites_path());

    // Act
    let first = sandbox.delete(&sandbox.bot_key, &path).await.status().as_u16();
    let (second, body) = status_and_json(sandbox.delete(&sandbox.bot_key, &path).await).await;

    // Assert
    assert_eq!(first, 204);
    assert_eq!((second, body), (404, error("invalid_request", "not_found", "Not found.", None)));
    assert!(sandbox.handle.invites().iter().all(|i| i.target_email != PENDING_INVITE));
}

// §0 Scope checks, §6: invites need `organization_member:read` to list and `:write` to change.
#[tokio::test]
async fn invites_need_the_organization_member_scopes() {
    // Arrange
    let sandbox = spawn().await;
    let reader = sandbox.handle.issue_api_key(ALICE, &["organization_member:read"]).unwrap();
    let other = sandbox.handle.issue_api_key(ALICE, &["project:write"]).unwrap();

    // Act
    let (list_status, _) = status_and_json(sandbox.get(&reader, &sandbox.invites_path()).await).await;
    let (post_status, post_body) = sandbox.invite(&reader, json!({"target_email": "x@example.com"})).await;
    let (other_status, other_body) = status_and_json(sandbox.get(&other, &sandbox.invites_path()).await).await;

    // Assert
    assert_eq!(list_status, 200);
    assert_eq!((post_status, post_body), (403, forbidden("API key missing required scope 'organization_member:write'")));
    assert_eq!((other_status, other_body), (403, forbidden("API key missing required scope 'organization_member:read'")));
}

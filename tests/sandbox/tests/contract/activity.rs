//! The activity log (contract §8, §13 "membership changes appear in the activity log").

use serde_json::{Value, json};

use crate::helpers::{ALICE, BOT, FRANK, forbidden, spawn, status_and_json};

fn org_log_path(org: &str) -> String {
    format!("/api/organizations/{org}/advanced_activity_logs/")
}

// §8: OrganizationMembership level changes are logged with the acting user; a change made
// in PostHog's UI names that person.
#[tokio::test]
async fn ui_level_change_is_logged_with_the_person_who_made_it() {
    // Arrange
    let sandbox = spawn().await;
    sandbox.handle.set_member_level_as(ALICE, FRANK, 8).unwrap();

    // Act
    let path = org_log_path(&sandbox.handle.organization_id());
    let (status, body) = status_and_json(sandbox.get(&sandbox.bot_key, &path).await).await;

    // Assert
    assert_eq!(status, 200);
    let entry = &body["results"][0];
    assert_eq!(entry["user"]["email"], ALICE);
    assert_eq!(entry["scope"], "OrganizationMembership");
    assert_eq!(entry["activity"], "updated");
    assert_eq!(entry["item_id"], json!(sandbox.membership(FRANK)));
    assert_eq!(entry["organization_id"], json!(sandbox.handle.organization_id()));
    assert_eq!(entry["team_id"], Value::Null);
    let change = &entry["detail"]["changes"][0];
    assert_eq!(change["field"], "level");
    assert_eq!(change["before"], 1);
    assert_eq!(change["after"], 8);
    for field in ["id", "unread", "was_impersonated", "is_system", "client", "ip_address", "created_at"] {
        assert!(entry.get(field).is_some(), "{field}");
    }
    assert_eq!(sandbox.handle.write_count(), 0, "UI changes are not API writes");
}

// §6: the key owner is the actor of API changes.
#[tokio::test]
async fn api_level_change_is_logged_with_the_key_owner() {
    // Arrange
    let sandbox = spawn().await;

    // Act
    sandbox.set_level(&sandbox.bot_key, FRANK, json!(8)).await;

    // Assert
    let log = sandbox.handle.activity_log();
    assert_eq!(log.len(), 1);
    assert_eq!(log[0].actor_email.as_deref(), Some(BOT));
    assert_eq!(log[0].client, "api");
    assert_eq!(log[0].before, json!(1));
    assert_eq!(log[0].after, json!(8));
}

// §1 Removal: the membership delete emits an activity-log row.
#[tokio::test]
async fn removal_is_logged_as_deleted() {
    // Arrange
    let sandbox = spawn().await;

    // Act
    sandbox.delete(&sandbox.bot_key, &sandbox.member_path(FRANK)).await;

    // Assert
    let path = format!("{}?activities=deleted", org_log_path(&sandbox.handle.organization_id()));
    let (_, body) = status_and_json(sandbox.get(&sandbox.bot_key, &path).await).await;
    assert_eq!(body["results"].as_array().unwrap().len(), 1);
    assert_eq!(body["results"][0]["detail"]["name"], FRANK);
}

// §8: the organization log is for org admins and owners only.
#[tokio::test]
async fn organization_log_is_for_admins_only() {
    // Arrange
    let sandbox = spawn().await;
    let frank = sandbox.key_for(FRANK);
    let alice = sandbox.key_for(ALICE);
    let path = org_log_path(&sandbox.handle.organization_id());

    // Act
    let (status, body) = status_and_json(sandbox.get(&frank, &path).await).await;
    let admin = sandbox.get(&alice, &path).await;

    // Assert
    assert_eq!(status, 403);
    assert_eq!(body, forbidden("You do not have permission to perform this action."));
    assert_eq!(admin.status().as_u16(), 200);
}

// §8 [uncertain in PostHog]: the sandbox logs access-control changes in the project's log.
#[tokio::test]
async fn project_access_change_appears_in_the_project_log() {
    // Arrange
    let sandbox = spawn().await;
    let production = sandbox.project("Production");
    sandbox
        .put(
            &sandbox.bot_key,
            &sandbox.access_path("Production"),
            json!({"organization_member": sandbox.membership(FRANK), "access_level": "member"}),
        )
        .await;

    // Act
    let path = format!("/api/projects/{production}/activity_log/?page=1");
    let (status, body) = status_and_json(sandbox.get(&sandbox.bot_key, &path).await).await;

    // Assert
    assert_eq!(status, 200);
    assert_eq!(body["count"], 1);
    let entry = &body["results"][0];
    assert_eq!(entry["scope"], "AccessControl");
    assert_eq!(entry["activity"], "created");
    assert_eq!(entry["team_id"], production);
    assert_eq!(entry["detail"]["changes"][0]["after"], "member");
}

// §0 Pagination: the activity log pages by cursor by default (no `count`), by number with `page`.
#[tokio::test]
async fn project_log_pages_by_cursor_by_default() {
    // Arrange
    let sandbox = spawn().await;
    let production = sandbox.project("Production");
    for email in [FRANK, ALICE, "walter@example.com"] {
        sandbox.handle.set_project_access_as(BOT, production, email, Some("member")).unwrap();
    }
    let path = format!("/api/projects/{production}/activity_log/?page_size=2");

    // Act
    let (_, first) = status_and_json(sandbox.get(&sandbox.bot_key, &path).await).await;
    let next = first["next"].as_str().unwrap().to_owned();
    let relative = next.strip_prefix(&sandbox.handle.base_url()).unwrap().to_owned();
    let (_, second) = status_and_json(sandbox.get(&sandbox.bot_key, &relative).await).await;

    // Assert
    assert!(first.get("count").is_none());
    assert_eq!(first["results"].as_array().unwrap().len(), 2);
    assert!(next.contains("cursor="));
    assert_eq!(second["results"].as_array().unwrap().len(), 1);
    assert_eq!(second["next"], Value::Null);
    assert!(second["previous"].is_string());
}

//! Projects and project access (contract §2a, §6).

use posthog_sandbox::ACCESS_CONTROL_RESOURCES;
use serde_json::{Value, json};

use crate::helpers::{ALICE, FRANK, GRACE, QUENTIN, error, forbidden, spawn, status_and_json};

const WALTER: &str = "walter@example.com";
const VICTOR: &str = "victor@example.com";

fn rows(body: &Value) -> &Vec<Value> {
    body["access_controls"].as_array().unwrap()
}

// §6 List projects; §4 tokens start `phc_`.
#[tokio::test]
async fn projects_list_shows_the_four_seeded_projects() {
    // Arrange
    let sandbox = spawn().await;
    let path = format!("/api/organizations/{}/projects/", sandbox.handle.organization_id());

    // Act
    let (status, page) = status_and_json(sandbox.get(&sandbox.bot_key, &path).await).await;

    // Assert
    assert_eq!(status, 200);
    assert_eq!(page["count"], 4);
    let names: Vec<&str> = page["results"].as_array().unwrap().iter().map(|p| p["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["Production", "Staging", "Web App", "Mobile App"]);
    let production = &page["results"][0];
    assert_eq!(production["id"], 1001);
    assert_eq!(production["organization"], json!(sandbox.handle.organization_id()));
    assert!(production["api_token"].as_str().unwrap().starts_with("phc_"));
    assert!(production["uuid"].is_string());
    assert!(production["created_at"].is_string());
}

// §2a: restricted projects are invisible to members without access.
#[tokio::test]
async fn member_lists_only_the_projects_they_can_access() {
    // Arrange
    let sandbox = spawn().await;
    let frank = sandbox.key_for(FRANK);
    let path = format!("/api/organizations/{}/projects/", sandbox.handle.organization_id());

    // Act
    let (_, page) = status_and_json(sandbox.get(&frank, &path).await).await;

    // Assert
    let names: Vec<&str> = page["results"].as_array().unwrap().iter().map(|p| p["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["Staging", "Web App"]);
}

// §2a GET response shape.
#[tokio::test]
async fn access_controls_get_has_the_documented_shape() {
    // Arrange
    let sandbox = spawn().await;
    let production = sandbox.project("Production");

    // Act
    let (status, body) = status_and_json(sandbox.get(&sandbox.bot_key, &sandbox.access_path("Production")).await).await;

    // Assert
    assert_eq!(status, 200);
    assert_eq!(body["available_access_levels"], json!(["none", "member", "admin"]));
    assert_eq!(body["default_access_level"], "admin");
    assert_eq!(body["minimum_access_level"], "none");
    assert_eq!(body["maximum_access_level"], "admin");
    assert_eq!(body["user_access_level"], "admin");
    assert_eq!(body["user_can_edit_access_levels"], true);
    assert_eq!(body["inherited_resource"], Value::Null);
    assert_eq!(body["inherited_access_level"], Value::Null);
    let default =
        rows(&body).iter().find(|r| r["organization_member"].is_null() && r["role"].is_null()).expect("a project-wide default row");
    assert_eq!(default["access_level"], "none");
    assert_eq!(default["resource"], "project");
    assert_eq!(default["resource_id"], json!(production.to_string()));
    let grace = rows(&body).iter().find(|r| r["organization_member"] == json!(sandbox.membership(GRACE))).expect("grace's row");
    assert_eq!(grace["access_level"], "member");
    for field in ["created_by", "created_at", "updated_at"] {
        assert!(grace.get(field).is_some(), "{field}");
    }
}

// §2a PUT: a member row is upserted and answered with 200 and the row.
#[tokio::test]
async fn putting_member_access_upserts_the_row() {
    // Arrange
    let sandbox = spawn().await;
    let production = sandbox.project("Production");
    let membership = sandbox.membership(FRANK);
    let path = sandbox.access_path("Production");

    // Act
    let (status, row) =
        status_and_json(sandbox.put(&sandbox.bot_key, &path, json!({"organization_member": membership, "access_level": "member"})).await)
            .await;
    let (again_status, again) =
        status_and_json(sandbox.put(&sandbox.bot_key, &path, json!({"organization_member": membership, "access_level": "admin"})).await)
            .await;

    // Assert
    assert_eq!(status, 200);
    assert_eq!(row["access_level"], "member");
    assert_eq!(row["resource"], "project");
    assert_eq!(row["resource_id"], json!(production.to_string()));
    assert_eq!(row["organization_member"], json!(membership));
    assert_eq!(row["role"], Value::Null);
    assert!(row["created_by"].is_i64());
    assert_eq!(again_status, 200);
    assert_eq!(again["created_at"], row["created_at"]);
    assert_eq!(sandbox.handle.project_access(production, FRANK).as_deref(), Some("admin"));
    let (_, body) = status_and_json(sandbox.get(&sandbox.bot_key, &path).await).await;
    let franks = rows(&body).iter().filter(|r| r["organization_member"] == json!(membership)).count();
    assert_eq!(franks, 1);
    assert_eq!(sandbox.handle.write_count(), 2);
}

// §2a PUT: `access_level: null` deletes the row and answers 204; revoking nothing changes nothing.
#[tokio::test]
async fn null_access_level_revokes_with_204() {
    // Arrange
    let sandbox = spawn().await;
    let web_app = sandbox.project("Web App");
    let body = json!({"organization_member": sandbox.membership(FRANK), "access_level": null});
    let path = sandbox.access_path("Web App");

    // Act
    let first = sandbox.put(&sandbox.bot_key, &path, body.clone()).await;
    let second = sandbox.put(&sandbox.bot_key, &path, body).await;

    // Assert
    assert_eq!(first.status().as_u16(), 204);
    assert_eq!(second.status().as_u16(), 204);
    assert_eq!(sandbox.handle.project_access(web_app, FRANK), None);
    assert_eq!(sandbox.handle.write_count(), 1);
}

// §2a: `organization_member` is the membership id; anything else is a 400 on that field.
#[tokio::test]
async fn bad_membership_ids_are_rejected() {
    // Arrange
    let sandbox = spawn().await;
    let path = sandbox.access_path("Production");
    let user_uuid = sandbox.handle.user_uuid(FRANK).unwrap();

    // Act
    let (status, malformed) =
        status_and_json(sandbox.put(&sandbox.bot_key, &path, json!({"organization_member": "frank", "access_level": "member"})).await)
            .await;
    let (uuid_status, unknown) =
        status_and_json(sandbox.put(&sandbox.bot_key, &path, json!({"organization_member": user_uuid, "access_level": "member"})).await)
            .await;

    // Assert
    assert_eq!(status, 400);
    assert_eq!(
        malformed,
        error(
            "validation_error",
            "invalid_input",
            "Invalid organization member id. Use the 'id' field from the /api/organizations/<organization_id>/members/ endpoint.",
            Some("organization_member")
        )
    );
    // A well-formed uuid that is no membership (here: the user uuid) fails the lookup instead.
    assert_eq!(uuid_status, 400);
    assert_eq!(
        unknown,
        error(
            "validation_error",
            "does_not_exist",
            &format!("Invalid pk \"{user_uuid}\" - object does not exist."),
            Some("organization_member")
        )
    );
    assert_eq!(sandbox.handle.write_count(), 0);
}

// §2a Validation: a member and a role together are refused.
#[tokio::test]
async fn member_and_role_together_are_refused() {
    // Arrange
    let sandbox = spawn().await;
    let role = sandbox.handle.add_role("Analysts", &[FRANK]).unwrap();

    // Act
    let (status, body) = status_and_json(
        sandbox
            .put(
                &sandbox.bot_key,
                &sandbox.access_path("Production"),
                json!({"organization_member": sandbox.membership(GRACE), "role": role, "access_level": "member"}),
            )
            .await,
    )
    .await;

    // Assert
    assert_eq!(status, 400);
    assert_eq!(body, error("validation_error", "invalid_input", "You can not scope an access control to both a member and a role.", None));
}

// §2a: role rows grant access to the role's members.
#[tokio::test]
async fn role_row_grants_project_access_to_its_members() {
    // Arrange
    let sandbox = spawn().await;
    let production = sandbox.project("Production");
    let role = sandbox.handle.add_role("On-call", &[WALTER]).unwrap();

    // Act
    let response = sandbox.put(&sandbox.bot_key, &sandbox.access_path("Production"), json!({"role": role, "access_level": "member"})).await;

    // Assert
    assert_eq!(response.status().as_u16(), 200);
    assert_eq!(sandbox.handle.effective_project_level(production, WALTER).as_deref(), Some("member"));
}

// §2a Validation: project levels are none, member, admin.
#[tokio::test]
async fn invalid_access_level_is_refused() {
    // Arrange
    let sandbox = spawn().await;

    // Act
    let (status, body) = status_and_json(
        sandbox
            .put(
                &sandbox.bot_key,
                &sandbox.access_path("Production"),
                json!({"organization_member": sandbox.membership(FRANK), "access_level": "viewer"}),
            )
            .await,
    )
    .await;

    // Assert
    assert_eq!(status, 400);
    assert_eq!(
        body,
        error("validation_error", "invalid_input", "Invalid access level. Must be one of: none, member, admin", Some("access_level"))
    );
}

// §2a: only org admins and the project's explicit admins may change its rules. A project
// rule names the project as resource_id, so PostHog answers "Must be admin to modify project
// permissions." (its serializer's object branch).
#[tokio::test]
async fn project_member_cannot_change_project_access_but_project_admin_can() {
    // Arrange
    let sandbox = spawn().await;
    let frank = sandbox.key_for(FRANK);
    let quentin = sandbox.key_for(QUENTIN);
    let body = json!({"organization_member": sandbox.membership(GRACE), "access_level": "member"});
    let path = sandbox.access_path("Web App");

    // Act
    let (status, refused) = status_and_json(sandbox.put(&frank, &path, body.clone()).await).await;
    let allowed = sandbox.put(&quentin, &path, body).await;

    // Assert
    assert_eq!(status, 403);
    assert_eq!(refused, forbidden("Must be admin to modify project permissions."));
    assert_eq!(allowed.status().as_u16(), 200);
    let (_, view) = status_and_json(sandbox.get(&frank, &path).await).await;
    assert_eq!(view["user_access_level"], "member");
    assert_eq!(view["user_can_edit_access_levels"], false);
}

// §2a: a project the caller cannot access does not exist for them.
#[tokio::test]
async fn restricted_project_is_404_for_a_member_without_access() {
    // Arrange
    let sandbox = spawn().await;
    let frank = sandbox.key_for(FRANK);

    // Act
    let (status, body) = status_and_json(sandbox.get(&frank, &sandbox.access_path("Production")).await).await;

    // Assert
    assert_eq!(status, 404);
    assert_eq!(body, error("invalid_request", "not_found", "Not found.", None));
}

#[tokio::test]
async fn unknown_project_is_404() {
    // Arrange
    let sandbox = spawn().await;

    // Act
    let response = sandbox.get(&sandbox.bot_key, "/api/projects/999999/access_controls/").await;

    // Assert
    assert_eq!(response.status().as_u16(), 404);
}

// §2a PUT without member or role sets the project-wide default: "member" opens the project
// to the whole organization, "none" restricts it again.
#[tokio::test]
async fn project_default_opens_and_restricts_the_project() {
    // Arrange
    let sandbox = spawn().await;
    let production = sandbox.project("Production");
    let walter = sandbox.key_for(WALTER);
    let path = sandbox.access_path("Production");
    assert_eq!(sandbox.get(&walter, &path).await.status().as_u16(), 404);

    // Act
    let opened = sandbox.put(&sandbox.bot_key, &path, json!({"access_level": "member"})).await;
    let while_open = sandbox.get(&walter, &path).await.status().as_u16();
    let restricted = sandbox.put(&sandbox.bot_key, &path, json!({"access_level": "none"})).await;
    let while_restricted = sandbox.get(&walter, &path).await.status().as_u16();

    // Assert
    assert_eq!(opened.status().as_u16(), 200);
    assert_eq!(while_open, 200);
    assert_eq!(restricted.status().as_u16(), 200);
    assert_eq!(while_restricted, 404);
    assert_eq!(sandbox.handle.project_default(production).as_deref(), Some("none"));
}

// §2a: a UI-style default change is visible through the API too.
#[tokio::test]
async fn project_default_set_through_the_handle_is_served() {
    // Arrange
    let sandbox = spawn().await;
    let production = sandbox.project("Production");

    // Act
    sandbox.handle.set_project_default(production, Some("member")).unwrap();

    // Assert
    assert_eq!(sandbox.handle.effective_project_level(production, WALTER).as_deref(), Some("member"));
    let (_, body) = status_and_json(sandbox.get(&sandbox.bot_key, &sandbox.access_path("Production")).await).await;
    assert!(rows(&body).iter().any(|r| r["organization_member"].is_null() && r["access_level"] == "member"));
}

// §2a resource_access_controls: per-resource-type rules, levels none < viewer < editor < manager.
#[tokio::test]
async fn resource_access_controls_grant_viewer_on_a_resource_type() {
    // Arrange
    let sandbox = spawn().await;
    let web_app = sandbox.project("Web App");
    let path = sandbox.resource_access_path("Web App");

    // Act
    let (status, row) = status_and_json(
        sandbox
            .put(
                &sandbox.bot_key,
                &path,
                json!({"resource": "dashboard", "organization_member": sandbox.membership(FRANK), "access_level": "viewer"}),
            )
            .await,
    )
    .await;
    let (_, listed) = status_and_json(sandbox.get(&sandbox.bot_key, &path).await).await;

    // Assert
    assert_eq!(status, 200);
    assert_eq!(row["resource"], "dashboard");
    assert_eq!(row["resource_id"], Value::Null);
    assert_eq!(row["access_level"], "viewer");
    assert_eq!(listed["available_access_levels"], json!(["none", "viewer", "editor", "manager"]));
    assert_eq!(listed["default_access_level"], "editor");
    assert_eq!(listed["maximum_access_level"], "manager");
    assert_eq!(rows(&listed).len(), 1);
    assert_eq!(sandbox.handle.resource_access(web_app, FRANK), vec![("dashboard".to_owned(), "viewer".to_owned())]);
}

// §2a resource levels: member levels do not apply to resources, and limits are per resource.
#[tokio::test]
async fn resource_access_levels_are_checked_per_resource() {
    // Arrange
    let sandbox = spawn().await;
    let path = sandbox.resource_access_path("Web App");
    let member = sandbox.membership(FRANK);

    // Act
    let (_, wrong_set) = status_and_json(
        sandbox
            .put(&sandbox.bot_key, &path, json!({"resource": "dashboard", "organization_member": member, "access_level": "admin"}))
            .await,
    )
    .await;
    let (_, above_max) = status_and_json(
        sandbox
            .put(&sandbox.bot_key, &path, json!({"resource": "activity_log", "organization_member": member, "access_level": "editor"}))
            .await,
    )
    .await;
    let (_, unknown) = status_and_json(
        sandbox
            .put(&sandbox.bot_key, &path, json!({"resource": "spaceships", "organization_member": member, "access_level": "viewer"}))
            .await,
    )
    .await;

    // Assert
    assert_eq!(wrong_set["detail"], "Invalid access level. Must be one of: none, viewer, editor, manager");
    assert_eq!(above_max["detail"], "Access level cannot be set above the maximum 'viewer' for activity_log.");
    assert_eq!(unknown["attr"], "resource");
    assert!(unknown["detail"].as_str().unwrap().starts_with("Invalid resource. Must be one of: ('action'"));
}

// §2a: resource-level rules need an org admin or project admin.
#[tokio::test]
async fn project_member_cannot_change_resource_access() {
    // Arrange
    let sandbox = spawn().await;
    let frank = sandbox.key_for(FRANK);

    // Act
    let (status, body) = status_and_json(
        sandbox.put(&frank, &sandbox.resource_access_path("Web App"), json!({"resource": "dashboard", "access_level": "viewer"})).await,
    )
    .await;

    // Assert
    assert_eq!(status, 403);
    assert_eq!(body, forbidden("Must be an Organization admin to modify project-wide permissions."));
}

// Seed / DESIGN.md: project Viewer = project `member` + resource `viewer` on every resource type.
#[tokio::test]
async fn seeded_viewers_have_viewer_on_every_resource_of_production() {
    // Arrange
    let sandbox = spawn().await;
    let production = sandbox.project("Production");

    // Act
    let resources = sandbox.handle.resource_access(production, VICTOR);

    // Assert
    assert_eq!(sandbox.handle.project_access(production, VICTOR).as_deref(), Some("member"));
    assert_eq!(resources.len(), ACCESS_CONTROL_RESOURCES.len());
    assert!(resources.iter().all(|(_, level)| level == "viewer"));
    let (_, listed) = status_and_json(sandbox.get(&sandbox.bot_key, &sandbox.resource_access_path("Production")).await).await;
    assert_eq!(rows(&listed).len(), 2 * ACCESS_CONTROL_RESOURCES.len());
}

// §2a users_with_access: who has access and where it comes from, highest level first.
#[tokio::test]
async fn users_with_access_names_each_source() {
    // Arrange
    let sandbox = spawn().await;
    let path = format!("/api/projects/{}/users_with_access/", sandbox.project("Production"));

    // Act
    let (status, body) = status_and_json(sandbox.get(&sandbox.bot_key, &path).await).await;

    // Assert
    assert_eq!(status, 200);
    let users = body["users"].as_array().unwrap();
    // The owner, five admins, and grace, heidi, victor and wendy explicitly.
    assert_eq!(body["total_count"], 10);
    assert_eq!(users.len(), 10);
    let of = |email: &str| {
        let uuid = json!(sandbox.handle.user_uuid(email).unwrap());
        users.iter().find(|u| u["user_id"] == uuid).cloned().unwrap_or(Value::Null)
    };
    assert_eq!(of(ALICE)["access_source"], "organization_admin");
    assert_eq!(of(ALICE)["access_level"], "admin");
    assert_eq!(of(ALICE)["organization_membership_level"], "admin");
    assert_eq!(of(GRACE)["access_source"], "explicit_member");
    assert_eq!(of(GRACE)["access_level"], "member");
    assert_eq!(of(GRACE)["organization_membership_id"], json!(sandbox.membership(GRACE)));
    assert_eq!(of(FRANK), Value::Null);
    let levels: Vec<&str> = users.iter().map(|u| u["access_level"].as_str().unwrap()).collect();
    assert!(levels.windows(2).all(|w| !(w[0] == "member" && w[1] == "admin")));
}

// §2a users_with_access: a project open to everyone reports `default` as the source.
#[tokio::test]
async fn users_with_access_reports_default_for_an_open_project() {
    // Arrange
    let sandbox = spawn().await;
    let production = sandbox.project("Production");
    sandbox.handle.set_project_default(production, Some("member")).unwrap();
    let path = format!("/api/projects/{production}/users_with_access/");

    // Act
    let (_, body) = status_and_json(sandbox.get(&sandbox.bot_key, &path).await).await;

    // Assert
    assert_eq!(body["total_count"], 43);
    let walter = json!(sandbox.handle.user_uuid(WALTER).unwrap());
    let entry = body["users"].as_array().unwrap().iter().find(|u| u["user_id"] == walter).unwrap();
    assert_eq!(entry["access_source"], "default");
}

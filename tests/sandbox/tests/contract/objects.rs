//! Objects and ownership (contract §11): `created_by` lists with PostHog's creator filters,
//! per-object access controls, and what removing a member leaves behind.

use posthog_sandbox::ObjectKind;
use serde_json::{Value, json};

use crate::helpers::*;

const LAURA: &str = "laura@example.com";

fn names(body: &Value, field: &str) -> Vec<String> {
    body["results"].as_array().unwrap().iter().map(|o| o[field].as_str().unwrap_or_default().to_owned()).collect()
}

fn user_id(body: &Value) -> i64 {
    body["results"].as_array().unwrap().iter().find(|o| o["created_by"]["email"] == LAURA).unwrap()["created_by"]["id"].as_i64().unwrap()
}

#[tokio::test]
async fn lists_carry_created_by_and_filter_by_creator_as_posthog_does() {
    let sb = spawn().await;
    let web = sb.project("Web App");
    let (status, dashboards) = status_and_json(sb.get(&sb.bot_key, &format!("/api/projects/{web}/dashboards/")).await).await;
    assert_eq!(status, 200);
    assert_eq!(dashboards["count"], 2);
    let laura_id = user_id(&dashboards);
    assert_eq!(dashboards["results"][0]["created_by"]["email"], LAURA);

    let (_, insights) = status_and_json(sb.get(&sb.bot_key, &format!("/api/projects/{web}/insights/?created_by={laura_id}")).await).await;
    assert_eq!(names(&insights, "name"), ["Signup conversion", "Untitled draft"]);
    let (_, drafts) =
        status_and_json(sb.get(&sb.bot_key, &format!("/api/projects/{web}/insights/?created_by={laura_id}&saved=false")).await).await;
    assert_eq!(names(&drafts, "name"), ["Untitled draft"]);
    assert_eq!(drafts["results"][0]["saved"], false);
    let (status, bad) = status_and_json(sb.get(&sb.bot_key, &format!("/api/projects/{web}/insights/?created_by=abc")).await).await;
    assert_eq!(status, 400);
    assert_eq!(bad["attr"], "created_by");

    let (_, flags) =
        status_and_json(sb.get(&sb.bot_key, &format!("/api/projects/{web}/feature_flags/?created_by_id={laura_id}")).await).await;
    assert_eq!(names(&flags, "key"), ["new-checkout"]);

    let uuid = sb.handle.user_uuid(LAURA).unwrap();
    let (_, notebooks) = status_and_json(sb.get(&sb.bot_key, &format!("/api/projects/{web}/notebooks/?created_by={uuid}")).await).await;
    assert_eq!(names(&notebooks, "title"), ["Checkout experiment notes"]);
    assert!(notebooks["results"][0]["id"].as_str().unwrap().contains('-'), "a notebook's id is a uuid");
}

#[tokio::test]
async fn object_lists_need_the_resource_scope() {
    let sb = spawn().await;
    let web = sb.project("Web App");
    let key = sb.handle.issue_api_key(BOT, &["access_control:read"]).unwrap();
    let (status, body) = status_and_json(sb.get(&key, &format!("/api/projects/{web}/feature_flags/")).await).await;
    assert_eq!(status, 403);
    assert_eq!(body, forbidden("API key missing required scope 'feature_flag:read'"));
}

#[tokio::test]
async fn per_object_access_controls_grant_manager_on_one_object() {
    let sb = spawn().await;
    let web = sb.project("Web App");
    let object = sb.handle.objects_created_by(LAURA).into_iter().find(|o| o.kind == ObjectKind::Dashboard && o.project_id == web).unwrap();
    let path = format!("/api/projects/{web}/dashboards/{}/access_controls/", object.lookup);
    let grace = sb.membership(GRACE);
    let (status, row) =
        status_and_json(sb.put(&sb.bot_key, &path, json!({"organization_member": grace, "access_level": "manager"})).await).await;
    assert_eq!(status, 200, "{row}");
    assert_eq!(row["resource"], "dashboard");
    assert_eq!(row["resource_id"], object.lookup);
    assert_eq!(row["access_level"], "manager");
    assert_eq!(sb.handle.object_access(ObjectKind::Dashboard, web, &object.lookup, GRACE).as_deref(), Some("manager"));

    let (_, listed) = status_and_json(sb.get(&sb.bot_key, &path).await).await;
    assert_eq!(listed["access_controls"].as_array().unwrap().len(), 1);
    assert_eq!(listed["available_access_levels"], json!(["none", "viewer", "editor", "manager"]));
    // A project level is not a resource level.
    let (status, bad) =
        status_and_json(sb.put(&sb.bot_key, &path, json!({"organization_member": grace, "access_level": "admin"})).await).await;
    assert_eq!(status, 400);
    assert_eq!(bad["attr"], "access_level");
    // The URL names the resource, whatever the body says.
    let (status, row) = status_and_json(
        sb.put(&sb.bot_key, &path, json!({"organization_member": grace, "access_level": "viewer", "resource": "insight"})).await,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(row["resource"], "dashboard");
    // Unknown objects are 404.
    let (status, _) = status_and_json(
        sb.put(&sb.bot_key, &format!("/api/projects/{web}/dashboards/99999/access_controls/"), json!({"access_level": "viewer"})).await,
    )
    .await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn notebooks_are_addressed_by_short_id_and_rows_keep_their_uuid() {
    let sb = spawn().await;
    let web = sb.project("Web App");
    let notebook = sb.handle.objects_created_by(LAURA).into_iter().find(|o| o.kind == ObjectKind::Notebook).unwrap();
    let path = format!("/api/projects/{web}/notebooks/{}/access_controls/", notebook.lookup);
    let (status, row) =
        status_and_json(sb.put(&sb.bot_key, &path, json!({"organization_member": sb.membership(GRACE), "access_level": "manager"})).await)
            .await;
    assert_eq!(status, 200);
    assert_ne!(row["resource_id"], notebook.lookup);
    assert!(row["resource_id"].as_str().unwrap().contains('-'));
}

#[tokio::test]
async fn only_managers_creators_and_admins_change_an_objects_rules() {
    let sb = spawn().await;
    let web = sb.project("Web App");
    let flag = sb.handle.objects_created_by(LAURA).into_iter().find(|o| o.kind == ObjectKind::FeatureFlag).unwrap();
    let path = format!("/api/projects/{web}/feature_flags/{}/access_controls/", flag.lookup);
    let niaj = sb.key_for("niaj@example.com");
    let (status, body) =
        status_and_json(sb.put(&niaj, &path, json!({"organization_member": sb.membership(GRACE), "access_level": "manager"})).await).await;
    assert_eq!(status, 403);
    assert_eq!(body, forbidden("Must be manager to modify feature_flag permissions."));
    let laura = sb.key_for(LAURA);
    let (status, _) =
        status_and_json(sb.put(&laura, &path, json!({"organization_member": sb.membership(GRACE), "access_level": "manager"})).await).await;
    assert_eq!(status, 200, "the creator may");
}

#[tokio::test]
async fn removing_a_member_keeps_their_objects_and_drops_their_rows_only() {
    let sb = spawn().await;
    let web = sb.project("Web App");
    let before = sb.handle.objects_created_by(LAURA);
    assert_eq!(before.len(), 6);
    let dashboard = before.iter().find(|o| o.kind == ObjectKind::Dashboard && o.project_id == web).unwrap();
    let path = format!("/api/projects/{web}/dashboards/{}/access_controls/", dashboard.lookup);
    for who in [LAURA, GRACE] {
        let (status, _) = status_and_json(
            sb.put(&sb.bot_key, &path, json!({"organization_member": sb.membership(who), "access_level": "manager"})).await,
        )
        .await;
        assert_eq!(status, 200);
    }
    let (status, _) = status_and_json(sb.delete(&sb.bot_key, &sb.member_path(LAURA)).await).await;
    assert_eq!(status, 204);
    // `created_by` is SET_NULL only when the user is deleted; removing the membership keeps
    // the user, so the objects (the unsaved draft included) stay, credited to them.
    assert_eq!(sb.handle.objects_created_by(LAURA), before);
    let (_, listed) = status_and_json(sb.get(&sb.bot_key, &path).await).await;
    let rows = listed["access_controls"].as_array().unwrap();
    assert_eq!(rows.len(), 1, "the departed member's row goes with the membership: {listed}");
    assert_eq!(rows[0]["organization_member"], sb.membership(GRACE));
}

//! Keys (contract §4 project token and project secret API keys, §5 personal API keys, §9
//! revoke_leaked_key and capture).

use serde_json::{Value, json};

use crate::helpers::{ALICE, BOT, FRANK, TestSandbox, error, forbidden, spawn, status_and_json};

const NO_PAK_ACTION: &str = "This action does not support personal API key access";
const NO_PAK_SELF: &str = "This action does not support Personal API Key access";

impl TestSandbox {
    fn secret_keys_path(&self, project: &str) -> String {
        format!("/api/projects/{}/project_secret_api_keys/", self.project(project))
    }

    async fn create_secret_key(&self, project: &str, label: &str) -> Value {
        let path = self.secret_keys_path(project);
        let (status, body) =
            status_and_json(self.post(&self.bot_key, &path, json!({ "label": label, "scopes": ["feature_flag:read"] })).await).await;
        assert_eq!(status, 201, "{body}");
        body
    }

    async fn local_evaluation(&self, bearer: &str) -> u16 {
        self.get(bearer, "/api/feature_flag/local_evaluation/").await.status().as_u16()
    }

    async fn capture(&self, body: Value) -> (u16, String) {
        let response = self.client.post(self.url("/i/v0/e/")).json(&body).send().await.unwrap();
        (response.status().as_u16(), response.text().await.unwrap())
    }
}

// §4 Project secret API keys: create returns the `phs_` value once, list shows only the mask.
#[tokio::test]
async fn secret_keys_are_created_with_a_value_shown_once() {
    let sandbox = spawn().await;

    let created = sandbox.create_secret_key("Production", "flags-server").await;
    let (status, list) = status_and_json(sandbox.get(&sandbox.bot_key, &sandbox.secret_keys_path("Production")).await).await;

    let value = created["value"].as_str().unwrap();
    assert!(value.starts_with("phs_") && value.len() > 40, "{value}");
    assert_eq!(created["scopes"], json!(["feature_flag:read"]));
    assert_eq!(created["mask_value"], format!("{}...{}", &value[..4], &value[value.len() - 4..]));
    assert_eq!(status, 200);
    assert_eq!(list["count"], 1);
    assert_eq!(list["results"][0]["value"], Value::Null);
    assert_eq!(list["results"][0]["label"], "flags-server");
}

// §4: labels are unique per project; only endpoint:read and feature_flag:read; no `*`.
#[tokio::test]
async fn secret_key_labels_and_scopes_are_validated() {
    let sandbox = spawn().await;
    let path = sandbox.secret_keys_path("Production");
    sandbox.create_secret_key("Production", "dup").await;

    let (dup, dup_body) =
        status_and_json(sandbox.post(&sandbox.bot_key, &path, json!({"label":"dup","scopes":["feature_flag:read"]})).await).await;
    let (star, star_body) = status_and_json(sandbox.post(&sandbox.bot_key, &path, json!({"label":"x","scopes":["*"]})).await).await;
    let (other, other_body) =
        status_and_json(sandbox.post(&sandbox.bot_key, &path, json!({"label":"y","scopes":["project:read"]})).await).await;

    assert_eq!((dup, star, other), (400, 400, 400));
    assert_eq!(dup_body["detail"], "Project secret API key with label 'dup' already exists.");
    assert_eq!(star_body["attr"], "scopes");
    assert!(other_body["detail"].as_str().unwrap().starts_with("Scope 'project:read' can not be assigned"), "{other_body}");
    assert_eq!(sandbox.handle.secret_keys(sandbox.project("Production")).len(), 1);
}

// §4: writes need project admin (`TeamMemberStrictManagementPermission`).
#[tokio::test]
async fn only_project_admins_create_secret_keys() {
    let sandbox = spawn().await;
    let frank = sandbox.key_for(FRANK);
    let path = sandbox.secret_keys_path("Production");

    let (status, body) = status_and_json(sandbox.post(&frank, &path, json!({"label":"x","scopes":["feature_flag:read"]})).await).await;

    assert!(status == 403 || status == 404, "{status} {body}");
    if status == 403 {
        assert_eq!(body, forbidden("You don't have sufficient permissions in the project."));
    }
    assert!(sandbox.handle.secret_keys(sandbox.project("Production")).is_empty());
}

// §4: a `phs_` key is a bearer for local evaluation; rolled → old dies; deleted → dies.
#[tokio::test]
async fn secret_keys_authenticate_local_evaluation_until_rolled_or_deleted() {
    let sandbox = spawn().await;
    let created = sandbox.create_secret_key("Production", "flags").await;
    let (id, old) = (created["id"].as_str().unwrap().to_owned(), created["value"].as_str().unwrap().to_owned());
    let key_path = format!("{}{id}/", sandbox.secret_keys_path("Production"));

    assert_eq!(sandbox.local_evaluation(&old).await, 200);
    let (rolled, body) = status_and_json(sandbox.post(&sandbox.bot_key, &format!("{key_path}roll/"), json!({})).await).await;
    let new = body["value"].as_str().unwrap().to_owned();

    assert_eq!(rolled, 200);
    assert_ne!(new, old);
    assert!(body["last_rolled_at"].is_string());
    assert_eq!(sandbox.local_evaluation(&old).await, 401);
    assert_eq!(sandbox.local_evaluation(&new).await, 200);
    assert_eq!(sandbox.delete(&sandbox.bot_key, &key_path).await.status().as_u16(), 204);
    assert_eq!(sandbox.local_evaluation(&new).await, 401);
    assert_eq!(sandbox.delete(&sandbox.bot_key, &key_path).await.status().as_u16(), 404);
}

// §4: a `phs_` key is no personal API key: the REST API refuses it.
#[tokio::test]
async fn secret_keys_do_not_open_the_rest_api() {
    let sandbox = spawn().await;
    let created = sandbox.create_secret_key("Production", "flags").await;

    let (status, _) = status_and_json(sandbox.get(created["value"].as_str().unwrap(), &sandbox.members_path()).await).await;

    assert_eq!(status, 401);
}

// §4 reset_token: session only; a `*` personal API key gets PostHog's 403 and nothing changes.
#[tokio::test]
async fn reset_token_refuses_personal_api_keys() {
    let sandbox = spawn().await;
    let project = sandbox.project("Production");
    let before = sandbox.handle.project_token(project).unwrap();
    let star = sandbox.key_for(ALICE);

    let response = sandbox.patch(&star, &format!("/api/projects/{project}/reset_token/"), json!({})).await;
    let (status, body) = status_and_json(response).await;
    let unknown = sandbox.patch("phx_unknown_key_value", &format!("/api/environments/{project}/reset_token/"), json!({})).await;

    assert_eq!(status, 403);
    assert_eq!(body, forbidden(NO_PAK_ACTION));
    assert_eq!(unknown.status().as_u16(), 401);
    assert_eq!(sandbox.handle.project_token(project).unwrap(), before);
}

// §4: a project admin's session creates a secret key under create's rules; it works at once
// and the list shows only its mask.
#[tokio::test]
async fn a_session_creates_secret_keys_under_the_same_rules_as_the_api() {
    let sandbox = spawn().await;
    let project = sandbox.project("Production");

    let refused = sandbox.handle.create_secret_key_as(FRANK, project, "frank's", &["feature_flag:read"]);
    let wildcard = sandbox.handle.create_secret_key_as(ALICE, project, "all", &["*"]);
    let made = sandbox.handle.create_secret_key_as(ALICE, project, "edge", &["feature_flag:read"]).unwrap();
    let twice = sandbox.handle.create_secret_key_as(ALICE, project, "edge", &["feature_flag:read"]);

    assert!(refused.is_err() && wildcard.is_err());
    assert!(twice.unwrap_err().to_string().contains("label 'edge' already exists"));
    assert!(made.value.starts_with("phs_"));
    assert_eq!(sandbox.local_evaluation(&made.value).await, 200);
    let (_, listed) = status_and_json(sandbox.get(&sandbox.bot_key, &sandbox.secret_keys_path("Production")).await).await;
    let shown = &listed["results"][0];
    assert_eq!(shown["id"], made.id.as_str());
    assert_eq!(shown["mask_value"], format!("phs_...{}", &made.value[made.value.len() - 4..]));
    assert!(shown["value"].is_null());
}

// §4: the session reset gives a new `phc_` token (project admins only), logged in the activity log.
#[tokio::test]
async fn session_reset_gives_a_new_token_and_is_logged() {
    let sandbox = spawn().await;
    let project = sandbox.project("Production");
    let before = sandbox.handle.project_token(project).unwrap();

    let refused = sandbox.handle.reset_project_token_as(FRANK, project);
    let new = sandbox.handle.reset_project_token_as(ALICE, project).unwrap();

    assert!(refused.is_err());
    assert!(new.starts_with("phc_") && new != before);
    let (_, projects) =
        status_and_json(sandbox.get(&sandbox.bot_key, &format!("/api/organizations/{}/projects/", sandbox.handle.organization_id())).await)
            .await;
    let listed = projects["results"].as_array().unwrap().iter().find(|p| p["id"] == project).unwrap();
    assert_eq!(listed["api_token"], new);
    assert!(sandbox.handle.activity_log().iter().any(|a| a.scope == "Team" && a.field.as_deref() == Some("api_token")));
}

// §5: with a personal API key only `retrieve` of the key itself works (`@current` too).
#[tokio::test]
async fn personal_api_keys_can_only_read_themselves() {
    let sandbox = spawn().await;
    let own_id = sandbox.handle.personal_keys_of(BOT)[0].id.clone();

    let (current, body) = status_and_json(sandbox.get(&sandbox.bot_key, "/api/personal_api_keys/@current/").await).await;
    let (by_id, _) = status_and_json(sandbox.get(&sandbox.bot_key, &format!("/api/personal_api_keys/{own_id}/")).await).await;
    let (list, list_body) = status_and_json(sandbox.get(&sandbox.bot_key, "/api/personal_api_keys/").await).await;
    let (create, _) =
        status_and_json(sandbox.post(&sandbox.bot_key, "/api/personal_api_keys/", json!({"label":"x","scopes":["*"]})).await).await;
    let (roll, roll_body) =
        status_and_json(sandbox.post(&sandbox.bot_key, &format!("/api/personal_api_keys/{own_id}/roll/"), json!({})).await).await;
    let org = format!("/api/organizations/{}/personal_api_keys/", sandbox.handle.organization_id());
    let (inventory, inventory_body) = status_and_json(sandbox.get(&sandbox.bot_key, &org).await).await;

    assert_eq!((current, by_id), (200, 200));
    assert_eq!(body["id"], own_id);
    assert_eq!(body["value"], Value::Null);
    assert!(body["mask_value"].as_str().unwrap().starts_with("phx_..."));
    assert!(body["last_used_at"].is_string(), "the request itself counts as a use: {body}");
    assert!(body.get("last_rolled_at").is_some() && body.get("label").is_some() && body.get("scopes").is_some());
    assert_eq!((list, create, roll, inventory), (403, 403, 403, 403));
    assert_eq!(list_body, forbidden(NO_PAK_SELF));
    assert_eq!(roll_body, forbidden(NO_PAK_SELF));
    assert_eq!(inventory_body, forbidden(NO_PAK_ACTION));
}

// §5: another person's key is "Not found." (the queryset is the caller's own keys).
#[tokio::test]
async fn someone_elses_personal_key_is_not_found() {
    let sandbox = spawn().await;
    let alice = sandbox.key_for(ALICE);
    let alice_key = sandbox.handle.personal_keys_of(ALICE)[0].id.clone();

    let (status, body) = status_and_json(sandbox.get(&sandbox.bot_key, &format!("/api/personal_api_keys/{alice_key}/")).await).await;

    assert_eq!(status, 404);
    assert_eq!(body, error("invalid_request", "not_found", "Not found.", None));
    let _ = alice;
}

// §5: only the owner rolls their key (from a session); the old value dies, last_rolled_at is set.
#[tokio::test]
async fn only_the_owner_rolls_a_personal_key() {
    let sandbox = spawn().await;
    let old = sandbox.handle.create_personal_key_as(FRANK, "laptop", &["project:read"], chrono::Duration::days(200)).unwrap();
    let id = sandbox.handle.personal_keys_of(FRANK)[0].id.clone();

    let by_admin = sandbox.handle.roll_personal_key_as(ALICE, &id);
    let new = sandbox.handle.roll_personal_key_as(FRANK, &id).unwrap();

    assert!(by_admin.is_err());
    assert_ne!(new, old);
    let record = &sandbox.handle.personal_keys_of(FRANK)[0];
    assert_eq!(record.label, "laptop");
    assert!(record.last_rolled_at.is_some());
    assert_eq!(sandbox.get(&old, "/api/personal_api_keys/@current/").await.status().as_u16(), 401);
    assert_eq!(sandbox.get(&new, "/api/personal_api_keys/@current/").await.status().as_u16(), 200);
}

// §9 revoke_leaked_key: public; a personal key is rolled and its owner emailed.
#[tokio::test]
async fn a_reported_personal_key_is_rolled_and_its_owner_told() {
    let sandbox = spawn().await;
    let leaked = sandbox.handle.create_personal_key_as(FRANK, "ci", &["project:read"], chrono::Duration::days(1)).unwrap();

    let response = sandbox.client.post(sandbox.url("/api/revoke_leaked_key")).json(&json!({ "token": leaked })).send().await.unwrap();
    let (status, body) = status_and_json(response).await;

    assert_eq!(status, 200);
    assert_eq!(body, json!({ "found": true, "type": "personal_api_key" }));
    assert_eq!(sandbox.get(&leaked, "/api/personal_api_keys/@current/").await.status().as_u16(), 401);
    let emails = sandbox.handle.exposed_key_emails();
    assert_eq!(emails.len(), 1);
    assert_eq!(emails[0].to, FRANK);
    assert!(!format!("{emails:?}").contains(&leaked));
}

// §9: a project secret key is rolled; an unknown token is `found: false`; bad bodies are 400.
#[tokio::test]
async fn revoke_leaked_key_handles_secret_keys_unknown_tokens_and_bad_bodies() {
    let sandbox = spawn().await;
    let created = sandbox.create_secret_key("Production", "flags").await;
    let value = created["value"].as_str().unwrap();
    let url = sandbox.url("/api/revoke_leaked_key/");

    let (found, found_body) = status_and_json(sandbox.client.post(&url).json(&json!({ "token": value })).send().await.unwrap()).await;
    let (missing, missing_body) =
        status_and_json(sandbox.client.post(&url).json(&json!({ "token": "phx_nope" })).send().await.unwrap()).await;
    let (empty, empty_body) = status_and_json(sandbox.client.post(&url).json(&json!({})).send().await.unwrap()).await;
    let long = "x".repeat(201);
    let (too_long, _) = status_and_json(sandbox.client.post(&url).json(&json!({ "token": long })).send().await.unwrap()).await;

    assert_eq!((found, missing, empty, too_long), (200, 200, 400, 400));
    assert_eq!(found_body, json!({ "found": true, "type": "project_secret_api_key" }));
    assert_eq!(missing_body, json!({ "found": false, "type": null }));
    assert_eq!(empty_body, error("validation_error", "required", "This field is required.", Some("token")));
    assert_eq!(sandbox.local_evaluation(value).await, 401);
}

// §9 (LeakedKeyReportThrottle): 10 reports a minute.
#[tokio::test]
async fn revoke_leaked_key_is_throttled() {
    let sandbox = spawn().await;
    let url = sandbox.url("/api/revoke_leaked_key");
    for _ in 0..10 {
        assert_eq!(sandbox.client.post(&url).json(&json!({ "token": "phx_x" })).send().await.unwrap().status().as_u16(), 200);
    }

    let response = sandbox.client.post(&url).json(&json!({ "token": "phx_x" })).send().await.unwrap();

    assert_eq!(response.status().as_u16(), 429);
    assert!(response.headers().contains_key("retry-after"));
}

// Capture: only a token a project holds is accepted; a reset token stops at once.
#[tokio::test]
async fn capture_accepts_only_a_current_project_token() {
    let sandbox = spawn().await;
    let project = sandbox.project("Production");
    let token = sandbox.handle.project_token(project).unwrap();
    let event = |token: &str| json!({ "api_key": token, "event": "hogwarden test", "distinct_id": "hogwarden" });

    let (ok, ok_body) = sandbox.capture(event(&token)).await;
    let (none, _) = sandbox.capture(json!({ "event": "x", "distinct_id": "d" })).await;
    let (unknown, _) = sandbox.capture(event("phc_not_a_project_token")).await;
    let (no_distinct, _) = sandbox.capture(json!({ "api_key": token, "event": "x" })).await;
    sandbox.handle.reset_project_token_as(ALICE, project).unwrap();
    let (old, _) = sandbox.capture(event(&token)).await;

    assert_eq!(ok, 200);
    assert_eq!(serde_json::from_str::<Value>(&ok_body).unwrap(), json!({ "status": "Ok" }));
    assert_eq!((none, unknown, no_distinct, old), (401, 401, 400, 401));
    let events = sandbox.handle.captured_events(project);
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].event, "hogwarden test");
}

// §5 (keys-alerts): the organization's list of everyone's personal keys, as a signed-in org
// admin's session reads it (a personal API key gets 403, see above): PostHog's
// `OrganizationPersonalAPIKeySerializer` fields only, never a value, limit/offset pages;
// a plain member's session is refused.
#[tokio::test]
async fn the_organization_personal_key_list_is_for_admin_sessions_and_holds_no_values() {
    let sandbox = spawn().await;
    let frank_key = sandbox.handle.create_personal_key_as(FRANK, "laptop", &["project:read"], chrono::Duration::days(200)).unwrap();

    let page = sandbox.handle.organization_personal_keys_as(ALICE, 100, 0).unwrap();
    let small = sandbox.handle.organization_personal_keys_as(ALICE, 1, 0).unwrap();
    let by_member = sandbox.handle.organization_personal_keys_as(FRANK, 100, 0);

    let results = page["results"].as_array().unwrap();
    assert_eq!(page["count"].as_u64().unwrap() as usize, results.len());
    assert_eq!(page["next"], Value::Null);
    let frank = results.iter().find(|k| k["owner"]["email"] == FRANK).expect("Frank's key is listed");
    let mut fields: Vec<&str> = frank.as_object().unwrap().keys().map(String::as_str).collect();
    fields.sort_unstable();
    assert_eq!(fields, ["access_scope", "created_at", "last_used_at", "mask_value", "owner", "scopes"]);
    assert_eq!(frank["scopes"], json!(["project:read"]));
    assert_eq!(frank["access_scope"]["type"], "all");
    assert!(frank["mask_value"].as_str().unwrap().starts_with("phx_..."));
    assert!(!page.to_string().contains(&frank_key), "the list never holds a key value");
    assert!(!page.to_string().contains("\"label\""), "PostHog's organization list carries no label");
    assert_eq!(small["results"].as_array().unwrap().len(), 1);
    assert!(small["next"].as_str().unwrap().contains("limit=1&offset=1"));
    assert!(by_member.unwrap_err().to_string().contains(posthog_sandbox::ORG_ADMIN_ONLY));
}

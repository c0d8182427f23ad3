//! Keys (contract §4, §5, §9): project secret API keys (`ProjectSecretAPIKeyViewSet`), the
//! session-only project token reset, the personal API key endpoints as a personal API key
//! meets them (`PersonalApiKeySelfAccessPermission`), the public `revoke_leaked_key`, and
//! feature-flag local evaluation, the endpoint a `phs_` key is made for.
//!
//! Not simulated: sessions over HTTP. What PostHog lets only a logged-in person do (reset the
//! project token, create or roll a personal API key, read the organization's key inventory) is
//! done through the sandbox handle (`key_control.rs`), as a person clicking in PostHog's UI.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{FromRequestParts, Path, RawQuery, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, get, patch, post};
use http::request::Parts;
use http::{HeaderMap, StatusCode, header};
use serde::Serialize;
use serde_json::{Map, Value, json};
use uuid::Uuid;

use super::{Params, UserBasic, json_body, json_object, limit_offset, project_id, timestamp};
use crate::app::SandboxState;
use crate::auth::Caller;
use crate::errors::ApiError;
use crate::keyring::{ExposedKeyEmail, MAX_SECRET_KEYS_PER_PROJECT, SECRET_KEY_SCOPES, SecretKey, mask_key_value};
use crate::model::{API_SCOPE_OBJECTS, AccessLevel, ApiKey, OrgLevel, RequiredScope};
use crate::state::Store;

const PROJECT_READ: RequiredScope = RequiredScope::read("project");
const PROJECT_WRITE: RequiredScope = RequiredScope::write("project");
const FLAG_READ: RequiredScope = RequiredScope::read("feature_flag");
const LABEL_MAX: usize = 40;

/// `APIScopePermission`'s answer to a custom action that declares no scope.
pub(crate) const NO_PAK_ACTION: &str = "This action does not support personal API key access";
/// `PersonalApiKeySelfAccessPermission.message`.
pub(crate) const NO_PAK_SELF: &str = "This action does not support Personal API Key access";
/// `TeamMemberStrictManagementPermission.message`.
pub(crate) const NOT_PROJECT_ADMIN: &str = "You don't have sufficient permissions in the project.";

pub(super) fn secret_keys_routes() -> MethodRouter<SandboxState> {
    get(list_secret_keys).post(create_secret_key)
}

pub(super) fn secret_key_routes() -> MethodRouter<SandboxState> {
    get(get_secret_key).patch(update_secret_key).put(update_secret_key).delete(delete_secret_key)
}

pub(super) fn secret_key_roll_routes() -> MethodRouter<SandboxState> {
    post(roll_secret_key)
}

pub(super) fn reset_token_routes() -> MethodRouter<SandboxState> {
    patch(reset_token)
}

pub(super) fn personal_keys_routes() -> MethodRouter<SandboxState> {
    get(personal_keys_refused).post(personal_keys_refused)
}

pub(super) fn personal_key_routes() -> MethodRouter<SandboxState> {
    get(get_personal_key).patch(personal_keys_refused).put(personal_keys_refused).delete(personal_keys_refused)
}

pub(super) fn personal_key_roll_routes() -> MethodRouter<SandboxState> {
    post(personal_keys_refused)
}

pub(super) fn org_personal_keys_routes() -> MethodRouter<SandboxState> {
    get(org_personal_keys)
}

pub(super) fn revoke_leaked_key_routes() -> MethodRouter<SandboxState> {
    post(revoke_leaked_key)
}

pub(super) fn local_evaluation_routes() -> MethodRouter<SandboxState> {
    get(local_evaluation)
}

// ------------------------------------------------------------ project secret API keys

/// `ProjectSecretAPIKeySerializer`; `value` only on create and roll.
#[derive(Debug, Serialize)]
struct SecretKeyBody {
    id: String,
    label: String,
    value: Option<String>,
    mask_value: String,
    created_at: String,
    created_by: Option<UserBasic>,
    last_used_at: Option<String>,
    last_rolled_at: Option<String>,
    scopes: Vec<String>,
}

impl SecretKeyBody {
    fn new(key: &SecretKey, store: &Store, with_value: bool) -> Self {
        Self {
            id: key.id.to_string(),
            label: key.label.clone(),
            value: with_value.then(|| key.value.clone()),
            mask_value: mask_key_value(&key.value),
            created_at: timestamp(key.created_at),
            created_by: key.created_by.and_then(|id| store.user(id)).map(UserBasic::from),
            last_used_at: key.last_used_at.map(timestamp),
            last_rolled_at: key.last_rolled_at.map(timestamp),
            scopes: key.scopes.clone(),
        }
    }
}

/// Scope, then the project (404 when the caller cannot see it), then
/// `TeamMemberStrictManagementPermission`: a member reads, an admin writes.
fn authorize_secret_keys(state: &SandboxState, caller: &Caller, project: &str, write: bool) -> Result<i64, ApiError> {
    state.authorize_project(caller, if write { PROJECT_WRITE } else { PROJECT_READ })?;
    let id = project_id(project)?;
    let store = state.store();
    if !store.can_see_project(caller.user_id, id) {
        return Err(ApiError::not_found());
    }
    let org_admin = store.membership_of_user(caller.user_id).is_some_and(|m| m.level >= OrgLevel::Admin);
    let level = store.project_level(caller.user_id, id);
    if write && !org_admin && level != Some(AccessLevel::Admin) {
        return Err(ApiError::permission_denied(NOT_PROJECT_ADMIN));
    }
    Ok(id)
}

fn validate_label(body: &Map<String, Value>, required: bool) -> Result<Option<String>, ApiError> {
    match body.get("label") {
        None if required => Err(ApiError::required("label")),
        None => Ok(None),
        Some(Value::String(s)) if s.trim().is_empty() => {
            Err(ApiError::validation("blank", "This field may not be blank.").with_attr("label"))
        }
        Some(Value::String(s)) if s.chars().count() > LABEL_MAX => {
            Err(ApiError::validation("max_length", format!("Ensure this field has no more than {LABEL_MAX} characters."))
                .with_attr("label"))
        }
        Some(Value::String(s)) => Ok(Some(s.trim().to_owned())),
        Some(_) => Err(ApiError::invalid_input("Not a valid string.").with_attr("label")),
    }
}

pub(crate) fn validate_secret_scopes(body: &Map<String, Value>, required: bool) -> Result<Option<Vec<String>>, ApiError> {
    let scopes = match body.get("scopes") {
        None if required => return Err(ApiError::required("scopes")),
        None => return Ok(None),
        Some(Value::Array(items)) => items,
        Some(_) => return Err(ApiError::validation("not_a_list", "Expected a list of items but got type \"str\".").with_attr("scopes")),
    };
    if scopes.is_empty() {
        return Err(ApiError::validation("empty", "This list may not be empty.").with_attr("scopes"));
    }
    let mut out = Vec::new();
    for scope in scopes {
        let Some(scope) = scope.as_str() else {
            return Err(ApiError::invalid_input("Not a valid string.").with_attr("scopes"));
        };
        if scope == "*" {
            return Err(ApiError::invalid_input("Wildcard scope '*' is not allowed for project API keys. Please specify explicit scopes.")
                .with_attr("scopes"));
        }
        let valid =
            scope.split_once(':').is_some_and(|(object, action)| API_SCOPE_OBJECTS.contains(&object) && matches!(action, "read" | "write"));
        if !valid {
            return Err(ApiError::invalid_input(format!("Invalid scope: {scope}")).with_attr("scopes"));
        }
        if !SECRET_KEY_SCOPES.contains(&scope) {
            return Err(ApiError::invalid_input(format!(
                "Scope '{scope}' can not be assigned to a project secret API key. Allowed scopes: {}",
                SECRET_KEY_SCOPES.join(", ")
            ))
            .with_attr("scopes"));
        }
        out.push(scope.to_owned());
    }
    Ok(Some(out))
}

/// Adds a project secret key as PostHog's create does (at most
/// [`MAX_SECRET_KEYS_PER_PROJECT`], labels unique in the project); the caller has passed
/// PostHog's permission check. Returns the key, value included (shown once).
pub(crate) fn new_secret_key(
    state: &SandboxState,
    project: i64,
    label: String,
    scopes: Vec<String>,
    by: i64,
) -> Result<SecretKey, ApiError> {
    let now = state.now();
    let mut store = state.store();
    let mut ring = state.keyring();
    if ring.project_keys(project).count() >= MAX_SECRET_KEYS_PER_PROJECT {
        return Err(ApiError::invalid_input(format!(
            "You can only have {MAX_SECRET_KEYS_PER_PROJECT} project secret API keys. Remove an existing key before creating a new one."
        )));
    }
    if ring.project_keys(project).any(|k| k.label == label) {
        return Err(ApiError::invalid_input(format!("Project secret API key with label '{label}' already exists.")));
    }
    let key = SecretKey {
        id: store.uuid(),
        project_id: project,
        label,
        value: store.token("phs_", 35),
        scopes,
        created_at: now,
        created_by: Some(by),
        last_used_at: None,
        last_rolled_at: None,
    };
    ring.secret_keys.push(key.clone());
    Ok(key)
}

async fn list_secret_keys(
    State(state): State<SandboxState>,
    caller: Caller,
    Path(project): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Json<Value>, ApiError> {
    let id = authorize_secret_keys(&state, &caller, &project, false)?;
    let params = Params::parse(query.as_deref());
    let bodies: Vec<SecretKeyBody> = {
        let store = state.store();
        let ring = state.keyring();
        let mut keys: Vec<&SecretKey> = ring.project_keys(id).collect();
        keys.sort_by_key(|k| std::cmp::Reverse(k.created_at));
        keys.into_iter().map(|k| SecretKeyBody::new(k, &store, false)).collect()
    };
    let path = format!("/api/projects/{project}/project_secret_api_keys/");
    Ok(Json(serde_json::to_value(limit_offset(bodies, &params, &state.base_url(), &path)).unwrap_or_default()))
}

async fn create_secret_key(
    State(state): State<SandboxState>,
    caller: Caller,
    Path(project): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let id = authorize_secret_keys(&state, &caller, &project, true)?;
    let body = json_object(json_body(&headers, &body)?)?;
    let label = validate_label(&body, true)?.unwrap_or_default();
    let scopes = validate_secret_scopes(&body, true)?.unwrap_or_default();
    let response = {
        let key = new_secret_key(&state, id, label, scopes, caller.user_id)?;
        (StatusCode::CREATED, Json(SecretKeyBody::new(&key, &state.store(), true))).into_response()
    };
    state.count_write();
    Ok(response)
}

fn key_uuid(segment: &str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(segment).map_err(|_| ApiError::not_found())
}

async fn get_secret_key(
    State(state): State<SandboxState>,
    caller: Caller,
    Path((project, key)): Path<(String, String)>,
) -> Result<Json<SecretKeyBody>, ApiError> {
    let id = authorize_secret_keys(&state, &caller, &project, false)?;
    let key = key_uuid(&key)?;
    let store = state.store();
    let mut ring = state.keyring();
    let found = ring.secret_key_mut(id, key).ok_or_else(ApiError::not_found)?;
    Ok(Json(SecretKeyBody::new(found, &store, false)))
}

async fn update_secret_key(
    State(state): State<SandboxState>,
    caller: Caller,
    Path((project, key)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<SecretKeyBody>, ApiError> {
    let id = authorize_secret_keys(&state, &caller, &project, true)?;
    let key = key_uuid(&key)?;
    let body = json_object(json_body(&headers, &body)?)?;
    let label = validate_label(&body, false)?;
    let scopes = validate_secret_scopes(&body, false)?;
    let out = {
        let store = state.store();
        let mut ring = state.keyring();
        if ring.secret_key_mut(id, key).is_none() {
            return Err(ApiError::not_found());
        }
        if let Some(label) = &label
            && ring.project_keys(id).any(|k| &k.label == label && k.id != key)
        {
            return Err(ApiError::invalid_input(format!("Project secret API key with label '{label}' already exists.")));
        }
        let found = ring.secret_key_mut(id, key).ok_or_else(ApiError::not_found)?;
        if let Some(label) = label {
            found.label = label;
        }
        if let Some(scopes) = scopes {
            found.scopes = scopes;
        }
        SecretKeyBody::new(found, &store, false)
    };
    state.count_write();
    Ok(Json(out))
}

async fn delete_secret_key(
    State(state): State<SandboxState>,
    caller: Caller,
    Path((project, key)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let id = authorize_secret_keys(&state, &caller, &project, true)?;
    let key = key_uuid(&key)?;
    {
        let mut ring = state.keyring();
        let before = ring.secret_keys.len();
        ring.secret_keys.retain(|k| !(k.project_id == id && k.id == key));
        if ring.secret_keys.len() == before {
            return Err(ApiError::not_found());
        }
    }
    state.count_write();
    Ok(StatusCode::NO_CONTENT)
}

async fn roll_secret_key(
    State(state): State<SandboxState>,
    caller: Caller,
    Path((project, key)): Path<(String, String)>,
) -> Result<Json<SecretKeyBody>, ApiError> {
    let id = authorize_secret_keys(&state, &caller, &project, true)?;
    let key = key_uuid(&key)?;
    let now = state.now();
    let out = {
        let mut store = state.store();
        let fresh = store.token("phs_", 35);
        let mut ring = state.keyring();
        let found = ring.secret_key_mut(id, key).ok_or_else(ApiError::not_found)?;
        found.value = fresh;
        found.last_rolled_at = Some(now);
        SecretKeyBody::new(found, &store, true)
    };
    state.count_write();
    Ok(Json(out))
}

// ------------------------------------------------------------ project token

/// `reset_token` declares no scope: every personal API key is refused, even a `*` one,
/// after authentication (an unknown key is still a 401).
async fn reset_token(State(state): State<SandboxState>, _caller: Caller, Path(_project): Path<String>) -> ApiError {
    let _ = state;
    ApiError::permission_denied(NO_PAK_ACTION)
}

// ------------------------------------------------------------ personal API keys

/// `PersonalAPIKeySerializer` (never with `value` here: a personal API key cannot create or roll).
#[derive(Debug, Serialize)]
pub(crate) struct PersonalKeyBody {
    id: String,
    label: String,
    value: Option<String>,
    mask_value: String,
    created_at: String,
    last_used_at: Option<String>,
    user_id: i64,
    scopes: Vec<String>,
    scoped_teams: Vec<i64>,
    scoped_organizations: Vec<String>,
    last_rolled_at: Option<String>,
}

impl PersonalKeyBody {
    pub(crate) fn new(key: &ApiKey, value: Option<String>) -> Self {
        let scopes: Vec<String> = key.scopes.iter().map(ToString::to_string).collect();
        Self {
            id: key.id.to_string(),
            label: key.label.clone(),
            value,
            mask_value: mask_key_value(&key.value),
            created_at: timestamp(key.created_at),
            last_used_at: key.last_used_at.map(timestamp),
            user_id: key.user_id,
            scopes: if scopes.is_empty() { vec!["*".to_owned()] } else { scopes },
            scoped_teams: Vec::new(),
            scoped_organizations: Vec::new(),
            last_rolled_at: key.last_rolled_at.map(timestamp),
        }
    }
}

/// List, create, update, delete and roll: `PersonalApiKeySelfAccessPermission` lets a
/// personal API key only retrieve.
async fn personal_keys_refused(_caller: Caller) -> ApiError {
    ApiError::permission_denied(NO_PAK_SELF)
}

async fn get_personal_key(
    State(state): State<SandboxState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<PersonalKeyBody>, ApiError> {
    let store = state.store();
    let key = if id == "@current" {
        store.keys().iter().find(|k| k.id == caller.key_id())
    } else {
        let id = key_uuid(&id)?;
        store.keys().iter().find(|k| k.id == id && k.user_id == caller.user_id)
    };
    let key = key.ok_or_else(ApiError::not_found)?;
    if key.id != caller.key_id() {
        return Err(ApiError::permission_denied(NO_PAK_SELF));
    }
    Ok(Json(PersonalKeyBody::new(key, None)))
}

/// `OrganizationPersonalAPIKeyViewSet` has `scope_object = "INTERNAL"`: session only.
async fn org_personal_keys(_caller: Caller, Path(_org): Path<String>) -> ApiError {
    ApiError::permission_denied(NO_PAK_ACTION)
}

// ------------------------------------------------------------ leaked keys

/// `PublicLeakedKeyReport`: no authentication, 10 reports a minute, `{"token"}` of at
/// most 200 characters. A personal API key or a project secret API key that matches is
/// rolled at once and its owner emailed.
async fn revoke_leaked_key(State(state): State<SandboxState>, headers: HeaderMap, body: Bytes) -> Result<Json<Value>, ApiError> {
    let now = state.now();
    state.keyring().count_leak_report(now).map_err(ApiError::throttled)?;
    let body = json_object(json_body(&headers, &body)?)?;
    let token = match body.get("token") {
        None | Some(Value::Null) => return Err(ApiError::required("token")),
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        Some(_) => return Err(ApiError::invalid_input("Not a valid string.").with_attr("token")),
    };
    let token = token.trim().to_owned();
    if token.is_empty() {
        return Err(ApiError::validation("blank", "This field may not be blank.").with_attr("token"));
    }
    if token.chars().count() > 200 {
        return Err(ApiError::validation("max_length", "Ensure this field has no more than 200 characters.").with_attr("token"));
    }
    let found = if token.starts_with("phx_") {
        let mut store = state.store();
        let hit = store.key_by_value(&token).map(|k| (k.id, k.user_id));
        match hit {
            Some((id, user_id)) => {
                store.roll_key_at(&token, now);
                let to = store.user(user_id).map(|u| u.email.clone()).unwrap_or_default();
                drop(store);
                let email = ExposedKeyEmail { key_type: "personal_api_key", key_id: id.to_string(), old_mask: mask_key_value(&token), to };
                state.keyring().exposed_emails.push(email);
                Some("personal_api_key")
            }
            None => None,
        }
    } else if token.starts_with("phs_") {
        let mut store = state.store();
        let fresh = store.token("phs_", 35);
        drop(store);
        let mut ring = state.keyring();
        let hit = ring.secret_keys.iter_mut().find(|k| k.value == token);
        match hit {
            Some(key) => {
                key.value = fresh;
                key.last_rolled_at = Some(now);
                let email = ExposedKeyEmail {
                    key_type: "project_secret_api_key",
                    key_id: key.id.to_string(),
                    old_mask: mask_key_value(&token),
                    to: format!("project {}", key.project_id),
                };
                ring.exposed_emails.push(email);
                Some("project_secret_api_key")
            }
            None => None,
        }
    } else {
        None
    };
    if found.is_some() {
        state.count_write();
    }
    Ok(Json(json!({ "found": found.is_some(), "type": found })))
}

// ------------------------------------------------------------ local evaluation

/// Who asks for flag definitions: a project secret API key (the project comes with it)
/// or a personal API key (the project comes from `?token=`).
#[derive(Debug)]
enum FlagCaller {
    SecretKey { project_id: i64, scopes: Vec<String> },
    Personal(Caller),
}

impl FromRequestParts<SandboxState> for FlagCaller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &SandboxState) -> Result<Self, Self::Rejection> {
        let bearer = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer"))
            .map(|v| v.trim().to_owned());
        if let Some(token) = bearer.filter(|t| t.starts_with("phs_")) {
            let now = state.now();
            let mut ring = state.keyring();
            let Some(key) = ring.secret_keys.iter_mut().find(|k| k.value == token) else {
                // The secret-key authenticator passes; nothing else authenticates the request.
                return Err(ApiError::not_authenticated(state.www_authenticate()));
            };
            if key.last_used_at.is_none_or(|at| now - at > chrono::Duration::hours(1)) {
                key.last_used_at = Some(now);
            }
            return Ok(Self::SecretKey { project_id: key.project_id, scopes: key.scopes.clone() });
        }
        Caller::from_request_parts(parts, state).await.map(Self::Personal)
    }
}

async fn local_evaluation(
    State(state): State<SandboxState>,
    caller: FlagCaller,
    RawQuery(query): RawQuery,
) -> Result<Json<Value>, ApiError> {
    let params = Params::parse(query.as_deref());
    let _project_id = match caller {
        FlagCaller::SecretKey { project_id, scopes } => {
            if !scopes.iter().any(|s| s == "feature_flag:read") {
                return Err(ApiError::permission_denied(format!("API key missing required scope '{FLAG_READ}'")));
            }
            project_id
        }
        FlagCaller::Personal(caller) => {
            state.authorize_project(&caller, FLAG_READ)?;
            let store = state.store();
            let project = params.get("token").and_then(|t| store.project_by_token(t)).map(|p| p.id);
            match project {
                Some(id) if store.can_see_project(caller.user_id, id) => id,
                _ => return Err(ApiError::not_found()),
            }
        }
    };
    Ok(Json(json!({ "flags": [], "group_type_mapping": {}, "cohorts": {} })))
}

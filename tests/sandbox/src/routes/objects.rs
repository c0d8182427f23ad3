//! Objects in a project (dashboards, insights, feature flags, notebooks): their lists with
//! the creator filters PostHog supports, and each object's `access_controls` action.
//!
//! Creator filters, as PostHog's viewsets read them:
//! * insights: `?created_by=<user id>` (`filterset_fields = ["short_id", "created_by"]`),
//!   `?saved=true|false` (`saved=true` is saved or on a dashboard), `?user=true` (mine);
//! * feature flags: `?created_by_id=<user id>` (`_filter_request`);
//! * notebooks: `?created_by=<user uuid>` (`_filter_request`: `created_by__uuid`);
//! * dashboards: no creator filter; clients read `created_by` from each item.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::response::Response;
use axum::routing::{MethodRouter, get};
use http::HeaderMap;
use serde_json::{Value, json};

use super::access_controls::{RuleBody, apply, validate_rule, visible_project};
use super::{Params, UserBasic, json_body, json_object, limit_offset, timestamp};
use crate::app::SandboxState;
use crate::auth::Caller;
use crate::errors::ApiError;
use crate::model::{AccessLevel, RESOURCE_LEVELS, RequiredScope, default_level};
use crate::objects::{Object, ObjectKind};
use crate::rules;
use crate::state::{RuleKey, Store};

const AC_READ: RequiredScope = RequiredScope::read("access_control");
const AC_WRITE: RequiredScope = RequiredScope::write("access_control");

fn read_scope(kind: ObjectKind) -> RequiredScope {
    match kind {
        ObjectKind::Dashboard => RequiredScope::read("dashboard"),
        ObjectKind::Insight => RequiredScope::read("insight"),
        ObjectKind::FeatureFlag => RequiredScope::read("feature_flag"),
        ObjectKind::Notebook => RequiredScope::read("notebook"),
    }
}

/// `GET /api/projects/{id}/<segment>/`.
pub(super) fn list_routes(kind: ObjectKind) -> MethodRouter<SandboxState> {
    get(move |state: State<SandboxState>, caller: Caller, path: Path<String>, query: RawQuery| list(kind, state, caller, path, query))
}

/// `GET|PUT /api/projects/{id}/<segment>/{object}/access_controls/`.
pub(super) fn access_control_routes(kind: ObjectKind) -> MethodRouter<SandboxState> {
    get(move |state: State<SandboxState>, caller: Caller, path: Path<(String, String)>| get_rules(kind, state, caller, path)).put(
        move |state: State<SandboxState>, caller: Caller, path: Path<(String, String)>, headers: HeaderMap, body: Bytes| {
            put_rule(kind, state, caller, path, headers, body)
        },
    )
}

fn creator(store: &Store, object: &Object) -> Value {
    object.created_by.and_then(|id| store.user(id)).map_or(Value::Null, |u| json!(UserBasic::from(u)))
}

fn body(store: &Store, object: &Object) -> Value {
    let created_by = creator(store, object);
    let created_at = timestamp(object.created_at);
    match object.kind {
        ObjectKind::Dashboard => json!({
            "id": object.id, "name": object.name, "description": "", "pinned": false,
            "created_at": created_at, "created_by": created_by, "deleted": false, "tags": [],
        }),
        ObjectKind::Insight => json!({
            "id": object.id, "short_id": object.short_id, "name": object.name, "derived_name": null,
            "saved": object.saved, "favorited": false, "created_at": created_at, "created_by": created_by, "deleted": false,
        }),
        ObjectKind::FeatureFlag => json!({
            "id": object.id, "key": object.name, "name": "", "active": true,
            "created_at": created_at, "created_by": created_by, "deleted": false,
        }),
        ObjectKind::Notebook => json!({
            "id": object.uuid.to_string(), "short_id": object.short_id, "title": object.name,
            "created_at": created_at, "created_by": created_by, "deleted": false,
        }),
    }
}

/// Python's `str_to_bool`.
fn truthy(value: &str) -> bool {
    matches!(value.trim().to_ascii_lowercase().as_str(), "y" | "yes" | "t" | "true" | "on" | "1")
}

async fn list(
    kind: ObjectKind,
    State(state): State<SandboxState>,
    caller: Caller,
    Path(segment): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Json<Value>, ApiError> {
    state.authorize_project(&caller, read_scope(kind))?;
    let store = state.store();
    let (team, _) = visible_project(&store, &caller, &segment)?;
    let params = Params::parse(query.as_deref());
    let mut items: Vec<&Object> = store.objects(kind, team).collect();
    match kind {
        ObjectKind::Insight => {
            if let Some(raw) = params.get("created_by") {
                let id: i64 = raw.trim().parse().map_err(|_| {
                    ApiError::invalid_input("Select a valid choice. That choice is not one of the available choices.")
                        .with_attr("created_by")
                })?;
                items.retain(|o| o.created_by == Some(id));
            }
            if let Some(raw) = params.get("saved") {
                let saved = truthy(raw);
                items.retain(|o| o.saved == saved);
            }
            if params.get("user").is_some() {
                items.retain(|o| o.created_by == Some(caller.user_id));
            }
        }
        ObjectKind::FeatureFlag => {
            if let Some(raw) = params.get("created_by_id") {
                let id = raw.trim().parse::<i64>().ok();
                items.retain(|o| id.is_some() && o.created_by == id);
            }
        }
        ObjectKind::Notebook => {
            if let Some(raw) = params.get("created_by") {
                let uuid = uuid::Uuid::parse_str(raw.trim()).ok();
                items.retain(|o| uuid.is_some() && o.created_by.and_then(|id| store.user(id)).map(|u| u.uuid) == uuid);
            }
        }
        ObjectKind::Dashboard => {}
    }
    let bodies: Vec<Value> = items.into_iter().map(|o| body(&store, o)).collect();
    let path = format!("/api/projects/{segment}/{}/", kind.segment());
    Ok(Json(json!(limit_offset(bodies, &params, &state.base_url(), &path))))
}

/// The caller's level on the object and whether they may change its rules
/// (`check_can_modify_access_levels_for_object`: org admins, the creator, managers).
fn caller_level(store: &Store, caller: &Caller, object: &Object) -> Result<(AccessLevel, bool), ApiError> {
    let subject = store.subject(caller.user_id).ok_or_else(ApiError::not_found)?;
    let resource = object.kind.resource();
    let resource_id = object.resource_id();
    let level = if object.created_by == Some(caller.user_id) {
        AccessLevel::Manager
    } else {
        rules::object_level(&subject, resource, store.object_rules(object.team_id, resource, &resource_id), false)
            .unwrap_or_else(|| default_level(resource))
    };
    Ok((level, subject.is_org_admin || level == AccessLevel::Manager))
}

fn find<'a>(store: &'a Store, kind: ObjectKind, team: i64, lookup: &str) -> Result<&'a Object, ApiError> {
    store.object(kind, team, lookup).ok_or_else(ApiError::not_found)
}

async fn get_rules(
    kind: ObjectKind,
    State(state): State<SandboxState>,
    caller: Caller,
    Path((segment, lookup)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    state.authorize_project(&caller, AC_READ)?;
    let store = state.store();
    let (team, _) = visible_project(&store, &caller, &segment)?;
    let object = find(&store, kind, team, &lookup)?;
    let resource_id = object.resource_id();
    let rows: Vec<RuleBody> = store.rules_of_object(team, kind.resource(), &resource_id).map(RuleBody::from).collect();
    let (level, can_edit) = caller_level(&store, &caller, object)?;
    let levels: Vec<&str> = RESOURCE_LEVELS.iter().map(|l| l.as_str()).collect();
    Ok(Json(json!({
        "access_controls": rows,
        "available_access_levels": levels,
        "default_access_level": default_level(kind.resource()).as_str(),
        "user_access_level": level.as_str(),
        "user_can_edit_access_levels": can_edit,
    })))
}

async fn put_rule(
    kind: ObjectKind,
    State(state): State<SandboxState>,
    caller: Caller,
    Path((segment, lookup)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    state.authorize_project(&caller, AC_WRITE)?;
    let data = json_object(json_body(&headers, &body)?)?;
    let mut store = state.store();
    let (team, _) = visible_project(&store, &caller, &segment)?;
    let object = find(&store, kind, team, &lookup)?.clone();
    // `resource` and `resource_id` come from the URL, whatever the body says.
    let request = validate_rule(&store, &data, Some(kind.resource()))?;
    let (_, can_edit) = caller_level(&store, &caller, &object)?;
    if !can_edit {
        return Err(ApiError::permission_denied(format!("Must be manager to modify {} permissions.", kind.resource())));
    }
    let key = RuleKey {
        team_id: team,
        resource: request.resource,
        resource_id: Some(object.resource_id()),
        organization_member: request.member,
        role: request.role,
    };
    Ok(apply(&state, &mut store, &key, request.level, &caller))
}

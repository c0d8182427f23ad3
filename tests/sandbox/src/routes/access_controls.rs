//! Project access (contract §2a): `/api/projects/{id}/access_controls/`,
//! `/resource_access_controls/` (and its deprecated alias `/global_access_controls/`) and
//! `/users_with_access/`, mirroring PostHog's `AccessControlViewSetMixin` and its serializer.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, get};
use chrono::Utc;
use http::{HeaderMap, StatusCode};
use serde::Serialize;
use serde_json::{Map, Value, json};
use uuid::Uuid;

use super::{json_body, json_object, project_id, timestamp};
use crate::app::SandboxState;
use crate::auth::Caller;
use crate::errors::ApiError;
use crate::model::{
    API_SCOPE_OBJECTS, AccessLevel, AccessRule, PROJECT_RESOURCE, RESOURCE_LEVELS, RequiredScope, highest_level, minimum_level,
    ordered_levels, rank,
};
use crate::rules::{self, Subject};
use crate::state::{Actor, RuleKey, Store, truncate_to_micros};

const READ: RequiredScope = RequiredScope::read("access_control");
const WRITE: RequiredScope = RequiredScope::write("access_control");

pub(super) fn project_routes() -> MethodRouter<SandboxState> {
    get(get_project_rules).put(put_project_rule)
}

pub(super) fn resource_routes() -> MethodRouter<SandboxState> {
    get(get_resource_rules).put(put_resource_rule)
}

pub(super) fn users_with_access_routes() -> MethodRouter<SandboxState> {
    get(users_with_access)
}

/// `AccessControlSerializer`.
#[derive(Debug, Serialize)]
pub(super) struct RuleBody {
    access_level: &'static str,
    resource: String,
    resource_id: Option<String>,
    organization_member: Option<String>,
    role: Option<String>,
    created_by: Option<i64>,
    created_at: String,
    updated_at: String,
}

impl From<&AccessRule> for RuleBody {
    fn from(rule: &AccessRule) -> Self {
        Self {
            access_level: rule.access_level.as_str(),
            resource: rule.resource.clone(),
            resource_id: rule.resource_id.clone(),
            organization_member: rule.organization_member.map(|m| m.to_string()),
            role: rule.role.map(|r| r.to_string()),
            created_by: rule.created_by,
            created_at: timestamp(rule.created_at),
            updated_at: timestamp(rule.updated_at),
        }
    }
}

/// The project in the path, if the caller can see it; PostHog filters the others out of its
/// queryset, so they are 404 like a project that does not exist.
pub(super) fn visible_project(store: &Store, caller: &Caller, segment: &str) -> Result<(i64, Subject), ApiError> {
    let id = project_id(segment)?;
    if !store.can_see_project(caller.user_id, id) {
        return Err(ApiError::not_found());
    }
    let subject = store.subject(caller.user_id).ok_or_else(ApiError::not_found)?;
    Ok((id, subject))
}

fn level_names(levels: &[AccessLevel]) -> Vec<&'static str> {
    levels.iter().map(|l| l.as_str()).collect()
}

async fn get_project_rules(
    State(state): State<SandboxState>,
    caller: Caller,
    Path(segment): Path<String>,
) -> Result<Json<Value>, ApiError> {
    state.authorize_project(&caller, READ)?;
    let store = state.store();
    let (id, subject) = visible_project(&store, &caller, &segment)?;
    let rows: Vec<RuleBody> = store.project_rules(id).map(RuleBody::from).collect();
    let user_level = rules::object_level(&subject, PROJECT_RESOURCE, store.project_rules(id), false);
    let can_edit = rules::can_modify_project_access(&subject, store.project_rules(id));
    Ok(Json(json!({
        "access_controls": rows,
        "available_access_levels": level_names(ordered_levels(PROJECT_RESOURCE)),
        "default_access_level": crate::model::default_level(PROJECT_RESOURCE).as_str(),
        "minimum_access_level": minimum_level(PROJECT_RESOURCE).as_str(),
        "maximum_access_level": highest_level(PROJECT_RESOURCE).as_str(),
        "user_access_level": user_level.map(AccessLevel::as_str),
        "user_can_edit_access_levels": can_edit,
        "inherited_resource": null,
        "inherited_access_level": null,
        "inherited_access": null,
    })))
}

async fn get_resource_rules(
    State(state): State<SandboxState>,
    caller: Caller,
    Path(segment): Path<String>,
) -> Result<Json<Value>, ApiError> {
    state.authorize_project(&caller, READ)?;
    let store = state.store();
    let (id, subject) = visible_project(&store, &caller, &segment)?;
    let rows: Vec<RuleBody> = store.resource_rules(id).map(RuleBody::from).collect();
    let user_level = rules::object_level(&subject, PROJECT_RESOURCE, store.project_rules(id), false);
    let can_edit = rules::can_modify_project_access(&subject, store.project_rules(id));
    Ok(Json(json!({
        "access_controls": rows,
        "available_access_levels": level_names(&RESOURCE_LEVELS),
        "default_access_level": "editor",
        "minimum_access_level": "none",
        "maximum_access_level": "manager",
        "user_access_level": user_level.map(AccessLevel::as_str),
        "user_can_edit_access_levels": can_edit,
    })))
}

/// A validated PUT body.
#[derive(Debug)]
pub(super) struct RuleRequest {
    pub(super) resource: String,
    pub(super) level: Option<AccessLevel>,
    pub(super) member: Option<Uuid>,
    pub(super) role: Option<Uuid>,
}

fn not_a_string(attr: &str) -> ApiError {
    ApiError::invalid_input("Not a valid string.").with_attr(attr)
}

/// DRF `CharField` coercion: strings stay, numbers become their text, the rest is invalid.
fn char_field(value: &Value, attr: &str) -> Result<String, ApiError> {
    match value {
        Value::String(s) => Ok(s.clone()),
        Value::Number(n) => Ok(n.to_string()),
        _ => Err(not_a_string(attr)),
    }
}

/// `validate_access_level` for `resource`.
fn access_level_field(value: &Value, resource: &str) -> Result<Option<AccessLevel>, ApiError> {
    if value.is_null() {
        return Ok(None);
    }
    let text = char_field(value, "access_level")?;
    if text.is_empty() {
        return Err(ApiError::validation("blank", "This field may not be blank.").with_attr("access_level"));
    }
    let levels = ordered_levels(resource);
    let invalid = || {
        ApiError::invalid_input(format!("Invalid access level. Must be one of: {}", level_names(levels).join(", ")))
            .with_attr("access_level")
    };
    let level = AccessLevel::parse(&text).ok_or_else(invalid)?;
    let position = rank(resource, level).ok_or_else(invalid)?;
    let minimum = minimum_level(resource);
    if rank(resource, minimum).is_some_and(|min| position < min) {
        return Err(ApiError::invalid_input(format!(
            "Access level cannot be set below the minimum '{}' for {resource}.",
            minimum.as_str()
        ))
        .with_attr("access_level"));
    }
    let maximum = highest_level(resource);
    if rank(resource, maximum).is_some_and(|max| position > max) {
        return Err(ApiError::invalid_input(format!(
            "Access level cannot be set above the maximum '{}' for {resource}.",
            maximum.as_str()
        ))
        .with_attr("access_level"));
    }
    Ok(Some(level))
}

/// `validate_resource`: a public scope object.
fn resource_field(value: Option<&Value>) -> Result<String, ApiError> {
    let value = value.ok_or_else(|| ApiError::required("resource"))?;
    if value.is_null() {
        return Err(ApiError::validation("null", "This field may not be null.").with_attr("resource"));
    }
    let resource = char_field(value, "resource")?;
    if API_SCOPE_OBJECTS.contains(&resource.as_str()) {
        return Ok(resource);
    }
    let allowed: Vec<String> = API_SCOPE_OBJECTS.iter().map(|s| format!("'{s}'")).collect();
    Err(ApiError::invalid_input(format!("Invalid resource. Must be one of: ({})", allowed.join(", "))).with_attr("resource"))
}

/// A `PrimaryKeyRelatedField` with a `UUIDField` key: `invalid` for values that are not
/// uuids, `does_not_exist` for uuids of nothing.
fn related_uuid(value: Option<&Value>, attr: &str, invalid_text: &str, exists: impl Fn(Uuid) -> bool) -> Result<Option<Uuid>, ApiError> {
    let id = match value {
        None | Some(Value::Null) => return Ok(None),
        // Relational fields read an empty string as null.
        Some(Value::String(s)) if s.is_empty() => return Ok(None),
        Some(Value::String(s)) => Uuid::parse_str(s.trim()).ok(),
        // Python's `uuid.UUID(int=n)`, which DRF's `UUIDField` applies to integers.
        Some(Value::Number(n)) => n.as_u64().map(|n| Uuid::from_u128(u128::from(n))),
        Some(Value::Bool(b)) => Some(Uuid::from_u128(u128::from(*b))),
        Some(_) => None,
    };
    let id = id.ok_or_else(|| ApiError::invalid_input(invalid_text).with_attr(attr))?;
    if exists(id) {
        Ok(Some(id))
    } else {
        Err(ApiError::validation("does_not_exist", format!("Invalid pk \"{id}\" - object does not exist.")).with_attr(attr))
    }
}

const INVALID_MEMBER: &str =
    "Invalid organization member id. Use the 'id' field from the /api/organizations/<organization_id>/members/ endpoint.";

/// Validates a PUT body in DRF's order: fields in declaration order (`access_level`,
/// `resource`, `organization_member`, `role`), the first error winning, then `validate()`.
pub(super) fn validate_rule(store: &Store, data: &Map<String, Value>, fixed_resource: Option<&str>) -> Result<RuleRequest, ApiError> {
    let resource_for_levels = fixed_resource
        .map(str::to_owned)
        .or_else(|| data.get("resource").and_then(|v| char_field(v, "resource").ok()))
        .ok_or_else(|| ApiError::required("resource"))?;
    let level = match data.get("access_level") {
        Some(value) => access_level_field(value, &resource_for_levels)?,
        None => return Err(ApiError::required("access_level")),
    };
    let resource = match fixed_resource {
        Some(resource) => resource.to_owned(),
        None => resource_field(data.get("resource"))?,
    };
    let member = related_uuid(data.get("organization_member"), "organization_member", INVALID_MEMBER, |id| store.membership(id).is_some())?;
    let role = related_uuid(data.get("role"), "role", "Must be a valid UUID.", |id| store.role(id).is_some())?;
    if member.is_some() && role.is_some() {
        return Err(ApiError::invalid_input("You can not scope an access control to both a member and a role."));
    }
    Ok(RuleRequest { resource, level, member, role })
}

/// Writes or deletes the rule and answers as PostHog's `upsert_access_control`.
pub(super) fn apply(state: &SandboxState, store: &mut Store, key: &RuleKey, level: Option<AccessLevel>, caller: &Caller) -> Response {
    let now = truncate_to_micros(Utc::now());
    let actor = Actor { user_id: caller.user_id, client: "api" };
    let log = state.behaviour().log_access_control_changes;
    match level {
        None => {
            if store.delete_rule(key, actor, now, log) {
                state.count_write();
            }
            StatusCode::NO_CONTENT.into_response()
        }
        Some(level) => {
            let (rule, _) = store.upsert_rule(key, level, actor, now, log);
            state.count_write();
            (StatusCode::OK, Json(RuleBody::from(&rule))).into_response()
        }
    }
}

async fn put_project_rule(
    State(state): State<SandboxState>,
    caller: Caller,
    Path(segment): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    state.authorize_project(&caller, WRITE)?;
    let mut store = state.store();
    let (id, subject) = visible_project(&store, &caller, &segment)?;
    let data = json_object(json_body(&headers, &body)?)?;
    let request = validate_rule(&store, &data, Some(PROJECT_RESOURCE))?;
    if !rules::can_modify_project_access(&subject, store.project_rules(id)) {
        return Err(ApiError::permission_denied(format!(
            "Must be {} to modify {PROJECT_RESOURCE} permissions.",
            highest_level(PROJECT_RESOURCE).as_str()
        )));
    }
    let key = RuleKey { role: request.role, ..RuleKey::project(id, request.member) };
    Ok(apply(&state, &mut store, &key, request.level, &caller))
}

async fn put_resource_rule(
    State(state): State<SandboxState>,
    caller: Caller,
    Path(segment): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    state.authorize_project(&caller, WRITE)?;
    let data = json_object(json_body(&headers, &body)?)?;
    let names_an_object = data.get("resource_id").is_some_and(|v| !(v.is_null() || v == "" || v == &json!(0) || v == &json!(false)));
    if names_an_object {
        return Err(ApiError::permission_denied("Cannot modify access controls for a resource different from the URL target."));
    }
    let mut store = state.store();
    let (id, subject) = visible_project(&store, &caller, &segment)?;
    let request = validate_rule(&store, &data, None)?;
    if !rules::can_modify_project_access(&subject, store.project_rules(id)) {
        return Err(ApiError::permission_denied("Must be an Organization admin to modify project-wide permissions."));
    }
    let key = RuleKey { role: request.role, ..RuleKey::resource(id, &request.resource, request.member) };
    Ok(apply(&state, &mut store, &key, request.level, &caller))
}

/// `UserAccessInfoSerializer`.
#[derive(Debug, Serialize)]
struct UserAccessBody {
    user_id: String,
    access_level: &'static str,
    access_source: &'static str,
    organization_membership_id: String,
    organization_membership_level: &'static str,
}

async fn users_with_access(
    State(state): State<SandboxState>,
    caller: Caller,
    Path(segment): Path<String>,
) -> Result<Json<Value>, ApiError> {
    state.authorize_project(&caller, READ)?;
    let store = state.store();
    let (id, _) = visible_project(&store, &caller, &segment)?;
    let mut users: Vec<(usize, UserAccessBody)> = store
        .active_memberships()
        .filter_map(|(membership, user)| {
            let subject = store.subject(user.id)?;
            let level = rules::object_level(&subject, PROJECT_RESOURCE, store.project_rules(id), false)?;
            if level == AccessLevel::None {
                return None;
            }
            let source = rules::access_source(&subject, store.project_rules(id));
            Some((
                rank(PROJECT_RESOURCE, level).unwrap_or_default(),
                UserAccessBody {
                    user_id: user.uuid.to_string(),
                    access_level: level.as_str(),
                    access_source: source.as_str(),
                    organization_membership_id: membership.id.to_string(),
                    organization_membership_level: membership.level.name(),
                },
            ))
        })
        .collect();
    // PostHog sorts by (level, user uuid) in reverse: highest level first.
    users.sort_by(|(ra, a), (rb, b)| rb.cmp(ra).then_with(|| b.user_id.cmp(&a.user_id)));
    let users: Vec<UserAccessBody> = users.into_iter().map(|(_, u)| u).collect();
    Ok(Json(json!({
        "total_count": users.len(),
        "users": users,
    })))
}

//! `/api/organizations/{org_id}/members/`: listing members and changing or removing one
//! (PostHog's `OrganizationMemberViewSet`, contract §1).

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, get};
use chrono::{DateTime, Utc};
use http::{HeaderMap, StatusCode};
use serde::Serialize;
use serde_json::Value;
use uuid::Uuid;

use super::{Params, UserBasic, json_body, json_object, limit_offset, timestamp};
use crate::app::SandboxState;
use crate::auth::Caller;
use crate::errors::ApiError;
use crate::model::{Membership, OrgLevel, RequiredScope, User};
use crate::rules;
use crate::state::{Actor, Store, truncate_to_micros};

const READ: RequiredScope = RequiredScope::read("organization_member");
const WRITE: RequiredScope = RequiredScope::write("organization_member");
const MAX_SEARCH_LENGTH: usize = 200;

pub(super) fn routes() -> MethodRouter<SandboxState> {
    get(list)
}

pub(super) fn member_routes() -> MethodRouter<SandboxState> {
    axum::routing::patch(update).put(update).delete(remove)
}

/// `OrganizationMemberSerializer`.
#[derive(Debug, Serialize)]
pub(crate) struct MemberBody {
    id: String,
    user: UserBasic,
    level: u8,
    joined_at: String,
    updated_at: String,
    is_2fa_enabled: bool,
    has_social_auth: bool,
    last_login: Option<String>,
    search_match_type: Option<&'static str>,
}

impl MemberBody {
    fn new(membership: &Membership, user: &User, search_match_type: Option<&'static str>) -> Self {
        Self {
            id: membership.id.to_string(),
            user: UserBasic::from(user),
            level: membership.level.code(),
            joined_at: timestamp(membership.joined_at),
            updated_at: timestamp(membership.updated_at),
            is_2fa_enabled: user.is_2fa_enabled,
            has_social_auth: user.has_social_auth,
            last_login: user.last_login.map(timestamp),
            search_match_type,
        }
    }
}

async fn list(
    State(state): State<SandboxState>,
    caller: Caller,
    Path(org_id): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Json<Value>, ApiError> {
    state.authorize_org(&caller, &org_id, READ)?;
    let params = Params::parse(query.as_deref());
    let search = params.get("search").unwrap_or_default().to_owned();
    if search.chars().count() > MAX_SEARCH_LENGTH {
        return Err(ApiError::invalid_input(format!("Search query must be {MAX_SEARCH_LENGTH} characters or fewer.")).with_attr("search"));
    }
    let updated_after = match params.get("updated_after") {
        Some(raw) => Some(
            DateTime::parse_from_rfc3339(raw)
                .map(|at| at.with_timezone(&Utc))
                .map_err(|_| ApiError::invalid_input("Enter a valid date/time.").with_attr("updated_after"))?,
        ),
        None => None,
    };
    let store = state.store();
    // `email=` is an exact (case-sensitive) match, as PostHog's `user__email=` filter.
    let mut rows: Vec<(&Membership, &User)> = store
        .active_memberships()
        .filter(|(_, u)| params.get("email").is_none_or(|e| u.email == e))
        .filter(|(m, _)| updated_after.is_none_or(|after| m.updated_at > after))
        .collect();
    let needle = search.trim().to_lowercase();
    let body: Vec<MemberBody> = if needle.is_empty() {
        let ascending = params.get("order") == Some("joined_at");
        rows.sort_by(|(a, _), (b, _)| {
            let by_time = if ascending { a.joined_at.cmp(&b.joined_at) } else { b.joined_at.cmp(&a.joined_at) };
            by_time.then(a.id.cmp(&b.id))
        });
        rows.iter().map(|(m, u)| MemberBody::new(m, u, None)).collect()
    } else {
        // PostHog also returns fuzzy trigram matches as "similar"; the sandbox returns only
        // substring matches, which PostHog labels "exact".
        rows.retain(|(_, u)| [&u.first_name, &u.last_name, &u.email].iter().any(|field| field.to_lowercase().contains(&needle)));
        rows.sort_by(|(a, ua), (b, ub)| ua.first_name.cmp(&ub.first_name).then(a.id.cmp(&b.id)));
        rows.iter().map(|(m, u)| MemberBody::new(m, u, Some("exact"))).collect()
    };
    let path = format!("/api/organizations/{org_id}/members/");
    let page = limit_offset(body, &params, &state.base_url(), &path);
    Ok(Json(serde_json::to_value(page).unwrap_or_default()))
}

/// The requester's and the target's memberships, after PostHog's lookup by user uuid (404)
/// and its object permission (403).
fn resolve_target(state: &SandboxState, store: &Store, caller: &Caller, user_uuid: &str) -> Result<(Membership, Membership), ApiError> {
    let target = Uuid::parse_str(user_uuid)
        .ok()
        .and_then(|uuid| store.active_membership_by_user_uuid(uuid))
        .map(|(m, _)| m.clone())
        .ok_or_else(ApiError::not_found)?;
    let requester = store.membership_of_user(caller.user_id).cloned().ok_or_else(ApiError::forbidden)?;
    rules::member_object_permission(Store::seat(&requester), Store::seat(&target), state.behaviour().member_denial_text)
        .map_err(ApiError::permission_denied)?;
    Ok((requester, target))
}

/// DRF's `ChoiceField` for `level`: 1, 8 or 15, as a number or a numeric string.
fn parse_level(value: &Value) -> Result<OrgLevel, ApiError> {
    let text = match value {
        Value::Null => {
            return Err(ApiError::validation("null", "This field may not be null.").with_attr("level"));
        }
        Value::String(s) => s.clone(),
        Value::Bool(true) => "True".to_owned(),
        Value::Bool(false) => "False".to_owned(),
        other => other.to_string(),
    };
    text.parse::<u8>()
        .ok()
        .and_then(OrgLevel::from_code)
        .filter(|_| !matches!(value, Value::Number(n) if n.is_f64()))
        .ok_or_else(|| ApiError::validation("invalid_choice", format!("\"{text}\" is not a valid choice.")).with_attr("level"))
}

async fn update(
    State(state): State<SandboxState>,
    caller: Caller,
    Path((org_id, user_uuid)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<MemberBody>, ApiError> {
    state.authorize_org(&caller, &org_id, WRITE)?;
    let now = truncate_to_micros(Utc::now());
    let mut store = state.store();
    let (requester, target) = resolve_target(&state, &store, &caller, &user_uuid)?;
    let data = json_object(json_body(&headers, &body)?)?;
    let level = data.get("level").map(parse_level).transpose()?;
    let updated = match level {
        Some(level) => {
            rules::validate_update(Store::seat(&requester), Store::seat(&target), Some(level))
                .map_err(|denial| ApiError::permission_denied(denial.to_string()))?;
            let actor = Actor { user_id: caller.user_id, client: "api" };
            store.set_level(target.id, level, actor, now)
        }
        // A body without `level` still saves the membership, which touches `updated_at`.
        None => store.touch_membership(target.id, now),
    }
    .ok_or_else(ApiError::not_found)?;
    let user = store.user(updated.user_id).ok_or_else(ApiError::not_found)?;
    let body = MemberBody::new(&updated, user, None);
    drop(store);
    state.count_write();
    Ok(Json(body))
}

async fn remove(
    State(state): State<SandboxState>,
    caller: Caller,
    Path((org_id, user_uuid)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    state.authorize_org(&caller, &org_id, WRITE)?;
    let now = truncate_to_micros(Utc::now());
    let mut store = state.store();
    let (_, target) = resolve_target(&state, &store, &caller, &user_uuid)?;
    rules::check_removal(state.behaviour().owner_removal, target.level, store.owner_count())
        .map_err(|denial| ApiError::invalid_input(denial.to_string()))?;
    let actor = Actor { user_id: caller.user_id, client: "api" };
    store.remove_membership(target.id, actor, now);
    drop(store);
    state.count_write();
    Ok(StatusCode::NO_CONTENT.into_response())
}

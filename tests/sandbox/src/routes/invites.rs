//! `/api/organizations/{org_id}/invites/`: listing, sending and cancelling invitations
//! (PostHog's `OrganizationInviteViewSet` and `OrganizationInviteSerializer`, contract §2c).
//!
//! Not simulated: `/invites/bulk/`, `combine_pending_invites` (accepted and ignored), the
//! `members_can_invite` organization setting, and the activity-log entries of invites.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, delete, get};
use chrono::{DateTime, Utc};
use http::{HeaderMap, StatusCode};
use serde::Serialize;
use serde_json::{Map, Value, json};
use uuid::Uuid;

use super::{Params, UserBasic, json_body, json_object, limit_offset, timestamp};
use crate::app::SandboxState;
use crate::auth::Caller;
use crate::errors::ApiError;
use crate::model::{AccessLevel, Invite, MEMBER_LEVELS, OrgLevel, RequiredScope};
use crate::state::{InviteDraft, Store};

const READ: RequiredScope = RequiredScope::read("organization_member");
const WRITE: RequiredScope = RequiredScope::write("organization_member");
const FIRST_NAME_MAX: usize = 30;

/// The texts PostHog's invite validation answers with.
pub(crate) const ABOVE_OWN_LEVEL: &str = "You cannot invite a user with a higher permission level than your own.";
pub(crate) const ALREADY_MEMBER: &str = "A user with this email address already belongs to the organization.";
const PROJECT_NOT_VISIBLE: &str = "Project does not exist on this organization, or it is private and you do not have access to it.";

pub(super) fn routes() -> MethodRouter<SandboxState> {
    get(list).post(create)
}

pub(super) fn invite_routes() -> MethodRouter<SandboxState> {
    delete(remove)
}

/// `OrganizationInviteSerializer` (the write-only `send_email` and `combine_pending_invites`
/// are never sent back).
#[derive(Debug, Serialize)]
struct InviteBody {
    id: String,
    target_email: String,
    first_name: String,
    emailing_attempt_made: bool,
    level: u8,
    is_expired: bool,
    created_by: Option<UserBasic>,
    created_at: String,
    updated_at: String,
    message: Option<String>,
    private_project_access: Option<Vec<Value>>,
}

impl InviteBody {
    fn new(invite: &Invite, store: &Store, now: DateTime<Utc>) -> Self {
        let access: Vec<Value> =
            invite.private_project_access.iter().map(|(id, level)| json!({"id": id, "level": level.as_str()})).collect();
        Self {
            id: invite.id.to_string(),
            target_email: invite.target_email.clone(),
            first_name: invite.first_name.clone(),
            emailing_attempt_made: invite.emailing_attempt_made,
            level: invite.level.code(),
            is_expired: invite.is_expired(now),
            created_by: invite.created_by.and_then(|id| store.user(id)).map(UserBasic::from),
            created_at: timestamp(invite.created_at),
            updated_at: timestamp(invite.updated_at),
            message: invite.message.clone(),
            // The model stores an empty list as `null` (the serializer turns `[]` into `None`).
            private_project_access: (!access.is_empty()).then_some(access),
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
    let now = state.now();
    let body: Vec<InviteBody> = {
        let store = state.store();
        let mut invites: Vec<&Invite> = store.invites().iter().collect();
        // `ordering = "-created_at"`; the id breaks ties so pages are stable.
        invites.sort_by(|a, b| b.created_at.cmp(&a.created_at).then(a.id.cmp(&b.id)));
        invites.into_iter().map(|i| InviteBody::new(i, &store, now)).collect()
    };
    let path = format!("/api/organizations/{org_id}/invites/");
    let page = limit_offset(body, &params, &state.base_url(), &path);
    Ok(Json(serde_json::to_value(page).unwrap_or_default()))
}

/// Django's `EmailField` then `validate_target_email`: the domain is lower-cased.
fn parse_target_email(data: &Map<String, Value>) -> Result<String, ApiError> {
    let raw = match data.get("target_email") {
        None => return Err(ApiError::required("target_email")),
        Some(Value::Null) => return Err(ApiError::validation("null", "This field may not be null.").with_attr("target_email")),
        Some(Value::String(s)) => s.trim().to_owned(),
        Some(other) => other.to_string(),
    };
    let invalid = || ApiError::invalid_input("Enter a valid email address.").with_attr("target_email");
    if raw.is_empty() {
        return Err(ApiError::validation("blank", "This field may not be blank.").with_attr("target_email"));
    }
    let (local, domain) = raw.split_once('@').ok_or_else(invalid)?;
    let plausible = !local.is_empty() && domain.contains('.') && !domain.contains('@') && !raw.contains(char::is_whitespace);
    if !plausible {
        return Err(invalid());
    }
    Ok(format!("{local}@{}", domain.to_lowercase()))
}

/// The model's `level` choices: 1, 8 or 15; absent means member.
fn parse_level(data: &Map<String, Value>) -> Result<OrgLevel, ApiError> {
    let Some(value) = data.get("level") else {
        return Ok(OrgLevel::Member);
    };
    let text = match value {
        Value::Null => return Err(ApiError::validation("null", "This field may not be null.").with_attr("level")),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    text.parse::<u8>()
        .ok()
        .and_then(OrgLevel::from_code)
        .ok_or_else(|| ApiError::validation("invalid_choice", format!("\"{text}\" is not a valid choice.")).with_attr("level"))
}

/// The model validator `validate_private_project_access`; `null` and `[]` mean none.
fn parse_project_access(data: &Map<String, Value>) -> Result<Vec<(i64, AccessLevel)>, ApiError> {
    let invalid = |detail: &str| ApiError::invalid_input(detail).with_attr("private_project_access");
    let items = match data.get("private_project_access") {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Array(items)) => items,
        Some(_) => return Err(invalid("The field must be a list of dictionaries.")),
    };
    items
        .iter()
        .map(|item| {
            let item = item.as_object().ok_or_else(|| invalid("Each item in the list must be a dictionary."))?;
            let (Some(id), Some(level)) = (item.get("id"), item.get("level")) else {
                return Err(invalid("Each dictionary must contain \"id\" and \"level\" keys."));
            };
            let id = id.as_i64().ok_or_else(|| invalid("The \"id\" field must be an integer."))?;
            let level = level
                .as_str()
                .and_then(AccessLevel::parse)
                .filter(|l| MEMBER_LEVELS.contains(l))
                .ok_or_else(|| invalid("The \"level\" field must be a valid access level."))?;
            Ok((id, level))
        })
        .collect()
}

/// `validate_private_project_access`: the project must exist, and a caller below org admin
/// may only invite to a restricted project they are an explicit project admin of.
fn check_project_access(store: &Store, caller: i64, access: &[(i64, AccessLevel)]) -> Result<(), ApiError> {
    let subject = store.subject(caller).ok_or_else(ApiError::forbidden)?;
    for (project, _) in access {
        if store.project(*project).is_none() {
            return Err(ApiError::invalid_input(PROJECT_NOT_VISIBLE).with_attr("private_project_access"));
        }
        if subject.is_org_admin {
            continue;
        }
        let restricted = store.project_rules(*project).any(|r| r.is_default() && r.access_level == AccessLevel::None);
        let explicit_admin = store
            .project_rules(*project)
            .any(|r| r.organization_member == Some(subject.membership_id) && r.access_level == AccessLevel::Admin);
        if restricted && !explicit_admin {
            return Err(ApiError::invalid_input(PROJECT_NOT_VISIBLE).with_attr("private_project_access"));
        }
    }
    Ok(())
}

fn optional_text(data: &Map<String, Value>, field: &str) -> Option<String> {
    match data.get(field) {
        Some(Value::String(s)) => Some(s.clone()),
        Some(Value::Null) | None => None,
        Some(other) => Some(other.to_string()),
    }
}

async fn create(
    State(state): State<SandboxState>,
    caller: Caller,
    Path(org_id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let own_level = state.authorize_org(&caller, &org_id, WRITE)?;
    let data = json_object(json_body(&headers, &body)?)?;
    // DRF validates field by field and collects validation errors, but `validate_level`
    // raises PermissionDenied, which escapes at once: a too-high level is a 403 whatever
    // else is wrong.
    let target_email = parse_target_email(&data);
    let level = parse_level(&data);
    if let Ok(level) = &level
        && *level > own_level
    {
        return Err(ApiError::permission_denied(ABOVE_OWN_LEVEL));
    }
    let target_email = target_email?;
    let first_name = optional_text(&data, "first_name").unwrap_or_default();
    if first_name.chars().count() > FIRST_NAME_MAX {
        return Err(ApiError::validation("max_length", format!("Ensure this field has no more than {FIRST_NAME_MAX} characters."))
            .with_attr("first_name"));
    }
    let level = level?;
    let private_project_access = parse_project_access(&data)?;
    let send_email = !matches!(data.get("send_email"), Some(Value::Bool(false)));
    let now = state.now();
    let response = {
        let mut store = state.store();
        check_project_access(&store, caller.user_id, &private_project_access)?;
        if store.has_membership_for_email(&target_email) {
            return Err(ApiError::invalid_input(ALREADY_MEMBER));
        }
        let message = optional_text(&data, "message");
        let draft = InviteDraft { target_email, first_name, level, message, private_project_access, send_email };
        let invite = store.add_invite(draft, Some(caller.user_id), now);
        (StatusCode::CREATED, Json(InviteBody::new(&invite, &store, now))).into_response()
    };
    state.count_write();
    Ok(response)
}

async fn remove(
    State(state): State<SandboxState>,
    caller: Caller,
    Path((org_id, invite_id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    state.authorize_org(&caller, &org_id, WRITE)?;
    let id = Uuid::parse_str(&invite_id).map_err(|_| ApiError::not_found())?;
    if !state.store().delete_invite(id) {
        return Err(ApiError::not_found());
    }
    state.count_write();
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(value: Value) -> Map<String, Value> {
        match value {
            Value::Object(map) => map,
            other => panic!("not an object: {other}"),
        }
    }

    #[test]
    fn target_email_domain_is_lower_cased_and_the_local_part_kept() {
        assert_eq!(parse_target_email(&data(json!({"target_email": "Ada.L@Example.COM"}))).unwrap(), "Ada.L@example.com");
    }

    #[test]
    fn target_email_is_required_and_must_look_like_an_email() {
        assert_eq!(parse_target_email(&data(json!({}))).unwrap_err().code, "required");
        let bad = parse_target_email(&data(json!({"target_email": "not-an-email"}))).unwrap_err();
        assert_eq!((bad.detail.as_str(), bad.attr.as_deref()), ("Enter a valid email address.", Some("target_email")));
    }

    #[test]
    fn project_access_levels_are_project_levels() {
        let ok = parse_project_access(&data(json!({"private_project_access": [{"id": 1001, "level": "admin"}]}))).unwrap();
        assert_eq!(ok, vec![(1001, AccessLevel::Admin)]);
        let bad = parse_project_access(&data(json!({"private_project_access": [{"id": 1001, "level": "viewer"}]}))).unwrap_err();
        assert_eq!(bad.detail, "The \"level\" field must be a valid access level.");
        let legacy = parse_project_access(&data(json!({"private_project_access": [{"id": 1001, "level": 8}]}))).unwrap_err();
        assert_eq!(legacy.attr.as_deref(), Some("private_project_access"));
    }
}

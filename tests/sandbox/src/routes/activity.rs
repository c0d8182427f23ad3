//! The activity log (contract §8): `/api/projects/{id}/activity_log/` for one project's
//! entries and `/api/organizations/{org_id}/advanced_activity_logs/` for the whole
//! organization (org admins only).
//!
//! Both page by cursor unless `page` is given, which switches to numbered pages with a
//! `count`, as PostHog's activity pagination does.

use axum::Json;
use axum::extract::{Path, RawQuery, State};
use axum::routing::{MethodRouter, get};
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{Value, json};

use super::{Params, UserBasic, project_id, timestamp};
use crate::app::SandboxState;
use crate::auth::Caller;
use crate::errors::ApiError;
use crate::model::{ActivityEntry, OrgLevel, RequiredScope};
use crate::state::Store;

const READ: RequiredScope = RequiredScope::read("activity_log");
const DEFAULT_PAGE_SIZE: usize = 100;
const MAX_PAGE_SIZE: usize = 1000;

pub(super) fn project_routes() -> MethodRouter<SandboxState> {
    get(project_log)
}

pub(super) fn org_routes() -> MethodRouter<SandboxState> {
    get(organization_log)
}

#[derive(Debug, Serialize)]
struct ChangeBody {
    #[serde(rename = "type")]
    kind: String,
    action: String,
    field: Option<String>,
    before: Value,
    after: Value,
}

#[derive(Debug, Serialize)]
struct DetailBody {
    id: String,
    changes: Vec<ChangeBody>,
    merge: Option<Value>,
    trigger: Option<Value>,
    name: Option<String>,
    short_id: Option<String>,
    #[serde(rename = "type")]
    kind: Option<String>,
    context: Option<Value>,
}

/// `ActivityLogSerializer`.
#[derive(Debug, Serialize)]
struct ActivityBody {
    id: String,
    user: Option<UserBasic>,
    unread: bool,
    organization_id: String,
    team_id: Option<i64>,
    was_impersonated: bool,
    is_system: bool,
    client: &'static str,
    ip_address: Option<String>,
    activity: String,
    item_id: String,
    scope: String,
    detail: DetailBody,
    created_at: String,
}

impl ActivityBody {
    fn new(entry: &ActivityEntry, store: &Store) -> Self {
        Self {
            id: entry.id.to_string(),
            user: entry.user_id.and_then(|id| store.user(id)).map(UserBasic::from),
            unread: false,
            organization_id: store.organization().id.to_string(),
            team_id: entry.team_id,
            was_impersonated: false,
            is_system: entry.user_id.is_none(),
            client: entry.client,
            ip_address: None,
            activity: entry.activity.clone(),
            item_id: entry.item_id.clone(),
            scope: entry.scope.clone(),
            detail: DetailBody {
                id: entry.item_id.clone(),
                changes: entry
                    .changes
                    .iter()
                    .map(|c| ChangeBody {
                        kind: c.kind.clone(),
                        action: c.action.clone(),
                        field: c.field.clone(),
                        before: c.before.clone(),
                        after: c.after.clone(),
                    })
                    .collect(),
                merge: None,
                trigger: None,
                name: entry.name.clone(),
                short_id: None,
                kind: None,
                context: None,
            },
            created_at: timestamp(entry.created_at),
        }
    }
}

fn hex(text: &str) -> String {
    text.bytes().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &str) -> Option<String> {
    let bytes = (0..text.len())
        .step_by(2)
        .map(|i| text.get(i..i + 2).and_then(|pair| u8::from_str_radix(pair, 16).ok()))
        .collect::<Option<Vec<u8>>>()?;
    String::from_utf8(bytes).ok()
}

/// The opaque cursor for `offset`.
fn cursor(offset: usize) -> String {
    hex(&format!("o={offset}"))
}

fn cursor_offset(cursor: &str) -> Option<usize> {
    unhex(cursor)?.strip_prefix("o=")?.parse().ok()
}

/// Pages activity entries: numbered pages (with `count`) when `page` is given, cursor
/// pages (without `count`) otherwise.
fn paginate(items: Vec<ActivityBody>, params: &Params, base: &str, path: &str) -> Result<Value, ApiError> {
    let size = params
        .get("page_size")
        .and_then(|v| v.parse::<usize>().ok())
        .filter(|n| *n > 0)
        .map_or(DEFAULT_PAGE_SIZE, |n| n.min(MAX_PAGE_SIZE));
    let count = items.len();
    if let Some(page) = params.get("page") {
        let page: usize = page.parse().ok().filter(|n| *n >= 1).ok_or_else(|| ApiError::not_found().with_detail("Invalid page."))?;
        let offset = (page - 1) * size;
        if offset >= count && page != 1 {
            return Err(ApiError::not_found().with_detail("Invalid page."));
        }
        let next = (offset + size < count).then(|| params.with("page", (page + 1).to_string()).url(base, path));
        let previous = (page > 1).then(|| {
            if page == 2 { params.without("page").url(base, path) } else { params.with("page", (page - 1).to_string()).url(base, path) }
        });
        let results: Vec<ActivityBody> = items.into_iter().skip(offset).take(size).collect();
        return Ok(json!({"count": count, "next": next, "previous": previous, "results": results}));
    }
    let offset = match params.get("cursor") {
        Some(raw) => cursor_offset(raw).ok_or_else(|| ApiError::not_found().with_detail("Invalid cursor"))?,
        None => 0,
    };
    let next = (offset + size < count).then(|| params.with("cursor", cursor(offset + size)).url(base, path));
    let previous = (offset > 0).then(|| {
        let back = offset.saturating_sub(size);
        if back == 0 { params.without("cursor").url(base, path) } else { params.with("cursor", cursor(back)).url(base, path) }
    });
    let results: Vec<ActivityBody> = items.into_iter().skip(offset).take(size).collect();
    Ok(json!({"next": next, "previous": previous, "results": results}))
}

fn parse_date(params: &Params, key: &str) -> Result<Option<DateTime<Utc>>, ApiError> {
    params
        .get(key)
        .map(|raw| {
            DateTime::parse_from_rfc3339(raw)
                .map(|at| at.with_timezone(&Utc))
                .map_err(|_| ApiError::invalid_input("Enter a valid date/time.").with_attr(key))
        })
        .transpose()
}

/// Newest first unless `ordering=created_at`.
fn order(entries: &mut [&ActivityEntry], params: &Params) {
    entries.sort_by_key(|e| e.created_at);
    if params.get("ordering") != Some("created_at") {
        entries.reverse();
    }
}

fn user_uuid_of(store: &Store, entry: &ActivityEntry) -> Option<String> {
    entry.user_id.and_then(|id| store.user(id)).map(|u| u.uuid.to_string())
}

async fn project_log(
    State(state): State<SandboxState>,
    caller: Caller,
    Path(segment): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Json<Value>, ApiError> {
    state.authorize_project(&caller, READ)?;
    let params = Params::parse(query.as_deref());
    let store = state.store();
    let id = project_id(&segment)?;
    if !store.can_see_project(caller.user_id, id) {
        return Err(ApiError::not_found());
    }
    let mut scopes = params.list("scopes");
    scopes.extend(params.get("scope").map(str::to_owned));
    let mut entries: Vec<&ActivityEntry> = store
        .activity()
        .iter()
        .filter(|e| e.team_id == Some(id))
        .filter(|e| scopes.is_empty() || scopes.contains(&e.scope))
        .filter(|e| params.get("item_id").is_none_or(|item| e.item_id == item))
        .filter(|e| params.get("user").is_none_or(|user| user_uuid_of(&store, e).as_deref() == Some(user)))
        .collect();
    order(&mut entries, &params);
    let bodies = entries.iter().map(|e| ActivityBody::new(e, &store)).collect();
    let path = format!("/api/projects/{segment}/activity_log/");
    paginate(bodies, &params, &state.base_url(), &path).map(Json)
}

async fn organization_log(
    State(state): State<SandboxState>,
    caller: Caller,
    Path(org_id): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Json<Value>, ApiError> {
    let level = state.authorize_org(&caller, &org_id, READ)?;
    if level < OrgLevel::Admin {
        return Err(ApiError::forbidden());
    }
    let params = Params::parse(query.as_deref());
    let start = parse_date(&params, "start_date")?;
    let end = parse_date(&params, "end_date")?;
    let team_ids = params.list("team_ids");
    let scopes = params.list("scopes");
    let activities = params.list("activities");
    let users = params.list("users");
    let item_ids = params.list("item_ids");
    let store = state.store();
    let mut entries: Vec<&ActivityEntry> = store
        .activity()
        .iter()
        .filter(|e| team_ids.is_empty() || e.team_id.is_some_and(|team| team_ids.contains(&team.to_string())))
        .filter(|e| scopes.is_empty() || scopes.contains(&e.scope))
        .filter(|e| activities.is_empty() || activities.contains(&e.activity))
        .filter(|e| item_ids.is_empty() || item_ids.contains(&e.item_id))
        .filter(|e| users.is_empty() || user_uuid_of(&store, e).is_some_and(|uuid| users.contains(&uuid)))
        .filter(|e| start.is_none_or(|start| e.created_at >= start))
        .filter(|e| end.is_none_or(|end| e.created_at <= end))
        .collect();
    order(&mut entries, &params);
    let bodies = entries.iter().map(|e| ActivityBody::new(e, &store)).collect();
    let path = format!("/api/organizations/{org_id}/advanced_activity_logs/");
    paginate(bodies, &params, &state.base_url(), &path).map(Json)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip() {
        assert_eq!(cursor_offset(&cursor(300)), Some(300));
        assert_eq!(cursor_offset("zz"), None);
    }
}

//! `/api/organizations/{org_id}/projects/`: the projects the caller can see (contract §6, §7).

use axum::Json;
use axum::extract::{Path, RawQuery, State};
use axum::routing::{MethodRouter, get};
use serde::Serialize;
use serde_json::Value;

use super::{Params, limit_offset, timestamp};
use crate::app::SandboxState;
use crate::auth::Caller;
use crate::errors::ApiError;
use crate::model::{Project, RequiredScope};

const READ: RequiredScope = RequiredScope::read("project");

pub(super) fn routes() -> MethodRouter<SandboxState> {
    get(list)
}

/// The project fields PostHog's list serializer sends that Hogwarden can use.
#[derive(Debug, Serialize)]
struct ProjectBody {
    id: i64,
    uuid: String,
    organization: String,
    api_token: String,
    name: String,
    completed_snapshot_onboarding: bool,
    has_completed_onboarding_for: Option<Value>,
    ingested_event: bool,
    is_demo: bool,
    timezone: &'static str,
    access_control: bool,
    created_at: String,
}

impl ProjectBody {
    fn new(project: &Project, organization: &str) -> Self {
        Self {
            id: project.id,
            uuid: project.uuid.to_string(),
            organization: organization.to_owned(),
            api_token: project.api_token.clone(),
            name: project.name.clone(),
            completed_snapshot_onboarding: true,
            has_completed_onboarding_for: None,
            ingested_event: true,
            is_demo: false,
            timezone: "UTC",
            access_control: false,
            created_at: timestamp(project.created_at),
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
    let organization = state.organization_id();
    let body: Vec<ProjectBody> = {
        let store = state.store();
        store
            .projects()
            .iter()
            .filter(|p| store.can_see_project(caller.user_id, p.id))
            .map(|p| ProjectBody::new(p, &organization))
            .collect()
    };
    let path = format!("/api/organizations/{org_id}/projects/");
    let page = limit_offset(body, &params, &state.base_url(), &path);
    Ok(Json(serde_json::to_value(page).unwrap_or_default()))
}

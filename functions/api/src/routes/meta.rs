//! Who am I, the policy (so the front end refuses what the API would), and projects
//! (from a short-lived copy, see [`crate::cache`]).

use axum::extract::State;
use hogwarden_api_types as dto;

use crate::auth::Caller;
use crate::error::{ApiError, ApiJson};
use crate::{ApiState, convert};

#[utoipa::path(get, path = "/api/me", tag = "meta", responses((status = 200, body = dto::MeDto), (status = 401, body = dto::ErrorBody)), security(("bearer" = [])))]
pub(crate) async fn get_me(Caller(who): Caller) -> ApiJson<dto::MeDto> {
    ApiJson(dto::MeDto { email: who.email.to_string(), roles: who.roles.iter().map(|r| convert::role_name(*r).to_owned()).collect() })
}

#[utoipa::path(get, path = "/api/policy", tag = "meta", responses((status = 200, body = dto::PolicyDto)), security(("bearer" = [])))]
pub(crate) async fn get_policy(State(s): State<ApiState>, Caller(_who): Caller) -> ApiJson<dto::PolicyDto> {
    ApiJson(convert::policy(&s.app.policy))
}

#[utoipa::path(get, path = "/api/projects", tag = "meta", responses((status = 200, body = dto::ProjectList), (status = 503, body = dto::ErrorBody)), security(("bearer" = [])))]
pub(crate) async fn list_projects(State(s): State<ApiState>, Caller(_who): Caller) -> Result<ApiJson<dto::ProjectList>, ApiError> {
    // Any signed-in person may call this: a copy at most a minute old keeps them from
    // spending the PostHog budget that reverts need.
    let projects = s.projects.get_or_fetch(|| s.app.posthog.list_projects()).await.map_err(hogwarden_core::Error::from)?;
    Ok(ApiJson(dto::ProjectList { projects: projects.into_iter().map(|p| dto::ProjectDto { id: p.id.get(), name: p.name }).collect() }))
}

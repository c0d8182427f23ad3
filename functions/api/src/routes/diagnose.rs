//! Troubleshooting (the reviews Lambda): why a person can or cannot see a project.
//! Approvers and admins only; it only reads PostHog.

use axum::extract::{Query, State};
use hogwarden_api_types as dto;
use hogwarden_core::types::{Email, ProjectId};
use serde::Deserialize;

use crate::auth::Caller;
use crate::error::{ApiError, ApiJson};
use crate::{ApiState, convert};

/// Both parameters are required. They are read as text so that a bad value gets our
/// error naming the parameter, not the query extractor's.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub(crate) struct DiagnoseParams {
    /// The person's email.
    email: Option<String>,
    /// The PostHog project id.
    project_id: Option<String>,
}

fn parse(p: &DiagnoseParams) -> Result<(Email, ProjectId), ApiError> {
    let email = p.email.as_deref().filter(|e| !e.trim().is_empty()).ok_or_else(|| ApiError::BadRequest("'email' is required".into()))?;
    let email = Email::parse(email).map_err(|e| ApiError::BadRequest(format!("'email': {e}")))?;
    let raw =
        p.project_id.as_deref().filter(|e| !e.trim().is_empty()).ok_or_else(|| ApiError::BadRequest("'project_id' is required".into()))?;
    let project = raw
        .trim()
        .parse::<i64>()
        .ok()
        .and_then(|id| ProjectId::new(id).ok())
        .ok_or_else(|| ApiError::BadRequest("'project_id' must be a PostHog project id (a positive whole number)".into()))?;
    Ok((email, project))
}

#[utoipa::path(get, path = "/api/diagnose", tag = "reviews", params(DiagnoseParams),
    responses((status = 200, body = dto::DiagnosisDto, description = "The checks in order and one verdict with the next step"),
        (status = 400, body = dto::ErrorBody), (status = 403, body = dto::ErrorBody), (status = 503, body = dto::ErrorBody)),
    security(("bearer" = [])))]
pub(crate) async fn diagnose(
    State(s): State<ApiState>,
    Caller(who): Caller,
    params: Result<Query<DiagnoseParams>, axum::extract::rejection::QueryRejection>,
) -> Result<ApiJson<dto::DiagnosisDto>, ApiError> {
    let Query(params) = params?;
    let (email, project) = parse(&params)?;
    let diagnosis = s.app.diagnose_access(&who, &email, project).await?;
    Ok(ApiJson(convert::diagnosis(&diagnosis)))
}

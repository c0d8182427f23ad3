//! Ending a temporary grant early.

use axum::extract::{Path, State};
use hogwarden_api_types as dto;
use hogwarden_core::types::GrantId;

use crate::auth::Caller;
use crate::error::{ApiError, ApiJson};
use crate::{ApiState, convert};

#[utoipa::path(post, path = "/api/grants/{id}/revoke", tag = "grants", params(("id" = String, Path, description = "Grant id")),
    responses((status = 200, body = dto::GrantDto, description = "Reverted in PostHog (or marked conflict if changed by hand)"),
              (status = 404, body = dto::ErrorBody), (status = 409, body = dto::ErrorBody), (status = 503, body = dto::ErrorBody)),
    security(("bearer" = [])))]
pub(crate) async fn revoke_grant(
    State(s): State<ApiState>,
    Caller(who): Caller,
    Path(id): Path<String>,
) -> Result<ApiJson<dto::GrantDto>, ApiError> {
    let id = GrantId::parse(&id)?;
    let g = s.app.revoke_grant(&who, id).await?;
    Ok(ApiJson(convert::grant(&g, s.app.clock.now())))
}

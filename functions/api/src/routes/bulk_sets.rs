//! Bulk change sets as one access request: submit (plan and store for approval), read
//! the progress or report, and apply or resume within a time budget.

use std::time::Duration;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use hogwarden_api_types as dto;
use hogwarden_core::changeset::{ItemStatus, SetProgress};
use hogwarden_core::types::RequestId;
use hogwarden_core::usecases::NewChangeSet;
use serde::Deserialize;

use crate::ApiState;
use crate::auth::Caller;
use crate::convert;
use crate::error::{ApiError, ApiJson};

/// The longest one apply call runs; API Gateway gives up on a request after 30 s.
pub(crate) const MAX_APPLY_SECONDS: u64 = 25;
/// How long an apply call runs when the caller does not say.
const DEFAULT_APPLY_SECONDS: u64 = 10;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub(crate) struct ItemsQuery {
    /// `all` (default), `failed` or `none`.
    items: Option<String>,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub(crate) struct ApplyQuery {
    /// Seconds this call may run (1–25, default 10); the next call resumes.
    budget_seconds: Option<u64>,
}

#[utoipa::path(post, path = "/api/bulk/sets", tag = "bulk", request_body = dto::BulkSubmitBody,
    responses((status = 201, body = dto::BulkSetDto, description = "Stored as one access request (approved by policy when small)"),
              (status = 200, body = dto::BulkSetDto, description = "The same text was submitted before: that set"),
              (status = 400, body = dto::ErrorBody, description = "Unreadable, or rows with errors (their lines are named)"),
              (status = 403, body = dto::ErrorBody), (status = 422, body = dto::ErrorBody), (status = 503, body = dto::ErrorBody)),
    security(("bearer" = [])))]
pub(crate) async fn submit(
    State(s): State<ApiState>,
    Caller(who): Caller,
    ApiJson(body): ApiJson<dto::BulkSubmitBody>,
) -> Result<(StatusCode, ApiJson<dto::BulkSetDto>), ApiError> {
    let new = NewChangeSet { format: body.format, content: body.content, reason: body.reason };
    let (progress, created) = s.app.bulk_submit(&who, new).await?;
    let status = if created { StatusCode::CREATED } else { StatusCode::OK };
    Ok((status, ApiJson(set_dto(&progress, Items::All, s.app.clock.now()))))
}

#[utoipa::path(get, path = "/api/bulk/sets/{id}", tag = "bulk", params(("id" = String, Path, description = "Request id"), ItemsQuery),
    responses((status = 200, body = dto::BulkSetDto, description = "Progress, or the report once finished"),
              (status = 400, body = dto::ErrorBody), (status = 404, body = dto::ErrorBody)),
    security(("bearer" = [])))]
pub(crate) async fn get_set(
    State(s): State<ApiState>,
    Caller(who): Caller,
    Path(id): Path<String>,
    Query(q): Query<ItemsQuery>,
) -> Result<ApiJson<dto::BulkSetDto>, ApiError> {
    let id = RequestId::parse(&id)?;
    let which = Items::parse(q.items.as_deref())?;
    let progress = s.app.bulk_progress(&who, id).await?;
    Ok(ApiJson(set_dto(&progress, which, s.app.clock.now())))
}

#[utoipa::path(post, path = "/api/bulk/sets/{id}/apply", tag = "bulk", params(("id" = String, Path, description = "Request id"), ApplyQuery),
    responses((status = 200, body = dto::BulkSetDto, description = "Progress after this run (failed items listed); call again until finished"),
              (status = 400, body = dto::ErrorBody), (status = 403, body = dto::ErrorBody), (status = 404, body = dto::ErrorBody),
              (status = 409, body = dto::ErrorBody, description = "Not approved (yet), denied or expired")),
    security(("bearer" = [])))]
pub(crate) async fn apply(
    State(s): State<ApiState>,
    Caller(who): Caller,
    Path(id): Path<String>,
    Query(q): Query<ApplyQuery>,
) -> Result<ApiJson<dto::BulkSetDto>, ApiError> {
    let id = RequestId::parse(&id)?;
    let seconds = q.budget_seconds.unwrap_or(DEFAULT_APPLY_SECONDS);
    if !(1..=MAX_APPLY_SECONDS).contains(&seconds) {
        return Err(ApiError::BadRequest(format!("'budget_seconds' must be between 1 and {MAX_APPLY_SECONDS}")));
    }
    let progress = s.app.bulk_apply(&who, id, Duration::from_secs(seconds)).await?;
    Ok(ApiJson(set_dto(&progress, Items::Failed, s.app.clock.now())))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Items {
    All,
    Failed,
    None,
}

impl Items {
    fn parse(raw: Option<&str>) -> Result<Self, ApiError> {
        match raw {
            None | Some("all") => Ok(Self::All),
            Some("failed") => Ok(Self::Failed),
            Some("none") => Ok(Self::None),
            Some(other) => Err(ApiError::BadRequest(format!(
                "'items' must be all, failed or none, not '{}'",
                other.chars().take(20).collect::<String>()
            ))),
        }
    }
}

fn set_dto(p: &SetProgress, which: Items, now: chrono::DateTime<chrono::Utc>) -> dto::BulkSetDto {
    let items = p
        .items
        .iter()
        .filter(|i| match which {
            Items::All => true,
            Items::Failed => i.status == ItemStatus::Failed,
            Items::None => false,
        })
        .map(|i| dto::BulkItemDto {
            line: i.line,
            email: i.subject.to_string(),
            target: i.target.clone(),
            desired: i.change.desired().describe().to_owned(),
            ends_at: i.ends_at,
            status: i.status.as_str().to_owned(),
            baseline: i.baseline.as_ref().map(convert::level),
            read_back: i.read_back.as_ref().map(convert::level),
            error: i.error.clone(),
        })
        .collect();
    dto::BulkSetDto {
        id: p.set.request_id.to_string(),
        requester: p.set.requester.to_string(),
        phase: p.phase.as_str().to_owned(),
        request_status: p.request.status.as_str().to_owned(),
        approvals_required: p.request.approvals_required,
        approvals: p.request.approvals.len(),
        total: p.set.total,
        pending: p.counts.pending,
        in_flight: p.counts.in_flight,
        done: p.counts.done,
        failed: p.counts.failed,
        no_op: p.counts.no_op,
        created_at: p.set.created_at,
        started_at: p.set.started_at,
        finished_at: p.set.finished_at,
        rate_per_second: p.rate_per_second(now),
        items,
    }
}

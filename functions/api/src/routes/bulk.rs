//! Bulk change sets: the plan, compared with PostHog before anything is written.

use axum::extract::State;
use hogwarden_api_types as dto;
use hogwarden_core::bulk::{self, PlanAction};

use crate::ApiState;
use crate::auth::Caller;
use crate::error::{ApiError, ApiJson};

/// Change sets are larger than other bodies; this is their own limit.
pub(crate) const MAX_BULK_BYTES: usize = 1024 * 1024;

#[utoipa::path(post, path = "/api/bulk/plan", tag = "bulk", request_body = dto::BulkPlanBody,
    responses((status = 200, body = dto::BulkPlanDto, description = "Each row: change, no-op or error, with its line number"),
              (status = 400, body = dto::ErrorBody), (status = 403, body = dto::ErrorBody), (status = 503, body = dto::ErrorBody)),
    security(("bearer" = [])))]
pub(crate) async fn plan(
    State(s): State<ApiState>,
    Caller(who): Caller,
    ApiJson(body): ApiJson<dto::BulkPlanBody>,
) -> Result<ApiJson<dto::BulkPlanDto>, ApiError> {
    let rows = match body.format.as_str() {
        "csv" => bulk::parse_csv(&body.content)?,
        "json" => bulk::parse_json(&body.content)?,
        other => {
            return Err(ApiError::BadRequest(format!(
                "'format' must be 'csv' or 'json', not '{}'",
                other.chars().take(20).collect::<String>()
            )));
        }
    };
    let plan = s.app.bulk_plan(&who, &rows).await?;
    let action = |a: PlanAction| match a {
        PlanAction::Change => "change",
        PlanAction::NoOp => "no_op",
        PlanAction::Error => "error",
    };
    Ok(ApiJson(dto::BulkPlanDto {
        changes: plan.count(PlanAction::Change),
        no_ops: plan.count(PlanAction::NoOp),
        errors: plan.count(PlanAction::Error),
        items: plan
            .items
            .into_iter()
            .map(|i| dto::BulkPlanItemDto {
                line: i.line,
                email: i.email,
                target: i.target,
                current: i.current,
                desired: i.desired,
                ends_at: i.ends_at,
                action: action(i.action).to_owned(),
                message: i.message,
            })
            .collect(),
    }))
}

//! Requests, approvals, the approver inbox and the list of grants.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use hogwarden_api_types as dto;
use hogwarden_core::types::RequestId;

use crate::auth::Caller;
use crate::error::{ApiError, ApiJson};
use crate::{ApiState, convert};

#[utoipa::path(post, path = "/api/requests", tag = "requests", request_body = dto::CreateRequest,
    responses((status = 201, body = dto::RequestDto, description = "Recorded (and, when policy needs no approver, applied)"),
              (status = 400, body = dto::ErrorBody), (status = 401, body = dto::ErrorBody), (status = 403, body = dto::ErrorBody),
              (status = 404, body = dto::ErrorBody), (status = 422, body = dto::ErrorBody), (status = 503, body = dto::ErrorBody)),
    security(("bearer" = [])))]
pub(crate) async fn create_request(
    State(s): State<ApiState>,
    Caller(who): Caller,
    ApiJson(body): ApiJson<dto::CreateRequest>,
) -> Result<(StatusCode, ApiJson<dto::RequestDto>), ApiError> {
    let new = convert::new_request(&body)?;
    let created = s.app.request_access(&who, new).await?;
    let grants = s.app.store.list_grants_for_request(created.id).await?;
    Ok((StatusCode::CREATED, ApiJson(convert::request(&created, &grants, &who, s.app.clock.now()))))
}

#[utoipa::path(get, path = "/api/requests", tag = "requests",
    responses((status = 200, body = dto::RequestList, description = "The caller's requests, newest first"), (status = 401, body = dto::ErrorBody)),
    security(("bearer" = [])))]
pub(crate) async fn my_requests(State(s): State<ApiState>, Caller(who): Caller) -> Result<ApiJson<dto::RequestList>, ApiError> {
    let now = s.app.clock.now();
    let mut out = Vec::new();
    for r in s.app.my_requests(&who).await? {
        let grants = s.app.store.list_grants_for_request(r.id).await?;
        out.push(convert::request(&r, &grants, &who, now));
    }
    Ok(ApiJson(dto::RequestList { requests: out }))
}

#[utoipa::path(get, path = "/api/requests/{id}", tag = "requests", params(("id" = String, Path, description = "Request id")),
    responses((status = 200, body = dto::RequestDto), (status = 400, body = dto::ErrorBody), (status = 404, body = dto::ErrorBody)),
    security(("bearer" = [])))]
pub(crate) async fn get_request(
    State(s): State<ApiState>,
    Caller(who): Caller,
    Path(id): Path<String>,
) -> Result<ApiJson<dto::RequestDto>, ApiError> {
    let id = RequestId::parse(&id)?;
    let (r, grants, _, checklist) = s.app.request_record(&who, id).await?;
    let mut dto = convert::request(&r, &grants, &who, s.app.clock.now());
    dto.checklist = Some(convert::checklist(&checklist));
    Ok(ApiJson(dto))
}

#[utoipa::path(get, path = "/api/requests/{id}/export", tag = "requests", params(("id" = String, Path, description = "Request id")),
    responses((status = 200, content_type = "text/markdown", body = String,
               description = "The request, its security checklist and its audit trail as Markdown"),
              (status = 400, body = dto::ErrorBody), (status = 404, body = dto::ErrorBody)),
    security(("bearer" = [])))]
pub(crate) async fn export_request(
    State(s): State<ApiState>,
    Caller(who): Caller,
    Path(id): Path<String>,
) -> Result<impl axum::response::IntoResponse, ApiError> {
    let id = RequestId::parse(&id)?;
    let (r, grants, entries, checklist) = s.app.request_record(&who, id).await?;
    let disposition = format!("attachment; filename=\"hogwarden-request-{id}.md\"");
    Ok((
        [
            (axum::http::header::CONTENT_TYPE, "text/markdown; charset=utf-8".to_owned()),
            (axum::http::header::CONTENT_DISPOSITION, disposition),
        ],
        convert::request_markdown(&r, &grants, &entries, &checklist),
    ))
}

#[utoipa::path(post, path = "/api/requests/{id}/approve", tag = "requests", params(("id" = String, Path, description = "Request id")),
    request_body = dto::ApproveBody,
    responses((status = 200, body = dto::RequestDto, description = "Approved, and applied once enough approvals are in"),
              (status = 403, body = dto::ErrorBody, description = "Own request, or not an approver"),
              (status = 404, body = dto::ErrorBody), (status = 409, body = dto::ErrorBody, description = "Already decided"),
              (status = 422, body = dto::ErrorBody, description = "PostHog refused the change")),
    security(("bearer" = [])))]
pub(crate) async fn approve(
    State(s): State<ApiState>,
    Caller(who): Caller,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> Result<ApiJson<dto::RequestDto>, ApiError> {
    let id = RequestId::parse(&id)?;
    // The body is optional: an empty one means "no comment".
    let body: dto::ApproveBody = if body.iter().all(u8::is_ascii_whitespace) {
        dto::ApproveBody::default()
    } else {
        serde_json::from_slice(&body).map_err(|e| ApiError::BadRequest(format!("The body does not match the expected shape: {e}")))?
    };
    let comment = body.comment.map(|c| c.trim().chars().take(1000).collect::<String>()).filter(|c| !c.is_empty());
    let r = s.app.approve(&who, id, comment).await?;
    let grants = s.app.store.list_grants_for_request(r.id).await?;
    Ok(ApiJson(convert::request(&r, &grants, &who, s.app.clock.now())))
}

#[utoipa::path(post, path = "/api/requests/{id}/deny", tag = "requests", params(("id" = String, Path, description = "Request id")),
    request_body = dto::DenyBody,
    responses((status = 200, body = dto::RequestDto), (status = 400, body = dto::ErrorBody), (status = 403, body = dto::ErrorBody),
              (status = 404, body = dto::ErrorBody), (status = 409, body = dto::ErrorBody)),
    security(("bearer" = [])))]
pub(crate) async fn deny(
    State(s): State<ApiState>,
    Caller(who): Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<dto::DenyBody>,
) -> Result<ApiJson<dto::RequestDto>, ApiError> {
    let id = RequestId::parse(&id)?;
    let reason = hogwarden_core::types::Justification::parse(&body.reason)?;
    let r = s.app.deny(&who, id, reason).await?;
    Ok(ApiJson(convert::request(&r, &[], &who, s.app.clock.now())))
}

#[utoipa::path(get, path = "/api/inbox", tag = "requests",
    responses((status = 200, body = dto::RequestList, description = "Pending requests, oldest first"), (status = 403, body = dto::ErrorBody)),
    security(("bearer" = [])))]
pub(crate) async fn inbox(State(s): State<ApiState>, Caller(who): Caller) -> Result<ApiJson<dto::RequestList>, ApiError> {
    let now = s.app.clock.now();
    let requests = s.app.inbox(&who).await?.iter().map(|r| convert::request(r, &[], &who, now)).collect();
    Ok(ApiJson(dto::RequestList { requests }))
}

#[utoipa::path(get, path = "/api/grants", tag = "grants",
    responses((status = 200, body = dto::GrantList, description = "Active grants: all for approvers, one's own otherwise")),
    security(("bearer" = [])))]
pub(crate) async fn list_grants(State(s): State<ApiState>, Caller(who): Caller) -> Result<ApiJson<dto::GrantList>, ApiError> {
    let now = s.app.clock.now();
    let grants = s.app.active_grants(&who).await?.iter().map(|g| convert::grant(g, now)).collect();
    Ok(ApiJson(dto::GrantList { grants }))
}

#[utoipa::path(post, path = "/api/grants/{id}/extend", tag = "grants", params(("id" = String, Path, description = "Grant id")),
    request_body = dto::ExtendBody,
    responses((status = 201, body = dto::RequestDto, description = "The extension request, waiting for an approver"),
              (status = 400, body = dto::ErrorBody), (status = 404, body = dto::ErrorBody),
              (status = 409, body = dto::ErrorBody, description = "The access ended, is permanent, or an extension already waits"),
              (status = 422, body = dto::ErrorBody, description = "Not later than the current end, or longer than policy allows")),
    security(("bearer" = [])))]
pub(crate) async fn extend_grant(
    State(s): State<ApiState>,
    Caller(who): Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<dto::ExtendBody>,
) -> Result<(StatusCode, ApiJson<dto::RequestDto>), ApiError> {
    let id = hogwarden_core::types::GrantId::parse(&id)?;
    let reason = hogwarden_core::types::Justification::parse(&body.reason)?;
    let created = s.app.request_extension(&who, id, body.until, reason).await?;
    Ok((StatusCode::CREATED, ApiJson(convert::request(&created, &[], &who, s.app.clock.now()))))
}

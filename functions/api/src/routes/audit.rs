//! The audit log and its chain verification.

use axum::extract::{Query, State};
use chrono::{DateTime, Utc};
use hogwarden_api_types as dto;
use hogwarden_core::audit::AuditKind;
use hogwarden_core::ports::AuditQuery;
use hogwarden_core::types::{Email, ParseError, RequestId};
use serde::Deserialize;

use crate::auth::Caller;
use crate::error::{ApiError, ApiJson};
use crate::{ApiState, convert};

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub(crate) struct AuditParams {
    /// Whose access the entries are about.
    subject: Option<String>,
    /// Who acted.
    actor: Option<String>,
    /// requested, approved, denied, expired, applied, apply_failed, reverted, revert_failed, revert_conflict.
    kind: Option<String>,
    request_id: Option<String>,
    /// RFC 3339 time.
    from: Option<String>,
    to: Option<String>,
    /// At most 500 (default 100).
    limit: Option<usize>,
}

fn time(raw: &str, name: &str) -> Result<DateTime<Utc>, ApiError> {
    DateTime::parse_from_rfc3339(raw)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| ApiError::BadRequest(format!("'{name}' must be an RFC 3339 time such as 2026-01-31T12:00:00Z")))
}

fn query(p: &AuditParams) -> Result<AuditQuery, ApiError> {
    Ok(AuditQuery {
        subject: p.subject.as_deref().map(Email::parse).transpose()?,
        actor: p.actor.as_deref().map(Email::parse).transpose()?,
        kind: p
            .kind
            .as_deref()
            .map(|k| AuditKind::parse(k).ok_or_else(|| ParseError::Other(format!("'{k}' is not an audit entry kind"))))
            .transpose()?,
        request_id: p.request_id.as_deref().map(RequestId::parse).transpose()?,
        from: p.from.as_deref().map(|t| time(t, "from")).transpose()?,
        to: p.to.as_deref().map(|t| time(t, "to")).transpose()?,
        limit: match p.limit {
            Some(0) | Some(501..) => return Err(ApiError::BadRequest("'limit' must be between 1 and 500".into())),
            Some(n) => n,
            None => 100,
        },
    })
}

#[utoipa::path(get, path = "/api/audit", tag = "audit", params(AuditParams),
    responses((status = 200, body = dto::AuditList, description = "Entries newest first, and whether the chain verifies"), (status = 400, body = dto::ErrorBody)),
    security(("bearer" = [])))]
pub(crate) async fn list_audit(
    State(s): State<ApiState>,
    Caller(who): Caller,
    params: Result<Query<AuditParams>, axum::extract::rejection::QueryRejection>,
) -> Result<ApiJson<dto::AuditList>, ApiError> {
    let Query(params) = params?;
    let page = s.app.audit(&who, query(&params)?).await?;
    Ok(ApiJson(dto::AuditList {
        entries: page.entries.iter().map(convert::audit_entry).collect(),
        verification: convert::verification(&page.verification),
    }))
}

#[utoipa::path(get, path = "/api/audit/verify", tag = "audit",
    responses((status = 200, body = dto::VerificationDto, description = "Whether the whole chain is intact")),
    security(("bearer" = [])))]
pub(crate) async fn verify_audit(State(s): State<ApiState>, Caller(_who): Caller) -> Result<ApiJson<dto::VerificationDto>, ApiError> {
    Ok(ApiJson(convert::verification(&s.app.verify_audit().await?)))
}

#[utoipa::path(get, path = "/api/audit/export", tag = "audit", params(AuditParams),
    responses((status = 200, content_type = "text/csv", body = String,
               description = "The matching entries as CSV, oldest first: the access log to file with a review or an auditor"),
              (status = 400, body = dto::ErrorBody)),
    security(("bearer" = [])))]
pub(crate) async fn export_audit(
    State(s): State<ApiState>,
    Caller(who): Caller,
    params: Result<Query<AuditParams>, axum::extract::rejection::QueryRejection>,
) -> Result<impl axum::response::IntoResponse, ApiError> {
    let Query(params) = params?;
    let mut q = query(&params)?;
    if params.limit.is_none() {
        q.limit = 500;
    }
    let mut page = s.app.audit(&who, q).await?;
    page.entries.sort_by_key(|e| e.seq);
    let csv = convert::audit_csv(&page.entries).map_err(|e| ApiError::Core(hogwarden_core::Error::Storage(e)))?;
    Ok((
        [
            (axum::http::header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (axum::http::header::CONTENT_DISPOSITION, "attachment; filename=\"hogwarden-access-log.csv\""),
        ],
        csv,
    ))
}

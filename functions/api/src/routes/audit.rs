//! The audit log and its chain verification.

use axum::extract::{Query, State};
use chrono::{DateTime, Utc};
use hogwarden_api_types as dto;
use hogwarden_core::audit::{AuditKind, ChainAnchor};
use hogwarden_core::ports::AuditQuery;
use hogwarden_core::types::{Email, ParseError, ProjectId, RequestId};
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
    /// Entries about one PostHog project: those whose details name it, and every
    /// other entry of the same requests (approved, denied, …), among the newest 1000
    /// entries (before `before_seq`).
    project: Option<i64>,
    /// With `project`: search the entries older than this one (the `searched_back_to`
    /// of the previous answer).
    before_seq: Option<u64>,
    /// RFC 3339 time.
    from: Option<String>,
    to: Option<String>,
    /// At most 500 (default 100).
    limit: Option<usize>,
}

fn project(p: &AuditParams) -> Result<Option<ProjectId>, ApiError> {
    p.project
        .map(|id| ProjectId::new(id).map_err(|_| ApiError::BadRequest("'project' must be a PostHog project id (a positive number)".into())))
        .transpose()
}

fn before_seq(p: &AuditParams) -> Result<Option<u64>, ApiError> {
    match p.before_seq {
        Some(0) => Err(ApiError::BadRequest("'before_seq' counts from 1".into())),
        seq => Ok(seq),
    }
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
    responses((status = 200, body = dto::AuditList, description = "Entries newest first (the chain is verified by GET /api/audit/verify)"), (status = 400, body = dto::ErrorBody)),
    security(("bearer" = [])))]
pub(crate) async fn list_audit(
    State(s): State<ApiState>,
    Caller(who): Caller,
    params: Result<Query<AuditParams>, axum::extract::rejection::QueryRejection>,
) -> Result<ApiJson<dto::AuditList>, ApiError> {
    let Query(params) = params?;
    let page = s.app.audit(&who, query(&params)?, project(&params)?, before_seq(&params)?).await?;
    Ok(ApiJson(dto::AuditList {
        entries: page.entries.iter().map(convert::audit_entry).collect(),
        searched_back_to: page.searched_back_to,
    }))
}

/// An anchor to verify the chain against: an entry's position and hash as an earlier
/// verification reported them (`head_seq`, `head_hash`), kept outside Hogwarden.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub(crate) struct VerifyParams {
    /// The anchor entry's position (from 1).
    anchor_seq: Option<u64>,
    /// The anchor entry's hash (64 hex digits).
    anchor_hash: Option<String>,
}

fn anchor(p: &VerifyParams) -> Result<Option<ChainAnchor>, ApiError> {
    match (p.anchor_seq, p.anchor_hash.as_deref()) {
        (None, None) => Ok(None),
        (Some(0), _) => Err(ApiError::BadRequest("'anchor_seq' counts from 1".into())),
        (Some(seq), Some(hash)) if hash.len() == 64 && hash.bytes().all(|b| b.is_ascii_hexdigit()) => {
            Ok(Some(ChainAnchor { seq, hash: hash.to_ascii_lowercase() }))
        }
        (Some(_), Some(_)) => Err(ApiError::BadRequest("'anchor_hash' must be 64 hexadecimal digits (a SHA-256 hash)".into())),
        _ => Err(ApiError::BadRequest("'anchor_seq' and 'anchor_hash' go together: give both or neither".into())),
    }
}

#[utoipa::path(get, path = "/api/audit/verify", tag = "audit", params(VerifyParams),
    responses((status = 200, body = dto::VerificationDto,
               description = "Whether the whole chain is intact (and still holds the anchor, when one is given), and its head to keep as the next anchor"),
              (status = 400, body = dto::ErrorBody), (status = 403, body = dto::ErrorBody, description = "Only admins: it reads the whole chain")),
    security(("bearer" = [])))]
pub(crate) async fn verify_audit(
    State(s): State<ApiState>,
    Caller(who): Caller,
    params: Result<Query<VerifyParams>, axum::extract::rejection::QueryRejection>,
) -> Result<ApiJson<dto::VerificationDto>, ApiError> {
    let Query(params) = params?;
    let anchor = anchor(&params)?;
    Ok(ApiJson(convert::verification(&s.app.verify_audit_as(&who, anchor.as_ref()).await?)))
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
    let mut page = s.app.audit(&who, q, project(&params)?, before_seq(&params)?).await?;
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

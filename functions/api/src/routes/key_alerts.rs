//! The alert history, the writes-paused status and personal key metadata (served by the
//! key-rotation Lambda, like the rest of `/api/keys`).

use axum::body::Bytes;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use hogwarden_api_types as dto;
use hogwarden_core::alerts::{AlertRecord, WritePause};
use hogwarden_core::usecases::{PERSONAL_KEYS_EXPORT_HINT, pause_message, valid_alert_cursor};
use serde::Deserialize;

use crate::ApiState;
use crate::auth::Caller;
use crate::error::{ApiError, ApiJson};

/// The largest personal-key list accepted (PostHog's list is about 400 bytes a key).
pub(crate) const MAX_IMPORT_BYTES: usize = 2 * 1024 * 1024;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub(crate) struct AlertParams {
    /// The `next` of the previous page.
    before: Option<String>,
    /// At most 100 (default 50).
    limit: Option<usize>,
}

pub(crate) fn paused_dto(pause: WritePause) -> dto::WritesPausedDto {
    dto::WritesPausedDto {
        message: pause_message(&pause),
        since: pause.since,
        reason: pause.reason,
        alert_id: pause.alert_id,
        fingerprint: pause.fingerprint,
    }
}

fn alert_dto(a: AlertRecord) -> dto::AlertDto {
    dto::AlertDto {
        id: a.id,
        provider: a.provider,
        received_at: a.received_at,
        verdict: a.verdict.as_str().into(),
        reason: a.reason,
        detail: a.detail,
        delivery_id: a.delivery_id,
        leaks: a.leaks.into_iter().map(|l| dto::LeakActionDto { kind: l.kind, fingerprint: l.fingerprint, action: l.action }).collect(),
        count: a.count,
        last_at: a.last_at,
    }
}

/// Every leaked-key alert Hogwarden received (accepted and refused, with the reason)
/// and every stored key PostHog began rejecting, newest first. Admins and the security
/// contacts.
#[utoipa::path(get, path = "/api/keys/alerts", tag = "keys", params(AlertParams),
    responses((status = 200, body = dto::AlertPageDto), (status = 400, body = dto::ErrorBody), (status = 403, body = dto::ErrorBody)),
    security(("bearer" = [])))]
pub(crate) async fn alert_history(
    State(s): State<ApiState>,
    Caller(who): Caller,
    params: Result<Query<AlertParams>, QueryRejection>,
) -> Result<ApiJson<dto::AlertPageDto>, ApiError> {
    let Query(params) = params?;
    if let Some(before) = &params.before
        && !valid_alert_cursor(before)
    {
        return Err(ApiError::BadRequest("'before' must be the 'next' value of a previous page.".into()));
    }
    if params.limit == Some(0) || params.limit.is_some_and(|l| l > hogwarden_core::usecases::MAX_ALERT_PAGE) {
        return Err(ApiError::BadRequest("'limit' must be between 1 and 100.".into()));
    }
    let page = s.app.alert_history(&who, params.before.as_deref(), params.limit.unwrap_or(50)).await?;
    Ok(ApiJson(dto::AlertPageDto { alerts: page.alerts.into_iter().map(alert_dto).collect(), next: page.next }))
}

/// Whether PostHog writes are paused, and why (anyone signed in).
#[utoipa::path(get, path = "/api/keys/status", tag = "keys",
    responses((status = 200, body = dto::KeyStatusDto), (status = 401, body = dto::ErrorBody)),
    security(("bearer" = [])))]
pub(crate) async fn key_status(State(s): State<ApiState>, Caller(_who): Caller) -> Result<ApiJson<dto::KeyStatusDto>, ApiError> {
    Ok(ApiJson(dto::KeyStatusDto { writes_paused: s.app.writes_paused().await?.map(paused_dto) }))
}

fn personal_dto(s: &ApiState, k: hogwarden_core::alerts::PersonalKey, now: chrono::DateTime<chrono::Utc>) -> dto::PersonalKeyDto {
    dto::PersonalKeyDto {
        due: s.app.personal_key_due(&hogwarden_core::alerts::PersonalKey { last_reminded_at: None, ..k.clone() }, now),
        owner: k.owner.to_string(),
        owner_name: k.owner_name,
        mask: k.mask,
        scopes: k.scopes,
        access: k.access,
        created_at: k.created_at,
        last_used_at: k.last_used_at,
        rolled_seen_at: k.rolled_seen_at,
        last_reminded_at: k.last_reminded_at,
    }
}

const WHO_ROLLS: &str = "Only a key's owner can roll or delete it, in PostHog under Settings → Personal API keys. \
     Hogwarden reminds owners of keys older than policy or unused for too long.";

/// People's personal API keys as last imported (metadata only). Admins.
#[utoipa::path(get, path = "/api/keys/personal", tag = "keys",
    responses((status = 200, body = dto::PersonalKeyListDto), (status = 403, body = dto::ErrorBody)),
    security(("bearer" = [])))]
pub(crate) async fn personal_keys(State(s): State<ApiState>, Caller(who): Caller) -> Result<ApiJson<dto::PersonalKeyListDto>, ApiError> {
    let now = s.app.clock.now();
    let keys = s.app.personal_keys(&who).await?;
    Ok(ApiJson(dto::PersonalKeyListDto {
        keys: keys.into_iter().map(|k| personal_dto(&s, k, now)).collect(),
        how_to_import: PERSONAL_KEYS_EXPORT_HINT.into(),
        who_rolls: WHO_ROLLS.into(),
    }))
}

/// Imports PostHog's organization personal-key list, exactly as PostHog returns it to a
/// signed-in admin (`GET /api/organizations/@current/personal_api_keys/?limit=1000`).
/// The file is checked whole first: a bad file answers 422 naming the problem and
/// stores nothing; a file holding a whole key value is refused.
#[utoipa::path(post, path = "/api/keys/personal/import", tag = "keys",
    request_body(content = String, description = "PostHog's JSON list (a page object or an array)", content_type = "application/json"),
    responses((status = 200, body = dto::ImportReportDto), (status = 403, body = dto::ErrorBody), (status = 413, body = dto::ErrorBody),
        (status = 422, body = dto::ErrorBody)),
    security(("bearer" = [])))]
pub(crate) async fn import_personal_keys(
    State(s): State<ApiState>,
    Caller(who): Caller,
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> Result<ApiJson<dto::ImportReportDto>, ApiError> {
    let body = body.map_err(|r| match r.status() {
        axum::http::StatusCode::PAYLOAD_TOO_LARGE => {
            ApiError::PayloadTooLarge(format!("The file is larger than {MAX_IMPORT_BYTES} bytes."))
        }
        _ => ApiError::BadRequest(r.body_text()),
    })?;
    let text = std::str::from_utf8(&body).map_err(|_| ApiError::BadRequest("The file is not UTF-8 text.".into()))?;
    let report = s.app.import_personal_keys(&who, text).await?;
    Ok(ApiJson(dto::ImportReportDto { listed: report.listed, new: report.new, rolled: report.rolled, gone: report.gone }))
}

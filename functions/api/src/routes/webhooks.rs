//! `POST /webhooks/{provider}`: leaked-key alerts from GitHub, GitGuardian or any
//! scanner using the generic signed format. No JWT: the request's own signature is the
//! authentication, checked before anything in the body is read.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use hogwarden_api_types as dto;
use hogwarden_core::usecases::AlertError;

use crate::ApiState;
use crate::error::ApiError;

#[utoipa::path(post, path = "/webhooks/{provider}", tag = "keys",
    params(("provider" = String, Path, description = "github, gitguardian or generic")),
    request_body(content = String, description = "The provider's JSON alert, signed as the provider signs it", content_type = "application/json"),
    responses((status = 202, body = dto::AlertReportDto), (status = 400, body = dto::ErrorBody), (status = 401, body = dto::ErrorBody),
        (status = 404, body = dto::ErrorBody), (status = 409, body = dto::ErrorBody), (status = 503, body = dto::ErrorBody)))]
pub(crate) async fn receive_webhook(State(s): State<ApiState>, Path(provider): Path<String>, headers: HeaderMap, body: Bytes) -> Response {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
    if !hogwarden_core::webhooks::is_signed(&header) {
        tracing::warn!("leaked-key webhook without a signature refused; nothing changed");
        if let Some(leaks) = &s.leaks {
            leaks.record_refused(&provider, "missing_header", "the request carries no webhook signature header").await;
        }
        return refused(StatusCode::UNAUTHORIZED, "missing_signature", "the request carries no webhook signature header");
    }
    let Some(leaks) = s.leaks.clone() else {
        return refused(StatusCode::SERVICE_UNAVAILABLE, "not_configured", "leaked-key webhooks are not configured on this deployment");
    };
    match leaks.receive(&provider, &header, &body).await {
        Ok(report) => {
            let body = dto::AlertReportDto {
                provider: report.provider,
                delivery_id: report.delivery_id,
                actions: report
                    .actions
                    .into_iter()
                    .map(|a| dto::LeakActionDto { kind: a.kind, fingerprint: a.fingerprint, action: a.action })
                    .collect(),
            };
            (StatusCode::ACCEPTED, axum::Json(body)).into_response()
        }
        Err(AlertError::Refused(e)) => {
            let status = StatusCode::from_u16(e.status()).unwrap_or(StatusCode::BAD_REQUEST);
            refused(status, e.code(), &e.to_string())
        }
        Err(AlertError::Failed(e)) => ApiError::Core(e).into_response(),
    }
}

fn refused(status: StatusCode, code: &str, message: &str) -> Response {
    let body = dto::ErrorBody { error: dto::ErrorDetail { code: code.to_owned(), message: message.to_owned() } };
    (status, axum::Json(body)).into_response()
}

/// Replaces Hogwarden's own PostHog key (admins). PostHog must accept the new key for
/// the organization, with every scope Hogwarden uses, before it is stored.
#[utoipa::path(put, path = "/api/keys/service", tag = "keys", request_body = dto::ServiceKeyBody,
    responses((status = 200, body = dto::KeyDto), (status = 400, body = dto::ErrorBody), (status = 403, body = dto::ErrorBody),
        (status = 422, body = dto::ErrorBody), (status = 503, body = dto::ErrorBody)),
    security(("bearer" = [])))]
pub(crate) async fn replace_service_key(
    State(s): State<ApiState>,
    crate::auth::Caller(who): crate::auth::Caller,
    crate::error::ApiJson(body): crate::error::ApiJson<dto::ServiceKeyBody>,
) -> Result<crate::error::ApiJson<dto::KeyDto>, ApiError> {
    let Some(keys) = s.service_keys.clone() else {
        return Err(ApiError::Core(hogwarden_core::Error::Forbidden("Replacing the service key is not configured here.".into())));
    };
    let fingerprint = keys.replace(&who, secrecy::SecretString::from(body.key)).await?;
    Ok(crate::error::ApiJson(dto::KeyDto {
        name: "Hogwarden service key".into(),
        kind: "personal_api_key".into(),
        fingerprint: Some(fingerprint),
        accepted: Some(true),
        checked_at: s.app.clock.now(),
        ..dto::KeyDto::default()
    }))
}

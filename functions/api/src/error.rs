//! One error type for the whole API, mapped to HTTP in exactly one `IntoResponse`.
//! 4xx bodies name the problem; 5xx bodies say nothing internal and the real error
//! is logged. `ApiJson` makes even malformed JSON answer in the same shape.

use axum::extract::FromRequest;
use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use hogwarden_api_types::{ErrorBody, ErrorDetail};
use hogwarden_core::Error as CoreError;
use hogwarden_core::ports::PostHogError;
use hogwarden_core::types::ParseError;

/// Everything a handler can fail with.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    Unauthorized(String),
    #[error(transparent)]
    Core(#[from] CoreError),
    #[error("{0}")]
    PayloadTooLarge(String),
    #[error("{0}")]
    UnsupportedMediaType(String),
    #[error("no route for this path")]
    NoRoute,
}

impl From<ParseError> for ApiError {
    fn from(e: ParseError) -> Self {
        Self::Core(CoreError::Invalid(e))
    }
}

impl ApiError {
    fn parts(&self) -> (StatusCode, &'static str, String) {
        match self {
            Self::BadRequest(m) => (StatusCode::BAD_REQUEST, "invalid_input", m.clone()),
            Self::Unauthorized(m) => (StatusCode::UNAUTHORIZED, "unauthorized", m.clone()),
            Self::PayloadTooLarge(m) => (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large", m.clone()),
            Self::UnsupportedMediaType(m) => (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type", m.clone()),
            Self::NoRoute => (StatusCode::NOT_FOUND, "not_found", "There is no such API route.".into()),
            Self::Core(e) => match e {
                CoreError::Invalid(p) => (StatusCode::BAD_REQUEST, "invalid_input", p.to_string()),
                CoreError::PolicyViolation(m) => (StatusCode::UNPROCESSABLE_ENTITY, "policy_violation", m.clone()),
                CoreError::NotFound(what) => (StatusCode::NOT_FOUND, "not_found", format!("Not found: {what}.")),
                CoreError::Forbidden(m) => (StatusCode::FORBIDDEN, "forbidden", m.clone()),
                CoreError::Conflict(m) => (StatusCode::CONFLICT, "conflict", m.clone()),
                CoreError::Upstream(PostHogError::Rejected { detail, .. }) => {
                    (StatusCode::UNPROCESSABLE_ENTITY, "posthog_rejected", format!("PostHog refused the change: {detail}"))
                }
                CoreError::Upstream(PostHogError::NotConfirmed { .. }) => (
                    StatusCode::BAD_GATEWAY,
                    "posthog_not_confirmed",
                    "PostHog accepted the change but did not show it afterwards; it will be checked again.".into(),
                ),
                CoreError::Upstream(PostHogError::Unauthorized) => (
                    StatusCode::SERVICE_UNAVAILABLE,
                    "posthog_key_rejected",
                    "PostHog rejected Hogwarden's API key; an admin must store a new one. Nothing was changed.".into(),
                ),
                CoreError::Upstream(PostHogError::Paused(why)) => {
                    (StatusCode::SERVICE_UNAVAILABLE, "posthog_writes_paused", format!("Hogwarden has paused its PostHog writes: {why}"))
                }
                CoreError::Upstream(PostHogError::Unavailable(_)) => (
                    StatusCode::SERVICE_UNAVAILABLE,
                    "posthog_unavailable",
                    "PostHog is not answering right now; nothing was lost, try again in a minute.".into(),
                ),
                CoreError::Storage(_) | CoreError::Vault(_) | CoreError::Notify(_) => {
                    (StatusCode::INTERNAL_SERVER_ERROR, "internal", "Something went wrong on our side; it has been logged.".into())
                }
            },
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code, message) = self.parts();
        if status.is_server_error() {
            // The detail goes to the log only; the body stays generic.
            tracing::error!(error = %self, status = status.as_u16(), "request failed");
        } else {
            tracing::info!(code, status = status.as_u16(), "request refused");
        }
        let body = ErrorBody { error: ErrorDetail { code: code.into(), message } };
        let mut response = (status, axum::Json(body)).into_response();
        if status == StatusCode::UNAUTHORIZED {
            // As API Gateway's JWT authorizer answers, so clients behave the same in both hosts.
            response
                .headers_mut()
                .insert(axum::http::header::WWW_AUTHENTICATE, axum::http::HeaderValue::from_static("Bearer error=\"invalid_token\""));
        }
        response
    }
}

impl From<JsonRejection> for ApiError {
    fn from(r: JsonRejection) -> Self {
        match r {
            JsonRejection::MissingJsonContentType(_) => {
                Self::UnsupportedMediaType("Send the body as JSON with 'Content-Type: application/json'.".into())
            }
            JsonRejection::BytesRejection(b) if b.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                Self::PayloadTooLarge(format!("The body is larger than {} bytes.", crate::MAX_BODY_BYTES))
            }
            JsonRejection::JsonSyntaxError(e) => Self::BadRequest(format!("The body is not valid JSON: {}", inner(&e.body_text()))),
            JsonRejection::JsonDataError(e) => {
                Self::BadRequest(format!("The body does not match the expected shape: {}", inner(&e.body_text())))
            }
            other => Self::BadRequest(other.body_text()),
        }
    }
}

impl From<PathRejection> for ApiError {
    fn from(r: PathRejection) -> Self {
        Self::BadRequest(format!("Bad path parameter: {}", r.body_text()))
    }
}

impl From<QueryRejection> for ApiError {
    fn from(r: QueryRejection) -> Self {
        Self::BadRequest(format!("Bad query parameter: {}", inner(&r.body_text())))
    }
}

/// axum prefixes serde's message with its own sentence; keep the useful part.
fn inner(text: &str) -> String {
    text.split_once(": ").map(|(_, rest)| rest.to_owned()).unwrap_or_else(|| text.to_owned())
}

/// `Json` whose rejections answer in the API's error shape.
#[derive(Debug, Clone, Copy, Default, FromRequest)]
#[from_request(via(axum::Json), rejection(ApiError))]
pub struct ApiJson<T>(pub T);

impl<T: serde::Serialize> IntoResponse for ApiJson<T> {
    fn into_response(self) -> Response {
        axum::Json(self.0).into_response()
    }
}

//! PostHog's error body (drf-exceptions-hog) and the one place errors become responses.
//!
//! Every error PostHog returns is the flat object `{"type","code","detail","attr"}`; this
//! module builds exactly that, with the `Retry-After` and `WWW-Authenticate` headers PostHog
//! adds, so no route writes an error body by hand.

use axum::Json;
use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode, header};
use serde::Serialize;

/// The `type` field of PostHog's error body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorType {
    /// 400 validation errors.
    Validation,
    /// 401 and 403.
    Authentication,
    /// 404, 405, parse errors, unsupported media types.
    InvalidRequest,
    /// 429.
    Throttled,
    /// 5xx.
    Server,
}

impl ErrorType {
    fn as_str(self) -> &'static str {
        match self {
            Self::Validation => "validation_error",
            Self::Authentication => "authentication_error",
            Self::InvalidRequest => "invalid_request",
            Self::Throttled => "throttled_error",
            Self::Server => "server_error",
        }
    }
}

/// An error response in PostHog's shape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// `type`.
    pub kind: ErrorType,
    /// `code`.
    pub code: String,
    /// `detail`.
    pub detail: String,
    /// `attr`: the offending field, if any.
    pub attr: Option<String>,
    /// `Retry-After` in whole seconds.
    pub retry_after: Option<u64>,
    /// `WWW-Authenticate` value for 401s.
    pub www_authenticate: Option<String>,
}

#[derive(Serialize)]
struct Body<'a> {
    #[serde(rename = "type")]
    kind: &'a str,
    code: &'a str,
    detail: &'a str,
    attr: Option<&'a str>,
}

impl ApiError {
    fn new(status: StatusCode, kind: ErrorType, code: &str, detail: impl Into<String>) -> Self {
        Self { status, kind, code: code.to_owned(), detail: detail.into(), attr: None, retry_after: None, www_authenticate: None }
    }

    /// Names the offending field.
    pub fn with_attr(mut self, attr: &str) -> Self {
        self.attr = Some(attr.to_owned());
        self
    }

    /// Replaces `detail`.
    pub fn with_detail(mut self, detail: &str) -> Self {
        self.detail = detail.to_owned();
        self
    }

    /// 401: no credentials at all.
    pub fn not_authenticated(www_authenticate: String) -> Self {
        let mut error = Self::new(
            StatusCode::UNAUTHORIZED,
            ErrorType::Authentication,
            "not_authenticated",
            "Authentication credentials were not provided.",
        );
        error.www_authenticate = Some(www_authenticate);
        error
    }

    /// 401: a personal API key that is unknown or belongs to an inactive user.
    pub fn invalid_key(source: &str, www_authenticate: String) -> Self {
        let mut error = Self::new(
            StatusCode::UNAUTHORIZED,
            ErrorType::Authentication,
            "authentication_failed",
            format!("Personal API key found in request {source} is invalid."),
        );
        error.www_authenticate = Some(www_authenticate);
        error
    }

    /// 403 with `detail`.
    pub fn permission_denied(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, ErrorType::Authentication, "permission_denied", detail)
    }

    /// 403 with DRF's default text.
    pub fn forbidden() -> Self {
        Self::permission_denied("You do not have permission to perform this action.")
    }

    /// 404 "Not found.".
    pub fn not_found() -> Self {
        Self::new(StatusCode::NOT_FOUND, ErrorType::InvalidRequest, "not_found", "Not found.")
    }

    /// 405 for `method`.
    pub fn method_not_allowed(method: &str) -> Self {
        Self::new(
            StatusCode::METHOD_NOT_ALLOWED,
            ErrorType::InvalidRequest,
            "method_not_allowed",
            format!("Method \"{method}\" not allowed."),
        )
    }

    /// 400 malformed JSON.
    pub fn parse_error(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, ErrorType::InvalidRequest, "parse_error", detail)
    }

    /// 415 for a body that is not JSON.
    pub fn unsupported_media_type(content_type: &str) -> Self {
        Self::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ErrorType::InvalidRequest,
            "unsupported_media_type",
            format!("Unsupported media type \"{content_type}\" in request."),
        )
    }

    /// 400 validation error with DRF `code` (already mapped, e.g. `invalid_input`).
    pub fn validation(code: &str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, ErrorType::Validation, code, detail)
    }

    /// 400 `invalid_input`, the mapped form of DRF's `invalid`.
    pub fn invalid_input(detail: impl Into<String>) -> Self {
        Self::validation("invalid_input", detail)
    }

    /// 400 "This field is required." for `attr`.
    pub fn required(attr: &str) -> Self {
        Self::validation("required", "This field is required.").with_attr(attr)
    }

    /// 429 with DRF's `Throttled` text; `wait` is in whole seconds.
    pub fn throttled(wait: u64) -> Self {
        let unit = if wait == 1 { "second" } else { "seconds" };
        let mut error = Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            ErrorType::Throttled,
            "throttled",
            format!("Request was throttled. Expected available in {wait} {unit}."),
        );
        error.retry_after = Some(wait);
        error
    }

    /// 500 with the opaque text PostHog shows.
    pub fn server_error() -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, ErrorType::Server, "error", "A server error occurred.")
    }

    /// 503 for a transient database failure, with `Retry-After: 1`.
    pub fn database_unavailable() -> Self {
        let mut error = Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            ErrorType::Server,
            "database_unavailable",
            "Database is unavailable. Please try again later.",
        );
        error.retry_after = Some(1);
        error
    }

    /// 504 after a held request.
    pub fn gateway_timeout() -> Self {
        Self::new(StatusCode::GATEWAY_TIMEOUT, ErrorType::Server, "error", "A server error occurred.")
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = Body { kind: self.kind.as_str(), code: &self.code, detail: &self.detail, attr: self.attr.as_deref() };
        let mut response = (self.status, Json(body)).into_response();
        let headers = response.headers_mut();
        if let Some(wait) = self.retry_after {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(wait));
        }
        if let Some(value) = self.www_authenticate.and_then(|v| HeaderValue::from_str(&v).ok()) {
            headers.insert(header::WWW_AUTHENTICATE, value);
        }
        response
    }
}

//! What can go wrong talking to PostHog, and how that reaches the domain.
//!
//! PostHog answers every error with drf-exceptions-hog's flat body
//! `{"type","code","detail","attr"}`; [`ApiError`] is that body plus the status.
//! [`ClientError`] adds what happens below HTTP. No message here ever contains the
//! API key: it travels only in a header marked sensitive, and error texts taken from
//! responses are scrubbed of it before they are stored (see `client.rs`).

use std::fmt;
use std::time::Duration;

use hogwarden_core::ports::PostHogError;

/// drf-exceptions-hog's `type` field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApiErrorKind {
    /// `validation_error`: the request body or a parameter is wrong (400).
    Validation,
    /// `authentication_error`: 401, and also 403 (`PermissionDenied`).
    Authentication,
    /// `invalid_request`: not found, method not allowed, parse errors.
    InvalidRequest,
    /// `throttled_error`: 429.
    Throttled,
    /// `server_error`: 5xx.
    Server,
    /// `multiple`: several errors (PostHog has this mode off).
    Multiple,
    /// A `type` this client does not know, or a body that is not PostHog's shape
    /// (a proxy's HTML page); holds the type, or `""` when there was none.
    Other(String),
}

impl ApiErrorKind {
    pub fn from_type(raw: &str) -> Self {
        match raw {
            "validation_error" => Self::Validation,
            "authentication_error" => Self::Authentication,
            "invalid_request" => Self::InvalidRequest,
            "throttled_error" => Self::Throttled,
            "server_error" => Self::Server,
            "multiple" => Self::Multiple,
            other => Self::Other(other.to_owned()),
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            Self::Validation => "validation_error",
            Self::Authentication => "authentication_error",
            Self::InvalidRequest => "invalid_request",
            Self::Throttled => "throttled_error",
            Self::Server => "server_error",
            Self::Multiple => "multiple",
            Self::Other(raw) => raw,
        }
    }
}

/// An error response from PostHog.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: u16,
    pub kind: ApiErrorKind,
    /// DRF's code: `invalid_input`, `permission_denied`, `not_found`, `throttled`, …
    pub code: String,
    /// PostHog's human-readable explanation.
    pub detail: String,
    /// The offending field (nested fields joined with `__`), if any.
    pub attr: Option<String>,
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PostHog answered {}", self.status)?;
        if !self.code.is_empty() {
            write!(f, " ({})", self.code)?;
        }
        write!(f, ": {}", self.detail)?;
        if let Some(attr) = &self.attr {
            write!(f, " [field: {attr}]")?;
        }
        Ok(())
    }
}

impl std::error::Error for ApiError {}

/// Why a [`crate::PostHogClient`] call failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClientError {
    /// PostHog refused the request (4xx), or kept failing with 5xx past the retries.
    #[error("{0}")]
    Api(ApiError),
    /// 401: the key is invalid, revoked, or its user is inactive.
    #[error("PostHog rejected the API key: {}", .0.detail)]
    Unauthorized(ApiError),
    /// 401 that the vault's key did not fix, and writes are now paused (the message
    /// says so and what to do).
    #[error("PostHog writes are paused: {0}")]
    Paused(String),
    /// Throttled past `max_throttle_waits`, or asked to wait longer than
    /// `max_throttle_wait` (then `retry_after` says how long).
    #[error("PostHog is throttling this API key{}; try again later", fmt_retry_after(*.retry_after))]
    Throttled { retry_after: Option<Duration> },
    /// Every attempt timed out.
    #[error("PostHog did not answer within the timeout ({attempts} attempts)")]
    Timeout { attempts: u32 },
    /// The connection failed or broke on the last attempt.
    #[error("could not reach PostHog: {0}")]
    Transport(String),
    /// PostHog answered 2xx with a body this client cannot read.
    #[error("unexpected response from PostHog: {0}")]
    Decode(String),
    /// The configuration cannot work (bad base URL, unusable key characters, …).
    #[error("invalid PostHog client configuration: {0}")]
    Config(String),
}

fn fmt_retry_after(wait: Option<Duration>) -> String {
    match wait {
        Some(d) => format!(" (PostHog asks to wait {} s)", d.as_secs_f64().ceil()),
        None => String::new(),
    }
}

impl ClientError {
    /// Whether the same call may succeed later (what core calls `Unavailable`).
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Api(e) => e.status >= 500,
            Self::Throttled { .. } | Self::Timeout { .. } | Self::Transport(_) | Self::Decode(_) | Self::Paused(_) => true,
            Self::Unauthorized(_) | Self::Config(_) => false,
        }
    }

    /// The HTTP status PostHog answered with, if it answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            Self::Api(e) | Self::Unauthorized(e) => Some(e.status),
            Self::Throttled { .. } => Some(429),
            _ => None,
        }
    }
}

impl From<ClientError> for PostHogError {
    fn from(err: ClientError) -> Self {
        match err {
            ClientError::Unauthorized(_) => PostHogError::Unauthorized,
            ClientError::Paused(message) => PostHogError::Paused(message),
            ClientError::Api(e) if (400..500).contains(&e.status) => {
                PostHogError::Rejected { status: e.status, code: e.code, detail: e.detail }
            }
            // A configuration that cannot work will not start working by waiting, so
            // it is not `Unavailable`; 0 says no HTTP status was involved.
            ClientError::Config(detail) => PostHogError::Rejected { status: 0, code: "config".into(), detail },
            other => PostHogError::Unavailable(other.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api(status: u16) -> ApiError {
        ApiError {
            status,
            kind: ApiErrorKind::Validation,
            code: "invalid_input".into(),
            detail: "Invalid access level.".into(),
            attr: Some("access_level".into()),
        }
    }

    #[test]
    fn client_errors_map_onto_the_port_error() {
        assert_eq!(
            PostHogError::from(ClientError::Api(api(400))),
            PostHogError::Rejected { status: 400, code: "invalid_input".into(), detail: "Invalid access level.".into() }
        );
        assert_eq!(PostHogError::from(ClientError::Unauthorized(api(401))), PostHogError::Unauthorized);
        assert!(PostHogError::from(ClientError::Api(api(502))).is_transient());
        assert!(PostHogError::from(ClientError::Timeout { attempts: 6 }).is_transient());
        assert!(PostHogError::from(ClientError::Throttled { retry_after: None }).is_transient());
    }

    #[test]
    fn an_api_error_reads_as_a_sentence_naming_the_field() {
        assert_eq!(api(400).to_string(), "PostHog answered 400 (invalid_input): Invalid access level. [field: access_level]");
    }

    #[test]
    fn unknown_error_types_are_kept() {
        assert_eq!(ApiErrorKind::from_type("brand_new"), ApiErrorKind::Other("brand_new".into()));
        assert_eq!(ApiErrorKind::from_type("throttled_error"), ApiErrorKind::Throttled);
    }
}

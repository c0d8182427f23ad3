//! The domain's error: one enum that every adapter maps into, so the API can choose
//! a status code without matching on strings.

use crate::types::ParseError;

/// What went wrong, in terms a caller can act on.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The input is malformed or breaks policy; the message names the problem.
    #[error(transparent)]
    Invalid(#[from] ParseError),
    /// The input is well formed but policy refuses it.
    #[error("{0}")]
    PolicyViolation(String),
    /// The thing asked for does not exist (or the caller may not know it exists).
    #[error("{0} not found")]
    NotFound(String),
    /// The caller is signed in but may not do this.
    #[error("{0}")]
    Forbidden(String),
    /// The state changed under the caller (a concurrent approval, a stale version).
    #[error("{0}")]
    Conflict(String),
    /// PostHog refused or failed; the request stays where it was.
    #[error(transparent)]
    Upstream(#[from] crate::ports::PostHogError),
    /// Storage failed. The detail is for logs, never for responses.
    #[error("storage failed: {0}")]
    Storage(String),
    /// A secret could not be read or written. The detail never carries a secret value.
    #[error("vault failed: {0}")]
    Vault(String),
    /// A notification could not be delivered. The detail names the channel and never
    /// carries a secret (no webhook URL, no credentials).
    #[error("notification failed: {0}")]
    Notify(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

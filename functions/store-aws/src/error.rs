//! The adapter's errors and how they become the domain's [`hogwarden_core::Error`]:
//! a failed guard is a `Conflict` (the caller reloads and retries, never a 500),
//! everything else is `Storage` or `Vault` with a detail meant for logs. No message
//! carries a record body or a secret value.

use aws_sdk_dynamodb::error::DisplayErrorContext;

/// What went wrong talking to DynamoDB or Secrets Manager.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A guarded write found another version (or none) of a record.
    #[error("{0}")]
    Conflict(String),
    /// The caller broke the write contract (a skipped version, too many items).
    #[error("{0}")]
    Contract(String),
    /// The chain head kept moving under this writer past the retry budget.
    #[error("the audit log is busy: {0}; try again")]
    Busy(String),
    /// A stored item could not be read back as a record.
    #[error("stored {what} is unreadable: {reason}")]
    Corrupt { what: &'static str, reason: String },
    /// The DynamoDB call itself failed (network, throttling, permissions, table).
    #[error("DynamoDB {operation} failed: {detail}")]
    Dynamo { operation: &'static str, detail: String },
    /// A Secrets Manager call failed. The detail never includes a secret value.
    #[error("Secrets Manager {operation} failed: {detail}")]
    Secrets { operation: &'static str, detail: String },
}

impl StoreError {
    pub(crate) fn corrupt(what: &'static str, reason: impl std::fmt::Display) -> Self {
        Self::Corrupt { what, reason: reason.to_string() }
    }

    /// Wraps an SDK error, keeping its whole cause chain for the logs. SDK errors
    /// describe the service's answer, never the request body we sent.
    pub(crate) fn dynamo(operation: &'static str, err: impl std::error::Error) -> Self {
        Self::Dynamo { operation, detail: DisplayErrorContext(err).to_string() }
    }

    pub(crate) fn secrets(operation: &'static str, err: impl std::error::Error) -> Self {
        Self::Secrets { operation, detail: DisplayErrorContext(err).to_string() }
    }
}

impl From<StoreError> for hogwarden_core::Error {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::Conflict(message) => Self::Conflict(message),
            StoreError::Secrets { .. } => Self::Vault(err.to_string()),
            other => Self::Storage(other.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_guard_is_a_conflict_and_the_rest_is_storage() {
        let conflict: hogwarden_core::Error = StoreError::Conflict("request r was changed".into()).into();
        assert!(matches!(conflict, hogwarden_core::Error::Conflict(_)));
        let busy: hogwarden_core::Error = StoreError::Busy("5 attempts".into()).into();
        assert!(matches!(busy, hogwarden_core::Error::Storage(_)));
        let vault: hogwarden_core::Error = StoreError::Secrets { operation: "GetSecretValue", detail: "denied".into() }.into();
        assert!(matches!(vault, hogwarden_core::Error::Vault(_)));
    }
}

//! This crate's errors and how they become [`hogwarden_core::Error`].
//!
//! Messages name the problem and what to do; they never carry SQL text or a
//! secret value, because `Error::Storage` and `Error::Vault` end up in logs.

use std::path::PathBuf;

/// Why the SQLite store could not do something.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database file could not be opened or created.
    #[error("cannot open the database at {path}: {reason}; check that the folder exists and is writable")]
    Open { path: PathBuf, reason: String },
    /// The file was written by a newer Hogwarden.
    #[error("the database schema is version {found} but this Hogwarden knows only up to {known}: upgrade Hogwarden")]
    SchemaTooNew { found: u32, known: u32 },
    /// Setting up the connection or the schema failed.
    #[error("database setup failed: {0}")]
    Setup(String),
    /// SQLite reported an error.
    #[error("SQLite failed: {}", describe(.0))]
    Sqlite(#[from] rusqlite::Error),
    /// A guarded write found the record changed, or a created record already there.
    #[error("{0}")]
    Conflict(String),
    /// The caller broke the write contract (a programming error, not bad input).
    #[error("{0}")]
    Contract(String),
    /// A stored row could not be turned back into a record.
    #[error("stored {what} could not be read: {reason} (was the file edited by hand?)")]
    Corrupt { what: String, reason: String },
    /// The worker thread running the SQLite call did not finish.
    #[error("the database worker stopped: {0}")]
    Worker(String),
}

impl StoreError {
    /// Whether another connection held the lock: the same transaction may work if
    /// tried again.
    pub(crate) fn is_busy(&self) -> bool {
        matches!(
            self,
            Self::Sqlite(e) if matches!(e.sqlite_error_code(), Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked))
        )
    }

    pub(crate) fn corrupt(what: impl Into<String>, reason: impl std::fmt::Display) -> Self {
        Self::Corrupt { what: what.into(), reason: reason.to_string() }
    }
}

impl From<StoreError> for hogwarden_core::Error {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict(msg) => Self::Conflict(msg),
            other => Self::Storage(other.to_string()),
        }
    }
}

/// SQLite's own words for an error, without the SQL statement that caused it.
pub(crate) fn describe(e: &rusqlite::Error) -> String {
    match e {
        rusqlite::Error::SqliteFailure(code, Some(message)) => format!("{message} ({code})"),
        // Other variants that carry an SQLite code (such as the input-error variant,
        // which quotes the whole statement) are reduced to the code.
        other => match other.sqlite_error() {
            Some(code) => code.to_string(),
            None => other.to_string(),
        },
    }
}

/// Why the file vault could not do something. Never holds a secret value.
#[derive(Debug, thiserror::Error)]
pub enum VaultError {
    #[error("cannot use the vault file {path}: {reason}")]
    Io { path: PathBuf, reason: String },
    #[error("the vault file {path} is not valid: {reason}; restore it from a backup or remove it and store the keys again")]
    Malformed { path: PathBuf, reason: String },
    #[error("{0}")]
    Refused(String),
    #[error("the vault worker stopped: {0}")]
    Worker(String),
}

impl From<VaultError> for hogwarden_core::Error {
    fn from(e: VaultError) -> Self {
        Self::Vault(e.to_string())
    }
}

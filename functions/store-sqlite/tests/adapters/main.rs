//! Integration tests of the local-stack adapters on real files in temporary folders:
//! the `Store` conformance suite and SQLite-specific behaviour (tampering, reopening,
//! several connections) for [`SqliteStore`], and the [`FileVault`].

mod sqlite;
mod vault;

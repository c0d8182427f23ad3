//! Hogwarden's embedded adapters for the local stack: [`SqliteStore`] (the `Store`
//! port on one SQLite file) and [`FileVault`] (the `Vault` port on one owner-only
//! JSON file).
//!
//! # The database file
//! Tables created and migrated by [`SqliteStore::open`] (see `schema.rs`, one
//! migration per feature). The first three: `requests` and `grants` (each record whole as JSON in `body`, plus indexed
//! copies of the fields the access patterns query) and `audit`, the tamper-evident
//! chain, one column per field of
//! [`AuditEntry`](hogwarden_core::audit::AuditEntry): `seq, at, actor, kind, subject,
//! request_id, grant_id, details, prev_hash, hash`. Entries are rebuilt from those
//! columns when read, so editing any of them with another SQLite client (for example
//! `UPDATE audit SET details = '{}' WHERE seq = 3`) makes
//! [`verify_chain`](hogwarden_core::audit::verify_chain) fail at that entry, and
//! deleting or swapping rows breaks the links. Timestamps are RFC 3339 UTC text with
//! microseconds (`2025-01-31T09:00:00.000000Z`), which sorts as time.
//!
//! # Testing other stores
//! With the `conformance` feature, [`conformance`] holds the backend-agnostic `Store`
//! checks and [`store_conformance_tests!`] turns them into one test per behaviour for
//! any adapter.

mod alerts;
mod changesets;
mod claims;
mod deliveries;
mod error;
mod keys;
mod offboard;
mod reviews;
mod rows;
mod schema;
mod store;
mod vault;

// Unit tests use its fixtures too.
#[cfg(any(test, feature = "conformance"))]
pub mod alert_conformance;
#[cfg(any(test, feature = "conformance"))]
pub mod conformance;
#[cfg(any(test, feature = "conformance"))]
pub mod delivery_conformance;
#[cfg(any(test, feature = "conformance"))]
pub mod key_conformance;
#[cfg(any(test, feature = "conformance"))]
pub mod review_conformance;

pub use error::{StoreError, VaultError};
pub use store::SqliteStore;
pub use vault::FileVault;

/// The schema version this build writes (`PRAGMA user_version` of the file).
pub const SCHEMA_VERSION: u32 = schema::SCHEMA_VERSION;

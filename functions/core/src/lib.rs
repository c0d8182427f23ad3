//! Hogwarden's domain: what an access request is, which ones policy allows, how a
//! request moves through its lifecycle, and the ports (traits) through which the
//! domain reaches storage, PostHog, secrets, time and people.
//!
//! Nothing here knows about AWS, HTTP or SQL; adapters live in their own crates and
//! a tidy test (`tests/tidy.rs`) keeps it that way.

pub mod alerts;
pub mod audit;
pub mod authorize;
pub mod bulk;
pub mod changeset;
pub mod claims;
pub mod consumers;
pub mod error;
pub mod export;
pub mod identity;
pub mod keys;
pub mod model;
pub mod offboard;
pub mod policy;
pub mod ports;
pub mod recipients;
pub mod reviews;
pub mod sso;
pub mod types;
pub mod usecases;
pub mod webhooks;

pub use error::Error;
pub use usecases::Hogwarden;

//! Hogwarden's PostHog adapter: a REST client for PostHog's organization, member and
//! access-control endpoints (reqwest + rustls), and the domain's
//! [`hogwarden_core::ports::PostHog`] port on top of it.
//!
//! * [`PostHogClient`] has one typed method per endpoint, with PostHog's JSON in
//!   [`wire`]. It paginates by limit/offset, shares one rate budget per API key with
//!   every other client in the process, waits out 429s, and retries idempotent calls
//!   on 5xx, timeouts and broken connections. Built with
//!   [`PostHogClient::following_vault`], it switches to a newer key from the vault
//!   after PostHog answers 401 and sends the call once more.
//! * The port implementation (`port.rs`) maps PostHog's model onto core's roles and
//!   reads every write back.
//!
//! The contract followed is `shared/posthog-api.md`, read from PostHog's source.

mod capture;
mod client;
mod config;
mod error;
mod github;
mod keys;
mod limiter;
mod port;
pub mod wire;

pub use capture::{CaptureClient, capture_base_for};
pub use client::PostHogClient;
pub use config::{Backoff, DEFAULT_VIEWER_RESOURCES, EU_CLOUD, PostHogConfig, RateLimit, US_CLOUD};
pub use error::{ApiError, ApiErrorKind, ClientError};
pub use github::{GITHUB_TOKEN_SECRET, GitHubAlertsClient};
pub use limiter::fingerprint;

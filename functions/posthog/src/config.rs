//! How to reach one PostHog organization: where, with which key, and how patiently.
//!
//! The defaults mirror PostHog Cloud's limits for personal API keys (480 requests a
//! minute, 4800 an hour, `posthog/rate_limit.py`); tests shrink every duration so
//! they run in seconds.

use std::time::Duration;

use secrecy::SecretString;
use url::Url;

/// PostHog Cloud, US region.
pub const US_CLOUD: &str = "https://us.posthog.com";
/// PostHog Cloud, EU region.
pub const EU_CLOUD: &str = "https://eu.posthog.com";

/// At most `requests` in any window of length `per` (a sliding window, as PostHog
/// counts them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    pub requests: u32,
    pub per: Duration,
}

impl RateLimit {
    pub const fn new(requests: u32, per: Duration) -> Self {
        Self { requests, per }
    }
}

/// Exponential backoff with jitter between retries of one call: the first delay is
/// `min_delay`, each next one doubles up to `max_delay`, and jitter adds up to the
/// same again so that callers who failed together do not retry together.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    pub min_delay: Duration,
    pub max_delay: Duration,
}

/// Everything the client needs. `Debug` shows the key as `[REDACTED]` (it is a
/// [`SecretString`]), so the whole value may be logged.
#[derive(Debug, Clone)]
pub struct PostHogConfig {
    /// `https://us.posthog.com`, `https://eu.posthog.com` or a self-hosted `SITE_URL`.
    pub base_url: Url,
    /// A personal API key (`phx_…`) of Hogwarden's service account.
    pub api_key: SecretString,
    /// The organization's id (a uuid). Explicit, never `@current`: with a personal API
    /// key `@current` means whatever org the key's owner last switched to.
    pub organization_id: String,
    /// Upper bound for one HTTP exchange, connect to last body byte.
    pub request_timeout: Duration,
    /// Retries after a 5xx, a timeout or a broken connection (so at most
    /// `max_retries + 1` attempts). Throttling is counted apart, see `max_throttle_waits`.
    pub max_retries: u32,
    /// How many 429s one call waits out before it gives up.
    pub max_throttle_waits: u32,
    /// The longest single wait a call accepts, for a 429's `Retry-After` or for the
    /// local budget. Longer waits (the hourly limit) fail at once with
    /// [`crate::ClientError::Throttled`] carrying the wait, so a caller can reschedule
    /// instead of holding a Lambda for an hour.
    pub max_throttle_wait: Duration,
    /// PostHog's `BurstRateThrottle`: 480 per minute.
    pub burst: RateLimit,
    /// PostHog's `SustainedRateThrottle`: 4800 per hour.
    pub sustained: RateLimit,
    pub backoff: Backoff,
    /// `limit` asked for on list endpoints (PostHog's page size is 100).
    pub page_size: u32,
    /// The resource types that get a `viewer` rule when someone is made a project
    /// Viewer. PostHog's list grows between versions and it rejects types it does not
    /// know ("Invalid resource"), so this is configuration, not a constant.
    pub viewer_resources: Vec<String>,
    /// Whether a non-loopback `http://` base URL is accepted. Off by default: the key
    /// would travel in clear text.
    pub allow_plain_http: bool,
}

/// Every resource type that takes resource-level rules in current PostHog
/// (`ACCESS_CONTROL_RESOURCES` in
/// `products/access_control/backend/facade/user_access_control.py`). A Viewer must
/// get `viewer` on all of them: a type left out stays at its default, `editor`.
/// Older self-hosted versions refuse types they do not know (400 "Invalid
/// resource"), which fails the grant rather than granting too much; shorten the list
/// in the configuration for them.
pub const DEFAULT_VIEWER_RESOURCES: &[&str] = &[
    "action",
    "customer_analytics",
    "dashboard",
    "early_access_feature",
    "endpoint",
    "experiment",
    "export",
    "external_data_source",
    "warehouse_objects",
    "feature_flag",
    "heatmap",
    "hog_flow",
    "insight",
    "llm_analytics",
    "evaluation",
    "tagger",
    "llm_skill",
    "ai_observability_clusters",
    "notebook",
    "revenue_analytics",
    "session_recording",
    "sharing_configuration",
    "survey",
    "ticket",
    "web_analytics",
    "activity_log",
    "error_tracking",
    "logs",
    "mcp_analytics",
    "metrics",
    "tracing",
    "replay_scanner",
    "toolbar",
    "llm_playground",
];

impl PostHogConfig {
    pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
    pub const DEFAULT_MAX_RETRIES: u32 = 5;
    pub const DEFAULT_MAX_THROTTLE_WAITS: u32 = 20;
    pub const DEFAULT_MAX_THROTTLE_WAIT: Duration = Duration::from_secs(60);
    pub const DEFAULT_BURST: RateLimit = RateLimit::new(480, Duration::from_secs(60));
    pub const DEFAULT_SUSTAINED: RateLimit = RateLimit::new(4800, Duration::from_secs(3600));
    pub const DEFAULT_BACKOFF: Backoff = Backoff { min_delay: Duration::from_millis(100), max_delay: Duration::from_secs(2) };
    pub const DEFAULT_PAGE_SIZE: u32 = 100;

    /// A configuration with PostHog Cloud's limits and the defaults above.
    pub fn new(base_url: Url, api_key: SecretString, organization_id: impl Into<String>) -> Self {
        Self {
            base_url,
            api_key,
            organization_id: organization_id.into(),
            request_timeout: Self::DEFAULT_REQUEST_TIMEOUT,
            max_retries: Self::DEFAULT_MAX_RETRIES,
            max_throttle_waits: Self::DEFAULT_MAX_THROTTLE_WAITS,
            max_throttle_wait: Self::DEFAULT_MAX_THROTTLE_WAIT,
            burst: Self::DEFAULT_BURST,
            sustained: Self::DEFAULT_SUSTAINED,
            backoff: Self::DEFAULT_BACKOFF,
            page_size: Self::DEFAULT_PAGE_SIZE,
            viewer_resources: DEFAULT_VIEWER_RESOURCES.iter().map(|s| (*s).to_owned()).collect(),
            allow_plain_http: false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_output_hides_the_key() {
        let key = "phx_do_not_print_me_0123456789";
        let config = PostHogConfig::new(Url::parse(US_CLOUD).unwrap(), SecretString::from(key), "org");
        let shown = format!("{config:?}");
        assert!(!shown.contains(key), "{shown}");
        assert!(shown.contains("us.posthog.com"), "{shown}");
    }
}

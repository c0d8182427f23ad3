//! Start-up configuration of a sandbox and the switches that can be changed while it runs.
//!
//! Everything that makes the sandbox misbehave on purpose (latency, throttling, faults) and
//! the behaviours the contract marks as version-uncertain are chosen here, so a test says in
//! one place which PostHog it is talking to.

use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};

/// The instant the seeded timestamps are laid out from (joined_at, last_login, ...), so
/// the demo organization is identical from run to run.
pub fn default_seed_anchor() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 6, 2, 9, 0, 0).single().unwrap_or_default()
}

/// A throttle budget: at most `count` requests per `window`, per personal API key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    /// Requests allowed in one window.
    pub count: usize,
    /// The sliding window.
    pub window: Duration,
}

impl Budget {
    /// `count` requests per `window`.
    pub const fn new(count: usize, window: Duration) -> Self {
        Self { count, window }
    }
}

/// PostHog's personal-API-key throttles (`BurstRateThrottle` and `SustainedRateThrottle`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    /// Short-window budget; PostHog's is 480 per minute.
    pub burst: Budget,
    /// Long-window budget; PostHog's is 4800 per hour.
    pub sustained: Budget,
    /// Whether throttling is on (PostHog's `RATE_LIMIT_ENABLED` instance setting).
    pub enabled: bool,
}

impl RateLimit {
    /// PostHog's defaults: 480/minute and 4800/hour per key.
    pub const fn posthog() -> Self {
        Self { burst: Budget::new(480, Duration::from_secs(60)), sustained: Budget::new(4800, Duration::from_secs(3600)), enabled: true }
    }

    /// A burst budget of `count` per `window`, keeping the sustained budget at PostHog's
    /// 4800/hour. Tests use it to scale time down, e.g. 8 per second.
    pub const fn burst(count: usize, window: Duration) -> Self {
        Self { burst: Budget::new(count, window), ..Self::posthog() }
    }

    /// No throttling at all.
    pub const fn disabled() -> Self {
        Self { enabled: false, ..Self::posthog() }
    }
}

impl Default for RateLimit {
    fn default() -> Self {
        Self::posthog()
    }
}

/// A way a request can fail on purpose.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FaultKind {
    /// 500 or 503, chosen by the seeded generator.
    Status5xx,
    /// 500 `{"type":"server_error","code":"error","detail":"A server error occurred.",...}`.
    ServerError,
    /// 503 `database_unavailable` with `Retry-After: 1`.
    DatabaseUnavailable,
    /// The request is held far longer than any client timeout, then answered 504.
    Timeout,
    /// The TCP connection is closed without any response, before the request takes effect.
    DropConnection,
    /// The request takes effect, then the connection is closed without a response.
    DropAfterWrite,
}

/// Which requests fail, and how.
#[derive(Debug, Clone, PartialEq)]
pub struct FaultPlan {
    /// The share of requests (0.0–1.0) that fail at random.
    pub rate: f64,
    /// The kinds a random failure is drawn from; no random faults when empty.
    pub kinds: Vec<FaultKind>,
    /// How long a `Timeout` fault holds the request.
    pub timeout_hold: Duration,
}

impl FaultPlan {
    /// No faults.
    pub fn none() -> Self {
        Self { rate: 0.0, kinds: Vec::new(), timeout_hold: Duration::from_secs(30) }
    }

    /// Random faults of `kinds` at `rate`.
    pub fn random(rate: f64, kinds: Vec<FaultKind>) -> Self {
        Self { rate, kinds, ..Self::none() }
    }
}

impl Default for FaultPlan {
    fn default() -> Self {
        Self::none()
    }
}

/// What the sandbox holds when it starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Seed {
    /// The guide's demo organization "Acme Corp": an owner service account, 42 people and
    /// four restricted projects (see `seed.rs`).
    AcmeCorp,
    /// Only the organization and its owner service account.
    Empty,
    /// A generated organization for benchmarks.
    Large {
        /// People besides the service account.
        members: usize,
        /// Projects.
        projects: usize,
    },
}

/// What PostHog does when an owner is removed. The contract marks this version-uncertain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OwnerRemoval {
    /// 400 "Cannot leave the organization as its owner!" for any owner (`User.leave`).
    #[default]
    RejectAnyOwner,
    /// Only the last owner is refused (newer frontend text), with 400.
    RejectLastOwner,
    /// Owners are removed like anyone else.
    Allow,
}

/// Which text a refused edit of another member carries.
///
/// PostHog's `OrganizationMemberObjectPermissions` calls `validate_update` and catches only
/// `ValidationError`, but `validate_update` raises `PermissionDenied`, so the specific rule
/// text reaches the client (PostHog's own `test_change_organization_member_level_requires_admin`
/// expects "You can only edit others if you are an admin."). The contract document reads the
/// code as answering the permission's generic message instead; `Generic` simulates that reading.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MemberDenialText {
    /// The rule's own text, as PostHog's tests show.
    #[default]
    Specific,
    /// "Your cannot edit other organization members." (typo as in PostHog's source).
    Generic,
}

/// Behaviours that differ between PostHog versions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Behaviour {
    /// Removing an owner.
    pub owner_removal: OwnerRemoval,
    /// Text of a refused member edit.
    pub member_denial_text: MemberDenialText,
    /// Whether access-control changes write activity-log entries (unverified in PostHog).
    pub log_access_control_changes: bool,
}

impl Default for Behaviour {
    fn default() -> Self {
        Self { owner_removal: OwnerRemoval::default(), member_denial_text: MemberDenialText::default(), log_access_control_changes: true }
    }
}

/// Everything a sandbox starts with.
#[derive(Debug, Clone, PartialEq)]
pub struct SandboxConfig {
    /// Added to every request before it is handled.
    pub latency: Duration,
    /// Throttling per personal API key.
    pub rate_limit: RateLimit,
    /// Injected faults.
    pub faults: FaultPlan,
    /// Starting data.
    pub seed: Seed,
    /// The service account's personal API key; generated when `None`.
    pub api_key: Option<String>,
    /// Seeds the generator of ids, tokens and random faults, so runs are reproducible.
    pub rng_seed: u64,
    /// The instant seeded timestamps are laid out from.
    pub seed_anchor: DateTime<Utc>,
    /// Version-dependent behaviours.
    pub behaviour: Behaviour,
}

impl SandboxConfig {
    /// The demo organization "Acme Corp", PostHog's throttles, no latency, no faults.
    pub fn acme_corp() -> Self {
        Self {
            latency: Duration::ZERO,
            rate_limit: RateLimit::posthog(),
            faults: FaultPlan::none(),
            seed: Seed::AcmeCorp,
            api_key: None,
            rng_seed: 42,
            seed_anchor: default_seed_anchor(),
            behaviour: Behaviour::default(),
        }
    }

    /// An organization holding only its owner service account.
    pub fn empty() -> Self {
        Self { seed: Seed::Empty, ..Self::acme_corp() }
    }

    /// A generated organization of `members` people and `projects` projects.
    pub fn large(members: usize, projects: usize) -> Self {
        Self { seed: Seed::Large { members, projects }, ..Self::acme_corp() }
    }

    /// Sets the per-request latency.
    pub fn with_latency(mut self, latency: Duration) -> Self {
        self.latency = latency;
        self
    }

    /// Sets the throttles.
    pub fn with_rate_limit(mut self, rate_limit: RateLimit) -> Self {
        self.rate_limit = rate_limit;
        self
    }

    /// Sets the fault plan.
    pub fn with_faults(mut self, faults: FaultPlan) -> Self {
        self.faults = faults;
        self
    }

    /// Uses `key` as the service account's personal API key.
    pub fn with_api_key(mut self, key: impl Into<String>) -> Self {
        self.api_key = Some(key.into());
        self
    }

    /// Seeds the generator.
    pub fn with_rng_seed(mut self, seed: u64) -> Self {
        self.rng_seed = seed;
        self
    }

    /// Lays seeded timestamps out from `anchor` instead of the fixed default.
    pub fn with_seed_anchor(mut self, anchor: DateTime<Utc>) -> Self {
        self.seed_anchor = anchor;
        self
    }

    /// Sets the version-dependent behaviours.
    pub fn with_behaviour(mut self, behaviour: Behaviour) -> Self {
        self.behaviour = behaviour;
        self
    }
}

impl Default for SandboxConfig {
    fn default() -> Self {
        Self::acme_corp()
    }
}

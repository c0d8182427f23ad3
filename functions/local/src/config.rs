//! What the local stack needs to start, from flags or environment variables.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use hogwarden_core::policy::Policy;
use hogwarden_core::ports::{Clock, SystemClock};
use hogwarden_notify::{SlackWebhook, SmtpConfig};
use secrecy::SecretString;

/// How people are told things. The in-memory outbox always records (the demo and
/// the tests read it); the rest are chosen with `--notify`.
#[derive(Debug, Clone)]
pub struct NotifyConfig {
    /// A log line per notification (`--notify log`).
    pub log: bool,
    /// A Slack incoming webhook (`--notify slack`).
    pub slack: Option<SlackWebhook>,
    /// Email over SMTP (`--notify smtp`).
    pub smtp: Option<SmtpConfig>,
}

impl Default for NotifyConfig {
    fn default() -> Self {
        Self { log: true, slack: None, smtp: None }
    }
}

/// Which PostHog the stack talks to.
#[derive(Debug, Clone)]
pub enum PostHogTarget {
    /// Start the PostHog sandbox in this process with the demo org.
    Sandbox { port: u16 },
    /// A real PostHog (Cloud US/EU or self-hosted). The key is stored in the vault at
    /// start; when absent, the key already in the vault is used.
    Existing { host: url::Url, organization_id: String, api_key: Option<SecretString> },
}

/// Everything the stack is built from.
#[derive(Clone)]
pub struct StackConfig {
    pub host: String,
    pub port: u16,
    pub data_dir: PathBuf,
    /// `None` = no timer; the sweep runs only when called (tests drive it).
    pub sweep_interval: Option<Duration>,
    pub posthog: PostHogTarget,
    pub policy: Policy,
    pub clock: Arc<dyn Clock>,
    /// Where the built front end is, if it is to be served at `/`.
    pub frontend_dir: Option<PathBuf>,
    /// Retry timing of the PostHog client; tests shorten it.
    pub posthog_retry_base: Duration,
    /// The PostHog client's (burst, sustained) rate limits, when not PostHog's own
    /// 480/minute and 4800/hour (a sandbox with its time scaled down, a benchmark).
    pub posthog_rate_limits: Option<(hogwarden_posthog::RateLimit, hogwarden_posthog::RateLimit)>,
    pub notify: NotifyConfig,
    /// GitHub's REST API (for `secret_scanning_alert` webhooks): `https://api.github.com`,
    /// or a sandbox in tests. The token lives in the vault (`hogwarden/github-token`).
    pub github_api: url::Url,
    /// Offer the dev sign-in (`/auth/dev-login`, any demo user, admins included) even
    /// when the stack manages a real PostHog. Off by default: with the built-in sandbox
    /// the dev sign-in is always on, with a real PostHog only when this says so.
    pub insecure_dev_sign_in: bool,
    /// `Host` header values the server answers besides its listen address, `localhost`,
    /// `127.0.0.1` and `[::1]` (each with its port), e.g. `hogwarden.internal:8080`.
    pub allowed_hosts: Vec<String>,
}

impl std::fmt::Debug for StackConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StackConfig")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("data_dir", &self.data_dir)
            .field("sweep_interval", &self.sweep_interval)
            .field("posthog", &self.posthog)
            .field("notify", &self.notify)
            .field("insecure_dev_sign_in", &self.insecure_dev_sign_in)
            .field("allowed_hosts", &self.allowed_hosts)
            .finish_non_exhaustive()
    }
}

impl StackConfig {
    /// Defaults for a stack in `data_dir` against an in-process sandbox.
    pub fn new(data_dir: impl Into<PathBuf>) -> Self {
        Self {
            host: "127.0.0.1".into(),
            port: 0,
            data_dir: data_dir.into(),
            sweep_interval: Some(Duration::from_secs(5)),
            posthog: PostHogTarget::Sandbox { port: 0 },
            policy: Policy::default(),
            clock: Arc::new(SystemClock),
            frontend_dir: None,
            posthog_retry_base: Duration::from_millis(200),
            posthog_rate_limits: None,
            notify: NotifyConfig::default(),
            github_api: url::Url::parse("https://api.github.com").expect("a constant URL"),
            insecure_dev_sign_in: false,
            allowed_hosts: Vec::new(),
        }
    }
}

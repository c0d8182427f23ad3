//! The AWS composition: the same use cases as the local stack
//! (`functions/local/src/stack.rs`), wired to DynamoDB, Secrets Manager and a real
//! PostHog. Built once per cold start; every invocation reuses it.

use std::sync::Arc;
use std::time::Duration;

use aws_config::{BehaviorVersion, SdkConfig};
use hogwarden_api::{ApiState, AuthMode};
use hogwarden_core::Hogwarden;
use hogwarden_core::ports::{Clock, Notifier, PostHog, Stage, Store, SystemClock, Vault};
use hogwarden_core::usecases::{KeyInventory, KeyRotation, LeakResponse, PauseOnRejection, ServiceKeys, TokenRotations};
use hogwarden_core::webhooks::DeliveryLog;
use hogwarden_posthog::{GitHubAlertsClient, PostHogClient, PostHogConfig};
use hogwarden_store_aws::{DynamoStore, SecretsManagerVault};

use crate::config::{Config, ConfigError};
use hogwarden_notify::SesNotifier;

use crate::notifier::LogNotifier;

/// What every Lambda is built from: the application and the API state around it.
#[derive(Debug, Clone)]
pub struct AwsStack {
    pub app: Hogwarden,
    /// API Gateway has verified the caller's token; the API reads its claims.
    pub api: ApiState,
    /// The Secrets Manager vault (the key-rotation function works on it).
    pub vault: Arc<SecretsManagerVault>,
    /// Project secret key rotation (Secrets Manager's four steps) on that vault.
    pub rotation: KeyRotation,
    /// Guided project-token rotations (checked by the key-rotation function's schedule).
    pub token_rotations: TokenRotations,
}

/// Why a Lambda could not start. The messages say what to fix and carry no secret.
#[derive(thiserror::Error)]
pub enum StartupError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(
        "could not read Hogwarden's PostHog API key from the Secrets Manager secret '{secret}' ({source}); check that it exists and that the function may call secretsmanager:GetSecretValue on it"
    )]
    KeyUnreadable { secret: String, source: hogwarden_core::Error },
    #[error(
        "the Secrets Manager secret '{secret}' has no current value; store the personal API key of Hogwarden's PostHog service account in it"
    )]
    NoKey { secret: String },
    #[error("the PostHog client cannot be built: {0}")]
    PostHog(#[from] hogwarden_posthog::ClientError),
    #[error("the email notifier cannot be built: {0}")]
    Notifier(String),
}

/// `main` returning this error prints it with `{:?}`: make that the readable message.
impl std::fmt::Debug for StartupError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{self}")
    }
}

/// Builds an [`AwsStack`]. Production uses the defaults; tests inject a clock, an
/// SDK configuration pointing at an emulator and shorter PostHog retries.
#[must_use]
pub struct AwsStackBuilder {
    config: Config,
    sdk: Option<SdkConfig>,
    clock: Arc<dyn Clock>,
    /// `None`: email through SES when [`Config::email_from`] is set, else the log.
    notifier: Option<Arc<dyn Notifier>>,
    posthog_retry_base: Option<Duration>,
    allow_plain_http: bool,
}

impl std::fmt::Debug for AwsStackBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AwsStackBuilder").field("config", &self.config).finish_non_exhaustive()
    }
}

impl AwsStack {
    pub fn builder(config: Config) -> AwsStackBuilder {
        AwsStackBuilder {
            config,
            sdk: None,
            clock: Arc::new(SystemClock),
            notifier: None,
            posthog_retry_base: None,
            allow_plain_http: false,
        }
    }
}

impl AwsStackBuilder {
    /// The SDK configuration to use instead of `aws_config::load_defaults`.
    pub fn sdk_config(mut self, sdk: SdkConfig) -> Self {
        self.sdk = Some(sdk);
        self
    }

    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// A notifier instead of the configured one (tests).
    pub fn notifier(mut self, notifier: Arc<dyn Notifier>) -> Self {
        self.notifier = Some(notifier);
        self
    }

    /// The first retry delay of the PostHog client (tests shorten it).
    pub fn posthog_retry_base(mut self, delay: Duration) -> Self {
        self.posthog_retry_base = Some(delay);
        self
    }

    /// Accepts a non-loopback `http://` PostHog URL. Never in production: the key
    /// would travel in clear text.
    pub fn allow_plain_http(mut self, allow: bool) -> Self {
        self.allow_plain_http = allow;
        self
    }

    /// Loads the SDK configuration (unless given), builds the clients once, reads the
    /// PostHog key and composes the application.
    pub async fn build(self) -> Result<AwsStack, StartupError> {
        let Self { config, sdk, clock, notifier, posthog_retry_base, allow_plain_http } = self;
        // `load_defaults` honours AWS_REGION, the Lambda role's credentials and AWS_ENDPOINT_URL.
        let sdk = match sdk {
            Some(sdk) => sdk,
            None => aws_config::load_defaults(BehaviorVersion::latest()).await,
        };
        let dynamo = Arc::new(DynamoStore::new(aws_sdk_dynamodb::Client::new(&sdk), config.table.clone()));
        let store: Arc<dyn Store> = dynamo.clone();
        let deliveries: Arc<dyn DeliveryLog> = dynamo;
        let vault = Arc::new(SecretsManagerVault::new(aws_sdk_secretsmanager::Client::new(&sdk)));

        let secret = config.posthog_key_secret.clone();
        let key = vault
            .get(&secret, Stage::Current)
            .await
            .map_err(|source| StartupError::KeyUnreadable { secret: secret.clone(), source })?
            .ok_or(StartupError::NoKey { secret })?;
        let mut posthog = PostHogConfig::new(config.posthog_host.clone(), key, config.posthog_org_id.clone());
        posthog.allow_plain_http = allow_plain_http;
        if let Some(delay) = posthog_retry_base {
            posthog.backoff.min_delay = delay;
        }
        // A warm container follows the secret: after PostHog answers 401 it re-reads
        // AWSCURRENT and switches to a newer key an admin (or a rotation) stored.
        let vault_port: Arc<dyn Vault> = vault.clone();
        // Writes reach PostHog only through the app's write path, which judges each
        // one's authorization and holds writes back while they are paused; a key
        // PostHog keeps rejecting pauses them.
        let client = Arc::new(
            PostHogClient::new(posthog)?
                .following_vault(vault_port, config.posthog_key_secret.clone())
                .telling(Arc::new(PauseOnRejection::new(store.clone(), clock.clone()))),
        );
        let posthog: Arc<dyn PostHog> = client.clone();

        let notifier: Arc<dyn Notifier> = match (notifier, &config.email_from) {
            (Some(n), _) => n,
            (None, Some(from)) => Arc::new(
                SesNotifier::new(aws_sdk_sesv2::Client::new(&sdk), from.clone()).map_err(|e| StartupError::Notifier(e.to_string()))?,
            ),
            (None, None) => Arc::new(LogNotifier),
        };

        let app = Hogwarden::new(
            store,
            posthog,
            clock,
            notifier,
            Arc::new(config.policy),
            config.web_url.as_str().trim_end_matches('/').to_owned(),
        );
        let rotation = KeyRotation::new(app.clone(), vault.clone(), client.clone());
        let inventory = KeyInventory::new(app.clone(), vault.clone(), client.clone()).with_own_key(client.clone());
        let token_rotations = TokenRotations::new(
            app.clone(),
            vault.clone(),
            client.clone(),
            Arc::new(hogwarden_posthog::CaptureClient::new(hogwarden_posthog::capture_base_for(&config.posthog_host))),
        );
        let leaks = LeakResponse::new(rotation.clone(), vault.clone(), deliveries, client.clone(), config.posthog_key_secret.clone())
            .managing(app.policy.keys.managed_secrets.clone())
            .with_token_rotations(token_rotations.clone())
            .with_github(Arc::new(GitHubAlertsClient::new(
                url::Url::parse("https://api.github.com").expect("a constant URL"),
                vault.clone(),
            )));
        let service_keys = ServiceKeys::new(app.clone(), vault.clone(), config.posthog_key_secret.clone(), client);
        let api = ApiState::new(app.clone(), AuthMode::Gateway)
            .with_leaks(leaks)
            .with_service_keys(service_keys)
            .with_inventory(inventory)
            .with_token_rotations(token_rotations.clone());
        Ok(AwsStack { app, api, vault, rotation, token_rotations })
    }
}

//! Builds and runs the local stack: every adapter wired to the same use cases and
//! routers as the Lambdas, served by one axum server, with the sweep on a timer.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use hogwarden_api::{ApiError, ApiJson, ApiState, AuthMode, JwtVerifier};
use hogwarden_api_types as dto;
use hogwarden_core::Hogwarden;
use hogwarden_core::ports::{Notifier, PostHog, Stage, Store, Vault};
use hogwarden_core::usecases::{KeyInventory, KeyRotation, LeakResponse, PauseOnRejection, ServiceKeys, TokenRotations};
use hogwarden_notify::{Fanout, SlackNotifier, SmtpNotifier};
use hogwarden_posthog::{GitHubAlertsClient, PostHogClient, PostHogConfig};
use hogwarden_store_sqlite::{FileVault, SqliteStore};
use posthog_sandbox::{Sandbox, SandboxConfig, SandboxHandle};
use secrecy::SecretString;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use crate::config::{NotifyConfig, PostHogTarget, StackConfig};
use crate::demo;
use crate::issuer::LocalIssuer;
use crate::notifier::OutboxNotifier;

/// The vault entry holding Hogwarden's PostHog personal API key.
pub const POSTHOG_KEY_SECRET: &str = "posthog/service-key";
/// The audience of the local stack's tokens.
pub const AUDIENCE: &str = "hogwarden";
/// The bulk timer's pause between runs, and how long one run may go on.
const BULK_PAUSE: std::time::Duration = std::time::Duration::from_secs(2);
const BULK_BUDGET: std::time::Duration = std::time::Duration::from_secs(30);
/// How long a dev sign-in token lasts.
const TOKEN_TTL_MINUTES: i64 = 12 * 60;

/// Starts stacks.
#[derive(Debug)]
pub struct Stack;

/// A running stack.
#[derive(Debug)]
pub struct StackHandle {
    pub url: String,
    pub addr: SocketAddr,
    pub app: Hogwarden,
    pub issuer: Arc<LocalIssuer>,
    pub outbox: OutboxNotifier,
    /// The in-process sandbox, when the stack started one.
    pub sandbox: Option<SandboxHandle>,
    pub database: PathBuf,
    /// Project secret key rotation (the four Secrets Manager steps, driven locally).
    pub rotation: KeyRotation,
    /// Leaked-key alerts (what `POST /webhooks/{provider}` runs).
    pub leaks: LeakResponse,
    /// Guided project-token rotations (also checked on the sweep timer).
    pub token_rotations: TokenRotations,
    /// The local vault (0600 file).
    pub vault: Arc<FileVault>,
    /// Whether `/auth/dev-login` issues tokens.
    pub dev_sign_in: bool,
    server: JoinHandle<()>,
    sweeper: Option<JoinHandle<()>>,
    bulk_runner: Option<JoinHandle<()>>,
}

#[derive(Clone)]
struct LocalState {
    issuer: Arc<LocalIssuer>,
    app: Hogwarden,
    /// Whether `/auth/dev-login` issues tokens: only with the built-in sandbox, unless
    /// the operator asked for it with a real PostHog ([`StackConfig::insecure_dev_sign_in`]).
    dev_sign_in: bool,
}

impl Stack {
    pub async fn start(config: StackConfig) -> anyhow::Result<StackHandle> {
        config.policy.validate()?;
        create_private_dir(&config.data_dir)?;
        let listener = TcpListener::bind((config.host.as_str(), config.port)).await?;
        let addr = listener.local_addr()?;
        let url = format!("http://{addr}");
        let dev_sign_in = match &config.posthog {
            PostHogTarget::Sandbox { .. } => true,
            PostHogTarget::Existing { host, .. } if config.insecure_dev_sign_in => {
                tracing::warn!(
                    posthog = %host,
                    "INSECURE: the dev sign-in is on while Hogwarden manages a real PostHog: anyone who reaches {url} can sign in as an admin demo user and change access in PostHog"
                );
                true
            }
            PostHogTarget::Existing { .. } => false,
        };
        let hosts = allowed_hosts(&config.host, addr.port(), &config.allowed_hosts);

        let vault = Arc::new(FileVault::open(&config.data_dir.join("vault.json"))?);
        let (sandbox, base_url, organization_id, allow_http) = match &config.posthog {
            PostHogTarget::Sandbox { port } => {
                let sandbox = Sandbox::start(SandboxConfig::acme_corp(), SocketAddr::from(([127, 0, 0, 1], *port))).await?;
                vault.put_current(POSTHOG_KEY_SECRET, SecretString::from(sandbox.service_api_key())).await?;
                let base = url::Url::parse(&sandbox.base_url())?;
                let org = sandbox.organization_id();
                (Some(sandbox), base, org, true)
            }
            PostHogTarget::Existing { host, organization_id, api_key } => {
                if let Some(key) = api_key {
                    vault.put_current(POSTHOG_KEY_SECRET, key.clone()).await?;
                }
                let loopback = matches!(host.host_str(), Some("localhost" | "127.0.0.1" | "[::1]"));
                (None, host.clone(), organization_id.clone(), loopback)
            }
        };
        let key = vault.get(POSTHOG_KEY_SECRET, Stage::Current).await?.ok_or_else(|| {
            anyhow::anyhow!("no PostHog API key is stored: set POSTHOG_API_KEY (a personal API key of a service account) once")
        })?;
        let capture_base = hogwarden_posthog::capture_base_for(&base_url);
        let mut ph = PostHogConfig::new(base_url, key, organization_id);
        ph.allow_plain_http = allow_http;
        ph.backoff.min_delay = config.posthog_retry_base;
        if let Some((burst, sustained)) = config.posthog_rate_limits {
            ph.burst = burst;
            ph.sustained = sustained;
        }
        // The client follows the vault: after a 401 it re-reads the key (an admin may
        // have stored a new one since start-up).
        let vault_port: Arc<dyn Vault> = vault.clone();

        let database = config.data_dir.join("hogwarden.db");
        let sqlite = Arc::new(SqliteStore::open(&database)?);
        let store: Arc<dyn Store> = sqlite.clone();
        // Writes reach PostHog only through the app's write path, which judges each
        // one's authorization and holds writes back while they are paused.
        let client = Arc::new(
            PostHogClient::new(ph)?
                .following_vault(vault_port.clone(), POSTHOG_KEY_SECRET)
                .telling(Arc::new(PauseOnRejection::new(store.clone(), config.clock.clone()))),
        );
        let posthog: Arc<dyn PostHog> = client.clone();
        let outbox = if config.notify.log { OutboxNotifier::default() } else { OutboxNotifier::quiet() };
        let mut policy = config.policy.clone();
        if policy.approvers.is_empty() && matches!(config.posthog, PostHogTarget::Sandbox { .. }) {
            // The demo organization's approvers are told of requests waiting for them.
            policy.approvers = demo::approvers();
        }
        if let Some(s) = &sandbox {
            // The demo organization's review: its name in the evidence, Hogwarden's own
            // service account left out, the demo approvers as named reviewers.
            let defaults = hogwarden_core::reviews::ReviewPolicy::default();
            if policy.reviews.organization_name == defaults.organization_name {
                policy.reviews.organization_name = s.organization_name();
            }
            if let Ok(bot) = hogwarden_core::types::Email::parse(posthog_sandbox::SERVICE_EMAIL)
                && !policy.reviews.excluded.contains(&bot)
            {
                policy.reviews.excluded.push(bot);
            }
            if policy.reviews.named_reviewers.is_empty() {
                policy.reviews.named_reviewers = demo::approvers();
            }
        }
        let notifier = notifier(&config.notify, outbox.clone())?;
        let app = Hogwarden::new(store, posthog, config.clock.clone(), notifier, Arc::new(policy), url.clone());

        let issuer = Arc::new(LocalIssuer::load_or_create(&config.data_dir, url.clone(), AUDIENCE)?);
        let verifier = JwtVerifier::from_jwks(issuer.jwks_json(), issuer.issuer(), AUDIENCE)?;
        // Project secret key rotation runs the same four steps Secrets Manager drives in AWS.
        let rotation = KeyRotation::new(app.clone(), vault_port.clone(), client.clone());
        let inventory = KeyInventory::new(app.clone(), vault_port.clone(), client.clone()).with_own_key(client.clone());
        // Guided project-token rotation: the vault, PostHog's project list and capture.
        let token_rotations = TokenRotations::new(
            app.clone(),
            vault_port.clone(),
            client.clone(),
            Arc::new(hogwarden_posthog::CaptureClient::new(capture_base)),
        );
        let leaks = LeakResponse::new(rotation.clone(), vault_port, sqlite, client.clone(), POSTHOG_KEY_SECRET)
            .managing(app.policy.keys.managed_secrets.clone())
            .with_token_rotations(token_rotations.clone())
            .with_github(Arc::new(GitHubAlertsClient::new(config.github_api.clone(), vault.clone())));
        let service_keys = ServiceKeys::new(app.clone(), vault.clone(), POSTHOG_KEY_SECRET, client);
        let api = hogwarden_api::router(
            ApiState::new(app.clone(), AuthMode::Verify(verifier))
                .with_leaks(leaks.clone())
                .with_service_keys(service_keys)
                .with_inventory(inventory)
                .with_token_rotations(token_rotations.clone()),
        );
        let mut router = local_routes(LocalState { issuer: issuer.clone(), app: app.clone(), dev_sign_in }).merge(api);
        if let Some(dir) = &config.frontend_dir {
            let index = dir.join("index.html");
            router =
                router.fallback_service(tower_http::services::ServeDir::new(dir).fallback(tower_http::services::ServeFile::new(index)));
        }
        // Every response, pages and API alike (a refused Host too), carries the CSP and
        // the other headers.
        let router = router
            .layer(axum::middleware::from_fn(move |req, next| check_host(hosts.clone(), req, next)))
            .layer(axum::middleware::map_response(crate::headers::add_security_headers))
            .layer(tower_http::trace::TraceLayer::new_for_http());
        let server = tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, router).await {
                tracing::error!(error = %e, "server stopped");
            }
        });

        let sweeper = config.sweep_interval.map(|every| {
            let app = app.clone();
            let token_rotations = token_rotations.clone();
            tokio::spawn(async move {
                // Review work (the quarter's campaign, reviewer reminders, the drift
                // check) runs hourly on the same timer, not on every sweep tick.
                let review_every = std::time::Duration::from_secs(3600);
                let mut last_review: Option<tokio::time::Instant> = None;
                let mut tick = tokio::time::interval(every);
                tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                loop {
                    tick.tick().await;
                    match app.sweep().await {
                        Ok(r) if r.reverted + r.conflicts + r.expired_requests + r.applied_retries + r.deferred > 0 => {
                            tracing::info!(
                                reverted = r.reverted,
                                conflicts = r.conflicts,
                                deferred = r.deferred,
                                expired = r.expired_requests,
                                applied = r.applied_retries,
                                "sweep"
                            );
                        }
                        Ok(_) => {}
                        Err(e) => tracing::error!(error = %e, "sweep failed; it runs again on the next tick"),
                    }
                    match app.remind().await {
                        Ok(r) if r.grants + r.requests > 0 || !r.errors.is_empty() => {
                            tracing::info!(grants = r.grants, requests = r.requests, errors = ?r.errors, "reminders");
                        }
                        Ok(_) => {}
                        Err(e) => tracing::error!(error = %e, "reminders failed; they run again on the next tick"),
                    }
                    // Open guided project-token rotations look for the reset on every tick.
                    match token_rotations.check_all().await {
                        Ok(n) if n > 0 => tracing::info!(finished = n, "guided project token rotations"),
                        Ok(_) => {}
                        Err(e) => tracing::error!(error = %e, "guided token rotation check failed; it runs again on the next tick"),
                    }
                    if last_review.is_none_or(|t| t.elapsed() >= review_every) {
                        last_review = Some(tokio::time::Instant::now());
                        run_review_jobs(&app).await;
                    }
                }
            })
        });

        // Approved bulk change sets are applied (and resumed after a restart) by their
        // own timer, so a long set never holds up the sweep.
        let bulk_runner = config.sweep_interval.map(|_| {
            let app = app.clone();
            tokio::spawn(async move {
                loop {
                    tokio::time::sleep(BULK_PAUSE).await;
                    match app.bulk_resume_all(BULK_BUDGET).await {
                        Ok(r) if r.sets > 0 || !r.errors.is_empty() => {
                            tracing::info!(sets = r.sets, finished = r.finished, errors = ?r.errors, "bulk change sets");
                        }
                        Ok(_) => {}
                        Err(e) => tracing::error!(error = %e, "bulk run failed; it runs again shortly"),
                    }
                }
            })
        });

        Ok(StackHandle {
            url,
            addr,
            app,
            issuer,
            outbox,
            sandbox,
            database,
            rotation,
            leaks,
            token_rotations,
            vault,
            dev_sign_in,
            server,
            sweeper,
            bulk_runner,
        })
    }
}

impl StackHandle {
    /// A token for a demo user, as the dev sign-in would issue.
    pub fn token_for(&self, email: &str) -> anyhow::Result<String> {
        let user = demo::find(email).ok_or_else(|| anyhow::anyhow!("{email} is not a demo user"))?;
        issue(&self.issuer, user)
    }

    pub async fn shutdown(self) {
        if let Some(s) = self.sweeper {
            s.abort();
        }
        if let Some(b) = self.bulk_runner {
            b.abort();
        }
        self.server.abort();
        if let Some(sandbox) = self.sandbox {
            sandbox.shutdown().await;
        }
    }
}

/// The outbox plus the chosen channels. The use cases tell only active members of
/// the PostHog organization, so the outbox shows exactly what was sent.
fn notifier(config: &NotifyConfig, outbox: OutboxNotifier) -> anyhow::Result<Arc<dyn Notifier>> {
    let mut all = Fanout::new().with("outbox", Arc::new(outbox));
    if let Some(webhook) = &config.slack {
        all = all.with("slack", Arc::new(SlackNotifier::new(webhook.clone())?));
    }
    if let Some(smtp) = &config.smtp {
        all = all.with("smtp", Arc::new(SmtpNotifier::new(smtp.clone())?));
    }
    tracing::info!(channels = ?all.names(), "notifications");
    Ok(Arc::new(all))
}

/// Creates the data folder readable by its owner only (0700). A folder that already
/// exists is left as it is, with a warning when others may read it: the files in it
/// (database, vault, signing key) are written 0600 either way.
fn create_private_dir(dir: &std::path::Path) -> anyhow::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
        if !dir.exists() {
            builder.mode(0o700).create(dir)?;
            // The mode above is cut by the umask; set it exactly.
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
        } else if std::fs::metadata(dir)?.permissions().mode() & 0o077 != 0 {
            tracing::warn!(dir = %dir.display(), "the data folder may be read by other users; `chmod 700` it");
        }
        Ok(())
    }
    #[cfg(not(unix))]
    {
        Ok(builder.create(dir)?)
    }
}

/// The `Host` values the server answers: the listen address, `localhost`, `127.0.0.1`
/// and `[::1]`, each with the port, plus the operator's own (`--allowed-host`).
fn allowed_hosts(listen: &str, port: u16, extra: &[String]) -> Arc<Vec<String>> {
    let listen = if listen.contains(':') && !listen.starts_with('[') { format!("[{listen}]") } else { listen.to_owned() };
    let mut hosts: Vec<String> = Vec::new();
    let named = [listen.as_str(), "localhost", "127.0.0.1", "[::1]"].map(|h| format!("{h}:{port}"));
    for h in named.iter().chain(extra).map(|h| h.trim().to_ascii_lowercase()) {
        if !h.is_empty() && !hosts.contains(&h) {
            hosts.push(h);
        }
    }
    Arc::new(hosts)
}

/// Answers only requests addressed to this server by a name it knows: a page on
/// another site that re-points its own name at this address (DNS rebinding) sends its
/// own name as `Host` and is refused before any route runs.
async fn check_host(allowed: Arc<Vec<String>>, req: axum::extract::Request, next: axum::middleware::Next) -> axum::response::Response {
    use axum::response::IntoResponse;
    let host = req
        .headers()
        .get(axum::http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(str::to_owned)
        .or_else(|| req.uri().authority().map(|a| a.as_str().to_owned()));
    match host {
        Some(h) if allowed.contains(&h.to_ascii_lowercase()) => next.run(req).await,
        Some(h) => ApiError::BadRequest(format!(
            "This Hogwarden answers only requests addressed to {}; the Host header '{}' is none of them (a guard against DNS rebinding). To reach it under another name, start it with --allowed-host NAME:PORT.",
            allowed.join(", "),
            h.chars().take(100).collect::<String>()
        ))
        .into_response(),
        None => ApiError::BadRequest("The request has no Host header; this Hogwarden answers only requests that name it.".into()).into_response(),
    }
}

fn issue(issuer: &LocalIssuer, user: &demo::DemoUser) -> anyhow::Result<String> {
    let groups: Vec<&str> = user.roles.iter().map(|r| r.group_name()).collect();
    let claims = crate::sso_demo::claims_for(user.email);
    issuer.issue_with_claims(user.email, user.name, &groups, claims, chrono::Duration::minutes(TOKEN_TTL_MINUTES))
}

fn local_routes(state: LocalState) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/config.json", get(frontend_config))
        .route("/auth/demo-users", get(demo_users))
        .route("/auth/dev-login", post(dev_login))
        .route("/.well-known/jwks.json", get(jwks))
        .route("/.well-known/openid-configuration", get(openid_configuration))
        .with_state(state)
}

/// The web front end's runtime configuration: the API on the same origin, and the dev
/// sign-in (in AWS the same file sits next to index.html and names the OIDC provider).
async fn frontend_config() -> Json<serde_json::Value> {
    Json(serde_json::json!({ "api_url": "", "auth": { "mode": "dev" } }))
}

/// Refuses the dev sign-in where it is off, naming why and the way to turn it on.
fn dev_sign_in_on(s: &LocalState) -> Result<(), ApiError> {
    if s.dev_sign_in {
        return Ok(());
    }
    Err(ApiError::Core(hogwarden_core::Error::Forbidden(
        "The dev sign-in is off: this Hogwarden manages a real PostHog, and the dev sign-in would give anyone who reaches it an admin token. Sign in through your identity provider (the AWS deployment), or start `hogwarden serve --insecure-dev-sign-in` on a machine nobody else can reach."
            .into(),
    )))
}

async fn demo_users(State(s): State<LocalState>) -> Result<Json<Vec<dto::DemoUserDto>>, ApiError> {
    dev_sign_in_on(&s)?;
    Ok(Json(
        demo::DEMO_USERS
            .iter()
            .map(|u| dto::DemoUserDto {
                email: u.email.into(),
                name: u.name.into(),
                roles: u.roles.iter().map(|r| hogwarden_api::convert::role_name(*r).to_owned()).collect(),
            })
            .collect(),
    ))
}

/// The local stack's sign-in: pick a demo user, get a token. There is no such route
/// in AWS, where the identity provider signs people in.
async fn dev_login(State(s): State<LocalState>, ApiJson(body): ApiJson<dto::DevLoginBody>) -> Result<Json<dto::TokenResponse>, ApiError> {
    dev_sign_in_on(&s)?;
    let user = demo::find(&body.email).ok_or_else(|| {
        ApiError::Unauthorized(format!("'{}' is not a demo user of the local stack.", body.email.chars().take(64).collect::<String>()))
    })?;
    let token = issue(&s.issuer, user).map_err(|e| ApiError::Core(hogwarden_core::Error::Storage(e.to_string())))?;
    // Signing in applies the SSO rules to the person's claims (when there are rules).
    // A failure is logged and never blocks the sign-in.
    if let Ok(email) = hogwarden_core::types::Email::parse(user.email) {
        let claims = crate::sso_demo::claims_for(user.email);
        let person = hogwarden_core::usecases::SsoPerson { email, claims: hogwarden_core::sso::claims_from_json(claims.iter()) };
        if let Err(e) = s.app.sso_sign_in(person).await {
            tracing::warn!(error = %e, "SSO rules could not be applied at sign-in");
        }
    }
    Ok(Json(dto::TokenResponse { access_token: token, token_type: "Bearer".into(), expires_in: (TOKEN_TTL_MINUTES * 60) as u64 }))
}

async fn jwks(State(s): State<LocalState>) -> (StatusCode, [(axum::http::HeaderName, &'static str); 1], String) {
    (StatusCode::OK, [(axum::http::header::CONTENT_TYPE, "application/json")], s.issuer.jwks_json().to_owned())
}

async fn openid_configuration(State(s): State<LocalState>) -> Json<serde_json::Value> {
    Json(serde_json::json!({
        "issuer": s.issuer.issuer(),
        "jwks_uri": format!("{}/.well-known/jwks.json", s.issuer.issuer()),
        "id_token_signing_alg_values_supported": ["ES256"],
    }))
}

/// The reviews Lambda's scheduled work, on the local timer: open the quarter's campaign
/// (once per quarter), remind reviewers, check drift. Each logs and carries on.
async fn run_review_jobs(app: &Hogwarden) {
    match app.open_scheduled_campaign(app.clock.now()).await {
        Ok((c, true)) => tracing::info!(campaign = %c.id, items = c.item_count, "access review opened"),
        Ok(_) => {}
        Err(e) => tracing::error!(error = %e, "opening the quarter's access review failed; the next run retries"),
    }
    match app.remind_reviewers().await {
        Ok(r) if r.reviewers_told > 0 => tracing::info!(reviewers = r.reviewers_told, "review reminders"),
        Ok(_) => {}
        Err(e) => tracing::error!(error = %e, "review reminders failed; the next run retries"),
    }
    match app.check_drift().await {
        Ok(r) if !r.findings.is_empty() => tracing::warn!(findings = r.findings.len(), "access differs from Hogwarden's ledger"),
        Ok(_) => {}
        Err(e) => tracing::error!(error = %e, "the drift check failed; the next run retries"),
    }
}

//! `hogwarden`: the local stack (`serve`) and the standalone PostHog sandbox (`sandbox`).

use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, Subcommand};
use hogwarden_local::{NotifyConfig, PostHogTarget, Stack, StackConfig, demo};
use hogwarden_notify::{SlackWebhook, SmtpConfig, SmtpTls};
use secrecy::SecretString;

#[derive(Debug, Parser)]
#[command(name = "hogwarden", version, about = "Self-service, audited access management for PostHog")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the local stack: API, front end, sweep timer, and the PostHog sandbox (or a real PostHog).
    #[command(after_help = SECRETS_HELP)]
    Serve(Box<ServeArgs>),
    /// Run only the PostHog sandbox with the demo organization.
    Sandbox(posthog_sandbox::SandboxArgs),
    /// Bulk change sets against a running Hogwarden.
    #[command(subcommand)]
    Bulk(hogwarden_local::bulk_cli::BulkCommand),
}

/// Secrets never travel on the command line (every user of the machine can read it).
const SECRETS_HELP: &str = "Secrets come only from environment variables:
  POSTHOG_API_KEY              a personal API key of a PostHog service account (with --posthog-host); stored in the vault
  HOGWARDEN_SLACK_WEBHOOK_URL  the Slack incoming-webhook URL (with --notify slack)
  HOGWARDEN_SMTP_PASSWORD      the SMTP password, if the server needs one (with --notify smtp)";

/// A secret from the environment; empty counts as unset.
fn secret_env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// Refuses a secret given as a flag, naming the variable to use instead.
fn refuse_secret_flag(given: &Option<String>, flag: &str, var: &str) -> anyhow::Result<()> {
    if given.is_some() {
        anyhow::bail!(
            "{flag} is not accepted: a secret on the command line can be read by every user of this machine (ps, shell history). Set {var} instead."
        );
    }
    Ok(())
}

#[derive(Debug, clap::Args)]
struct ServeArgs {
    /// Port to listen on.
    #[arg(long, env = "HOGWARDEN_PORT", default_value_t = 8080)]
    port: u16,
    /// Address to listen on.
    #[arg(long, env = "HOGWARDEN_HOST", default_value = "127.0.0.1")]
    host: String,
    /// Folder for the SQLite database, the vault and the token-signing key.
    #[arg(long, env = "HOGWARDEN_DATA_DIR", default_value = "data")]
    data_dir: PathBuf,
    /// Seconds between expiry sweeps.
    #[arg(long, env = "HOGWARDEN_SWEEP_INTERVAL_SECS", default_value_t = 5)]
    sweep_interval_secs: u64,
    /// A real PostHog (e.g. https://us.posthog.com); without it the built-in sandbox runs.
    #[arg(long, env = "POSTHOG_HOST")]
    posthog_host: Option<url::Url>,
    /// The PostHog organization id Hogwarden manages (with --posthog-host).
    #[arg(long, env = "POSTHOG_ORG_ID")]
    posthog_org_id: Option<String>,
    /// Refused: the key comes from POSTHOG_API_KEY.
    #[arg(long, hide = true, num_args = 0..=1, default_missing_value = "")]
    posthog_api_key: Option<String>,
    /// INSECURE: offer the dev sign-in (any demo user, admins included, no password) even
    /// with --posthog-host. Only on a machine nobody else can reach.
    #[arg(long, env = "HOGWARDEN_INSECURE_DEV_SIGN_IN")]
    insecure_dev_sign_in: bool,
    /// Another Host (NAME:PORT) the server answers besides its listen address, localhost
    /// and 127.0.0.1 (comma-separated or repeated); any other Host is refused.
    #[arg(long = "allowed-host", env = "HOGWARDEN_ALLOWED_HOSTS", value_delimiter = ',')]
    allowed_hosts: Vec<String>,
    /// The PostHog client's burst rate limit as REQUESTS/SECONDS (default 480/60, PostHog's);
    /// lower it for a sandbox whose time is scaled down, e.g. 8/1.
    #[arg(long, env = "HOGWARDEN_POSTHOG_BURST", value_parser = parse_rate)]
    posthog_burst: Option<hogwarden_posthog::RateLimit>,
    /// The PostHog client's sustained rate limit as REQUESTS/SECONDS (default 4800/3600).
    #[arg(long, env = "HOGWARDEN_POSTHOG_SUSTAINED", value_parser = parse_rate)]
    posthog_sustained: Option<hogwarden_posthog::RateLimit>,
    /// Port for the built-in sandbox (0 = any free port).
    #[arg(long, env = "HOGWARDEN_SANDBOX_PORT", default_value_t = 8010)]
    sandbox_port: u16,
    /// Policy as JSON (see README); defaults apply when absent.
    #[arg(long, env = "HOGWARDEN_POLICY")]
    policy: Option<PathBuf>,
    /// The built front end to serve at / (trunk's dist folder).
    #[arg(long, env = "HOGWARDEN_FRONTEND_DIR")]
    frontend_dir: Option<PathBuf>,
    /// How people are told things: one or more of log, slack, smtp (comma-separated or repeated).
    #[arg(long, env = "HOGWARDEN_NOTIFY", value_enum, value_delimiter = ',', default_value = "log")]
    notify: Vec<Channel>,
    /// Refused: the URL comes from HOGWARDEN_SLACK_WEBHOOK_URL.
    #[arg(long, hide = true, num_args = 0..=1, default_missing_value = "")]
    slack_webhook_url: Option<String>,
    /// The SMTP server (with --notify smtp).
    #[arg(long, env = "HOGWARDEN_SMTP_HOST")]
    smtp_host: Option<String>,
    /// The SMTP port.
    #[arg(long, env = "HOGWARDEN_SMTP_PORT", default_value_t = 587)]
    smtp_port: u16,
    /// The sender of emails, e.g. "Hogwarden <hogwarden@example.com>" (with --notify smtp).
    #[arg(long, env = "HOGWARDEN_SMTP_FROM")]
    smtp_from: Option<String>,
    /// The SMTP user name, if the server needs one.
    #[arg(long, env = "HOGWARDEN_SMTP_USERNAME")]
    smtp_username: Option<String>,
    /// Refused: the password comes from HOGWARDEN_SMTP_PASSWORD.
    #[arg(long, hide = true, num_args = 0..=1, default_missing_value = "")]
    smtp_password: Option<String>,
    /// SMTP connection security: none, starttls or tls (default: none for localhost, else starttls).
    #[arg(long, env = "HOGWARDEN_SMTP_TLS")]
    smtp_tls: Option<String>,
}

/// A way of telling people things.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Channel {
    /// A log line per notification.
    Log,
    /// A Slack incoming webhook.
    Slack,
    /// Email over SMTP.
    Smtp,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info,tower_http=warn".into()))
        .init();
    match Cli::parse().command {
        Command::Serve(args) => serve(*args).await,
        Command::Sandbox(args) => posthog_sandbox::serve_forever(args).await,
        Command::Bulk(command) => {
            let code = hogwarden_local::bulk_cli::run(command).await?;
            std::process::exit(code)
        }
    }
}

async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    refuse_secret_flag(&args.posthog_api_key, "--posthog-api-key", "POSTHOG_API_KEY")?;
    refuse_secret_flag(&args.slack_webhook_url, "--slack-webhook-url", "HOGWARDEN_SLACK_WEBHOOK_URL")?;
    refuse_secret_flag(&args.smtp_password, "--smtp-password", "HOGWARDEN_SMTP_PASSWORD")?;
    let mut config = StackConfig::new(&args.data_dir);
    // Notification settings first: a missing one stops the start before anything runs.
    config.notify = notify_config(&args)?;
    config.host = args.host;
    config.port = args.port;
    config.insecure_dev_sign_in = args.insecure_dev_sign_in;
    config.allowed_hosts = args.allowed_hosts;
    config.sweep_interval = Some(Duration::from_secs(args.sweep_interval_secs.max(1)));
    config.frontend_dir = args.frontend_dir.filter(|d| d.join("index.html").exists());
    if let Some(path) = &args.policy {
        let text = std::fs::read_to_string(path).map_err(|e| anyhow::anyhow!("reading policy {}: {e}", path.display()))?;
        config.policy = serde_json::from_str(&text).map_err(|e| anyhow::anyhow!("policy {}: {e}", path.display()))?;
    }
    if args.posthog_burst.is_some() || args.posthog_sustained.is_some() {
        let defaults = hogwarden_posthog::PostHogConfig::DEFAULT_BURST;
        config.posthog_rate_limits = Some((
            args.posthog_burst.unwrap_or(defaults),
            args.posthog_sustained.unwrap_or(hogwarden_posthog::PostHogConfig::DEFAULT_SUSTAINED),
        ));
    }
    config.posthog = match args.posthog_host {
        None => PostHogTarget::Sandbox { port: args.sandbox_port },
        Some(host) => PostHogTarget::Existing {
            host,
            organization_id: args.posthog_org_id.ok_or_else(|| anyhow::anyhow!("POSTHOG_ORG_ID is required with POSTHOG_HOST"))?,
            api_key: secret_env("POSTHOG_API_KEY").map(SecretString::from),
        },
    };
    if matches!(config.posthog, PostHogTarget::Sandbox { .. }) && config.policy.reviews.hand_over_to.is_none() {
        // The demo organization's review removals hand objects to charlie, an admin who
        // reviews nobody (a reviewer who decides a removal never receives its objects).
        config.policy.reviews.hand_over_to = hogwarden_core::types::Email::parse("charlie@example.com").ok();
    }
    let stack = Stack::start(config).await?;
    println!("Hogwarden is running at {}", stack.url);
    println!("  API:      {}/api  (OpenAPI: {}/api/openapi.json)", stack.url, stack.url);
    match &stack.sandbox {
        Some(s) => println!("  PostHog:  sandbox at {} (organization \"Acme Corp\", id {})", s.base_url(), s.organization_id()),
        None => println!("  PostHog:  the configured instance"),
    }
    if stack.dev_sign_in {
        if stack.sandbox.is_none() {
            println!(
                "  WARNING: the dev sign-in is on with a real PostHog (--insecure-dev-sign-in): anyone who reaches this port is an admin."
            );
        }
        println!("  Sign in as a demo user (POST {}/auth/dev-login {{\"email\": ...}}):", stack.url);
        for u in demo::DEMO_USERS {
            println!("    {:<22} {}", u.email, u.name);
        }
    } else {
        println!("  Dev sign-in: off (a real PostHog is managed; see --insecure-dev-sign-in)");
    }
    tokio::signal::ctrl_c().await?;
    println!("Stopping.");
    stack.shutdown().await;
    Ok(())
}

/// `REQUESTS/SECONDS`, e.g. `480/60`.
fn parse_rate(raw: &str) -> Result<hogwarden_posthog::RateLimit, String> {
    let bad = || format!("'{raw}' is not a rate: write REQUESTS/SECONDS, e.g. 480/60");
    let (n, secs) = raw.split_once('/').ok_or_else(bad)?;
    let n: u32 = n.trim().parse().map_err(|_| bad())?;
    let secs: f64 = secs.trim().parse().map_err(|_| bad())?;
    if n == 0 || !(secs > 0.0 && secs <= 86_400.0) {
        return Err(bad());
    }
    Ok(hogwarden_posthog::RateLimit::new(n, Duration::from_secs_f64(secs)))
}

/// Reads the chosen notification channels; a missing setting is named in the error.
fn notify_config(args: &ServeArgs) -> anyhow::Result<NotifyConfig> {
    let mut notify = NotifyConfig { log: args.notify.contains(&Channel::Log), slack: None, smtp: None };
    if args.notify.contains(&Channel::Slack) {
        let url = secret_env("HOGWARDEN_SLACK_WEBHOOK_URL")
            .ok_or_else(|| anyhow::anyhow!("--notify slack needs HOGWARDEN_SLACK_WEBHOOK_URL (the incoming-webhook URL from Slack)"))?;
        notify.slack = Some(SlackWebhook::parse(SecretString::from(url))?);
    }
    if args.notify.contains(&Channel::Smtp) {
        let host = args.smtp_host.clone().ok_or_else(|| anyhow::anyhow!("--notify smtp needs HOGWARDEN_SMTP_HOST (the SMTP server)"))?;
        let from = args
            .smtp_from
            .as_deref()
            .ok_or_else(|| anyhow::anyhow!("--notify smtp needs HOGWARDEN_SMTP_FROM (the sender, e.g. hogwarden@example.com)"))?;
        let mut smtp = SmtpConfig::new(host, args.smtp_port, from)?;
        smtp.username = args.smtp_username.clone();
        smtp.password = secret_env("HOGWARDEN_SMTP_PASSWORD").map(SecretString::from);
        if let Some(tls) = &args.smtp_tls {
            smtp.tls = SmtpTls::parse(tls)?;
        }
        notify.smtp = Some(smtp);
    }
    Ok(notify)
}

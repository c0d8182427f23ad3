//! `posthog-sandbox`: serves the PostHog sandbox for the local demo stack and manual testing.

use clap::Parser;
use posthog_sandbox::{SandboxArgs, serve_forever};

/// A simulator of PostHog's REST API, seeded with the demo organization "Acme Corp".
#[derive(Debug, Parser)]
#[command(name = "posthog-sandbox", version)]
struct Cli {
    #[command(flatten)]
    args: SandboxArgs,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    serve_forever(Cli::parse().args).await
}

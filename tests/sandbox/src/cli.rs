//! Command-line start-up, shared by the `posthog-sandbox` binary and `hogwarden sandbox`.
//!
//! Keeping it in the library lets the main Hogwarden binary expose the same flags by
//! flattening [`SandboxArgs`] into its own subcommand.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use anyhow::Context;
use chrono::SubsecRound;

use crate::config::{FaultKind, FaultPlan, RateLimit, SandboxConfig};
use crate::{Sandbox, SandboxHandle};

/// Flags of `posthog-sandbox` (and `hogwarden sandbox`).
#[derive(Debug, Clone, clap::Args)]
pub struct SandboxArgs {
    /// Port to listen on.
    #[arg(long, default_value_t = 8010, env = "POSTHOG_SANDBOX_PORT")]
    pub port: u16,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1", env = "POSTHOG_SANDBOX_HOST")]
    pub host: IpAddr,
    /// The service account's personal API key; generated (from the seed) when absent.
    #[arg(long, env = "POSTHOG_SANDBOX_API_KEY")]
    pub api_key: Option<String>,
    /// Latency added to every request, in milliseconds.
    #[arg(long, default_value_t = 0)]
    pub latency_ms: u64,
    /// Burst budget per key and minute (PostHog: 480).
    #[arg(long, default_value_t = 480)]
    pub rate_limit_per_minute: usize,
    /// Share of requests (0.0–1.0) that fail with a 5xx, a timeout or a dropped connection.
    #[arg(long, default_value_t = 0.0)]
    pub fault_rate: f64,
    /// Start with only the organization and its service account instead of Acme Corp.
    #[arg(long)]
    pub empty: bool,
    /// Seed of ids, tokens and random faults.
    #[arg(long, default_value_t = 42)]
    pub rng_seed: u64,
}

impl SandboxArgs {
    /// The configuration these flags describe. Seeded timestamps are laid out from now, so
    /// the demo's "last login 100 days ago" stays true.
    pub fn config(&self) -> anyhow::Result<SandboxConfig> {
        anyhow::ensure!((0.0..=1.0).contains(&self.fault_rate), "--fault-rate must be between 0.0 and 1.0, got {}", self.fault_rate);
        let base = if self.empty { SandboxConfig::empty() } else { SandboxConfig::acme_corp() };
        let faults = FaultPlan::random(self.fault_rate, vec![FaultKind::Status5xx, FaultKind::Timeout, FaultKind::DropConnection]);
        let mut config = base
            .with_latency(Duration::from_millis(self.latency_ms))
            .with_rate_limit(RateLimit::burst(self.rate_limit_per_minute, Duration::from_secs(60)))
            .with_faults(faults)
            .with_rng_seed(self.rng_seed)
            .with_seed_anchor(chrono::Utc::now().trunc_subsecs(0));
        config.api_key.clone_from(&self.api_key);
        Ok(config)
    }
}

/// Prints what a client needs to talk to the sandbox.
fn print_banner(handle: &SandboxHandle) {
    println!("PostHog sandbox listening on {}", handle.base_url());
    println!("  organization: {} ({})", handle.organization_name(), handle.organization_id());
    for (name, id) in handle.projects() {
        println!("  project {id}: {name}");
    }
    println!("  service account: {}", crate::seed::SERVICE_EMAIL);
    println!("  personal API key: {}", key_hint(&handle.service_api_key()));
}

/// A key as a person may see it on screen (a terminal is scrolled back, shared, logged):
/// its prefix and last four characters, and how to choose the whole key.
fn key_hint(key: &str) -> String {
    let prefix = key.split_once('_').map_or("", |(p, _)| p);
    let tail: String = key.chars().rev().take(4).collect::<Vec<_>>().into_iter().rev().collect();
    format!("{prefix}_…{tail} (not printed whole; choose the key with POSTHOG_SANDBOX_API_KEY)")
}

/// Starts a sandbox from `args`, prints its coordinates, and serves until Ctrl-C.
pub async fn serve_forever(args: SandboxArgs) -> anyhow::Result<()> {
    let config = args.config()?;
    let addr = SocketAddr::new(args.host, args.port);
    let handle = Sandbox::start(config, addr).await.with_context(|| format!("Failed to listen on {addr}; pass a free --port"))?;
    print_banner(&handle);
    tokio::signal::ctrl_c().await.context("Failed to wait for Ctrl-C")?;
    handle.shutdown().await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(flatten)]
        args: SandboxArgs,
    }

    #[test]
    fn defaults_match_posthog() {
        let cli = Cli::parse_from(["posthog-sandbox"]);
        assert_eq!(cli.args.port, 8010);
        let config = cli.args.config().unwrap();
        assert_eq!(config.rate_limit, RateLimit::posthog());
        assert_eq!(config.faults.rate, 0.0);
    }

    #[test]
    fn fault_rate_outside_zero_to_one_is_refused() {
        let cli = Cli::parse_from(["posthog-sandbox", "--fault-rate", "1.5"]);
        assert!(cli.args.config().is_err());
    }
}

//! Benchmark (figures, not a pass/fail test): opening an access review campaign over a
//! sandbox organization of 2,000 members and 20 projects, with PostHog's rate limit
//! on. Prints the PostHog calls the snapshot took (by endpoint) and the time, for the
//! client's default page size and for pages of 1,000.
//!
//! `cargo run --release -p hogwarden-e2e --example review_open` (run by `cargo xtask bench`).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use hogwarden_core::Hogwarden;
use hogwarden_core::policy::Policy;
use hogwarden_core::ports::{PostHog, Store, SystemClock};
use hogwarden_core::types::Email;
use hogwarden_posthog::{PostHogClient, PostHogConfig};
use hogwarden_store_sqlite::SqliteStore;
use posthog_sandbox::{Sandbox, SandboxConfig};

const MEMBERS: usize = 2000;
const PROJECTS: usize = 20;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    println!("Opening an access review over {MEMBERS} members and {PROJECTS} projects (sandbox, PostHog's rate limit on)");
    for page_size in [PostHogConfig::DEFAULT_PAGE_SIZE, 1000] {
        let sandbox = Sandbox::start(SandboxConfig::large(MEMBERS, PROJECTS), SocketAddr::from(([127, 0, 0, 1], 0))).await?;
        let mut config = PostHogConfig::new(
            url::Url::parse(&sandbox.base_url())?,
            secrecy::SecretString::from(sandbox.service_api_key()),
            sandbox.organization_id(),
        );
        config.allow_plain_http = true;
        config.page_size = page_size;
        let posthog: Arc<dyn PostHog> = Arc::new(PostHogClient::new(config)?);
        let dir = tempfile::tempdir()?;
        let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&dir.path().join("bench.db"))?);
        let mut policy = Policy::default();
        policy.reviews.excluded.push(Email::parse(posthog_sandbox::SERVICE_EMAIL)?);
        policy.reviews.named_reviewers = vec![Email::parse("user00001@example.com")?, Email::parse("user00002@example.com")?];
        let app = Hogwarden::new(
            store,
            posthog,
            Arc::new(SystemClock),
            Arc::new(hogwarden_local::notifier::OutboxNotifier::quiet()),
            Arc::new(policy),
            "http://localhost".into(),
        );
        sandbox.clear_requests();

        let started = Instant::now();
        let (campaign, _) = app.open_scheduled_campaign(chrono::Utc::now()).await?;
        let took = started.elapsed();

        let calls = sandbox.requests();
        let mut by_endpoint: BTreeMap<String, usize> = BTreeMap::new();
        for call in &calls {
            let path = call
                .path
                .split('/')
                .map(|s| if s.chars().all(|c| c.is_ascii_digit() || c == '-') && !s.is_empty() { "{id}" } else { s })
                .collect::<Vec<_>>()
                .join("/");
            let org = sandbox.organization_id();
            *by_endpoint.entry(format!("{} {}", call.method, path.replace(&org, "{org}"))).or_default() += 1;
        }
        println!(
            "  page size {page_size}: {} PostHog calls, {} throttled, {:.2?}; {} members, {} items",
            calls.len(),
            sandbox.throttled_count(),
            took,
            campaign.summary.total_members,
            campaign.item_count
        );
        for (endpoint, n) in by_endpoint {
            println!("      {n:>5}  {endpoint}");
        }
        sandbox.shutdown().await;
    }
    Ok(())
}

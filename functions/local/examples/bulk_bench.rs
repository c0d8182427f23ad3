//! Benchmark: a 1,000-row bulk change set applied against the PostHog sandbox with
//! PostHog's burst limit, 480 requests per minute, its minute scaled down to a second
//! (8 requests per second per key). Every change needs at least one PostHog write, so
//! the ceiling is 8 changes per second: it prints the changes per second achieved as a
//! fraction of that ceiling (the target: at least 0.95), and the PostHog
//! requests each change cost.
//!
//! `cargo run -p hogwarden-local --example bulk_bench` (`cargo xtask bench` runs it).
//! `BULK_BENCH_ROWS` (default 1000) and `BULK_BENCH_PER_SECOND` (default 8) change the
//! size and the limit.

#[path = "../tests/support/bulk_org.rs"]
mod bulk_org;

use std::sync::Arc;
use std::time::{Duration, Instant};

use hogwarden_core::ports::SystemClock;
use hogwarden_core::types::{Email, Principal, Role};
use hogwarden_core::usecases::NewChangeSet;
use hogwarden_local::{PostHogTarget, Stack, StackConfig};
use posthog_sandbox::{Budget, RateLimit, Sandbox, SandboxConfig};
use secrecy::SecretString;

fn env_number(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn principal(email: &str, roles: &[Role]) -> Principal {
    Principal { email: Email::parse(email).expect("email"), subject: email.to_owned(), roles: roles.to_vec() }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let rows = env_number("BULK_BENCH_ROWS", 1000);
    let per_second = env_number("BULK_BENCH_PER_SECOND", 8);

    // The sandbox: Acme Corp plus enough people, throttling at `per_second`.
    let sandbox = Sandbox::start(SandboxConfig::acme_corp(), "127.0.0.1:0".parse()?).await?;
    bulk_org::add_people(&sandbox, rows.div_ceil(4));
    sandbox.set_rate_limit(RateLimit { burst: Budget::new(per_second, Duration::from_secs(1)), ..RateLimit::default() });

    // The stack, its PostHog client budgeted at the same limit. The client counts a
    // request when it sends it and the sandbox when it arrives; a 2% longer window
    // keeps loopback jitter from turning the last request of a window into a 429.
    let dir = tempfile::tempdir()?;
    let mut config = StackConfig::new(dir.path());
    config.sweep_interval = None;
    config.clock = Arc::new(SystemClock);
    config.posthog = PostHogTarget::Existing {
        host: url::Url::parse(&sandbox.base_url())?,
        organization_id: sandbox.organization_id(),
        api_key: Some(SecretString::from(sandbox.service_api_key())),
    };
    config.posthog_rate_limits = Some((
        hogwarden_posthog::RateLimit::new(u32::try_from(per_second)?, Duration::from_millis(1020)),
        hogwarden_posthog::PostHogConfig::DEFAULT_SUSTAINED,
    ));
    let stack = Stack::start(config).await?;
    let app = stack.app.clone();

    let (csv, wanted) = bulk_org::change_set(rows);
    let alice = principal("alice@example.com", &[Role::Requester, Role::Approver, Role::Admin]);
    let bob = principal("bob@example.com", &[Role::Requester, Role::Approver]);
    let (set, _) = app.bulk_submit(&alice, NewChangeSet { format: "csv".into(), content: csv, reason: None }).await?;
    let id = set.set.request_id;
    app.approve(&bob, id, None).await?;

    println!("bulk apply: {rows} rows against the sandbox at {per_second} requests/s (480/minute with the minute scaled to a second)");
    sandbox.clear_requests();
    let writes_before = sandbox.write_count();
    let throttled_before = sandbox.throttled_count();
    let started = Instant::now();
    let progress = app.bulk_run(id, Duration::from_secs(24 * 3600)).await?;
    let elapsed = started.elapsed().as_secs_f64();

    let sent = sandbox.requests().len();
    let throttled = sandbox.throttled_count() - throttled_before;
    let accepted = sent - throttled;
    let c = progress.counts;
    let changes = c.done as f64 / elapsed;
    let fraction = changes / per_second as f64;
    println!("    {} done, {} no-ops, {} failed, {} unsettled in {elapsed:.1} s", c.done, c.no_op, c.failed, c.unsettled());
    println!("    PostHog requests: {accepted} answered, {throttled} refused with 429");
    println!(
        "    achieved {changes:.2} changes/s of a {per_second}/s ceiling: {fraction:.3} of the ceiling (target >= 0.95), at {:.3} requests per change",
        accepted as f64 / c.done.max(1) as f64
    );
    // 0 lost: PostHog shows every row; 0 repeated: one write per row.
    let lost = wanted
        .iter()
        .filter(|(email, project, role)| {
            sandbox.project_id(project).and_then(|p| sandbox.project_access(p, email)).as_deref() != Some(*role)
        })
        .count();
    let repeated = (sandbox.write_count() - writes_before).saturating_sub(rows);
    println!("    {lost} lost, {repeated} repeated (PostHog's state and write count, checked in the sandbox)");
    stack.shutdown().await;
    sandbox.shutdown().await;
    if c.done + c.no_op != rows || lost > 0 || repeated > 0 {
        anyhow::bail!("not every row was applied exactly once");
    }
    Ok(())
}

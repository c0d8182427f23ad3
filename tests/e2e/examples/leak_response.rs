//! Benchmark (`cargo xtask bench`): leaked-key alert received → project secret key
//! rotated, stored and audited, on the local stack (SQLite, 0600 file vault) with the
//! PostHog sandbox answering after 50 ms. Sends 100 signed generic alerts, one after the
//! other, each carrying the key that is current at that moment; the webhook answers once
//! the new key is current in the vault, the leaked one is deleted in PostHog and the
//! audit entry is written, so the answer's latency is the figure. Prints p50 and p95.

use std::time::{Duration, Instant};

use hogwarden_core::types::ProjectId;
use hogwarden_core::webhooks::sign_generic;
use hogwarden_local::{Stack, StackConfig};
use secrecy::{ExposeSecret, SecretString};

const ALERTS: usize = 100;
const SECRET: &str = "hogwarden/flags-key";
const WEBHOOK_KEY: &str = "bench-webhook-secret";

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let mut config = StackConfig::new(dir.path());
    config.sweep_interval = None;
    config.posthog_retry_base = Duration::from_millis(10);
    config.policy.keys.managed_secrets = vec![SECRET.into()];
    config.notify.log = false;
    let stack = Stack::start(config).await?;
    let sandbox = stack.sandbox.clone().expect("the local stack runs the sandbox");
    let project = sandbox.project_id("Production").expect("seeded project");
    stack.rotation.enrol(SECRET, "bench-enrol", ProjectId::new(project)?, &["feature_flag:read".into()]).await?;
    stack.vault.put_current("hogwarden/webhooks/generic", SecretString::from(WEBHOOK_KEY)).await?;
    sandbox.set_latency(Duration::from_millis(50));
    let http = reqwest::Client::new();
    let url = format!("{}/webhooks/generic", stack.url);

    let mut timings = Vec::with_capacity(ALERTS);
    for i in 0..ALERTS {
        let leaked = stack.rotation.current_value(SECRET).await?;
        let body = serde_json::json!({ "token": leaked.expose_secret(), "source": "bench" }).to_string();
        let ts = chrono::Utc::now().timestamp().to_string();
        let delivery = format!("bench-{i}");
        let sig = sign_generic(WEBHOOK_KEY.as_bytes(), &ts, &delivery, body.as_bytes());
        let started = Instant::now();
        let response = http
            .post(&url)
            .header("content-type", "application/json")
            .header("x-hogwarden-signature", sig)
            .header("x-hogwarden-timestamp", ts)
            .header("x-hogwarden-delivery", delivery)
            .body(body)
            .send()
            .await?;
        let status = response.status().as_u16();
        let elapsed = started.elapsed();
        anyhow::ensure!(status == 202, "alert {i} answered {status}: {}", response.text().await.unwrap_or_default());
        let now = stack.rotation.current_value(SECRET).await?;
        anyhow::ensure!(now.expose_secret() != leaked.expose_secret(), "alert {i}: the key was not rotated");
        timings.push(elapsed);
    }
    timings.sort();
    let pick = |q: f64| timings[((timings.len() as f64 * q).ceil() as usize).saturating_sub(1).min(timings.len() - 1)];
    let audited = stack.app.store.list_audit(&hogwarden_core::ports::AuditQuery { limit: 1000, ..Default::default() }).await?;
    let alerts = audited.iter().filter(|e| e.kind == hogwarden_core::audit::AuditKind::KeyAlert).count();
    println!("leaked-key alert → rotated, stored and audited ({ALERTS} alerts, sandbox latency 50 ms, local stack):");
    println!("    p50 {:>6.0} ms   p95 {:>6.0} ms   max {:>6.0} ms   (target p50 < 2000 ms)", ms(pick(0.5)), ms(pick(0.95)), ms(pick(1.0)));
    println!("    audited alerts: {alerts}");
    stack.shutdown().await;
    Ok(())
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

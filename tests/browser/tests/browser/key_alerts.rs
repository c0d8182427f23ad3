//! keys-alerts: after Hogwarden's own key leaks, every page shows that PostHog writes are
//! paused, and the alert history (linked from the Keys page) lists the accepted alert
//! and a refused one with its reason, by fingerprint, never a value.

use hogwarden_browser_tests::pages::{Nav, SignIn};
use hogwarden_browser_tests::{APPROVER_ADMIN, BrowserTest, Target};
use hogwarden_core::webhooks::sign_generic;

const SECRET: &str = "generic-shared-secret";

async fn deliver(t: &BrowserTest, delivery: &str, body: &str, signature: Option<&str>) -> anyhow::Result<()> {
    let ts = chrono::Utc::now().timestamp().to_string();
    let good = sign_generic(SECRET.as_bytes(), &ts, delivery, body.as_bytes());
    let signature = signature.unwrap_or(&good).to_owned();
    let delivery = delivery.to_owned();
    let header = move |name: &str| match name {
        "x-hogwarden-signature" => Some(signature.clone()),
        "x-hogwarden-timestamp" => Some(ts.clone()),
        "x-hogwarden-delivery" => Some(delivery.clone()),
        _ => None,
    };
    let _ = t.stack.leaks.receive("generic", &header, body.as_bytes()).await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_an_own_key_leak_the_pause_banner_shows_and_the_alert_history_lists_both_alerts() -> anyhow::Result<()> {
    // Arrange: Hogwarden's own key is reported leaked; a forged delivery is refused.
    let t = BrowserTest::start("key_alerts").await?;
    t.stack.vault.put_current("hogwarden/webhooks/generic", secrecy::SecretString::from(SECRET)).await?;
    let own = t.sandbox().service_api_key();
    let body = serde_json::json!({ "token": own }).to_string();
    deliver(&t, "forged-1", &body, Some("sha256=00ff")).await?;
    deliver(&t, "own-1", &body, None).await?;
    let alice = t.browser(APPROVER_ADMIN).await?;
    SignIn(&alice).act_sign_in_as(APPROVER_ADMIN).await?;

    // Act
    alice.check_shown(Target::Alert("PostHog writes are paused")).await?;
    alice.screenshot("pause-banner").await?;
    Nav(&alice).act_open("Keys", "Keys").await?;
    alice.click(Target::Link("Leaked-key alert history")).await?;
    alice.check_shown(Target::Heading("Leaked-key alerts")).await?;
    let verdicts = alice.column("Alerts, newest first", "Verdict").await?;
    let values = alice.column("Alerts, newest first", "Leaked values and action").await?;
    alice.screenshot("alert-history").await?;

    // Assert
    assert_eq!(verdicts, ["Accepted", "Refused: bad signature"], "newest first");
    assert!(values[0].contains("personal sha256:") && values[0].contains("paused"), "{values:?}");
    assert!(!values.concat().contains(&own) && !values.concat().contains("phx_"), "{values:?}");
    alice.check_shown(Target::Alert("own PostHog key")).await?;

    alice.close().await;
    t.shutdown().await;
    Ok(())
}

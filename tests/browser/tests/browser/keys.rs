//! The Keys page: an admin sees every PostHog key Hogwarden knows by fingerprint (never
//! a value) and is told that only a personal key's owner can roll it.

use hogwarden_browser_tests::pages::{Nav, SignIn};
use hogwarden_browser_tests::{APPROVER_ADMIN, BrowserTest, MEMBER, Target};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_sees_the_key_inventory_by_fingerprint() -> anyhow::Result<()> {
    // Arrange
    let t = BrowserTest::start("keys").await?;
    let alice = t.browser(APPROVER_ADMIN).await?;
    SignIn(&alice).act_sign_in_as(APPROVER_ADMIN).await?;

    // Act
    Nav(&alice).act_open("Keys", "Keys").await?;
    let fingerprints = alice.column("PostHog keys", "Fingerprint").await?;
    let rotation = alice.column("PostHog keys", "Rotation").await?;
    alice.screenshot("keys").await?;

    // Assert: the service key and one token per project, by fingerprint only.
    assert!(fingerprints.len() >= 5, "{fingerprints:?}");
    assert!(fingerprints[0].starts_with("sha256:") && fingerprints[0].len() == 19, "{fingerprints:?}");
    for f in &fingerprints {
        assert!(!f.contains("phx_") && !f.contains("phc_") && !f.contains("phs_"), "{f}");
    }
    assert!(rotation.iter().all(|r| r == "Not rotated by Hogwarden"), "{rotation:?}");
    alice.check_shown(Target::Text("Only a personal API key's owner can roll it, in PostHog under Settings → Personal API keys.")).await?;

    alice.close().await;
    t.shutdown().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_has_no_keys_page() -> anyhow::Result<()> {
    // Arrange
    let t = BrowserTest::start("keys_member").await?;
    let frank = t.browser(MEMBER).await?;
    SignIn(&frank).act_sign_in_as(MEMBER).await?;

    // Act
    frank.goto("/#/keys").await?;

    // Assert
    frank.check_shown(Target::Text("Only admins can see Hogwarden's keys.")).await?;
    frank.close().await;
    t.shutdown().await;
    Ok(())
}

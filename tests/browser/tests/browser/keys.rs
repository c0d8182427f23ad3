//! The Keys page: an admin sees every PostHog key Hogwarden knows by fingerprint (never
//! a value) and is told that only a personal key's owner can roll it; after importing
//! PostHog's personal key list, people's keys are listed by PostHog's mask and can have
//! consumers like any other key.

use hogwarden_browser_tests::pages::{KeyRotation, Nav, SignIn};
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
        assert!(f.starts_with("sha256:"), "{f}");
    }
    assert!(rotation.iter().all(|r| r == "Not rotated by Hogwarden"), "{rotation:?}");
    alice.check_shown(Target::Text("Only a personal API key's owner can roll it, in PostHog under Settings → Personal API keys.")).await?;

    // Act: import PostHog's personal key list (an admin saves it from a signed-in
    // session), then list a place that uses Frank's key.
    let frank_key =
        t.sandbox().create_personal_key_as(MEMBER, "exports", &["query:read"], chrono::Duration::days(2)).expect("Frank makes a key");
    let mask = format!("phx_...{}", &frank_key[frank_key.len() - 4..]);
    let list = t.sandbox().organization_personal_keys_as(APPROVER_ADMIN, 1000, 0).expect("an admin's session may list").to_string();
    alice.fill("PostHog's personal key list (JSON)", &list).await?;
    alice.click(Target::Button("Import")).await?;
    let imported = alice.find(Target::Row { table: "PostHog keys", containing: &mask }).await?.text().await?;
    KeyRotation(&alice).act_add_consumer(&format!("Personal key {mask} of {MEMBER}"), "Server", "nightly export job", MEMBER).await?;
    let row = alice.find(Target::Row { table: "PostHog keys", containing: &mask }).await?.text().await?;
    alice.screenshot("keys-personal").await?;

    // Assert: listed by mask with its owner, never by value, and its consumer shown.
    assert!(imported.contains("Personal API key") && imported.contains(MEMBER), "{imported}");
    assert!(row.contains("nightly export job"), "{row}");
    assert!(!row.contains(&frank_key), "{row}");

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

//! The guided project-token rotation page: an admin lists a consumer of a project token on
//! the Keys page, follows the key's link, starts the rotation (the consumer is warned
//! before the reset), resets the token in PostHog (the sandbox's session path), presses
//! "Check now" and sees every step done with its time.

use hogwarden_browser_tests::pages::{KeyRotation, Nav, SignIn};
use hogwarden_browser_tests::{APPROVER_ADMIN, BrowserTest, MEMBER, Target};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_runs_a_guided_project_token_rotation_from_the_keys_page() -> anyhow::Result<()> {
    // Arrange
    let t = BrowserTest::start("token_rotation").await?;
    let web = t.sandbox().project_id("Web App").expect("seeded project");
    let alice = t.browser(APPROVER_ADMIN).await?;
    SignIn(&alice).act_sign_in_as(APPROVER_ADMIN).await?;
    Nav(&alice).act_open("Keys", "Keys").await?;
    let page = KeyRotation(&alice);

    // Act: a consumer, the rotation page, start.
    page.act_add_consumer("Web App project token", "Front-end SDK", "Web app bundle", MEMBER).await?;
    page.act_open_rotation("Web app bundle").await?;
    page.act_start().await?;
    let warned = page.find_step_state("Consumers warned before the reset").await?;
    let waiting = page.find_step_state("Test event accepted").await?;
    alice.check_shown(Target::Status("Project API key → Reset")).await?;
    alice.screenshot("rotation-open").await?;

    // Act: the reset happens in PostHog, then "Check now".
    t.sandbox().reset_project_token_as(APPROVER_ADMIN, web).expect("an admin may reset");
    page.act_check_now("Web App (done)").await?;
    let verified = page.find_step_state("Test event accepted").await?;
    alice.screenshot("rotation-done").await?;

    // Assert
    assert!(warned.starts_with("Done"), "{warned}");
    assert_eq!(waiting, "Waiting");
    assert!(verified.starts_with("Done"), "{verified}");
    alice.check_shown(Target::Text("Web app bundle (frontend sdk), owner frank@example.com")).await?;
    alice.check_gone(Target::Button("Check now")).await?;

    alice.close().await;
    t.shutdown().await;
    Ok(())
}

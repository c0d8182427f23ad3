//! Signing in with the local stack's dev sign-in.

use hogwarden_browser_tests::pages::{Nav, SignIn};
use hogwarden_browser_tests::{BrowserTest, MEMBER, Target};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_signs_in_and_out_with_the_dev_sign_in() -> anyhow::Result<()> {
    // Arrange
    let t = BrowserTest::start("a_member_signs_in_and_out").await?;
    let frank = t.browser(MEMBER).await?;
    SignIn(&frank).find_page().await?;
    frank.screenshot("sign-in page").await?;

    // Act
    SignIn(&frank).act_sign_in_as(MEMBER).await?;

    // Assert: signed in, on the default page, with a member's navigation.
    SignIn(&frank).check_signed_in_as(MEMBER).await?;
    frank.check_shown(Target::Heading("Request access")).await?;
    frank.check_shown(Target::Link("My access")).await?;
    frank.check_shown(Target::Link("Audit log")).await?;
    frank.screenshot("signed in").await?;
    assert!(frank.visible(None, Target::Link("Inbox")).await?.is_empty(), "a member has no inbox link");
    assert!(frank.visible(None, Target::Link("Access overview")).await?.is_empty(), "a member has no overview link");

    // Act: a reload keeps the session (the token is in sessionStorage), sign out ends it.
    Nav(&frank).act_open("My access", "My access").await?;
    frank.goto("/#/my-access").await?;
    frank.check_shown(Target::Heading("My access")).await?;
    SignIn(&frank).check_signed_in_as(MEMBER).await?;
    frank.click(Target::Button("Sign out")).await?;

    // Assert
    SignIn(&frank).find_page().await?;
    frank.screenshot("signed out").await?;
    frank.close().await;
    t.shutdown().await;
    Ok(())
}

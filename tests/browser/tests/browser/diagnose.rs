//! The guide's troubleshooting question in the browser: an admin asks why a member
//! cannot see a restricted project and is told which check stands in the way.

use hogwarden_browser_tests::pages::{Diagnose, Nav, SignIn};
use hogwarden_browser_tests::{APPROVER_ADMIN, BrowserTest, MEMBER};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_learns_why_a_member_cannot_see_a_restricted_project() -> anyhow::Result<()> {
    // Arrange
    let t = BrowserTest::start("diagnose").await?;
    let alice = t.browser(APPROVER_ADMIN).await?;
    SignIn(&alice).act_sign_in_as(APPROVER_ADMIN).await?;

    // Act
    Nav(&alice).act_open("Access diagnosis", "Access diagnosis").await?;
    let card = Diagnose(&alice).act_diagnose(MEMBER, "Production").await?;
    alice.screenshot("diagnosis").await?;

    // Assert: the verdict, the cause and the way out; the failed check is marked.
    assert!(card.contains("frank@example.com cannot see Production"), "{card}");
    assert!(card.contains("restricted"), "{card}");
    assert!(card.contains("Next step:"), "{card}");
    let results = alice.column("Checks made", "Result").await?;
    assert_eq!(results, ["Passed", "Passed", "Blocks access"]);

    alice.close().await;
    t.shutdown().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_has_no_diagnosis_page() -> anyhow::Result<()> {
    // Arrange
    let t = BrowserTest::start("diagnose_member").await?;
    let frank = t.browser(MEMBER).await?;
    SignIn(&frank).act_sign_in_as(MEMBER).await?;

    // Act
    frank.goto("/#/diagnose").await?;

    // Assert
    frank.check_shown(hogwarden_browser_tests::Target::Text("Only approvers and admins can diagnose access.")).await?;
    frank.close().await;
    t.shutdown().await;
    Ok(())
}

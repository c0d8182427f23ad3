//! An access review in the browser: an admin opens the quarter's review and sees its
//! report with the verified chain; a reviewer sees what revoking a membership would do,
//! then keeps an item from his queue (bulk keep);
//! the admin closes it; the drift report takes its baseline.

use hogwarden_browser_tests::pages::{Nav, SignIn};
use hogwarden_browser_tests::{APPROVER, APPROVER_ADMIN, BrowserTest, Target};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_opens_a_review_a_reviewer_keeps_from_the_queue_and_the_admin_closes_it() -> anyhow::Result<()> {
    // Arrange
    let t = BrowserTest::start("reviews").await?;
    let alice = t.browser(APPROVER_ADMIN).await?;
    SignIn(&alice).act_sign_in_as(APPROVER_ADMIN).await?;

    // Act: alice opens the quarter's review.
    Nav(&alice).act_open("Access reviews", "Access reviews").await?;
    alice.click(Target::Button("Open this quarter's review")).await?;

    // Assert: the report with the snapshot and the evidence's verified chain.
    alice.check_shown(Target::Status("Opened: ")).await?;
    alice.check_shown(Target::Table("Review items")).await?;
    alice.check_shown(Target::Status("Chain verified")).await?;
    alice.check_shown(Target::Row { table: "Review items", containing: "Organization: Admin" }).await?;
    alice.screenshot("campaign opened").await?;

    // Act: bob keeps alice's organization level from his queue.
    let bob = t.browser(APPROVER).await?;
    SignIn(&bob).act_sign_in_as(APPROVER).await?;
    Nav(&bob).act_open("My reviews", "My review queue").await?;
    // Before deciding, what revoking her membership would do (an offboarding).
    bob.click(Target::Button("What removing alice@example.com does")).await?;
    bob.check_shown(Target::Text("Leaves the organization;")).await?;
    bob.set_checked("Select alice@example.com (Organization)", true).await?;
    bob.click(Target::Button("Keep selected")).await?;

    // Assert
    bob.check_shown(Target::Status("Kept 1 item.")).await?;
    bob.screenshot("kept from the queue").await?;

    // Act: alice closes the campaign, then checks drift.
    alice.goto("/#/reviews").await?;
    // The stack runs on the real clock: the campaign is this quarter's.
    let title = hogwarden_core::reviews::campaign_title(chrono::Utc::now());
    alice.click(Target::Button(&format!("Show report for {title}"))).await?;
    alice.click(Target::Button("Close campaign")).await?;
    alice.check_shown(Target::Status("Closed: ")).await?;
    Nav(&alice).act_open("Drift", "Drift report").await?;
    alice.click(Target::Button("Check now")).await?;

    // Assert
    alice.check_shown(Target::Status("Baseline taken")).await?;
    alice.screenshot("drift baseline").await?;

    bob.close().await;
    alice.close().await;
    t.shutdown().await;
    Ok(())
}

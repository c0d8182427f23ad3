//! Bulk changes in the browser: an admin pastes a change set, sees each row's change or
//! error with its line number before anything is written, fixes it, submits it (it
//! changes other people's access, so another approver approves it in the inbox),
//! applies it and reads the report.

use hogwarden_browser_tests::pages::{BulkChanges, Inbox, Nav, SignIn};
use hogwarden_browser_tests::{APPROVER, APPROVER_ADMIN, BrowserTest};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_plans_a_change_set_sees_bad_rows_by_line_then_applies_it_and_reads_the_report() -> anyhow::Result<()> {
    // Arrange
    let t = BrowserTest::start("bulk_changes").await?;
    let web_app = t.sandbox().project_id("Web App").expect("Web App");
    let alice = t.browser(APPROVER_ADMIN).await?;
    SignIn(&alice).act_sign_in_as(APPROVER_ADMIN).await?;
    Nav(&alice).act_open("Bulk changes", "Bulk changes").await?;
    let bulk = BulkChanges(&alice);

    // Act: a set with a bad row.
    let summary = bulk.act_plan("email,project,role\nivan@example.com,Web App,viewer\nnobody@example.com,Web App,viewer\n").await?;
    alice.screenshot("plan with an error").await?;

    // Assert: each row with its line, the bad one says why, nothing written.
    assert!(summary.contains("1 changes, 0 no-ops, 1 errors"), "{summary}");
    assert_eq!(alice.column("Plan", "Line").await?, ["2", "3"]);
    assert_eq!(alice.column("Plan", "Action").await?, ["Change", "Error"]);
    assert!(alice.column("Plan", "Note").await?[1].contains("not a member"));
    assert_eq!(t.sandbox().write_count(), 0);

    // Act: the fixed set, submitted, approved by bob in his inbox, and applied.
    let summary = bulk.act_plan("email,project,role\nivan@example.com,Web App,viewer\njudy@example.com,Web App,viewer\n").await?;
    let waiting = bulk.act_submit_for_approval().await?;
    alice.screenshot("submitted").await?;
    assert_eq!(t.sandbox().write_count(), 0, "nothing is written before an approver approves");
    let bob = t.browser(APPROVER).await?;
    SignIn(&bob).act_sign_in_as(APPROVER).await?;
    Nav(&bob).act_open("Inbox", "Inbox").await?;
    Inbox(&bob).act_approve(APPROVER_ADMIN).await?;
    bob.screenshot("approved").await?;
    let submitted = bulk.check_applying().await?;
    let finished = bulk.act_apply_until_finished().await?;
    alice.screenshot("report").await?;

    // Assert
    assert!(summary.contains("2 changes, 0 no-ops, 0 errors"), "{summary}");
    assert!(waiting.contains("Waiting for approval (0 of 1)"), "it changes other people's access: {waiting}");
    assert!(submitted.contains("Applying"), "approved by bob: {submitted}");
    assert!(finished.contains("Finished: 2 done, 0 no-ops, 0 failed"), "{finished}");
    assert_eq!(alice.column("Report", "Status").await?, ["Done", "Done"]);
    for p in ["ivan@example.com", "judy@example.com"] {
        assert_eq!(t.sandbox().project_access(web_app, p).as_deref(), Some("member"), "{p}: viewer is member plus viewer rules");
        assert!(!t.sandbox().resource_access(web_app, p).is_empty(), "{p}");
    }
    alice.close().await;
    bob.close().await;
    Ok(())
}

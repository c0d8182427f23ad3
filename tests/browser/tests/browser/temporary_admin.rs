//! The front-end issue's story: a member asks for temporary organization Admin, an
//! approver approves it in the inbox, PostHog shows Admin, the member revokes it
//! early, PostHog shows Member again, and the audit log tells all four steps.

use hogwarden_browser_tests::pages::{AccessRequest, AuditLog, Inbox, MyAccess, Nav, RequestAccess, SignIn};
use hogwarden_browser_tests::{APPROVER, BrowserTest, MEMBER};

const CHANGE: &str = "Organization role Admin";
const REASON: &str = "Configure the new feature flag experiment";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_gets_temporary_admin_approved_then_revokes_it() -> anyhow::Result<()> {
    // Arrange: frank is a member in PostHog.
    let t = BrowserTest::start("temporary_admin").await?;
    assert_eq!(t.sandbox().member_level(MEMBER), Some(1), "frank starts as a member");
    let frank = t.browser(MEMBER).await?;
    SignIn(&frank).act_sign_in_as(MEMBER).await?;
    SignIn(&frank).check_signed_in_as(MEMBER).await?;
    frank.screenshot("signed in").await?;

    // Act: frank asks for one hour of organization Admin, with a reason.
    let form = RequestAccess(&frank);
    form.act_fill(&AccessRequest {
        kind: "Organization role",
        role: "Admin",
        duration: Some((1, "Hours")),
        reason: REASON,
        ticket: "OPS-42",
    })
    .await?;
    form.check_policy_says("Needs approval").await?;
    frank.screenshot("request filled in").await?;
    let submitted = form.act_submit().await?;
    frank.screenshot("request submitted").await?;

    // Assert: waiting for approval, nothing changed in PostHog.
    assert!(submitted.contains("waiting for approval"), "{submitted}");
    assert_eq!(t.sandbox().member_level(MEMBER), Some(1));

    // Act: bob, an approver, finds it in his inbox and approves it.
    let bob = t.browser(APPROVER).await?;
    SignIn(&bob).act_sign_in_as(APPROVER).await?;
    Nav(&bob).act_open("Inbox", "Inbox").await?;
    let inbox = Inbox(&bob);
    let card = inbox.find_request_from(MEMBER).await?;
    inbox.check_request_reads(&card, &[MEMBER, "Admin", REASON]).await?;
    bob.screenshot("inbox shows the request").await?;
    let approved = inbox.act_approve(MEMBER).await?;
    bob.screenshot("approved").await?;

    // Assert: applied in PostHog.
    assert!(approved.starts_with("Approved:"), "{approved}");
    assert_eq!(t.sandbox().member_level(MEMBER), Some(8), "PostHog shows Admin (level 8)");

    // Act: frank opens My access.
    Nav(&frank).act_open("My access", "My access").await?;
    let mine = MyAccess(&frank);
    let left = mine.check_grant_active(CHANGE).await?;
    frank.screenshot("grant active with time left").await?;

    // Assert: an hour (less a little) is left.
    assert!(left.contains("min left"), "time left reads {left:?}");

    // Act: frank revokes it early.
    let revoked = mine.act_revoke(CHANGE).await?;
    frank.screenshot("revoked").await?;

    // Assert: PostHog shows Member again; the audit log lists the four steps.
    assert!(revoked.starts_with("Revoked:"), "{revoked}");
    assert_eq!(t.sandbox().member_level(MEMBER), Some(1), "PostHog shows Member (level 1)");
    Nav(&frank).act_open("Audit log", "Audit log").await?;
    let audit = AuditLog(&frank);
    audit.find_page().await?;
    let kinds = audit.kinds_oldest_first().await?;
    frank.screenshot("audit log").await?;
    assert_eq!(kinds, ["Requested", "Approved", "Applied", "Reverted"]);

    bob.close().await;
    frank.close().await;
    t.shutdown().await;
    Ok(())
}

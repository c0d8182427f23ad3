//! Offboarding in the browser: alice previews laura's objects (the private insight
//! flagged), submits; bob approves; the steps read done and PostHog shows the hand-over.

use hogwarden_browser_tests::pages::{Nav, OBJECTS_TO_HAND_OVER, Offboarding, SignIn};
use hogwarden_browser_tests::{APPROVER, APPROVER_ADMIN, BrowserTest, Target};
use posthog_sandbox::ObjectKind;

const LAURA: &str = "laura@example.com";
const GRACE: &str = "grace@example.com";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_approver_offboards_laura_and_another_approves() -> anyhow::Result<()> {
    let t = BrowserTest::start("offboarding").await?;
    let alice = t.browser(APPROVER_ADMIN).await?;
    SignIn(&alice).act_sign_in_as(APPROVER_ADMIN).await?;
    Nav(&alice).act_open("Offboarding", "Offboarding").await?;
    let page = Offboarding(&alice);
    page.act_preview(LAURA, GRACE).await?;
    let names = alice.column(OBJECTS_TO_HAND_OVER, "Name").await?;
    assert!(names.iter().any(|n| n == "Untitled draft") && names.iter().any(|n| n == "Checkout funnel"), "{names:?}");
    let private = alice.column(OBJECTS_TO_HAND_OVER, "Private").await?;
    assert_eq!(private.iter().filter(|p| *p == "yes").count(), 1, "{private:?}");
    alice.find(Target::Text("private (unsaved) insight")).await?;
    alice.screenshot("preview").await?;
    let said = page.act_submit("Leaves Acme on Friday").await?;
    assert!(said.contains(LAURA), "{said}");
    alice.close().await;

    let bob = t.browser(APPROVER).await?;
    SignIn(&bob).act_sign_in_as(APPROVER).await?;
    Nav(&bob).act_open("Offboarding", "Offboarding").await?;
    Offboarding(&bob).act_approve(LAURA).await?;
    bob.find(Target::Text("Status: done")).await?;
    let statuses = bob.column("Steps", "Status").await?;
    assert!(!statuses.is_empty() && statuses.iter().all(|s| s == "done"), "{statuses:?}");
    bob.screenshot("done").await?;

    let sandbox = t.sandbox();
    assert_eq!(sandbox.member_level(LAURA), None);
    for o in sandbox.objects_created_by(LAURA) {
        if o.kind == ObjectKind::Dashboard {
            assert_eq!(sandbox.object_access(o.kind, o.project_id, &o.lookup, GRACE).as_deref(), Some("manager"));
        }
    }
    bob.close().await;
    t.shutdown().await;
    Ok(())
}

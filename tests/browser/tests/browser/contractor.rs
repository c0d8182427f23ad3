//! The roles guide's contractor story in the browser: a sponsor asks for project access
//! for a contractor with an end date, an approver approves, the contractor sees the end
//! on My access and asks to extend it, the extension is approved and the grant's end
//! moves (keeping its first end); the sponsor's request page shows the security
//! checklist.

use chrono::{Duration, Utc};
use hogwarden_browser_tests::pages::{AccessRequest, Inbox, MyAccess, Nav, RequestAccess, RequestDetails, SignIn};
use hogwarden_browser_tests::{APPROVER, APPROVER_ADMIN, BrowserTest};

const CONTRACTOR: &str = "grace@example.com";
const CHANGE: &str = "Project role Member in Web App";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sponsor_gives_a_contractor_access_until_a_date_and_the_contractor_extends_it() -> anyhow::Result<()> {
    // Arrange: grace has no role in Web App.
    let t = BrowserTest::start("contractor").await?;
    let web_app = t.sandbox().project_id("Web App").expect("the seed has Web App");
    assert_eq!(t.sandbox().project_access(web_app, CONTRACTOR), None);
    let end = (Utc::now() + Duration::days(30)).date_naive();
    let alice = t.browser(APPROVER_ADMIN).await?;
    SignIn(&alice).act_sign_in_as(APPROVER_ADMIN).await?;

    // Act: alice sponsors grace for Web App until a date 30 days away.
    let form = RequestAccess(&alice);
    form.act_fill(&AccessRequest {
        kind: "Project role",
        role: "Member",
        duration: None,
        reason: "Contract work on the onboarding funnel",
        ticket: "HR-77",
    })
    .await?;
    form.act_sponsor(CONTRACTOR).await?;
    form.act_tick_projects(&["Web App"]).await?;
    form.act_end_on(&end.format("%Y-%m-%d").to_string()).await?;
    alice.screenshot("contractor request filled in").await?;
    let submitted = form.act_submit().await?;
    assert!(submitted.contains("waiting for approval"), "{submitted}");

    // Act: bob approves it.
    let bob = t.browser(APPROVER).await?;
    SignIn(&bob).act_sign_in_as(APPROVER).await?;
    Nav(&bob).act_open("Inbox", "Inbox").await?;
    let card = Inbox(&bob).find_request_from(APPROVER_ADMIN).await?;
    Inbox(&bob).check_request_reads(&card, &[CONTRACTOR, "Web App", &format!("Until {end}")]).await?;
    Inbox(&bob).act_approve(APPROVER_ADMIN).await?;

    // Assert: PostHog has grace as a member of Web App; her page shows the end date.
    assert_eq!(t.sandbox().project_access(web_app, CONTRACTOR).as_deref(), Some("member"));
    let grace = t.browser(CONTRACTOR).await?;
    SignIn(&grace).act_sign_in_as(CONTRACTOR).await?;
    Nav(&grace).act_open("My access", "My access").await?;
    let mine = MyAccess(&grace);
    mine.check_grant_active(CHANGE).await?;
    let ends = mine.grant_ends(CHANGE).await?;
    assert!(ends.starts_with(&format!("{end} 23:59")), "ends {ends:?}");

    // Act: grace asks for one more day; bob approves the extension.
    let asked = mine.act_extend(CHANGE, "The funnel work runs one more day").await?;
    grace.screenshot("extension requested").await?;
    assert!(asked.contains("waiting for approval"), "{asked}");
    Nav(&bob).act_open("Audit log", "Audit log").await?;
    Nav(&bob).act_open("Inbox", "Inbox").await?;
    Inbox(&bob).act_approve(CONTRACTOR).await?;

    // Assert: one grant, ending a day later, remembering its first end.
    grace.goto("/#/request").await?;
    Nav(&grace).act_open("My access", "My access").await?;
    let ends = mine.grant_ends(CHANGE).await?;
    grace.screenshot("extended").await?;
    let later = end + Duration::days(1);
    assert!(ends.starts_with(&format!("{later} 23:59")), "ends {ends:?}");
    assert!(ends.contains(&format!("extended; first set to end {end} 23:59")), "ends {ends:?}");
    assert_eq!(t.sandbox().project_access(web_app, CONTRACTOR).as_deref(), Some("member"));

    // Assert: alice's request page shows the security checklist, every item done.
    Nav(&alice).act_open("My access", "My access").await?;
    MyAccess(&alice).act_open_request(CHANGE).await?;
    let items = RequestDetails(&alice).checklist().await?;
    alice.screenshot("request page with checklist").await?;
    assert_eq!(items.len(), 6, "{items:?}");
    assert!(items.iter().all(|i| i.starts_with("Done: ")), "{items:?}");
    assert!(items[0].contains(APPROVER), "{items:?}");
    assert!(items.iter().any(|i| i.starts_with("Done: Review or end date: ends")), "{items:?}");

    for b in [alice, bob, grace] {
        b.close().await;
    }
    t.shutdown().await;
    Ok(())
}

//! The main navigation: a few links and two disclosure menus (Manage, Security), on one
//! line with the Sign out button at 1280 px, every page reachable, shown per role, and
//! usable from the keyboard.

use fantoccini::key::Key;
use hogwarden_browser_tests::pages::{Nav, SignIn};
use hogwarden_browser_tests::{APPROVER, APPROVER_ADMIN, BrowserTest, MEMBER, Target};

/// Every page an approver who is also an admin reaches from the navigation: the link,
/// then the page's heading (frontend/UI.md).
const EVERY_PAGE: &[(&str, &str)] = &[
    ("Request access", "Request access"),
    ("My access", "My access"),
    ("Inbox", "Inbox"),
    ("My reviews", "My review queue"),
    ("Audit log", "Audit log"),
    ("Access overview", "Access overview"),
    ("Access diagnosis", "Access diagnosis"),
    ("Bulk changes", "Bulk changes"),
    ("Access reviews", "Access reviews"),
    ("Offboarding", "Offboarding"),
    ("Drift", "Drift report"),
    ("Keys", "Keys"),
    ("SSO rules", "SSO rules"),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admins_navigation_is_one_line_at_1280_px_and_reaches_every_page() -> anyhow::Result<()> {
    // Arrange: the role with the most pages, in a 1280 px wide window (the harness's size).
    let t = BrowserTest::start("navigation_one_line").await?;
    let alice = t.browser(APPROVER_ADMIN).await?;
    SignIn(&alice).act_sign_in_as(APPROVER_ADMIN).await?;
    let nav = Nav(&alice);
    nav.find().await?;
    alice.screenshot("navigation").await?;

    // Assert: one line; the first five pages are links, the rest in two menus.
    nav.check_on_one_line().await?;
    assert_eq!(nav.menus().await?, ["Manage", "Security"]);
    let links = nav.links().await?;
    for (link, _) in EVERY_PAGE {
        assert!(links.iter().any(|l| l == link), "no link {link:?} in {links:?}");
    }
    let nav_el = nav.find().await?;
    for (link, _) in &EVERY_PAGE[..5] {
        assert!(!alice.visible(Some(&nav_el), Target::Link(link)).await?.is_empty(), "{link} is not shown at once");
    }
    for (link, _) in &EVERY_PAGE[5..] {
        assert!(alice.visible(Some(&nav_el), Target::Link(link)).await?.is_empty(), "{link} should be in a closed menu");
    }

    // Act / assert: every page opens from the navigation, and a menu closes once its link
    // is followed.
    for (link, heading) in EVERY_PAGE {
        nav.act_open(link, heading).await?;
        let nav_el = nav.find().await?;
        if EVERY_PAGE[5..].iter().any(|(l, _)| l == link) {
            alice.check_absent_within(&nav_el, Target::Link(link)).await?;
        }
    }
    // Still one line with a menu's page current (its button is bold then).
    nav.check_on_one_line().await?;
    alice.screenshot("on a menu page").await?;

    alice.close().await;
    t.shutdown().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_menu_opens_walks_and_closes_from_the_keyboard() -> anyhow::Result<()> {
    // Arrange
    let t = BrowserTest::start("navigation_keyboard").await?;
    let alice = t.browser(APPROVER_ADMIN).await?;
    SignIn(&alice).act_sign_in_as(APPROVER_ADMIN).await?;
    let nav = Nav(&alice).find().await?;
    let manage = alice.find_within(&nav, Target::Button("Manage")).await?;
    assert_eq!(manage.attr("aria-expanded").await?.as_deref(), Some("false"));

    // Act: Enter on the menu button opens it.
    manage.send_keys(&Key::Enter.to_string()).await?;

    // Assert: open, its links shown.
    alice.find_within(&nav, Target::Link("Access overview")).await?;
    assert_eq!(manage.attr("aria-expanded").await?.as_deref(), Some("true"));
    alice.screenshot("manage open").await?;

    // Act: Tab moves into the menu's links.
    alice.client.active_element().await?.send_keys(&Key::Tab.to_string()).await?;
    let focused = alice.client.active_element().await?;
    assert_eq!(focused.text().await?, "Access overview");

    // Act: Escape closes it and puts focus back on its button.
    focused.send_keys(&Key::Escape.to_string()).await?;
    alice.check_gone(Target::Link("Access overview")).await?;
    assert_eq!(manage.attr("aria-expanded").await?.as_deref(), Some("false"));
    assert_eq!(alice.client.active_element().await?.text().await?, "Manage");

    // Act: open with a click, then click elsewhere on the page: it closes.
    manage.click().await?;
    alice.find_within(&nav, Target::Link("Bulk changes")).await?;
    let heading = alice.find(Target::Heading("Request access")).await?;
    heading.click().await?;
    alice.check_gone(Target::Link("Bulk changes")).await?;

    alice.close().await;
    t.shutdown().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_members_and_an_approvers_navigation_follow_their_roles() -> anyhow::Result<()> {
    // Arrange
    let t = BrowserTest::start("navigation_roles").await?;
    let frank = t.browser(MEMBER).await?;
    let bob = t.browser(APPROVER).await?;

    // Act
    SignIn(&frank).act_sign_in_as(MEMBER).await?;
    SignIn(&bob).act_sign_in_as(APPROVER).await?;

    // Assert: a member has four links and no menu; an approver adds the inbox and a
    // Manage menu with the diagnosis and offboarding.
    assert_eq!(Nav(&frank).links().await?, ["Request access", "My access", "My reviews", "Audit log"]);
    assert!(Nav(&frank).menus().await?.is_empty());
    assert_eq!(
        Nav(&bob).links().await?,
        ["Request access", "My access", "Inbox", "My reviews", "Audit log", "Access diagnosis", "Offboarding"]
    );
    assert_eq!(Nav(&bob).menus().await?, ["Manage"]);
    Nav(&bob).act_open("Offboarding", "Offboarding").await?;
    Nav(&bob).check_on_one_line().await?;
    bob.screenshot("approver navigation").await?;

    frank.close().await;
    bob.close().await;
    t.shutdown().await;
    Ok(())
}

//! Nobody approves their own request: the inbox shows it without an Approve button,
//! and the API refuses a direct call.

use hogwarden_browser_tests::pages::{AccessRequest, Inbox, Nav, RequestAccess, SignIn};
use hogwarden_browser_tests::{APPROVER_ADMIN, BrowserTest};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_approver_cannot_approve_her_own_request() -> anyhow::Result<()> {
    // Arrange: alice, an approver, asks for temporary organization Admin herself.
    let t = BrowserTest::start("self_approval").await?;
    let alice = t.browser(APPROVER_ADMIN).await?;
    SignIn(&alice).act_sign_in_as(APPROVER_ADMIN).await?;
    let form = RequestAccess(&alice);
    form.act_fill(&AccessRequest {
        kind: "Organization role",
        role: "Admin",
        duration: Some((2, "Hours")),
        reason: "Audit the billing settings",
        ticket: "",
    })
    .await?;
    form.act_submit().await?;
    alice.screenshot("own request submitted").await?;

    // Act: she opens her inbox.
    Nav(&alice).act_open("Inbox", "Inbox").await?;

    // Assert: listed as hers, with no Approve or Deny button.
    Inbox(&alice).check_own_request_not_approvable(APPROVER_ADMIN).await?;
    alice.screenshot("own request without approve").await?;

    // Act: she calls the API directly with her own token.
    let token = t.stack.token_for(APPROVER_ADMIN)?;
    let http = reqwest::Client::new();
    let mine: serde_json::Value = http.get(t.url("/api/requests")).bearer_auth(&token).send().await?.error_for_status()?.json().await?;
    let id = mine["requests"][0]["id"].as_str().expect("her request is listed").to_owned();
    let reply = http
        .post(t.url(&format!("/api/requests/{id}/approve")))
        .bearer_auth(&token)
        .json(&serde_json::json!({ "comment": "looks fine to me" }))
        .send()
        .await?;

    // Assert: 403 with the API's error body; the request is still pending.
    let status = reply.status().as_u16();
    let body: serde_json::Value = reply.json().await?;
    assert_eq!(status, 403, "{body}");
    assert_eq!(body["error"]["code"], "forbidden", "{body}");
    assert!(body["error"]["message"].as_str().unwrap_or_default().contains("own request"), "{body}");
    let after: serde_json::Value =
        http.get(t.url(&format!("/api/requests/{id}"))).bearer_auth(&token).send().await?.error_for_status()?.json().await?;
    assert_eq!(after["status"], "pending", "{after}");

    alice.close().await;
    t.shutdown().await;
    Ok(())
}

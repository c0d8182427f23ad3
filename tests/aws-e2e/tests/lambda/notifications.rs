//! Email in the AWS deployment: with `HOGWARDEN_EMAIL_FROM` set, the Lambdas send
//! notifications through SES (moto's SES v2 here) from that sender; without it they
//! only log them.

use hogwarden_aws_e2e::{APPROVER, MEMBER, invoke, spawn_aws_stack};
use hogwarden_lambda::{AwsStack, Config, Handler};

/// The messages moto's SES recorded as sent from `sender` (`/moto-api/data.json`).
async fn sent_from(sender: &str) -> Vec<serde_json::Value> {
    let data: serde_json::Value = reqwest::get(format!("{}/moto-api/data.json", moto_harness::endpoint()))
        .await
        .expect("moto answers")
        .json()
        .await
        .expect("moto's data is JSON");
    data["ses"]["Message"].as_array().cloned().unwrap_or_default().into_iter().filter(|m| m["source"] == sender).collect()
}

#[tokio::test]
async fn with_a_sender_configured_the_person_gets_an_email_through_ses_when_access_is_applied() {
    // Arrange: a verified sender, and a grants Lambda configured with it.
    let t = spawn_aws_stack().await;
    let sender = format!("hogwarden-{}@acme.example", uuid::Uuid::new_v4().simple());
    let ses = aws_sdk_sesv2::Client::new(&t.sdk);
    ses.create_email_identity().email_identity(&sender).send().await.expect("moto verifies the sender");
    let config = Config { email_from: Some(sender.clone()), ..t.config.clone() };
    let container = AwsStack::builder(config).sdk_config(t.sdk.clone()).clock(t.clock.clone()).build().await.expect("the Lambda starts");
    let grants = Handler::grants(&container);
    let requested = t.request_temporary_admin(MEMBER, 60).await;

    // Act
    let approved = invoke(&grants, hogwarden_aws_e2e::AwsTestStack::approve_event(APPROVER, &requested.id)).await.expect("approved");

    // Assert: applied, and frank's email went out through SES from the sender, with a link to the request.
    assert_eq!(hogwarden_aws_e2e::Reply::from_lambda(approved).status, 200);
    let to_frank: Vec<_> =
        sent_from(&sender).await.into_iter().filter(|m| m["destinations"]["ToAddresses"] == serde_json::json!([MEMBER])).collect();
    assert_eq!(to_frank.len(), 1, "one email to frank");
    let body = to_frank[0]["body"].as_str().unwrap_or_default();
    assert!(body.contains(&format!("https://hogwarden.example.com/#/requests/{}", requested.id)), "{body}");
    t.shutdown().await;
}

#[tokio::test]
async fn a_sender_that_is_not_a_mailbox_stops_the_start_naming_the_variable() {
    // Arrange
    let t = spawn_aws_stack().await;
    let config = Config { email_from: Some("not a mailbox".into()), ..t.config.clone() };

    // Act
    let err = AwsStack::builder(config).sdk_config(t.sdk.clone()).build().await.expect_err("the start fails");

    // Assert
    assert!(err.to_string().contains("HOGWARDEN_EMAIL_FROM"), "{err}");
    t.shutdown().await;
}

//! The SES notifier against moto's SES v2, reading what moto recorded as sent.

use hogwarden_core::ports::Notifier;
use hogwarden_notify::SesNotifier;

use crate::waiting_request;

async fn client() -> aws_sdk_sesv2::Client {
    aws_sdk_sesv2::Client::new(&moto_harness::sdk_config().await)
}

/// The messages moto's SES holds (`/moto-api/data.json`, `ses.Message`).
async fn sent_messages() -> Vec<serde_json::Value> {
    let data: serde_json::Value = reqwest::get(format!("{}/moto-api/data.json", moto_harness::endpoint()))
        .await
        .expect("moto answers")
        .json()
        .await
        .expect("moto's data is JSON");
    data["ses"]["Message"].as_array().cloned().unwrap_or_default()
}

#[tokio::test]
async fn an_email_is_sent_through_ses_from_the_verified_sender() {
    // Arrange
    let client = client().await;
    let sender = format!("hogwarden-{}@acme.example", std::process::id());
    client.create_email_identity().email_identity(&sender).send().await.expect("moto creates the identity");
    let n = waiting_request("alice@example.com");

    // Act
    SesNotifier::new(client, sender.clone()).unwrap().notify(n.clone()).await.expect("SES takes it");

    // Assert
    let sent = sent_messages().await;
    let ours: Vec<_> = sent.iter().filter(|m| m["source"] == sender.as_str()).collect();
    assert_eq!(ours.len(), 1, "{sent:?}");
    assert_eq!(ours[0]["destinations"]["ToAddresses"], serde_json::json!(["alice@example.com"]));
    assert_eq!(ours[0]["subject"], n.subject.as_str());
    let body = ours[0]["body"].as_str().expect("a text body");
    assert!(body.contains(&n.body) && body.contains(n.link.as_deref().unwrap()), "{body}");
}

#[tokio::test]
async fn an_unverified_sender_is_refused_as_an_error() {
    // Arrange
    let notifier = SesNotifier::new(client().await, "nobody-verified-this@acme.example").unwrap();

    // Act
    let err = notifier.notify(waiting_request("alice@example.com")).await.expect_err("SES refuses");

    // Assert
    assert!(err.to_string().contains("ses refused"), "{err}");
}

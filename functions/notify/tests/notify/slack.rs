//! The Slack notifier against a stand-in webhook endpoint that records bodies.

use std::time::Duration;

use hogwarden_core::ports::Notifier;
use hogwarden_notify::{SlackNotifier, SlackWebhook};
use secrecy::SecretString;

use crate::harness::{SLACK_SECRET_PATH, SlackReceiver};
use crate::waiting_request;

const SECRET_TOKEN: &str = "s3cr3tW3bh00kT0k3n";

fn notifier(url: &str) -> SlackNotifier {
    let webhook = SlackWebhook::parse(SecretString::from(url.to_owned())).expect("a valid webhook URL");
    SlackNotifier::new(webhook).expect("client builds").with_retries(Duration::from_millis(5), 3)
}

#[tokio::test]
async fn a_notification_reaches_slack_naming_who_and_what_with_the_link_and_no_secret() {
    // Arrange
    let slack = SlackReceiver::start().await;
    let n = waiting_request("alice@example.com");

    // Act
    notifier(&slack.url).notify(n.clone()).await.expect("delivered");

    // Assert
    let bodies = slack.bodies();
    assert_eq!(bodies.len(), 1, "{bodies:?}");
    let text = bodies[0]["text"].as_str().expect("a text field");
    assert!(text.contains("alice@example.com") && text.contains(&n.subject), "{text}");
    let section = bodies[0]["blocks"][0]["text"]["text"].as_str().expect("a section block");
    assert!(section.contains("frank@example.com asks for Admin of project Production"), "{section}");
    assert!(section.contains(&format!("<{}|Open in Hogwarden>", n.link.as_deref().unwrap())), "{section}");
    let raw = bodies[0].to_string();
    assert!(!raw.contains(SECRET_TOKEN) && !raw.contains(SLACK_SECRET_PATH), "the webhook secret leaked into the message: {raw}");
    assert!(!raw.to_lowercase().contains("\"button\""), "no buttons that act from Slack: {raw}");
}

#[tokio::test]
async fn a_500_then_a_429_are_retried_until_slack_takes_it() {
    // Arrange
    let slack = SlackReceiver::start().await;
    slack.answer(500, "internal_error");
    slack.answer(429, "rate_limited");

    // Act
    let sent = notifier(&slack.url).notify(waiting_request("alice@example.com")).await;

    // Assert
    assert!(sent.is_ok(), "{sent:?}");
    let bodies = slack.bodies();
    assert_eq!(bodies.len(), 3, "two failures and one success: {bodies:?}");
    assert_eq!(bodies[0], bodies[2], "the retry sends the same message");
}

#[tokio::test]
async fn a_400_is_an_error_at_once_that_names_no_secret() {
    // Arrange
    let slack = SlackReceiver::start().await;
    slack.answer(400, "invalid_payload");

    // Act
    let err = notifier(&slack.url).notify(waiting_request("alice@example.com")).await.expect_err("a 400 is not delivered");

    // Assert
    assert_eq!(slack.bodies().len(), 1, "a 4xx is not retried");
    let message = err.to_string();
    assert!(message.contains("400") && message.contains("invalid_payload"), "{message}");
    assert!(!message.contains(SECRET_TOKEN), "{message}");
}

#[tokio::test]
async fn retries_run_out_with_an_error_that_names_no_secret() {
    // Arrange: nothing listens on this port any more.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let url = format!("http://127.0.0.1:{port}/{SLACK_SECRET_PATH}");

    // Act
    let err = notifier(&url).notify(waiting_request("alice@example.com")).await.expect_err("nobody is listening");

    // Assert
    let message = err.to_string();
    assert!(message.contains("slack is unavailable"), "{message}");
    assert!(!message.contains(SECRET_TOKEN) && !message.contains(&port.to_string()), "{message}");
}

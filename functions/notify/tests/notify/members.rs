//! Only active members of the PostHog organization are told anything: the member
//! filter from core, wrapped around a real notifier, against the PostHog sandbox.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hogwarden_core::ports::{Notifier, PostHog};
use hogwarden_core::recipients::MembersOnly;
use hogwarden_notify::{Fanout, SmtpConfig, SmtpNotifier};
use hogwarden_posthog::{PostHogClient, PostHogConfig};
use posthog_sandbox::{SERVICE_EMAIL, Sandbox, SandboxConfig, SandboxHandle};
use secrecy::SecretString;

use crate::harness::{SlackReceiver, SmtpReceiver};
use crate::waiting_request;

async fn sandbox() -> (SandboxHandle, Arc<dyn PostHog>) {
    let sandbox = Sandbox::start(SandboxConfig::acme_corp(), SocketAddr::from(([127, 0, 0, 1], 0))).await.expect("sandbox starts");
    let mut config = PostHogConfig::new(
        url::Url::parse(&sandbox.base_url()).unwrap(),
        SecretString::from(sandbox.service_api_key()),
        sandbox.organization_id(),
    );
    config.allow_plain_http = true;
    config.backoff.min_delay = Duration::from_millis(5);
    let client: Arc<dyn PostHog> = Arc::new(PostHogClient::new(config).expect("client builds"));
    (sandbox, client)
}

#[tokio::test]
async fn removed_and_deactivated_people_get_nothing_and_members_still_do() {
    // Arrange
    let (sandbox, posthog) = sandbox().await;
    let mut smtp = SmtpReceiver::start().await;
    let slack = SlackReceiver::start().await;
    let email = SmtpNotifier::new(SmtpConfig::new("127.0.0.1", smtp.port, "hogwarden@acme.example").unwrap()).unwrap();
    let chat = hogwarden_notify::SlackNotifier::new(hogwarden_notify::SlackWebhook::parse(SecretString::from(slack.url.clone())).unwrap())
        .unwrap();
    let both = Fanout::new().with("smtp", Arc::new(email)).with("slack", Arc::new(chat));
    let notifier = MembersOnly::new(Arc::new(both), posthog);
    sandbox.remove_member_as(SERVICE_EMAIL, "grace@example.com").expect("grace is removed");
    sandbox.deactivate_user("heidi@example.com").expect("heidi is deactivated");

    // Act
    let to_grace = notifier.notify(waiting_request("grace@example.com")).await;
    let to_heidi = notifier.notify(waiting_request("heidi@example.com")).await;
    let to_frank = notifier.notify(waiting_request("frank@example.com")).await;

    // Assert: dropping is not an error; only frank's message went anywhere.
    assert!(to_grace.is_ok() && to_heidi.is_ok() && to_frank.is_ok(), "{to_grace:?} {to_heidi:?} {to_frank:?}");
    assert_eq!(smtp.next_mail().await.rcpt_tos, vec!["frank@example.com".to_owned()]);
    assert!(smtp.any_mail_within(Duration::from_millis(300)).await.is_none(), "nobody else got email");
    let bodies = slack.bodies();
    assert_eq!(bodies.len(), 1, "{bodies:?}");
    assert!(bodies[0]["text"].as_str().unwrap().contains("frank@example.com"));
}

#[tokio::test]
async fn when_posthog_cannot_say_who_is_a_member_nothing_is_sent() {
    // Arrange
    let (sandbox, posthog) = sandbox().await;
    let slack = SlackReceiver::start().await;
    let chat = hogwarden_notify::SlackNotifier::new(hogwarden_notify::SlackWebhook::parse(SecretString::from(slack.url.clone())).unwrap())
        .unwrap();
    let notifier = MembersOnly::new(Arc::new(chat), posthog);
    sandbox.shutdown().await;

    // Act
    let sent = notifier.notify(waiting_request("frank@example.com")).await;

    // Assert: it fails closed.
    assert!(sent.is_err(), "{sent:?}");
    assert!(slack.bodies().is_empty());
}

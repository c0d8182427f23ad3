//! The SMTP notifier against a real SMTP server (aiosmtpd) on loopback.

use hogwarden_core::ports::Notifier;
use hogwarden_notify::{SmtpConfig, SmtpNotifier, SmtpTls};
use secrecy::SecretString;

use crate::harness::SmtpReceiver;
use crate::waiting_request;

#[tokio::test]
async fn an_email_carries_from_to_subject_body_and_the_link() {
    // Arrange
    let mut smtp = SmtpReceiver::start().await;
    let config = SmtpConfig::new("127.0.0.1", smtp.port, "Hogwarden <hogwarden@acme.example>").unwrap();
    assert_eq!(config.tls, SmtpTls::None, "loopback needs no TLS");
    let n = waiting_request("alice@example.com");

    // Act
    SmtpNotifier::new(config).unwrap().notify(n.clone()).await.expect("delivered");

    // Assert
    let mail = smtp.next_mail().await;
    assert_eq!(mail.mail_from, "hogwarden@acme.example");
    assert_eq!(mail.rcpt_tos, vec!["alice@example.com".to_owned()]);
    assert_eq!(mail.from, "Hogwarden <hogwarden@acme.example>");
    assert_eq!(mail.to, "alice@example.com");
    assert_eq!(mail.subject, n.subject);
    assert_eq!(mail.content_type, "text/plain");
    assert!(mail.body.contains(&n.body), "{}", mail.body);
    assert!(mail.body.contains(&format!("Open it in Hogwarden: {}", n.link.as_deref().unwrap())), "{}", mail.body);
    assert_eq!(mail.login, None);
}

#[tokio::test]
async fn credentials_are_sent_when_configured() {
    // Arrange
    let mut smtp = SmtpReceiver::start_with_login("hogwarden", "app-password-123").await;
    let mut config = SmtpConfig::new("localhost", smtp.port, "hogwarden@acme.example").unwrap();
    config.username = Some("hogwarden".into());
    config.password = Some(SecretString::from("app-password-123"));

    // Act
    SmtpNotifier::new(config).unwrap().notify(waiting_request("bob@example.com")).await.expect("delivered");

    // Assert
    let mail = smtp.next_mail().await;
    assert_eq!(mail.login.as_deref(), Some("hogwarden"));
    assert_eq!(mail.rcpt_tos, vec!["bob@example.com".to_owned()]);
}

#[test]
fn credentials_are_never_sent_unencrypted_to_another_host() {
    let mut config = SmtpConfig::new("smtp.example.com", 25, "hogwarden@acme.example").unwrap();
    config.tls = SmtpTls::None;
    config.username = Some("hogwarden".into());
    config.password = Some(SecretString::from("pw"));
    let err = SmtpNotifier::new(config).expect_err("refused");
    assert!(err.to_string().contains("HOGWARDEN_SMTP_TLS"), "{err}");
}

//! The notifiers against real receivers on loopback: a Slack webhook stand-in,
//! an SMTP server (aiosmtpd), SES on moto, and the member filter on the PostHog
//! sandbox. One binary; see `harness.rs` for how each receiver starts.

mod harness;
mod members;
mod ses;
mod slack;
mod smtp;

use hogwarden_core::ports::Notification;
use hogwarden_core::types::Email;

/// What the use cases send an approver, more or less.
pub fn waiting_request(to: &str) -> Notification {
    Notification {
        to: Email::parse(to).expect("a valid email"),
        subject: "An access request waits for your approval".into(),
        body: "frank@example.com asks for Admin of project Production for frank@example.com. Reason: incident 4711.".into(),
        link: Some("https://hogwarden.example/requests/0193a1b2-0000-7000-8000-000000000001".into()),
    }
}

//! Notifiers: how Hogwarden tells people things. Each implements the core
//! [`hogwarden_core::ports::Notifier`]; the wiring picks them by configuration and
//! wraps them in [`hogwarden_core::recipients::MembersOnly`] so nobody who left the
//! PostHog organization is ever told anything.
//!
//! - [`SlackNotifier`]: a Slack incoming webhook (one channel; the text names the person).
//! - [`SmtpNotifier`]: email over SMTP, for the local stack.
//! - [`SesNotifier`]: email through Amazon SES (v2), for AWS.
//! - [`Fanout`]: several of them at once.
//!
//! Every message carries a deep link to the page in Hogwarden, never an action that
//! works without signing in. Secrets (the webhook URL, SMTP passwords) never enter a
//! message, an error or a log line.

mod error;
mod fanout;
mod render;
mod ses;
mod slack;
mod smtp;

pub use error::NotifyError;
pub use fanout::Fanout;
pub use render::text_body;
pub use ses::SesNotifier;
pub use slack::{SlackNotifier, SlackWebhook};
pub use smtp::{SmtpConfig, SmtpNotifier, SmtpTls};

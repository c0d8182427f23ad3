//! The Lambdas' notifier when no email sender is configured (`HOGWARDEN_EMAIL_FROM`):
//! one structured log line per notification (recipient and subject; the body stays
//! out of the logs). With a sender, the stack sends email through SES instead.

use async_trait::async_trait;
use hogwarden_core::ports::{Notification, Notifier};

/// Logs each notification.
#[derive(Debug, Clone, Copy, Default)]
pub struct LogNotifier;

#[async_trait]
impl Notifier for LogNotifier {
    async fn notify(&self, n: Notification) -> hogwarden_core::error::Result<()> {
        tracing::info!(to = %n.to, subject = %n.subject, link = n.link.as_deref(), "notification");
        Ok(())
    }
}

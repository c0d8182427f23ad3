//! The local stack's outbox: the most recent notifications in memory, which the
//! demo and the tests read, with a log line per notification when asked for.
//! (Slack and email are in `hogwarden-notify`; the stack sends to all it is given.)

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use hogwarden_core::ports::{Notification, Notifier};

/// Logs every notification and keeps the most recent ones in memory.
#[derive(Debug, Clone, Default)]
pub struct OutboxNotifier {
    sent: Arc<Mutex<Vec<Notification>>>,
    quiet: bool,
}

impl OutboxNotifier {
    const KEEP: usize = 1000;

    /// An outbox that records without logging (when `log` is not a chosen channel).
    pub fn quiet() -> Self {
        Self { quiet: true, ..Self::default() }
    }

    pub fn sent(&self) -> Vec<Notification> {
        self.sent.lock().expect("outbox lock").clone()
    }
}

#[async_trait]
impl Notifier for OutboxNotifier {
    async fn notify(&self, n: Notification) -> hogwarden_core::error::Result<()> {
        if !self.quiet {
            tracing::info!(to = %n.to, subject = %n.subject, "notification");
        }
        let mut sent = self.sent.lock().expect("outbox lock");
        if sent.len() >= Self::KEEP {
            sent.remove(0);
        }
        sent.push(n);
        Ok(())
    }
}

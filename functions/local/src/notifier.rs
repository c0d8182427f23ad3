//! Local notifiers: a log line per notification, and an in-memory outbox that the
//! demo and the tests can read. (Slack and email notifiers come with the scenarios.)

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use hogwarden_core::ports::{Notification, Notifier};

/// Logs every notification and keeps the most recent ones in memory.
#[derive(Debug, Clone, Default)]
pub struct OutboxNotifier {
    sent: Arc<Mutex<Vec<Notification>>>,
}

impl OutboxNotifier {
    const KEEP: usize = 1000;

    pub fn sent(&self) -> Vec<Notification> {
        self.sent.lock().expect("outbox lock").clone()
    }
}

#[async_trait]
impl Notifier for OutboxNotifier {
    async fn notify(&self, n: Notification) -> hogwarden_core::error::Result<()> {
        tracing::info!(to = %n.to, subject = %n.subject, "notification");
        let mut sent = self.sent.lock().expect("outbox lock");
        if sent.len() >= Self::KEEP {
            sent.remove(0);
        }
        sent.push(n);
        Ok(())
    }
}

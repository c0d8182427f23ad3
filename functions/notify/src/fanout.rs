//! Sending one notification through several notifiers (e.g. Slack and email).

use std::sync::Arc;

use async_trait::async_trait;
use hogwarden_core::ports::{Notification, Notifier};

/// Sends every notification to each of its notifiers at once. One failing does not
/// stop the others; the error names the ones that failed.
#[derive(Clone, Default)]
pub struct Fanout {
    channels: Vec<(&'static str, Arc<dyn Notifier>)>,
}

impl Fanout {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a notifier under a name used in logs and errors (`slack`, `smtp`, …).
    #[must_use]
    pub fn with(mut self, name: &'static str, notifier: Arc<dyn Notifier>) -> Self {
        self.channels.push((name, notifier));
        self
    }

    pub fn len(&self) -> usize {
        self.channels.len()
    }

    pub fn is_empty(&self) -> bool {
        self.channels.is_empty()
    }

    /// The names of the notifiers, in the order they were added.
    pub fn names(&self) -> Vec<&'static str> {
        self.channels.iter().map(|(name, _)| *name).collect()
    }
}

impl std::fmt::Debug for Fanout {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fanout").field("channels", &self.names()).finish()
    }
}

#[async_trait]
impl Notifier for Fanout {
    async fn notify(&self, notification: Notification) -> hogwarden_core::error::Result<()> {
        let sends = self.channels.iter().map(|(name, notifier)| {
            let n = notification.clone();
            async move { (*name, notifier.notify(n).await) }
        });
        let failed: Vec<String> = futures_util::future::join_all(sends)
            .await
            .into_iter()
            .filter_map(|(name, outcome)| {
                outcome.err().map(|e| {
                    tracing::warn!(channel = name, error = %e, "a notifier failed");
                    format!("{name}: {e}")
                })
            })
            .collect();
        if failed.is_empty() { Ok(()) } else { Err(hogwarden_core::Error::Notify(failed.join("; "))) }
    }
}

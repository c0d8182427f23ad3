//! What can go wrong while telling someone something. `Display` is safe to log: it
//! names the channel and the problem, never a webhook URL or a credential.

/// Why a notification was not delivered, or why a notifier cannot be built.
#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    /// The channel refused the message (a 4xx other than throttling): retrying won't
    /// help; its configuration or the message must change.
    #[error("{channel} refused the notification (status {status}); check its configuration")]
    Rejected { channel: &'static str, status: String },
    /// The channel could not be reached or kept failing (5xx, 429, timeouts); the same
    /// message may go through later.
    #[error("{channel} is unavailable: {detail}")]
    Unavailable { channel: &'static str, detail: String },
    /// The message cannot be built (e.g. the recipient is not a valid mailbox).
    #[error("{channel} cannot send this notification: {detail}")]
    Invalid { channel: &'static str, detail: String },
    /// A setting is missing or malformed; the message names the setting.
    #[error("{0}")]
    Config(String),
}

impl NotifyError {
    /// Whether trying again may succeed.
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::Unavailable { .. })
    }
}

impl From<NotifyError> for hogwarden_core::Error {
    fn from(e: NotifyError) -> Self {
        hogwarden_core::Error::Notify(e.to_string())
    }
}

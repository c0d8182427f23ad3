//! Who may be told anything: only active members of the managed PostHog
//! organization. A person who was deactivated or removed is never a recipient.
//! The use cases enforce this themselves (`Hogwarden::tell`, with the live policy);
//! [`MembersOnly`] applies the same rule to a notifier used outside them.
//!
//! The one exception is the deployment's own operators (policy's security
//! contacts): they are told when PostHog rejects Hogwarden's key, which is exactly
//! when PostHog cannot be asked who is a member, and they need not be in PostHog.

use std::sync::Arc;

use async_trait::async_trait;

use crate::error::{Error, Result};
use crate::ports::{Notification, Notifier, PostHog};
use crate::types::Email;

/// A [`Notifier`] that delivers only to active organization members and drops the
/// rest with a log line. When PostHog cannot say, it fails closed: nothing is sent
/// and the error is returned (the caller logs it; notifying never undoes work).
#[derive(Clone)]
pub struct MembersOnly {
    inner: Arc<dyn Notifier>,
    posthog: Arc<dyn PostHog>,
    operators: Vec<Email>,
}

impl MembersOnly {
    pub fn new(inner: Arc<dyn Notifier>, posthog: Arc<dyn PostHog>) -> Self {
        Self { inner, posthog, operators: Vec::new() }
    }

    /// Addresses told without a member check: the deployment's operators (policy's
    /// `security_contacts`), who may not be in PostHog at all.
    #[must_use]
    pub fn with_operators(mut self, operators: impl IntoIterator<Item = Email>) -> Self {
        self.operators.extend(operators);
        self
    }
}

impl std::fmt::Debug for MembersOnly {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MembersOnly").field("operators", &self.operators).finish_non_exhaustive()
    }
}

#[async_trait]
impl Notifier for MembersOnly {
    async fn notify(&self, notification: Notification) -> Result<()> {
        if self.operators.contains(&notification.to) {
            return self.inner.notify(notification).await;
        }
        match self.posthog.find_member(&notification.to).await {
            Ok(Some(_)) => self.inner.notify(notification).await,
            Ok(None) => {
                tracing::info!(
                    to = %notification.to,
                    subject = %notification.subject,
                    "notification dropped: the recipient is not an active member of the PostHog organization"
                );
                Ok(())
            }
            Err(e) => Err(Error::Upstream(e)),
        }
    }
}

//! Use cases: one file per thing a person or a schedule can do. They all hang off
//! [`Hogwarden`], which holds the ports, so the API, the Lambdas, the local timers
//! and the tests call exactly the same code.

mod apply;
mod approve;
mod deny;
mod overview;
mod queries;
mod request;
mod revert;
mod sweep;

use std::sync::Arc;

use crate::audit::{AuditDraft, AuditKind};
use crate::policy::Policy;
use crate::ports::{Clock, Notification, Notifier, PostHog, Store};
use crate::types::{Actor, Email, GrantId, RequestId};

pub use overview::{AccessOverview, MemberAccess, ProjectAccess, SnapshotCounts};
pub use queries::{AuditPage, Visibility};
pub use request::NewRequest;
pub use revert::{RevertOutcome, RevertReason};
pub use sweep::SweepReport;

/// The application: the ports plus policy. Cheap to clone.
#[derive(Clone)]
pub struct Hogwarden {
    pub store: Arc<dyn Store>,
    pub posthog: Arc<dyn PostHog>,
    pub clock: Arc<dyn Clock>,
    pub notifier: Arc<dyn Notifier>,
    pub policy: Arc<Policy>,
    /// Base URL of the web front end, for deep links in notifications.
    pub web_url: String,
}

impl std::fmt::Debug for Hogwarden {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hogwarden").field("policy", &self.policy).field("web_url", &self.web_url).finish_non_exhaustive()
    }
}

impl Hogwarden {
    fn draft(
        &self,
        actor: Actor,
        kind: AuditKind,
        subject: &Email,
        request_id: RequestId,
        grant_id: Option<GrantId>,
        details: serde_json::Value,
    ) -> AuditDraft {
        AuditDraft { at: self.clock.now(), actor, kind, subject: Some(subject.clone()), request_id: Some(request_id), grant_id, details }
    }

    fn request_link(&self, id: RequestId) -> String {
        format!("{}/requests/{id}", self.web_url.trim_end_matches('/'))
    }

    /// Tells someone something; a failure to notify is logged and never undoes work.
    async fn tell(&self, to: &Email, subject: String, body: String, link: Option<String>) {
        let n = Notification { to: to.clone(), subject, body, link };
        if let Err(e) = self.notifier.notify(n).await {
            tracing::warn!(error = %e, "notification failed");
        }
    }
}

/// The system actor used by scheduled work.
pub(crate) fn sweeper() -> Actor {
    Actor::System("sweep".into())
}

/// Applying is Hogwarden's own act, whoever approved.
pub(crate) fn applier() -> Actor {
    Actor::System("apply".into())
}

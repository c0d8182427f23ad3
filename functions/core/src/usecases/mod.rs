//! Use cases: one file per thing a person or a schedule can do. They all hang off
//! [`Hogwarden`], which holds the ports, so the API, the Lambdas, the local timers
//! and the tests call exactly the same code.

mod alert_log;
mod apply;
mod approve;
mod bulk_apply;
mod campaign;
mod checklist;
mod consumers;
mod deny;
mod diagnose;
mod drift;
mod extend;
mod identity;
mod inventory;
mod leaks;
mod offboard;
mod overview;
mod pause;
mod paused_reverts;
mod personal_keys;
mod queries;
mod remind;
mod request;
mod revert;
mod review_removal;
mod rotation;
mod service_key;
mod sso;
mod sweep;
mod token_rotation;
mod writes;

use std::sync::Arc;

use crate::audit::{AuditDraft, AuditKind};
use crate::policy::Policy;
use crate::ports::{Clock, Notification, Notifier, PostHog, Store};
use crate::types::{Actor, Email, GrantId, RequestId};

pub use crate::authorize::SSO_REQUESTER;
pub use alert_log::{AlertPage, MAX_ALERT_PAGE, valid_alert_cursor};
pub use bulk_apply::{BulkRunReport, NewChangeSet};
pub use campaign::{Evidence, ReviewRemindReport};
pub use checklist::Checklist;
pub use consumers::NewConsumer;
pub use diagnose::{Check, CheckKind, Diagnosis, Verdict};
pub use drift::DriftReport;
pub use inventory::{Inventory, InventoryKey, KeyInventory, PERSONAL_KEYS_NOTE};
pub use leaks::{AlertError, AlertReport, LeakAction, LeakResponse, webhook_secret_name};
pub use offboard::OffboardPreview;
pub use overview::{AccessOverview, MemberAccess, ProjectAccess, SnapshotCounts};
pub use pause::{current_pause, lift_pause, pause_message, pause_writes};
pub use personal_keys::{ImportReport, KeyReminderReport, OwnKey, OwnKeyInfo, PERSONAL_KEYS_EXPORT_HINT};
pub use queries::{AuditPage, Visibility};
pub use remind::RemindReport;
pub use request::NewRequest;
pub use revert::{RevertOutcome, RevertReason};
pub use rotation::{KeyRotation, RotationReport, StepOutcome, rotation_label};
pub use service_key::{CandidateKey, SERVICE_KEY_SCOPES, ServiceKeyCheck, ServiceKeys};
pub use sso::{SsoAction, SsoItem, SsoOutcome, SsoPerson, SsoPlan};
pub use sweep::SweepReport;
pub use token_rotation::{TEST_EVENT, TokenRotations, project_token_secret};
pub use writes::{MembershipCache, PauseOnRejection, PostHogWrite, WritePath, Written};

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
    /// Approvers lately found to be active members (see [`WritePath`]).
    pub memberships: Arc<MembershipCache>,
}

impl std::fmt::Debug for Hogwarden {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hogwarden").field("policy", &self.policy).field("web_url", &self.web_url).finish_non_exhaustive()
    }
}

impl Hogwarden {
    pub fn new(
        store: Arc<dyn Store>,
        posthog: Arc<dyn PostHog>,
        clock: Arc<dyn Clock>,
        notifier: Arc<dyn Notifier>,
        policy: Arc<Policy>,
        web_url: String,
    ) -> Self {
        Self { store, posthog, clock, notifier, policy, web_url, memberships: Arc::default() }
    }

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

    /// A link to a page of the web front end, which routes by the address's hash.
    fn page_link(&self, page: &str) -> String {
        format!("{}/#/{page}", self.web_url.trim_end_matches('/'))
    }

    /// Records an audit entry about no request or grant (a snapshot, a key check), alone.
    async fn record(&self, actor: Actor, kind: AuditKind, details: serde_json::Value) -> crate::error::Result<()> {
        let draft = AuditDraft { at: self.clock.now(), actor, kind, subject: None, request_id: None, grant_id: None, details };
        self.store.commit(crate::ports::Commit { audit: vec![draft], ..Default::default() }).await.map(drop)
    }

    fn request_link(&self, id: RequestId) -> String {
        self.page_link(&format!("requests/{id}"))
    }

    /// Refuses a decision by someone who is not an approver, or who is no longer an
    /// active member of the PostHog organization (a token outlives a departure).
    async fn require_active_approver(&self, who: &crate::types::Principal, what: &str) -> crate::error::Result<()> {
        use crate::error::Error;
        if !who.has(crate::types::Role::Approver) {
            return Err(Error::Forbidden(format!("You need the approver role to {what}.")));
        }
        if self.posthog.find_member(&who.email).await?.is_none() {
            return Err(Error::Forbidden(format!("You are no longer an active member of the PostHog organization, so you cannot {what}.")));
        }
        Ok(())
    }

    /// The approvers policy names, minus the people the request is by or for, and
    /// minus anyone who is not an active member of the PostHog organization (a
    /// departed or deactivated person is never an approver). One member list read
    /// serves them all; if PostHog cannot answer, nobody is named rather than
    /// someone who may have left.
    async fn approvers_for(&self, request: &crate::model::AccessRequest) -> Vec<Email> {
        let named: Vec<&Email> = self.policy.approvers.iter().filter(|a| **a != request.requester && **a != request.subject).collect();
        if named.is_empty() {
            return Vec::new();
        }
        let members = match self.posthog.list_members().await {
            Ok(members) => members,
            Err(e) => {
                tracing::warn!(error = %e, "could not read PostHog members; no approver is told this time");
                return Vec::new();
            }
        };
        named
            .into_iter()
            .filter(|a| {
                let active = members.iter().any(|m| m.email == **a);
                if !active {
                    tracing::info!(approver = %a, "skipping an approver who is not an active member of the PostHog organization");
                }
                active
            })
            .cloned()
            .collect()
    }

    /// Tells the approvers a request waits for them, with a link to it (never an
    /// action that works without signing in).
    async fn tell_approvers(&self, request: &crate::model::AccessRequest, subject: &str) {
        let approvers = self.approvers_for(request).await;
        self.tell_these_approvers(request, subject, &approvers).await;
    }

    /// [`Self::tell_approvers`] for a list already read (so one member read serves
    /// both the audit entry and the messages).
    async fn tell_these_approvers(&self, request: &crate::model::AccessRequest, subject: &str, approvers: &[Email]) {
        let mut what: Vec<String> = request.changes.iter().map(crate::model::AccessChange::describe).collect();
        if what.is_empty() {
            // A request without changes of its own holds a bulk change set.
            what.push("a bulk change set".into());
        }
        for approver in approvers {
            let body = format!(
                "{} asks for {} for {}. Reason: {}. The request expires at {} if nobody answers.",
                request.requester,
                what.join(", "),
                request.subject,
                request.justification.as_str(),
                request.expires_at.format("%Y-%m-%d %H:%M UTC")
            );
            self.tell(approver, subject.into(), body, Some(self.request_link(request.id))).await;
        }
    }

    /// Tells someone something; a failure to notify is logged and never undoes work.
    /// Only active members of the PostHog organization are told (a departed or
    /// deactivated person never is); the policy's security contacts are the
    /// exception, since they are told when PostHog rejects Hogwarden's key, exactly
    /// when PostHog cannot be asked. The check lives here, with the live policy, so
    /// no wiring can forget it.
    /// Says whether the notifier accepted the message.
    async fn tell(&self, to: &Email, subject: String, body: String, link: Option<String>) -> bool {
        if !self.policy.security_contacts.contains(to) {
            match self.posthog.find_member(to).await {
                Ok(Some(_)) => {}
                Ok(None) => {
                    tracing::info!(to = %to, subject = %subject, "not told: not an active member of the PostHog organization");
                    return false;
                }
                Err(e) => {
                    tracing::warn!(error = %e, to = %to, "not told: could not check that the recipient is an active member");
                    return false;
                }
            }
        }
        let n = Notification { to: to.clone(), subject, body, link };
        match self.notifier.notify(n).await {
            Ok(()) => true,
            Err(e) => {
                tracing::warn!(error = %e, "notification failed");
                false
            }
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

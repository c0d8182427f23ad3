//! "PostHog writes paused" (issue 6, point 5): when Hogwarden's own key leaks, or PostHog
//! starts rejecting the stored key (401), Hogwarden stops sending changes to PostHog
//! until an admin stores a new, validated key.
//!
//! The one place that enforces it is [`WriteGate`], a wrapper in front of the PostHog
//! client that every use case reaches PostHog through: each write first reads the pause
//! record and, while it is set, answers [`PostHogError::Paused`] without calling PostHog.
//! `Paused` is transient, so scheduled work (reverts, approved requests, offboardings,
//! bulk items) stays pending exactly as when PostHog is down, and is done by the first
//! sweep after the pause lifts; requests answer 503 naming the pause.
//!
//! The pause record is written with a version guard and an audit entry
//! ([`pause_writes`], [`lift_pause`]); setting it twice keeps the first reason.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use secrecy::SecretString;
use serde_json::json;

use crate::alerts::{AlertRecord, PauseState, WritePause};
use crate::audit::{AuditDraft, AuditKind};
use crate::error::{Error, Result};
use crate::keys::{IssuedKey, ProjectKeys, ProjectToken, SecretKeyInfo};
use crate::ports::{Clock, EffectiveAccess, Guarded, Invitation, KeyCheck, Member, OwnedObject, PostHog, PostHogError, Project, Store};
use crate::types::{Actor, Email, OrgLevel, ProjectId, ProjectRole};

/// How many times a pause or lift is retried when another writer moved the record.
const ATTEMPTS: usize = 4;

/// The sentence a paused write answers with: why, since when, and what to do.
pub fn pause_message(pause: &WritePause) -> String {
    format!(
        "{} (since {}). Nothing was sent to PostHog. An admin must store a new service key on the Keys page; \
         approved work waits and is done once the new key is stored.",
        pause.reason,
        pause.since.format("%Y-%m-%d %H:%M UTC")
    )
}

/// The current pause, if any.
pub async fn current_pause(store: &dyn Store) -> Result<Option<WritePause>> {
    Ok(store.alerts().get_pause().await?.and_then(|s| s.paused))
}

/// Pauses PostHog writes. Returns `false` when they were already paused (the first
/// reason stands). `alert_id` names the alert that paused them.
pub async fn pause_writes(
    store: &dyn Store,
    now: DateTime<Utc>,
    actor: Actor,
    reason: String,
    fingerprint: Option<String>,
    alert_id: Option<String>,
) -> Result<bool> {
    for _ in 0..ATTEMPTS {
        let state = store.alerts().get_pause().await?;
        if state.as_ref().is_some_and(|s| s.paused.is_some()) {
            return Ok(false);
        }
        let expected = state.as_ref().map(|s| s.version);
        let pause = WritePause { since: now, reason: reason.clone(), alert_id: alert_id.clone(), fingerprint: fingerprint.clone() };
        let next = PauseState { paused: Some(pause), lifted_at: state.and_then(|s| s.lifted_at), version: expected.unwrap_or(0) + 1 };
        let audit = AuditDraft {
            at: now,
            actor: actor.clone(),
            kind: AuditKind::KeyAlert,
            subject: None,
            request_id: None,
            grant_id: None,
            details: json!({ "step": "writes_paused", "reason": reason, "fingerprint": fingerprint, "alert_id": alert_id }),
        };
        match store.alerts().put_pause(Guarded { record: next, expected_version: expected }, vec![audit]).await {
            Ok(_) => {
                tracing::warn!(reason = %reason, "PostHog writes paused");
                return Ok(true);
            }
            Err(Error::Conflict(_)) => continue,
            Err(e) => return Err(e),
        }
    }
    Err(Error::Conflict("The pause record kept changing; try again.".into()))
}

/// Lifts the pause (a new service key was stored). Returns `false` when writes were not
/// paused.
pub async fn lift_pause(store: &dyn Store, now: DateTime<Utc>, actor: Actor, new_fingerprint: &str) -> Result<bool> {
    for _ in 0..ATTEMPTS {
        let Some(state) = store.alerts().get_pause().await? else { return Ok(false) };
        let Some(pause) = state.paused.clone() else { return Ok(false) };
        let next = PauseState { paused: None, lifted_at: Some(now), version: state.version + 1 };
        let audit = AuditDraft {
            at: now,
            actor: actor.clone(),
            kind: AuditKind::KeyAlert,
            subject: None,
            request_id: None,
            grant_id: None,
            details: json!({ "step": "writes_resumed", "paused_since": pause.since, "reason": pause.reason, "new_fingerprint": new_fingerprint }),
        };
        match store.alerts().put_pause(Guarded::update(next, state.version), vec![audit]).await {
            Ok(_) => {
                tracing::info!("PostHog writes resumed");
                return Ok(true);
            }
            Err(Error::Conflict(_)) => continue,
            Err(e) => return Err(e),
        }
    }
    Err(Error::Conflict("The pause record kept changing; try again.".into()))
}

/// The PostHog client behind the pause: writes wait while it is set, and a 401 on
/// Hogwarden's stored key sets it. Wraps every PostHog port the client serves, so the
/// composition hands out this one value wherever it handed out the client.
pub struct WriteGate<T> {
    inner: Arc<T>,
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
}

impl<T> std::fmt::Debug for WriteGate<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WriteGate").finish_non_exhaustive()
    }
}

impl<T: Send + Sync> WriteGate<T> {
    pub fn new(inner: Arc<T>, store: Arc<dyn Store>, clock: Arc<dyn Clock>) -> Self {
        Self { inner, store, clock }
    }

    /// The wrapped client.
    pub fn inner(&self) -> &Arc<T> {
        &self.inner
    }

    /// `Err(Paused)` while writes are paused; fails closed when the record cannot be read.
    async fn open(&self) -> Result<(), PostHogError> {
        match current_pause(&*self.store).await {
            Ok(None) => Ok(()),
            Ok(Some(pause)) => {
                tracing::info!("a PostHog write was held back: writes are paused");
                Err(PostHogError::Paused(pause_message(&pause)))
            }
            Err(e) => {
                tracing::warn!(error = %e, "could not read the pause record; the PostHog write is held back");
                Err(PostHogError::Unavailable("Hogwarden could not check whether PostHog writes are paused".into()))
            }
        }
    }

    /// PostHog answered 401 to the stored key: pause writes and say so.
    async fn rejected(&self, fingerprint: Option<String>) -> PostHogError {
        let now = self.clock.now();
        let reason = "PostHog rejects Hogwarden's stored API key (401)".to_owned();
        let alert = AlertRecord::key_rejected(now, fingerprint.as_deref().unwrap_or("unknown"), &reason);
        match pause_writes(&*self.store, now, Actor::System("key-check".into()), reason.clone(), fingerprint, Some(alert.id.clone())).await
        {
            Ok(true) => {
                if let Err(e) = self.store.alerts().record_alert(&alert).await {
                    tracing::warn!(error = %e, "could not record the rejected key in the alert history");
                }
            }
            Ok(false) => {}
            Err(e) => tracing::warn!(error = %e, "PostHog rejects Hogwarden's key, and the pause could not be recorded"),
        }
        match current_pause(&*self.store).await {
            Ok(Some(pause)) => PostHogError::Paused(pause_message(&pause)),
            _ => PostHogError::Unauthorized,
        }
    }

    async fn read<R>(&self, result: Result<R, PostHogError>) -> Result<R, PostHogError> {
        match result {
            Err(PostHogError::Unauthorized) => Err(self.rejected(None).await),
            other => other,
        }
    }
}

#[async_trait]
impl<T: PostHog + 'static> PostHog for WriteGate<T> {
    async fn find_member(&self, email: &Email) -> Result<Option<Member>, PostHogError> {
        self.read(self.inner.find_member(email).await).await
    }
    async fn list_members(&self) -> Result<Vec<Member>, PostHogError> {
        self.read(self.inner.list_members().await).await
    }
    async fn list_projects(&self) -> Result<Vec<Project>, PostHogError> {
        self.read(self.inner.list_projects().await).await
    }
    async fn set_org_level(&self, member: &Member, level: OrgLevel) -> Result<OrgLevel, PostHogError> {
        self.open().await?;
        self.read(self.inner.set_org_level(member, level).await).await
    }
    async fn project_role(&self, member: &Member, project: ProjectId) -> Result<Option<ProjectRole>, PostHogError> {
        self.read(self.inner.project_role(member, project).await).await
    }
    async fn project_roles(&self, project: ProjectId) -> Result<Vec<(String, ProjectRole)>, PostHogError> {
        self.read(self.inner.project_roles(project).await).await
    }
    async fn project_open_to_org(&self, project: ProjectId) -> Result<bool, PostHogError> {
        self.read(self.inner.project_open_to_org(project).await).await
    }
    async fn effective_access(&self, member: &Member, project: ProjectId) -> Result<Option<EffectiveAccess>, PostHogError> {
        self.read(self.inner.effective_access(member, project).await).await
    }
    async fn invitations_for(&self, email: &Email) -> Result<Vec<Invitation>, PostHogError> {
        self.read(self.inner.invitations_for(email).await).await
    }
    async fn check_key(&self) -> Result<KeyCheck, PostHogError> {
        let check = self.read(self.inner.check_key().await).await?;
        if !check.accepted {
            let _ = self.rejected(Some(check.fingerprint.clone())).await;
        }
        Ok(check)
    }
    async fn set_project_role(
        &self,
        member: &Member,
        project: ProjectId,
        role: Option<ProjectRole>,
    ) -> Result<Option<ProjectRole>, PostHogError> {
        self.open().await?;
        self.read(self.inner.set_project_role(member, project, role).await).await
    }
    async fn project_rules(&self, project: ProjectId) -> Result<crate::ports::ProjectRules, PostHogError> {
        self.read(self.inner.project_rules(project).await).await
    }
    async fn write_project_role(
        &self,
        member: &Member,
        project: ProjectId,
        role: Option<ProjectRole>,
        known: &crate::ports::MemberRules,
    ) -> Result<crate::ports::MemberRules, PostHogError> {
        self.open().await?;
        self.read(self.inner.write_project_role(member, project, role, known).await).await
    }
    async fn objects_created_by(&self, member: &Member, project: ProjectId) -> Result<Vec<OwnedObject>, PostHogError> {
        self.read(self.inner.objects_created_by(member, project).await).await
    }
    async fn object_access(&self, object: &OwnedObject, member: &Member) -> Result<Option<String>, PostHogError> {
        self.read(self.inner.object_access(object, member).await).await
    }
    async fn set_object_access(&self, object: &OwnedObject, member: &Member, level: &str) -> Result<Option<String>, PostHogError> {
        self.open().await?;
        self.read(self.inner.set_object_access(object, member, level).await).await
    }
    async fn remove_member(&self, member: &Member) -> Result<bool, PostHogError> {
        self.open().await?;
        self.read(self.inner.remove_member(member).await).await
    }
    async fn access_activity(&self, since: DateTime<Utc>) -> Result<Vec<crate::reviews::ActivityRecord>, PostHogError> {
        self.read(self.inner.access_activity(since).await).await
    }
}

#[async_trait]
impl<T: ProjectKeys + 'static> ProjectKeys for WriteGate<T> {
    async fn list_secret_keys(&self, project: ProjectId) -> Result<Vec<SecretKeyInfo>, PostHogError> {
        self.read(self.inner.list_secret_keys(project).await).await
    }
    async fn project_tokens(&self) -> Result<Vec<ProjectToken>, PostHogError> {
        self.read(self.inner.project_tokens().await).await
    }
    async fn create_secret_key(&self, project: ProjectId, label: &str, scopes: &[String]) -> Result<IssuedKey, PostHogError> {
        self.open().await?;
        self.read(self.inner.create_secret_key(project, label, scopes).await).await
    }
    async fn roll_secret_key(&self, project: ProjectId, id: &str) -> Result<IssuedKey, PostHogError> {
        self.open().await?;
        self.read(self.inner.roll_secret_key(project, id).await).await
    }
    async fn delete_secret_key(&self, project: ProjectId, id: &str) -> Result<bool, PostHogError> {
        self.open().await?;
        self.read(self.inner.delete_secret_key(project, id).await).await
    }
    /// Asks about another key's value: PostHog's answer says nothing about Hogwarden's.
    async fn secret_key_works(&self, value: &SecretString) -> Result<bool, PostHogError> {
        self.inner.secret_key_works(value).await
    }
}

/// Reporting a leaked key to PostHog's public endpoint uses no Hogwarden key: it is the
/// leak response itself and goes through while writes are paused.
#[async_trait]
impl<T: crate::webhooks::LeakReporter + 'static> crate::webhooks::LeakReporter for WriteGate<T> {
    async fn report_leaked_key(&self, value: &SecretString) -> Result<Option<String>, PostHogError> {
        self.inner.report_leaked_key(value).await
    }
}

/// Checking a candidate key uses that key, not the stored one.
#[async_trait]
impl<T: super::ServiceKeyCheck + 'static> super::ServiceKeyCheck for WriteGate<T> {
    async fn inspect(&self, key: &SecretString) -> Result<super::CandidateKey, PostHogError> {
        self.inner.inspect(key).await
    }
    async fn key_stored(&self) {
        self.inner.key_stored().await;
    }
}

#[async_trait]
impl<T: super::OwnKeyInfo + 'static> super::OwnKeyInfo for WriteGate<T> {
    async fn own_key(&self) -> Result<super::OwnKey, PostHogError> {
        self.read(self.inner.own_key().await).await
    }
}

#[cfg(test)]
mod tests {
    /// A method the gate does not forward falls back to the trait's default: a write
    /// there could skip the pause check or the client's own path. Every method of every
    /// port the gate serves must be written out here.
    #[test]
    fn the_gate_forwards_every_method_of_the_ports_it_implements() {
        let missing = crate::ports::unforwarded_port_methods(include_str!("pause.rs"));
        assert!(missing.is_empty(), "WriteGate does not forward {missing:?}");
    }
}

//! The one path every PostHog write takes. [`WritePath::write`] takes the change and
//! its [`Authorization`], loads what the authorization names, and refuses the write
//! unless [`crate::authorize::judge`] allows it; then it holds the write back while
//! writes are paused, sends it, and pauses writes when PostHog rejects Hogwarden's
//! key. What allowed the write comes back with PostHog's read-back, for the audit
//! entry. No use case calls a PostHog write method itself (a tidy test checks it).
//!
//! The client behind it keeps the rest of the one path: the key re-read from the
//! vault after a 401, the rate budget shared by every caller of the key, and the
//! read-back of each write.

use std::collections::HashMap;
use std::sync::Mutex;

use secrecy::SecretString;

use crate::alerts::AlertRecord;
use crate::authorize::{Allowed, Authorization, Effect, Grounds, judge};
use crate::error::{Error, Result};
use crate::keys::{IssuedKey, ProjectKeys};
use crate::model::{AccessLevel, AccessTarget};
use crate::ports::{Member, MemberRules, OwnedObject, PostHogError};
use crate::types::{Actor, Email, OrgLevel, ProjectId, ProjectRole};
use crate::webhooks::LeakReporter;

use super::Hogwarden;
use super::pause::{current_pause, pause_message, pause_writes};

/// How long an approver's membership, once checked, is taken as still true.
const MEMBERSHIP_TTL: chrono::Duration = chrono::Duration::seconds(60);

/// A write to PostHog, with what it needs.
#[derive(Clone, Copy)]
pub enum PostHogWrite<'a> {
    OrgLevel {
        member: &'a Member,
        level: OrgLevel,
    },
    /// Reads the member's rules, writes, reads back.
    ProjectRole {
        member: &'a Member,
        project: ProjectId,
        role: Option<ProjectRole>,
    },
    /// From rules just read for many members: confirmed by PostHog's answer.
    ProjectRoleFrom {
        member: &'a Member,
        project: ProjectId,
        role: Option<ProjectRole>,
        known: &'a MemberRules,
    },
    ObjectAccess {
        object: &'a OwnedObject,
        member: &'a Member,
        level: &'a str,
    },
    RemoveMember {
        member: &'a Member,
    },
    CreateSecretKey {
        keys: &'a dyn ProjectKeys,
        project: ProjectId,
        label: &'a str,
        scopes: &'a [String],
    },
    RollSecretKey {
        keys: &'a dyn ProjectKeys,
        project: ProjectId,
        id: &'a str,
    },
    DeleteSecretKey {
        keys: &'a dyn ProjectKeys,
        project: ProjectId,
        id: &'a str,
    },
    /// To PostHog's public leaked-key endpoint: uses no Hogwarden key, so it goes
    /// through while writes are paused.
    ReportLeakedKey {
        reporter: &'a dyn LeakReporter,
        value: &'a SecretString,
    },
}

impl std::fmt::Debug for PostHogWrite<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl PostHogWrite<'_> {
    fn name(&self) -> &'static str {
        match self {
            Self::OrgLevel { .. } => "organization level",
            Self::ProjectRole { .. } | Self::ProjectRoleFrom { .. } => "project role",
            Self::ObjectAccess { .. } => "object access",
            Self::RemoveMember { .. } => "member removal",
            Self::CreateSecretKey { .. } => "secret key creation",
            Self::RollSecretKey { .. } => "secret key roll",
            Self::DeleteSecretKey { .. } => "secret key deletion",
            Self::ReportLeakedKey { .. } => "leaked key report",
        }
    }

    fn effect(&self) -> Effect<'_> {
        match *self {
            Self::OrgLevel { member, level } => {
                Effect::Access { subject: &member.email, target: AccessTarget::Org, to: AccessLevel::Org(level) }
            }
            Self::ProjectRole { member, project, role } | Self::ProjectRoleFrom { member, project, role, .. } => {
                Effect::Access { subject: &member.email, target: AccessTarget::Project(project), to: AccessLevel::Project(role) }
            }
            Self::ObjectAccess { member, .. } => Effect::ObjectAccess { to: &member.email },
            Self::RemoveMember { member } => Effect::Removal { subject: &member.email },
            Self::CreateSecretKey { .. } | Self::RollSecretKey { .. } | Self::DeleteSecretKey { .. } | Self::ReportLeakedKey { .. } => {
                Effect::Key
            }
        }
    }

    fn uses_hogwardens_key(&self) -> bool {
        !matches!(self, Self::ReportLeakedKey { .. })
    }
}

/// What PostHog answered to a write (its read-back).
#[derive(Debug)]
pub enum Written {
    OrgLevel(OrgLevel),
    ProjectRole(Option<ProjectRole>),
    ProjectRules(MemberRules),
    ObjectAccess(Option<String>),
    /// Whether PostHog still lists the member.
    StillMember(bool),
    Key(IssuedKey),
    Deleted(bool),
    Reported(Option<String>),
}

impl Written {
    /// The access a role write left in place.
    pub fn access_level(self) -> Result<AccessLevel> {
        match self {
            Self::OrgLevel(level) => Ok(AccessLevel::Org(level)),
            Self::ProjectRole(role) => Ok(AccessLevel::Project(role)),
            Self::ProjectRules(rules) => Ok(AccessLevel::Project(rules.role)),
            other => Err(Error::Storage(format!("a role write was answered with {other:?}"))),
        }
    }
}

/// Approvers whose membership was checked lately, so a bulk run does not ask PostHog
/// again for every item.
#[derive(Debug, Default)]
pub struct MembershipCache(Mutex<HashMap<String, chrono::DateTime<chrono::Utc>>>);

/// The records an authorization names, loaded.
enum Loaded {
    Request(crate::model::AccessRequest),
    Offboarding(crate::offboard::Offboarding),
    Undo(crate::model::Grant, Vec<crate::model::Grant>),
    Key(String),
}

/// The write path of one application.
#[derive(Debug, Clone, Copy)]
pub struct WritePath<'a> {
    app: &'a Hogwarden,
}

impl Hogwarden {
    /// The one path for PostHog writes.
    pub fn writes(&self) -> WritePath<'_> {
        WritePath { app: self }
    }
}

impl WritePath<'_> {
    /// Judges `write` against `auth`, then sends it. Refused writes send nothing and
    /// come back as [`Error::Forbidden`] naming why.
    #[tracing::instrument(skip_all, fields(write = write.name()))]
    pub async fn write(&self, write: PostHogWrite<'_>, auth: &Authorization) -> Result<(Written, Allowed)> {
        let allowed = self.authorize(&write, auth).await?;
        if write.uses_hogwardens_key() {
            self.open().await?;
        }
        let app = self.app;
        let sent = match write {
            PostHogWrite::OrgLevel { member, level } => app.posthog.set_org_level(member, level).await.map(Written::OrgLevel),
            PostHogWrite::ProjectRole { member, project, role } => {
                app.posthog.set_project_role(member, project, role).await.map(Written::ProjectRole)
            }
            PostHogWrite::ProjectRoleFrom { member, project, role, known } => {
                app.posthog.write_project_role(member, project, role, known).await.map(Written::ProjectRules)
            }
            PostHogWrite::ObjectAccess { object, member, level } => {
                app.posthog.set_object_access(object, member, level).await.map(Written::ObjectAccess)
            }
            PostHogWrite::RemoveMember { member } => app.posthog.remove_member(member).await.map(Written::StillMember),
            PostHogWrite::CreateSecretKey { keys, project, label, scopes } => {
                keys.create_secret_key(project, label, scopes).await.map(Written::Key)
            }
            PostHogWrite::RollSecretKey { keys, project, id } => keys.roll_secret_key(project, id).await.map(Written::Key),
            PostHogWrite::DeleteSecretKey { keys, project, id } => keys.delete_secret_key(project, id).await.map(Written::Deleted),
            PostHogWrite::ReportLeakedKey { reporter, value } => reporter.report_leaked_key(value).await.map(Written::Reported),
        };
        match sent {
            Ok(written) => {
                tracing::info!(authorization = ?allowed, "PostHog write authorized and sent");
                Ok((written, allowed))
            }
            Err(PostHogError::Unauthorized) if write.uses_hogwardens_key() => Err(Error::Upstream(key_rejected(app, None).await)),
            Err(e) => Err(Error::Upstream(e)),
        }
    }

    /// Loads what `auth` names and judges the write against it.
    async fn authorize(&self, write: &PostHogWrite<'_>, auth: &Authorization) -> Result<Allowed> {
        let app = self.app;
        let missing = |what: String| refused(write, &format!("{what} does not exist"));
        let loaded = match auth {
            Authorization::Request(id) => {
                Loaded::Request(app.store.get_request(*id).await?.ok_or_else(|| missing(format!("request {id}")))?)
            }
            Authorization::Offboarding(id) => {
                Loaded::Offboarding(app.store.get_offboarding(*id).await?.ok_or_else(|| missing(format!("offboarding {id}")))?)
            }
            Authorization::Undo(id) => {
                let grant = app.store.get_grant(*id).await?.ok_or_else(|| missing(format!("grant {id}")))?;
                let others = app.store.list_active_grants_for_target(&grant.subject, grant.target()).await?;
                Loaded::Undo(grant, others)
            }
            Authorization::KeyResponse(trigger) => Loaded::Key(trigger.clone()),
        };
        let approvers: Vec<Email> = match &loaded {
            Loaded::Request(r) => r.approvals.iter().map(|a| a.by.clone()).collect(),
            Loaded::Offboarding(o) => o.approvals.iter().map(|a| a.by.clone()).collect(),
            Loaded::Undo(..) | Loaded::Key(_) => Vec::new(),
        };
        let active = self.active_among(&approvers).await?;
        let grounds = match &loaded {
            Loaded::Request(r) => Grounds::Request(r),
            Loaded::Offboarding(o) => Grounds::Offboarding(o),
            Loaded::Undo(grant, others) => Grounds::Undo { grant, others },
            Loaded::Key(trigger) => Grounds::Key(trigger),
        };
        judge(&app.policy, &grounds, &write.effect(), &|e: &Email| active.contains(e)).map_err(|why| refused(write, &why))
    }

    /// The approvers who are still active members of the organization (checked in
    /// PostHog, or lately).
    async fn active_among(&self, people: &[Email]) -> Result<Vec<Email>> {
        let now = self.app.clock.now();
        let mut out = Vec::new();
        for person in people {
            let fresh = {
                let seen = self.app.memberships.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                seen.get(person.as_str()).is_some_and(|at| now - *at < MEMBERSHIP_TTL)
            };
            if fresh {
                out.push(person.clone());
                continue;
            }
            if self.app.posthog.find_member(person).await?.is_some() {
                self.app.memberships.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner).insert(person.as_str().to_owned(), now);
                out.push(person.clone());
            }
        }
        Ok(out)
    }

    /// `Err(Paused)` while writes are paused; fails closed when the record cannot be read.
    async fn open(&self) -> Result<()> {
        match current_pause(&*self.app.store).await {
            Ok(None) => Ok(()),
            Ok(Some(pause)) => {
                tracing::info!("a PostHog write was held back: writes are paused");
                Err(Error::Upstream(PostHogError::Paused(pause_message(&pause))))
            }
            Err(e) => {
                tracing::warn!(error = %e, "could not read the pause record; the PostHog write is held back");
                Err(Error::Upstream(PostHogError::Unavailable("Hogwarden could not check whether PostHog writes are paused".into())))
            }
        }
    }
}

fn refused(write: &PostHogWrite<'_>, why: &str) -> Error {
    tracing::error!(write = write.name(), why, "a PostHog write was refused: its authorization does not hold");
    Error::Forbidden(format!("Hogwarden refused the {}: {why}.", write.name()))
}

/// PostHog answered 401 to the stored key: pause writes and say so.
pub(crate) async fn key_rejected(app: &Hogwarden, fingerprint: Option<String>) -> PostHogError {
    PauseOnRejection::new(app.store.clone(), app.clock.clone()).pause(fingerprint).await
}

/// Pauses PostHog writes when PostHog rejects Hogwarden's key (the client's hook; see
/// [`crate::ports::KeyRejections`]).
#[derive(Clone)]
pub struct PauseOnRejection {
    store: std::sync::Arc<dyn crate::ports::Store>,
    clock: std::sync::Arc<dyn crate::ports::Clock>,
}

impl std::fmt::Debug for PauseOnRejection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PauseOnRejection").finish_non_exhaustive()
    }
}

impl PauseOnRejection {
    pub fn new(store: std::sync::Arc<dyn crate::ports::Store>, clock: std::sync::Arc<dyn crate::ports::Clock>) -> Self {
        Self { store, clock }
    }

    async fn pause(&self, fingerprint: Option<String>) -> PostHogError {
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
}

#[async_trait::async_trait]
impl crate::ports::KeyRejections for PauseOnRejection {
    async fn key_rejected(&self, fingerprint: &str) -> Option<String> {
        match self.pause(Some(format!("sha256:{}", &fingerprint[..fingerprint.len().min(12)]))).await {
            PostHogError::Paused(message) => Some(message),
            _ => None,
        }
    }
}

//! Project secret key (`phs_`) rotation as Secrets Manager's four steps, so Secrets
//! Manager's own schedule can drive it and the local stack drives the same steps itself
//! (shared/integration-facts.md §3).
//!
//! * createSecret: PostHog issues a new key, labelled after the rotation's token, and it is
//!   stored as the token's AWSPENDING version. A retry finds the version and does nothing; a
//!   retry after PostHog issued the key but before it was stored finds the key by its label
//!   and rolls it (the unstored value is never used), so no second key is left behind.
//! * setSecret: PostHog already has the key (it issued it); this checks it is still there.
//! * testSecret: PostHog must accept the pending key as a bearer; otherwise the step fails
//!   and AWSCURRENT stays where it was.
//! * finishSecret: the pending version becomes AWSCURRENT (the old one AWSPREVIOUS).
//!
//! Both keys work in PostHog from createSecret until the grace period after finishSecret
//! (policy) ends, when [`KeyRotation::delete_expired_previous`] deletes the old key, so a
//! reader of AWSCURRENT never holds a key PostHog rejects. Each step checks the version's
//! stages first, so running any step twice changes nothing.

use std::sync::Arc;

use secrecy::SecretString;
use serde::Serialize;
use serde_json::json;

use crate::Error;
use crate::audit::AuditKind;
use crate::authorize::{Allowed, Authorization};
use crate::error::Result;
use crate::keys::{ProjectKeys, RotationStep, StoredSecretKey, fingerprint, short_fingerprint};
use crate::ports::{Stage, Vault};
use crate::types::{Actor, ProjectId};
use crate::usecases::{Hogwarden, PostHogWrite, Written};

/// Runs project secret key rotations. Cheap to clone.
#[derive(Clone)]
pub struct KeyRotation {
    app: Hogwarden,
    vault: Arc<dyn Vault>,
    keys: Arc<dyn ProjectKeys>,
}

impl std::fmt::Debug for KeyRotation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyRotation").finish_non_exhaustive()
    }
}

/// What a step did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StepOutcome {
    /// The step changed something (a key issued and stored, a version promoted).
    Done,
    /// The step had nothing to do (already done by an earlier run, or nothing to check).
    AlreadyDone,
    /// The step checked and found everything as it should be.
    Verified,
}

/// The fingerprints of a finished rotation (never values).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RotationReport {
    pub secret: String,
    pub version_id: String,
    pub previous_fingerprint: Option<String>,
    pub current_fingerprint: String,
}

fn rotator() -> Actor {
    Actor::System("key-rotation".into())
}

/// The PostHog label of the key a rotation issues: derived from the rotation's token, so
/// a retried createSecret finds the key it issued (labels are unique per project, at most
/// 40 characters).
pub fn rotation_label(token: &str) -> String {
    format!("hogwarden {}", &fingerprint(token)[..24])
}

impl KeyRotation {
    pub fn new(app: Hogwarden, vault: Arc<dyn Vault>, keys: Arc<dyn ProjectKeys>) -> Self {
        Self { app, vault, keys }
    }

    pub fn app(&self) -> &Hogwarden {
        &self.app
    }

    /// PostHog's project secret keys, as this rotation reads them.
    pub(crate) fn project_keys(&self) -> &dyn ProjectKeys {
        &*self.keys
    }

    /// Puts a project under rotation: PostHog issues a first key, stored as the current
    /// version of `secret` under `version_id`. Running it again with the same version id
    /// changes nothing.
    pub async fn enrol(&self, secret: &str, version_id: &str, project: ProjectId, scopes: &[String]) -> Result<String> {
        if let Some((value, stages)) = self.vault.version(secret, version_id).await? {
            if !stages.contains(&Stage::Current) {
                self.vault.promote(secret, version_id).await?;
            }
            return Ok(short_fingerprint(&StoredSecretKey::parse(&value)?.fingerprint()));
        }
        let (stored, allowed) = self.issue(project, &rotation_label(version_id), scopes).await?;
        self.vault.stage_pending(secret, version_id, stored.to_secret()).await?;
        self.vault.promote(secret, version_id).await?;
        let short = short_fingerprint(&stored.fingerprint());
        self.app
            .record(
                rotator(),
                AuditKind::KeyRotation,
                json!({ "secret": secret, "step": "enrolled", "project_id": project.get(), "fingerprint": short, "authorization": allowed.to_json() }),
            )
            .await?;
        Ok(short)
    }

    /// Creates a key through the one write path (a key response: it grants nobody access).
    async fn create(&self, project: ProjectId, label: &str, scopes: &[String]) -> Result<(crate::keys::IssuedKey, Allowed)> {
        let write = PostHogWrite::CreateSecretKey { keys: &*self.keys, project, label, scopes };
        match self.app.writes().write(write, &Authorization::KeyResponse(format!("key rotation {label}"))).await? {
            (Written::Key(issued), allowed) => Ok((issued, allowed)),
            other => Err(Error::Storage(format!("a key creation was answered with {other:?}"))),
        }
    }

    /// Rolls a key through the one write path.
    async fn roll(&self, project: ProjectId, id: &str, label: &str) -> Result<(crate::keys::IssuedKey, Allowed)> {
        let write = PostHogWrite::RollSecretKey { keys: &*self.keys, project, id };
        match self.app.writes().write(write, &Authorization::KeyResponse(format!("key rotation {label}"))).await? {
            (Written::Key(issued), allowed) => Ok((issued, allowed)),
            other => Err(Error::Storage(format!("a key roll was answered with {other:?}"))),
        }
    }

    /// Deletes a key through the one write path; says whether PostHog had it.
    async fn delete(&self, project: ProjectId, id: &str, why: &str) -> Result<(bool, Allowed)> {
        let write = PostHogWrite::DeleteSecretKey { keys: &*self.keys, project, id };
        match self.app.writes().write(write, &Authorization::KeyResponse(why.to_owned())).await? {
            (Written::Deleted(deleted), allowed) => Ok((deleted, allowed)),
            other => Err(Error::Storage(format!("a key deletion was answered with {other:?}"))),
        }
    }

    /// A new key in PostHog with `label`: created, or, when a key with that label is
    /// already there (an earlier attempt issued it and then stopped), rolled.
    async fn issue(&self, project: ProjectId, label: &str, scopes: &[String]) -> Result<(StoredSecretKey, Allowed)> {
        let existing = self.keys.list_secret_keys(project).await?.into_iter().find(|k| k.label == label);
        let (issued, allowed) = match existing {
            Some(key) => {
                tracing::info!(project = %project, "a key from an earlier attempt of this rotation is in PostHog; rolling it");
                self.roll(project, &key.id, label).await?
            }
            None => match self.create(project, label, scopes).await {
                Ok(issued) => issued,
                // A create that reached PostHog and then timed out was sent again: the
                // first one made the key. Roll that one instead.
                Err(Error::Upstream(crate::ports::PostHogError::Rejected { status: 400, .. })) => {
                    let key = self.keys.list_secret_keys(project).await?.into_iter().find(|k| k.label == label).ok_or_else(|| {
                        Error::Conflict("PostHog refused to create the rotation's key and holds none with its label".into())
                    })?;
                    self.roll(project, &key.id, label).await?
                }
                Err(e) => return Err(e),
            },
        };
        let value = secrecy::ExposeSecret::expose_secret(&issued.value).to_owned();
        let stored = StoredSecretKey {
            project_id: project,
            key_id: issued.id,
            label: issued.label,
            scopes: scopes.to_vec(),
            value,
            created_at: self.app.clock.now(),
        };
        Ok((stored, allowed))
    }

    async fn current(&self, secret: &str) -> Result<StoredSecretKey> {
        let value = self
            .vault
            .get(secret, Stage::Current)
            .await?
            .ok_or_else(|| Error::NotFound(format!("a current project secret key in secret {secret} (enrol the project first)")))?;
        StoredSecretKey::parse(&value)
    }

    /// The token's version, parsed, and whether it is already current.
    async fn pending(&self, secret: &str, token: &str) -> Result<(StoredSecretKey, bool)> {
        let (value, stages) = self.vault.version(secret, token).await?.ok_or_else(|| {
            Error::NotFound(format!("version {token} of secret {secret} (createSecret must run first for this ClientRequestToken)"))
        })?;
        Ok((StoredSecretKey::parse(&value)?, stages.contains(&Stage::Current)))
    }

    /// Runs one step for the rotation identified by `token` (Secrets Manager's
    /// ClientRequestToken, which becomes the version id).
    #[tracing::instrument(skip(self), fields(secret = %secret, step = step.as_str(), token = %token))]
    pub async fn step(&self, secret: &str, step: RotationStep, token: &str) -> Result<StepOutcome> {
        match step {
            RotationStep::CreateSecret => self.create_secret(secret, token).await,
            RotationStep::SetSecret => self.set_secret(secret, token).await,
            RotationStep::TestSecret => self.test_secret(secret, token).await,
            RotationStep::FinishSecret => self.finish_secret(secret, token).await,
        }
    }

    async fn create_secret(&self, secret: &str, token: &str) -> Result<StepOutcome> {
        if self.vault.version(secret, token).await?.is_some() {
            return Ok(StepOutcome::AlreadyDone);
        }
        let current = self.current(secret).await?;
        let (stored, allowed) = self.issue(current.project_id, &rotation_label(token), &current.scopes).await?;
        self.vault.stage_pending(secret, token, stored.to_secret()).await?;
        let short = short_fingerprint(&stored.fingerprint());
        tracing::info!(fingerprint = %short, "new project secret key issued and stored as AWSPENDING");
        self.app
            .record(
                rotator(),
                AuditKind::KeyRotation,
                json!({ "secret": secret, "step": "createSecret", "version_id": token, "project_id": current.project_id.get(), "fingerprint": short, "authorization": allowed.to_json() }),
            )
            .await?;
        Ok(StepOutcome::Done)
    }

    async fn set_secret(&self, secret: &str, token: &str) -> Result<StepOutcome> {
        let (pending, is_current) = self.pending(secret, token).await?;
        if is_current {
            return Ok(StepOutcome::AlreadyDone);
        }
        let present = self.keys.list_secret_keys(pending.project_id).await?.iter().any(|k| k.id == pending.key_id);
        if !present {
            return Err(Error::Conflict(format!(
                "PostHog no longer has the key this rotation issued (version {token}); AWSCURRENT is unchanged, and a rotation with a new token starts over"
            )));
        }
        Ok(StepOutcome::Verified)
    }

    async fn test_secret(&self, secret: &str, token: &str) -> Result<StepOutcome> {
        let (pending, is_current) = self.pending(secret, token).await?;
        if is_current {
            return Ok(StepOutcome::AlreadyDone);
        }
        let works = self.keys.secret_key_works(&pending.secret_value()).await?;
        if !works {
            let short = short_fingerprint(&pending.fingerprint());
            tracing::error!(fingerprint = %short, "PostHog rejects the pending project secret key; AWSCURRENT is unchanged");
            self.app
                .record(
                    rotator(),
                    AuditKind::KeyRotation,
                    json!({ "secret": secret, "step": "testSecret", "version_id": token, "fingerprint": short, "outcome": "rejected" }),
                )
                .await?;
            return Err(Error::Conflict(format!(
                "PostHog rejects the pending key of version {token}; AWSCURRENT is unchanged and the next run starts over"
            )));
        }
        Ok(StepOutcome::Verified)
    }

    async fn finish_secret(&self, secret: &str, token: &str) -> Result<StepOutcome> {
        let (pending, is_current) = self.pending(secret, token).await?;
        if is_current {
            // A retry after a crash between the promotion and the notice still tells them.
            self.notify_consumers(secret, token, &pending).await?;
            return Ok(StepOutcome::AlreadyDone);
        }
        // Only the pending version is promoted: a late retry of an older rotation's
        // last step (its version now previous, or gone from every stage) must not
        // bring back a key a newer rotation replaced.
        let stages = self.vault.version(secret, token).await?.map(|(_, stages)| stages).unwrap_or_default();
        if !stages.contains(&Stage::Pending) {
            tracing::warn!("finishSecret for a version that is no longer pending: a newer rotation replaced it; nothing to do");
            return Ok(StepOutcome::AlreadyDone);
        }
        let previous = self.vault.get(secret, Stage::Current).await?.and_then(|v| StoredSecretKey::parse(&v).ok());
        self.vault.promote(secret, token).await?;
        let new_short = short_fingerprint(&pending.fingerprint());
        let old_short = previous.as_ref().map(|p| short_fingerprint(&p.fingerprint()));
        tracing::info!(fingerprint = %new_short, "project secret key promoted to AWSCURRENT");
        self.app
            .record(
                rotator(),
                AuditKind::KeyRotation,
                json!({
                    "secret": secret, "step": "finishSecret", "version_id": token,
                    "project_id": pending.project_id.get(), "fingerprint": new_short, "previous_fingerprint": old_short,
                    "grace_minutes": self.app.policy.keys.secret_key_grace_minutes,
                }),
            )
            .await?;
        self.notify_consumers(secret, token, &pending).await?;
        Ok(StepOutcome::Done)
    }

    /// Tells the owners of the secret's consumers that a new key is current, once per
    /// rotation token however often finishSecret runs (a conditional claim), and records it.
    async fn notify_consumers(&self, secret: &str, token: &str, current: &StoredSecretKey) -> Result<()> {
        let key = crate::consumers::KeyRef::Secret(secret.to_owned());
        let owners = self.app.consumer_owners(&key).await?;
        if owners.is_empty() {
            return Ok(());
        }
        let claim = format!("phs-rotation-notice:{secret}:{token}");
        if !self.app.store.keys().claim_once(&claim, self.app.clock.now()).await? {
            return Ok(());
        }
        let short = short_fingerprint(&current.fingerprint());
        let grace = self.app.policy.keys.secret_key_grace_minutes;
        for owner in &owners {
            let body = format!(
                "The PostHog project secret key stored as {secret} was rotated; the new key ({short}) is current in the vault. \
                 Places that read it from the vault pick it up on their next read; anything holding a copy must be updated within {grace} minutes, \
                 when the old key is deleted in PostHog."
            );
            self.app.tell(owner, "A PostHog project secret key you use was rotated".into(), body, Some(self.app.page_link("keys"))).await;
        }
        self.app
            .record(
                rotator(),
                AuditKind::KeyRotation,
                json!({ "secret": secret, "step": "consumers_notified", "version_id": token, "fingerprint": short, "owners": owners }),
            )
            .await
    }

    /// Runs the four steps with a fresh token, as Secrets Manager would: what the local
    /// stack (and a leak response) does to rotate at once.
    pub async fn rotate(&self, secret: &str) -> Result<RotationReport> {
        let token = uuid::Uuid::new_v4().to_string();
        self.rotate_with(secret, &token).await
    }

    /// The four steps for `token`; any of them may already have run.
    pub async fn rotate_with(&self, secret: &str, token: &str) -> Result<RotationReport> {
        let before = self.current(secret).await.ok().map(|c| short_fingerprint(&c.fingerprint()));
        for step in RotationStep::ALL {
            self.step(secret, step, token).await?;
        }
        let current = self.current(secret).await?;
        Ok(RotationReport {
            secret: secret.to_owned(),
            version_id: token.to_owned(),
            previous_fingerprint: before.filter(|b| *b != short_fingerprint(&current.fingerprint())),
            current_fingerprint: short_fingerprint(&current.fingerprint()),
        })
    }

    /// Deletes the previous key in PostHog once the grace period after its replacement
    /// has passed. Returns whether a key was deleted now.
    pub async fn delete_expired_previous(&self, secret: &str) -> Result<bool> {
        let Some(previous) = self.vault.get(secret, Stage::Previous).await? else { return Ok(false) };
        let previous = StoredSecretKey::parse(&previous)?;
        let current = self.current(secret).await?;
        if previous.key_id == current.key_id {
            return Ok(false);
        }
        let grace = chrono::Duration::minutes(self.app.policy.keys.secret_key_grace_minutes);
        if self.app.clock.now() < current.created_at + grace {
            return Ok(false);
        }
        let (deleted, allowed) = self.delete(previous.project_id, &previous.key_id, "the previous key's grace period ended").await?;
        if deleted {
            self.app
                .record(
                    rotator(),
                    AuditKind::KeyRotation,
                    json!({ "secret": secret, "step": "previous_deleted", "project_id": previous.project_id.get(), "fingerprint": short_fingerprint(&previous.fingerprint()), "authorization": allowed.to_json() }),
                )
                .await?;
        }
        Ok(deleted)
    }

    /// A leaked value that is this secret's key: the current one is rotated at once and
    /// then deleted in PostHog (no grace period for a leaked key); a previous one still
    /// in its grace period is deleted now. `None` when the value is not this secret's.
    pub async fn revoke_leaked(&self, secret: &str, leaked_fingerprint: &str) -> Result<Option<&'static str>> {
        let read = |stage| async move {
            match self.vault.get(secret, stage).await? {
                Some(v) => Ok::<_, Error>(Some(StoredSecretKey::parse(&v)?)),
                None => Ok(None),
            }
        };
        if let Some(current) = read(Stage::Current).await?
            && current.fingerprint() == leaked_fingerprint
        {
            self.rotate(secret).await?;
            self.delete(current.project_id, &current.key_id, "a leak alert matched the current key").await?;
            return Ok(Some("rotated at once; the leaked key is deleted in PostHog"));
        }
        if let Some(previous) = read(Stage::Previous).await?
            && previous.fingerprint() == leaked_fingerprint
        {
            self.delete(previous.project_id, &previous.key_id, "a leak alert matched the previous key").await?;
            return Ok(Some("the leaked key was already replaced; it is deleted in PostHog now"));
        }
        Ok(None)
    }

    /// The value consumers read (AWSCURRENT), for tests and the local stack's consumers.
    pub async fn current_value(&self, secret: &str) -> Result<SecretString> {
        Ok(self.current(secret).await?.secret_value())
    }

    /// The short fingerprint of the current key.
    pub async fn current_fingerprint(&self, secret: &str) -> Result<String> {
        Ok(self.current(secret).await?.fingerprint())
    }
}

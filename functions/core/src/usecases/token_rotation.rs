//! Guided rotation of a project token (`phc_`). PostHog resets a project token only from
//! a logged-in session (`reset_token` refuses every personal API key), so Hogwarden
//! cannot reset it; it guides the people who can, as a checklist per project:
//!
//! 1. started (by an admin, or by a leaked-token alert);
//! 2. every consumer's owner warned BEFORE the reset (the guide's warning: the old token
//!    stops working at once, so every place using it breaks until updated);
//! 3. an admin resets the token in PostHog (Project settings → Project API key → Reset);
//!    Hogwarden detects the new token through the API (on demand and on the schedule) by
//!    comparing fingerprints with the one recorded at the start;
//! 4. the new token is stored in the vault;
//! 5. a test event sent to PostHog's capture endpoint with the new token is accepted;
//! 6. every consumer's owner is told to update; the rotation is done.
//!
//! Each step is one write guarded by the record's version, with its audit entry. People
//! are told only by the writer that won the step's write, so a retried or concurrent
//! check never warns or notifies twice. A second start while one is open returns it.

use std::sync::Arc;

use secrecy::{ExposeSecret, SecretString};
use serde_json::json;

use super::Hogwarden;
use crate::audit::{AuditDraft, AuditKind};
use crate::consumers::{Capture, KeyRef, TokenRotation, TokenRotationStatus, TokenStep, TokenStepKind};
use crate::error::{Error, Result};
use crate::keys::{ProjectKeys, fingerprint, short_fingerprint};
use crate::ports::{Guarded, Stage, Vault};
use crate::types::{Actor, Principal, ProjectId, Role};

/// The vault name a project's token is stored under.
pub fn project_token_secret(project: ProjectId) -> String {
    format!("hogwarden/project-token/{project}")
}

/// The event sent to prove a new token works.
pub const TEST_EVENT: &str = "hogwarden token check";
const TEST_DISTINCT_ID: &str = "hogwarden-token-check";

/// Runs guided project-token rotations. Cheap to clone.
#[derive(Clone)]
pub struct TokenRotations {
    app: Hogwarden,
    vault: Arc<dyn Vault>,
    keys: Arc<dyn ProjectKeys>,
    capture: Arc<dyn Capture>,
}

impl std::fmt::Debug for TokenRotations {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenRotations").finish_non_exhaustive()
    }
}

fn guide() -> Actor {
    Actor::System("token-rotation".into())
}

fn admin_only(who: &Principal) -> Result<()> {
    if who.has(Role::Admin) { Ok(()) } else { Err(Error::Forbidden("You need the admin role to rotate project tokens.".into())) }
}

impl TokenRotations {
    pub fn new(app: Hogwarden, vault: Arc<dyn Vault>, keys: Arc<dyn ProjectKeys>, capture: Arc<dyn Capture>) -> Self {
        Self { app, vault, keys, capture }
    }

    /// The project's latest guided rotation (admins).
    pub async fn get(&self, who: &Principal, project: ProjectId) -> Result<Option<TokenRotation>> {
        admin_only(who)?;
        self.app.store.keys().get_token_rotation(project).await
    }

    /// Every project's latest guided rotation (admins).
    pub async fn list(&self, who: &Principal) -> Result<Vec<TokenRotation>> {
        admin_only(who)?;
        self.app.store.keys().list_token_rotations().await
    }

    /// Starts a guided rotation of the project's token (admins) and warns its consumers.
    /// Returns the rotation and whether it was opened now (`false`: one was already open).
    pub async fn start(&self, who: &Principal, project: ProjectId, reason: &str) -> Result<(TokenRotation, bool)> {
        admin_only(who)?;
        let reason = reason.trim();
        let reason = if reason.is_empty() { "started by an admin" } else { reason };
        if reason.chars().count() > 500 {
            return Err(Error::Invalid(crate::types::ParseError::Other("reason: at most 500 characters".into())));
        }
        self.open(who.actor(), project, reason).await
    }

    /// Opens (or finds open) the guided rotation of `project` for `actor`, then runs what
    /// can run at once (the warning).
    pub(crate) async fn open(&self, actor: Actor, project: ProjectId, reason: &str) -> Result<(TokenRotation, bool)> {
        let store = self.app.store.keys();
        let previous = store.get_token_rotation(project).await?;
        if let Some(open) = previous.as_ref().filter(|r| r.status == TokenRotationStatus::Open) {
            return Ok((open.clone(), false));
        }
        let token = self
            .keys
            .project_tokens()
            .await?
            .into_iter()
            .find(|t| t.project == project)
            .ok_or_else(|| Error::NotFound(format!("project {project} in PostHog")))?;
        let now = self.app.clock.now();
        let old = fingerprint(token.value.expose_secret());
        let mut record = TokenRotation {
            project,
            project_name: token.project_name.clone(),
            id: uuid::Uuid::new_v4().to_string(),
            status: TokenRotationStatus::Open,
            reason: reason.to_owned(),
            started_by: actor.to_string(),
            started_at: now,
            old_fingerprint: old.clone(),
            new_fingerprint: None,
            steps: TokenStepKind::ALL.into_iter().map(|kind| TokenStep { kind, at: None, note: None }).collect(),
            warned: Vec::new(),
            notified: Vec::new(),
            last_error: None,
            updated_at: now,
            version: previous.as_ref().map_or(1, |p| p.version + 1),
        };
        record.mark(TokenStepKind::Started, now, Some(reason.to_owned()));
        let audit = self.audit(actor, &record, "started", json!({ "reason": reason, "fingerprint": short_fingerprint(&old) }));
        let guarded = Guarded { record: record.clone(), expected_version: previous.as_ref().map(|p| p.version) };
        match store.put_token_rotation(guarded, vec![audit]).await {
            Ok(_) => {}
            Err(Error::Conflict(_)) => {
                // Someone opened it at the same moment: theirs is the open one.
                let found =
                    store.get_token_rotation(project).await?.ok_or_else(|| Error::NotFound(format!("rotation of project {project}")))?;
                return Ok((found, false));
            }
            Err(e) => return Err(e),
        }
        tracing::info!(project = %project, rotation = %record.id, "guided project token rotation opened");
        let record = self.advance(record).await?;
        Ok((record, true))
    }

    /// A leaked value that is a project's current token opens that project's guided
    /// rotation (its consumers' owners are warned). `None` when no project holds it.
    pub async fn open_for_leak(&self, leaked_fingerprint: &str) -> Result<Option<(TokenRotation, bool)>> {
        let tokens = self.keys.project_tokens().await?;
        let Some(token) = tokens.into_iter().find(|t| fingerprint(t.value.expose_secret()) == leaked_fingerprint) else {
            return Ok(None);
        };
        let reason = format!("leaked-key alert for the token {}", short_fingerprint(leaked_fingerprint));
        self.open(Actor::System("leak-alert".into()), token.project, &reason).await.map(Some)
    }

    /// Checks the project's open rotation now (admins): detects a reset and runs the steps
    /// after it. A finished rotation is returned as it is.
    pub async fn check(&self, who: &Principal, project: ProjectId) -> Result<TokenRotation> {
        admin_only(who)?;
        let record = self
            .app
            .store
            .keys()
            .get_token_rotation(project)
            .await?
            .ok_or_else(|| Error::NotFound(format!("a guided token rotation of project {project}")))?;
        self.advance(record).await
    }

    /// Checks every open rotation (the schedule). Returns how many finished now.
    pub async fn check_all(&self) -> Result<usize> {
        let mut finished = 0;
        for record in self.app.store.keys().list_token_rotations().await? {
            if record.status != TokenRotationStatus::Open {
                continue;
            }
            let project = record.project;
            match self.advance(record).await {
                Ok(r) if r.status == TokenRotationStatus::Done => finished += 1,
                Ok(_) => {}
                Err(e) => tracing::warn!(project = %project, error = %e, "guided token rotation check failed; the next check retries"),
            }
        }
        Ok(finished)
    }

    /// Runs every step that can run now, each as its own guarded write.
    async fn advance(&self, mut record: TokenRotation) -> Result<TokenRotation> {
        while record.status == TokenRotationStatus::Open {
            let Some(step) = record.next_step() else {
                break;
            };
            let moved = match step {
                TokenStepKind::Started => return Ok(record),
                TokenStepKind::ConsumersWarned => self.warn(&record).await?,
                TokenStepKind::ResetDetected => self.detect(&record).await?,
                TokenStepKind::Stored => self.store_token(&record).await?,
                TokenStepKind::CaptureVerified => self.verify_capture(&record).await?,
                TokenStepKind::ConsumersNotified => self.notify(&record).await?,
            };
            match moved {
                Some(next) => record = next,
                None => break,
            }
        }
        Ok(record)
    }

    /// Writes `next` over `current`; `None` when another writer moved the record first
    /// (the caller then stops; the record is re-read by whoever looks next).
    async fn write(&self, current: &TokenRotation, mut next: TokenRotation, audit: AuditDraft) -> Result<Option<TokenRotation>> {
        next.version = current.version + 1;
        next.updated_at = self.app.clock.now();
        match self.app.store.keys().put_token_rotation(Guarded::update(next.clone(), current.version), vec![audit]).await {
            Ok(_) => Ok(Some(next)),
            Err(Error::Conflict(_)) => {
                tracing::info!(project = %current.project, "the guided rotation moved under this check; leaving it to the other writer");
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }

    fn audit(&self, actor: Actor, r: &TokenRotation, step: &str, extra: serde_json::Value) -> AuditDraft {
        let mut details = json!({ "rotation": "project_token", "rotation_id": r.id, "project_id": r.project.get(), "step": step });
        if let (Some(map), serde_json::Value::Object(more)) = (details.as_object_mut(), extra) {
            map.extend(more);
        }
        AuditDraft {
            at: self.app.clock.now(),
            actor,
            kind: AuditKind::KeyRotation,
            subject: None,
            request_id: None,
            grant_id: None,
            details,
        }
    }

    fn link(&self, r: &TokenRotation) -> String {
        self.app.page_link(&format!("keys/rotation/{}", r.project))
    }

    async fn warn(&self, r: &TokenRotation) -> Result<Option<TokenRotation>> {
        let key = KeyRef::ProjectToken(r.project);
        let consumers = self.app.consumers_of(&key).await?;
        let owners = self.app.consumer_owners(&key).await?;
        let mut next = r.clone();
        let note = format!("{} consumer(s), {} owner(s) warned", consumers.len(), owners.len());
        next.mark(TokenStepKind::ConsumersWarned, self.app.clock.now(), Some(note));
        next.warned = owners.clone();
        let audit = self.audit(guide(), r, "consumers_warned", json!({ "owners": owners, "consumers": consumers.len() }));
        let Some(next) = self.write(r, next, audit).await? else { return Ok(None) };
        for owner in &owners {
            let places: Vec<String> =
                consumers.iter().filter(|c| c.owner == *owner).map(|c| format!("{} ({})", c.name, c.kind.as_str())).collect();
            let body = format!(
                "The project token of the PostHog project {} is about to be reset ({}). The old token stops working the moment it is reset, \
                 so these places you own will stop sending events until they use the new one: {}. You will be told when the new token is ready.",
                r.project_name,
                r.reason,
                places.join("; ")
            );
            self.app.tell(owner, format!("PostHog project token of {} will be reset", r.project_name), body, Some(self.link(r))).await;
        }
        Ok(Some(next))
    }

    async fn current_token(&self, project: ProjectId) -> Result<SecretString> {
        self.keys
            .project_tokens()
            .await?
            .into_iter()
            .find(|t| t.project == project)
            .map(|t| t.value)
            .ok_or_else(|| Error::NotFound(format!("project {project} in PostHog")))
    }

    async fn detect(&self, r: &TokenRotation) -> Result<Option<TokenRotation>> {
        let token = self.current_token(r.project).await?;
        let now_fp = fingerprint(token.expose_secret());
        if now_fp == r.old_fingerprint {
            tracing::debug!(project = %r.project, "the project token has not been reset yet");
            return Ok(None);
        }
        let mut next = r.clone();
        next.new_fingerprint = Some(now_fp.clone());
        next.mark(TokenStepKind::ResetDetected, self.app.clock.now(), Some(format!("new token {}", short_fingerprint(&now_fp))));
        let audit = self.audit(
            guide(),
            r,
            "reset_detected",
            json!({ "previous_fingerprint": short_fingerprint(&r.old_fingerprint), "fingerprint": short_fingerprint(&now_fp) }),
        );
        self.write(r, next, audit).await
    }

    async fn store_token(&self, r: &TokenRotation) -> Result<Option<TokenRotation>> {
        let token = self.current_token(r.project).await?;
        let fp = fingerprint(token.expose_secret());
        let mut next = r.clone();
        if Some(&fp) != r.new_fingerprint.as_ref() {
            // Reset again since it was detected: the newest token is the one to store.
            next.new_fingerprint = Some(fp.clone());
        }
        let secret = project_token_secret(r.project);
        // One version per rotation and token, so storing again changes nothing.
        let version = format!("{}-{}", r.id, &fp[..16]);
        self.vault.stage_pending(&secret, &version, token).await?;
        self.vault.promote(&secret, &version).await?;
        next.mark(TokenStepKind::Stored, self.app.clock.now(), Some(format!("in the vault as {secret}")));
        let audit = self.audit(guide(), r, "stored", json!({ "secret": secret, "fingerprint": short_fingerprint(&fp) }));
        self.write(r, next, audit).await
    }

    async fn verify_capture(&self, r: &TokenRotation) -> Result<Option<TokenRotation>> {
        let secret = project_token_secret(r.project);
        let stored =
            self.vault.get(&secret, Stage::Current).await?.ok_or_else(|| Error::Vault(format!("{secret} holds no current token")))?;
        let fp = fingerprint(stored.expose_secret());
        let accepted = self.capture.send_test_event(&stored, TEST_EVENT, TEST_DISTINCT_ID).await;
        let mut next = r.clone();
        let (step, extra) = match accepted {
            Ok(true) => {
                next.last_error = None;
                next.mark(TokenStepKind::CaptureVerified, self.app.clock.now(), Some(format!("event '{TEST_EVENT}' accepted")));
                ("capture_verified", json!({ "fingerprint": short_fingerprint(&fp), "accepted": true }))
            }
            Ok(false) => {
                let problem = "PostHog's capture endpoint refused the stored token; it is checked again on the next check".to_owned();
                if r.last_error.as_deref() == Some(problem.as_str()) {
                    return Ok(None);
                }
                next.last_error = Some(problem);
                ("capture_refused", json!({ "fingerprint": short_fingerprint(&fp), "accepted": false }))
            }
            Err(e) => {
                tracing::warn!(project = %r.project, error = %e, "the capture test could not be sent; the next check retries");
                return Ok(None);
            }
        };
        let audit = self.audit(guide(), r, step, extra);
        let written = self.write(r, next, audit).await?;
        Ok(written.filter(|n| n.done(TokenStepKind::CaptureVerified)))
    }

    async fn notify(&self, r: &TokenRotation) -> Result<Option<TokenRotation>> {
        let key = KeyRef::ProjectToken(r.project);
        let owners = self.app.consumer_owners(&key).await?;
        let now = self.app.clock.now();
        let mut next = r.clone();
        next.mark(TokenStepKind::ConsumersNotified, now, Some(format!("{} owner(s) told", owners.len())));
        next.notified = owners.clone();
        next.status = TokenRotationStatus::Done;
        let short = r.new_fingerprint.as_deref().map(short_fingerprint).unwrap_or_default();
        let audit = self.audit(guide(), r, "consumers_notified", json!({ "owners": owners, "fingerprint": short, "status": "done" }));
        let Some(next) = self.write(r, next, audit).await? else { return Ok(None) };
        for owner in &owners {
            let body = format!(
                "The project token of the PostHog project {} was reset and the new token ({short}) works: PostHog accepted a test event with it. \
                 Update the places you own to the new token; it is shown in PostHog under Project settings and stored in Hogwarden's vault as {}.",
                r.project_name,
                project_token_secret(r.project)
            );
            self.app.tell(owner, format!("Update the PostHog project token of {}", r.project_name), body, Some(self.link(r))).await;
        }
        tracing::info!(project = %r.project, rotation = %r.id, "guided project token rotation done");
        Ok(Some(next))
    }
}

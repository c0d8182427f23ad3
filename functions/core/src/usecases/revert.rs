//! Reverting a grant (on time by the sweep, or early by its holder or an admin).
//! Never clobbers: if PostHog no longer shows what Hogwarden granted, someone changed
//! it by hand, and the revert records a conflict for a person instead of writing.
//! Never removes access another live grant still covers.

use crate::audit::AuditKind;
use crate::authorize::{Allowed, Authorization};
use crate::error::{Error, Result};
use crate::model::{AccessChange, AccessLevel, AccessRequest, Grant, GrantStatus, RequestStatus};
use crate::ports::{Commit, Guarded, Member};
use crate::types::{Actor, GrantId, Principal, Role};

use super::{Hogwarden, PostHogWrite};

/// How long one revert may hold a grant before another sweep may try again.
const REVERT_LEASE_SECONDS: i64 = 120;

/// Why a grant ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RevertReason {
    Expired,
    RevokedBy(crate::types::Email),
}

/// What a revert attempt did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RevertOutcome {
    /// Access restored (or already right); the grant is closed.
    Reverted(Grant),
    /// PostHog shows something Hogwarden did not grant; nothing was written.
    Conflict(Grant),
    /// The grant had already ended (a retried or concurrent revert).
    AlreadyDone(Grant),
    /// PostHog was unavailable; the grant stays due and the next sweep retries.
    Deferred(Grant),
}

impl Hogwarden {
    /// Ends a grant early. Its holder or an admin may do this.
    #[tracing::instrument(skip_all, fields(grant_id = %id, by = %who.email))]
    pub async fn revoke_grant(&self, who: &Principal, id: GrantId) -> Result<Grant> {
        let grant = self.store.get_grant(id).await?.ok_or_else(|| Error::NotFound(format!("grant {id}")))?;
        if grant.subject != who.email && !who.has(Role::Admin) {
            // Not theirs: say "not found" rather than reveal it exists.
            return Err(Error::NotFound(format!("grant {id}")));
        }
        if grant.status != GrantStatus::Active {
            return Err(Error::Conflict(format!("The grant has already ended ({}).", grant.status.as_str())));
        }
        if grant.expires_at.is_none() {
            return Err(Error::Conflict("This change is permanent; to undo it, request the reverse change.".into()));
        }
        match self.revert(grant, who.actor(), RevertReason::RevokedBy(who.email.clone())).await? {
            RevertOutcome::Reverted(g) | RevertOutcome::Conflict(g) => Ok(g),
            RevertOutcome::AlreadyDone(_) => Err(Error::Conflict("The grant ended at the same moment.".into())),
            RevertOutcome::Deferred(g) => Err(Error::Upstream(crate::ports::PostHogError::Unavailable(
                g.last_error.unwrap_or_else(|| "PostHog did not answer; the revoke will be retried".into()),
            ))),
        }
    }

    /// Reverts one grant. Idempotent: a grant that is no longer active is left alone.
    pub(crate) async fn revert(&self, grant: Grant, actor: Actor, reason: RevertReason) -> Result<RevertOutcome> {
        if grant.status != GrantStatus::Active {
            return Ok(RevertOutcome::AlreadyDone(grant));
        }
        // Claim the grant first (a guarded write of a short lease), so that of two
        // sweeps or a sweep and a revoke racing, only one goes on to write to PostHog.
        let now = self.clock.now();
        if grant.revert_claimed_until.is_some_and(|until| until > now) {
            return Ok(RevertOutcome::AlreadyDone(grant));
        }
        let already = grant.clone();
        let mut grant = grant;
        let expected = grant.version;
        grant.version = expected + 1;
        grant.revert_claimed_until = Some(now + chrono::Duration::seconds(REVERT_LEASE_SECONDS));
        match self.store.commit(Commit { grants: vec![Guarded::update(grant.clone(), expected)], ..Commit::default() }).await {
            Ok(_) => {}
            Err(Error::Conflict(_)) => return Ok(RevertOutcome::AlreadyDone(already)),
            Err(e) => return Err(e),
        }
        match self.try_revert(&grant).await {
            Ok(Attempt::Restored { restored_to, wrote, covered_by, authorization }) => {
                let details = serde_json::json!({
                    "authorization": authorization.as_ref().map_or(serde_json::Value::Null, Allowed::to_json),
                    "reason": reason_str(&reason),
                    "change": grant.change,
                    "restored_to": restored_to,
                    "read_back": restored_to,
                    "posthog_write": wrote,
                    "still_covered_by": covered_by,
                });
                self.close(grant, GrantStatus::Reverted, actor, AuditKind::Reverted, details, None).await
            }
            Ok(Attempt::Changed { found }) => {
                let details = serde_json::json!({
                    "reason": reason_str(&reason),
                    "change": grant.change,
                    "expected": grant.confirmed,
                    "found": found,
                    "note": "changed in PostHog after the grant; not overwritten",
                });
                tracing::warn!(grant_id = %grant.id, "revert conflict: access changed outside Hogwarden");
                self.close(grant, GrantStatus::Conflict, actor, AuditKind::RevertConflict, details, None).await
            }
            Err(Error::Upstream(e)) if e.is_transient() => {
                let mut g = grant.clone();
                let expected = g.version;
                g.revert_failures += 1;
                g.last_error = Some(e.to_string());
                g.revert_claimed_until = None;
                g.version = expected + 1;
                let details = serde_json::json!({ "error": e.to_string(), "attempt": g.revert_failures });
                let audit = self.draft(actor, AuditKind::RevertFailed, &g.subject, g.request_id, Some(g.id), details);
                match self
                    .store
                    .commit(Commit { grants: vec![Guarded::update(g.clone(), expected)], audit: vec![audit], ..Commit::default() })
                    .await
                {
                    Ok(_) => Ok(RevertOutcome::Deferred(g)),
                    Err(Error::Conflict(_)) => Ok(RevertOutcome::AlreadyDone(grant)),
                    Err(e) => Err(e),
                }
            }
            // The write path refused the undo (it would not restore what the grant
            // replaced): nothing was sent, and a person must look.
            Err(Error::Forbidden(why)) => {
                let details = serde_json::json!({ "reason": reason_str(&reason), "change": grant.change, "error": why });
                self.close(grant, GrantStatus::Conflict, actor, AuditKind::RevertConflict, details, Some(why)).await
            }
            Err(Error::Upstream(e)) => {
                // PostHog refuses the revert for good (e.g. the person became an owner):
                // a person must look, exactly as for a hand-made change.
                let details = serde_json::json!({ "reason": reason_str(&reason), "change": grant.change, "error": e.to_string() });
                self.close(grant, GrantStatus::Conflict, actor, AuditKind::RevertConflict, details, Some(e.to_string())).await
            }
            Err(e) => Err(e),
        }
    }

    async fn try_revert(&self, grant: &Grant) -> Result<Attempt> {
        let Some(member) = self.posthog.find_member(&grant.subject).await? else {
            // They left the organization: nothing is left to revert.
            return Ok(Attempt::Restored { restored_to: None, wrote: false, covered_by: Vec::new(), authorization: None });
        };
        let current = self.current(&member, &grant.change).await?;
        if current != grant.confirmed {
            return Ok(Attempt::Changed { found: current });
        }
        // Another live grant for the same access decides what remains.
        let others: Vec<Grant> = self
            .store
            .list_active_grants_for_target(&grant.subject, grant.target())
            .await?
            .into_iter()
            .filter(|g| g.id != grant.id)
            .collect();
        let strongest = others.iter().max_by_key(|g| g.change.desired().rank());
        let restore_to = match strongest {
            Some(o) => o.change.desired(),
            None => grant.baseline,
        };
        let covered_by = others.iter().map(|g| g.id).collect();
        if restore_to == current {
            return Ok(Attempt::Restored { restored_to: Some(current), wrote: false, covered_by, authorization: None });
        }
        let (read_back, allowed) = self.restore(&member, grant, restore_to).await?;
        Ok(Attempt::Restored { restored_to: Some(read_back), wrote: true, covered_by, authorization: Some(allowed) })
    }

    /// Writes the access to restore, through the one write path as the undo of `grant`.
    async fn restore(&self, member: &Member, grant: &Grant, to: AccessLevel) -> Result<(AccessLevel, Allowed)> {
        let write = match (&grant.change, to) {
            (AccessChange::OrgRole { .. }, AccessLevel::Org(level)) => PostHogWrite::OrgLevel { member, level },
            (AccessChange::ProjectRole { project, .. } | AccessChange::RemoveFromProject { project }, AccessLevel::Project(role)) => {
                PostHogWrite::ProjectRole { member, project: *project, role }
            }
            _ => return Err(Error::Storage("a grant's baseline does not match its target".into())),
        };
        let (written, allowed) = self.writes().write(write, &Authorization::Undo(grant.id)).await?;
        Ok((written.access_level()?, allowed))
    }

    /// Closes a grant, and its request once no grant of it is active, in one commit.
    async fn close(
        &self,
        grant: Grant,
        status: GrantStatus,
        actor: Actor,
        kind: AuditKind,
        details: serde_json::Value,
        error: Option<String>,
    ) -> Result<RevertOutcome> {
        let now = self.clock.now();
        let mut g = grant.clone();
        let expected = g.version;
        g.status = status;
        g.ended_at = Some(now);
        g.revert_claimed_until = None;
        g.last_error = error;
        g.version = expected + 1;
        let mut commit = Commit { grants: vec![Guarded::update(g.clone(), expected)], ..Commit::default() };
        commit.audit.push(self.draft(actor, kind, &g.subject, g.request_id, Some(g.id), details));
        if let Some(request) = self.request_to_close(&g).await? {
            commit.requests.push(request);
        }
        match self.store.commit(commit).await {
            Ok(_) => {}
            Err(Error::Conflict(_)) => return Ok(RevertOutcome::AlreadyDone(grant)),
            Err(e) => return Err(e),
        }
        let (subject, body) = match status {
            GrantStatus::Conflict => (
                "Your temporary PostHog access needs a look".to_string(),
                format!(
                    "Hogwarden did not revert {} because it was changed in PostHog meanwhile; an admin will review it.",
                    g.change.describe()
                ),
            ),
            _ => ("Your temporary PostHog access ended".to_string(), format!("{} has ended.", g.change.describe())),
        };
        self.tell(&g.subject, subject, body, Some(self.request_link(g.request_id))).await;
        Ok(match status {
            GrantStatus::Conflict => RevertOutcome::Conflict(g),
            _ => RevertOutcome::Reverted(g),
        })
    }

    /// The request, marked reverted, if `closing` is its last active grant.
    async fn request_to_close(&self, closing: &Grant) -> Result<Option<Guarded<AccessRequest>>> {
        let siblings = self.store.list_grants_for_request(closing.request_id).await?;
        if siblings.iter().any(|s| s.id != closing.id && s.status == GrantStatus::Active) {
            return Ok(None);
        }
        let Some(mut request) = self.store.get_request(closing.request_id).await? else { return Ok(None) };
        if request.status != RequestStatus::Applied {
            return Ok(None);
        }
        let expected = request.version;
        request.status = RequestStatus::Reverted;
        request.updated_at = self.clock.now();
        request.version = expected + 1;
        Ok(Some(Guarded::update(request, expected)))
    }
}

enum Attempt {
    Restored { restored_to: Option<AccessLevel>, wrote: bool, covered_by: Vec<GrantId>, authorization: Option<Allowed> },
    Changed { found: AccessLevel },
}

fn reason_str(reason: &RevertReason) -> String {
    match reason {
        RevertReason::Expired => "expired".into(),
        RevertReason::RevokedBy(e) => format!("revoked early by {e}"),
    }
}

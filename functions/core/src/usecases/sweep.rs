//! The expiry sweep: a callable step with the clock injected, run by the local timer,
//! the EventBridge Scheduler Lambda and the tests alike. It reverts due grants,
//! expires unanswered requests and retries approved requests that PostHog could not
//! take yet. Anything that fails stays due and is retried on the next run.

use serde::Serialize;

use crate::audit::AuditKind;
use crate::error::{Error, Result};
use crate::model::RequestStatus;
use crate::ports::{Commit, Guarded};

use super::{Hogwarden, RevertOutcome, RevertReason, sweeper};

/// What one sweep did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SweepReport {
    pub reverted: usize,
    pub conflicts: usize,
    /// Reverts PostHog could not take now; they stay due.
    pub deferred: usize,
    pub expired_requests: usize,
    pub applied_retries: usize,
    /// keys-alerts: PostHog writes were paused, so reverts, retries and offboardings
    /// waited (they stay due and run on the first sweep after the pause lifts).
    pub writes_paused: bool,
    /// Due reverts the pause held back: temporary access outliving its end. A sweep
    /// with any is not clean (logged at error level, security contacts told once per pause).
    pub blocked_by_pause: usize,
    /// Owners reminded about old or unused personal API keys.
    pub personal_key_reminders: usize,
    /// Problems worth a log line (never secrets).
    pub errors: Vec<String>,
}

impl SweepReport {
    pub fn is_clean(&self) -> bool {
        self.deferred == 0 && self.blocked_by_pause == 0 && self.errors.is_empty()
    }
}

/// How many items one sweep handles of each kind; the rest wait for the next run.
const BATCH: usize = 200;

/// An approved request is retried by the sweep only after this long, so the sweep
/// does not race the approver's own apply.
const APPLY_GRACE_SECONDS: i64 = 30;

impl Hogwarden {
    #[tracing::instrument(skip_all)]
    pub async fn sweep(&self) -> Result<SweepReport> {
        let now = self.clock.now();
        // keys-alerts: while writes are paused nothing due is touched (no failed attempt
        // is counted against it); it all runs on the first sweep after the pause lifts.
        let pause = self.writes_paused().await?;
        let mut report = SweepReport { writes_paused: pause.is_some(), ..SweepReport::default() };
        match &pause {
            None => self.sweep_writes(now, &mut report).await?,
            Some(pause) => report.blocked_by_pause = self.reverts_held_back(now, pause).await?,
        }
        match self.remind_personal_keys().await {
            Ok(r) => report.personal_key_reminders = r.reminded,
            Err(e) => report.errors.push(format!("personal key reminders: {e}")),
        }
        if !report.is_clean() {
            tracing::warn!(?report, "sweep finished with problems");
        }
        Ok(report)
    }

    async fn sweep_writes(&self, now: chrono::DateTime<chrono::Utc>, report: &mut SweepReport) -> Result<()> {
        for grant in self.store.list_grants_due(now, BATCH).await? {
            let id = grant.id;
            match self.revert(grant, sweeper(), RevertReason::Expired).await {
                Ok(RevertOutcome::Reverted(_)) => report.reverted += 1,
                Ok(RevertOutcome::Conflict(_)) => report.conflicts += 1,
                Ok(RevertOutcome::Deferred(g)) => {
                    report.deferred += 1;
                    report.errors.push(format!("grant {id}: {}", g.last_error.unwrap_or_default()));
                }
                Ok(RevertOutcome::AlreadyDone(_)) => {}
                Err(e) => report.errors.push(format!("grant {id}: {e}")),
            }
        }

        for request in self.store.list_requests_by_status(RequestStatus::Pending, BATCH).await? {
            if request.expires_at > now {
                continue;
            }
            let mut r = request.clone();
            let expected = r.version;
            r.status = RequestStatus::Expired;
            r.updated_at = now;
            r.version = expected + 1;
            let audit =
                self.draft(sweeper(), AuditKind::Expired, &r.subject, r.id, None, serde_json::json!({ "unanswered_since": r.created_at }));
            match self
                .store
                .commit(Commit { requests: vec![Guarded::update(r.clone(), expected)], audit: vec![audit], ..Commit::default() })
                .await
            {
                Ok(_) => {
                    report.expired_requests += 1;
                    self.tell(
                        &r.requester,
                        "Your access request expired".into(),
                        "Nobody answered it in time; ask again if you still need the access.".into(),
                        Some(self.request_link(r.id)),
                    )
                    .await;
                }
                Err(Error::Conflict(_)) => {}
                Err(e) => report.errors.push(format!("request {}: {e}", r.id)),
            }
        }

        for request in self.store.list_requests_by_status(RequestStatus::Approved, BATCH).await? {
            if (now - request.updated_at).num_seconds() < APPLY_GRACE_SECONDS {
                continue;
            }
            match self.apply(request.id).await {
                Ok(r) if r.status == RequestStatus::Applied => report.applied_retries += 1,
                Ok(_) => {}
                Err(e) => report.errors.push(format!("request {}: {e}", request.id)),
            }
        }

        // Offboardings that stopped half-way (PostHog unavailable, a crash) carry on.
        if let Err(e) = self.offboard_resume(chrono::Duration::seconds(APPLY_GRACE_SECONDS)).await {
            report.errors.push(format!("offboarding: {e}"));
        }
        Ok(())
    }
}

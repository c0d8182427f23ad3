//! Reminders, a scheduled step of its own (so the expiry sweep's reads stay bounded
//! by what is due): the holder and the sponsor of temporary access are told N days
//! before it ends (policy, default 7 and 1), and approvers are told before an
//! unanswered request expires. Each reminder is marked on its record with a
//! conditional write before it is sent, so a retried or concurrent run sends it once.

use serde::Serialize;

use crate::audit::AuditKind;
use crate::error::{Error, Result};
use crate::model::{Grant, RequestStatus};
use crate::ports::{Commit, Guarded};

use super::{Hogwarden, sweeper};

/// What one reminder run did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct RemindReport {
    /// Grants whose holder (and sponsor) were reminded.
    pub grants: usize,
    /// Pending requests whose approvers were reminded.
    pub requests: usize,
    pub errors: Vec<String>,
}

/// At most this many grants ending within the longest reminder window are looked at.
const GRANT_BATCH: usize = 1000;
const REQUEST_BATCH: usize = 500;

impl Hogwarden {
    #[tracing::instrument(skip_all)]
    pub async fn remind(&self) -> Result<RemindReport> {
        let mut report = RemindReport::default();
        if let Some(longest) = self.policy.reminder_days_before.iter().max() {
            let now = self.clock.now();
            let horizon = now + chrono::Duration::days(i64::from(*longest));
            for grant in self.store.list_grants_due(horizon, GRANT_BATCH).await? {
                let id = grant.id;
                match self.remind_grant(grant).await {
                    Ok(true) => report.grants += 1,
                    Ok(false) | Err(Error::Conflict(_)) => {}
                    Err(e) => report.errors.push(format!("grant {id}: {e}")),
                }
            }
        }
        for request in self.store.list_requests_by_status(RequestStatus::Pending, REQUEST_BATCH).await? {
            let id = request.id;
            match self.remind_approvers(request).await {
                Ok(true) => report.requests += 1,
                Ok(false) | Err(Error::Conflict(_)) => {}
                Err(e) => report.errors.push(format!("request {id}: {e}")),
            }
        }
        Ok(report)
    }

    async fn remind_grant(&self, grant: Grant) -> Result<bool> {
        let now = self.clock.now();
        let Some(end) = grant.expires_at.filter(|end| *end > now) else {
            return Ok(false); // due now: the sweep's work
        };
        let left = end - now;
        let due: Vec<u32> = self
            .policy
            .reminder_days_before
            .iter()
            .copied()
            .filter(|d| left <= chrono::Duration::days(i64::from(*d)) && !grant.reminded_days.contains(d))
            .collect();
        if due.is_empty() {
            return Ok(false);
        }
        let sponsor = self.store.get_request(grant.request_id).await?.map(|r| r.requester).filter(|r| *r != grant.subject);
        let mut g = grant.clone();
        let expected = g.version;
        g.reminded_days.extend(&due);
        g.version = expected + 1;
        let mut to = vec![grant.subject.clone()];
        to.extend(sponsor.clone());
        let details = serde_json::json!({ "days_before": due, "ends_at": end, "to": to });
        let audit = self.draft(sweeper(), AuditKind::Reminded, &grant.subject, grant.request_id, Some(grant.id), details);
        self.store.commit(Commit { grants: vec![Guarded::update(g, expected)], audit: vec![audit], ..Commit::default() }).await?;

        let when = end.format("%Y-%m-%d %H:%M UTC");
        let what = grant.change.describe();
        let link = Some(self.page_link("my-access"));
        let days = left.num_days().max(0);
        let in_words = if days == 0 { format!("in {} hours", left.num_hours().max(1)) } else { format!("in {days} days") };
        self.tell(
            &grant.subject,
            format!("Your PostHog access ends {in_words}"),
            format!("Your {what} ends at {when}. If you still need it, ask for an extension before then."),
            link.clone(),
        )
        .await;
        if let Some(sponsor) = sponsor {
            self.tell(
                &sponsor,
                format!("Access you sponsored ends {in_words}"),
                format!("{}'s {what} ends at {when}. Ask for an extension if the work continues.", grant.subject),
                link,
            )
            .await;
        }
        Ok(true)
    }

    async fn remind_approvers(&self, request: crate::model::AccessRequest) -> Result<bool> {
        let now = self.clock.now();
        let window = chrono::Duration::minutes(self.policy.approver_reminder_minutes);
        if request.approvers_reminded || request.expires_at <= now || request.expires_at - now > window {
            return Ok(false);
        }
        let approvers = self.approvers_for(&request).await;
        let mut r = request.clone();
        let expected = r.version;
        r.approvers_reminded = true;
        r.version = expected + 1;
        let details = serde_json::json!({ "expires_at": r.expires_at, "to": approvers });
        let audit = self.draft(sweeper(), AuditKind::Reminded, &r.subject, r.id, r.extends, details);
        self.store.commit(Commit { requests: vec![Guarded::update(r, expected)], audit: vec![audit], ..Commit::default() }).await?;
        self.tell_these_approvers(&request, "Reminder: an access request expires soon without an answer", &approvers).await;
        Ok(true)
    }
}

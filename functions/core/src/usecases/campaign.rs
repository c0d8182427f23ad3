//! Access review campaigns: opening one (on the quarterly schedule or by an admin)
//! with a snapshot of who has what, reviewers deciding items, reassigning, reminding,
//! closing, applying the revokes and downgrades through the grant machinery, and the
//! evidence (CSV and the guide's Markdown record).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{DateTime, Utc};
use serde_json::json;

use crate::audit::{AuditDraft, AuditKind, ChainVerification};
use crate::error::{Error, Result};
use crate::model::{AccessLevel, AccessRequest, AccessTarget, GrantStatus, RequestStatus};
use crate::ports::{Commit, Guarded};
use crate::reviews::{
    self, AccessSummary, Campaign, CampaignId, CampaignStatus, ClosePolicy, ItemDecision, ProjectRef, Remediation, RemediationStatus,
    ReviewCommit, ReviewItem, Signals, Verdict,
};
use crate::types::{Actor, Email, Justification, OrgLevel, Principal, ProjectRole, RequestId, Role};

use super::Hogwarden;
use super::overview::AccessOverview;

/// Items written per transaction (DynamoDB allows 100 writes, audit entries included).
const ITEMS_PER_COMMIT: usize = 80;

/// What a reminder run did.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct ReviewRemindReport {
    pub campaigns: usize,
    pub reviewers_told: usize,
}

/// A campaign's evidence.
#[derive(Debug, Clone)]
pub struct Evidence {
    pub csv: String,
    pub markdown: String,
    pub chain: ChainVerification,
}

fn review_actor() -> Actor {
    Actor::System("review".into())
}

impl Hogwarden {
    fn require_admin(who: &Principal, what: &str) -> Result<()> {
        if who.has(Role::Admin) { Ok(()) } else { Err(Error::Forbidden(format!("You need the admin role to {what}."))) }
    }

    /// Opens a campaign by an admin: the given id, or the current quarter's. Opening a
    /// campaign that exists returns it unchanged (`false`).
    pub async fn open_campaign(
        &self,
        who: &Principal,
        id: Option<CampaignId>,
        close_policy: Option<ClosePolicy>,
    ) -> Result<(Campaign, bool)> {
        Self::require_admin(who, "open an access review")?;
        let id = id.unwrap_or_else(|| CampaignId::for_quarter(self.clock.now()));
        self.open_as(who.actor(), id, close_policy).await
    }

    /// The quarterly schedule: opens the quarter's campaign once, however often the
    /// schedule (or a retry) fires.
    pub async fn open_scheduled_campaign(&self, at: DateTime<Utc>) -> Result<(Campaign, bool)> {
        self.open_as(Actor::System("quarterly-review".into()), CampaignId::for_quarter(at), None).await
    }

    async fn open_as(&self, actor: Actor, id: CampaignId, close_policy: Option<ClosePolicy>) -> Result<(Campaign, bool)> {
        let reviews = self.store.reviews();
        if let Some(existing) = reviews.get_campaign(&id).await?
            && existing.status != CampaignStatus::Opening
        {
            return Ok((existing, false));
        }
        let overview = self.read_access().await?;
        let now = self.clock.now();
        let policy = &self.policy.reviews;
        let (summary, items) = self.snapshot_items(&id, &overview, now).await?;
        let campaign = Campaign {
            id: id.clone(),
            title: reviews::campaign_title(now),
            status: CampaignStatus::Opening,
            opened_by: actor.clone(),
            opened_at: now,
            due_at: now + chrono::Duration::days(policy.due_days),
            close_policy: close_policy.unwrap_or(policy.close_policy),
            summary: summary.clone(),
            item_count: items.len(),
            closed_at: None,
            closed_by: None,
            last_reminded_at: None,
            reminders_sent: 0,
            version: 1,
        };
        let snapshot = AuditDraft {
            at: now,
            actor,
            kind: AuditKind::AccessSnapshot,
            subject: None,
            request_id: None,
            grant_id: None,
            details: json!({
                "campaign": id,
                "read_at": overview.generated_at,
                "organization": summary.organization,
                "members": summary.total_members,
                "owners": summary.owners.len(),
                "admins": summary.admins.len(),
                "org_members": summary.members.len() + summary.viewers.len(),
                "viewers": summary.viewers.len(),
                "projects": summary.projects.len(),
                "items": items.len(),
            }),
        };
        let created = match reviews
            .commit_review(ReviewCommit {
                campaigns: vec![Guarded::create(campaign.clone())],
                audit: vec![snapshot],
                ..ReviewCommit::default()
            })
            .await
        {
            Ok(_) => true,
            // Opened at the same moment (a retried schedule): carry on with theirs.
            Err(Error::Conflict(_)) => false,
            Err(e) => return Err(e),
        };
        let campaign = reviews.get_campaign(&id).await?.ok_or_else(|| Error::NotFound(format!("campaign {id}")))?;
        if campaign.status != CampaignStatus::Opening {
            return Ok((campaign, false));
        }
        reviews.put_new_items(&items).await?;
        let mut open = campaign.clone();
        open.status = CampaignStatus::Open;
        open.version = campaign.version + 1;
        match reviews
            .commit_review(ReviewCommit { campaigns: vec![Guarded::update(open.clone(), campaign.version)], ..ReviewCommit::default() })
            .await
        {
            Ok(_) => {}
            Err(Error::Conflict(_)) => {
                let theirs = reviews.get_campaign(&id).await?.ok_or_else(|| Error::NotFound(format!("campaign {id}")))?;
                return Ok((theirs, false));
            }
            Err(e) => return Err(e),
        }
        tracing::info!(campaign = %id, items = open.item_count, "access review opened");
        // The snapshot already says who is an active member: no PostHog read per reviewer.
        let active: BTreeSet<&Email> = overview.members.iter().map(|m| &m.member.email).collect();
        self.tell_reviewers(&open, &items, "An access review waits for you", Some(&active)).await;
        Ok((open, created))
    }

    /// The summary and the items of a snapshot.
    async fn snapshot_items(
        &self,
        id: &CampaignId,
        overview: &AccessOverview,
        now: DateTime<Utc>,
    ) -> Result<(AccessSummary, Vec<ReviewItem>)> {
        let policy = &self.policy.reviews;
        let members: Vec<_> = overview.members.iter().filter(|m| !policy.excluded.contains(&m.member.email)).collect();
        let names: HashMap<_, _> = overview.projects.iter().map(|p| (p.id, p.name.clone())).collect();
        let mut admins_of: HashMap<crate::types::ProjectId, Vec<Email>> = HashMap::new();
        for m in &members {
            for p in &m.projects {
                if p.role == ProjectRole::Admin {
                    admins_of.entry(p.project).or_default().push(m.member.email.clone());
                }
            }
        }
        let ledger: HashMap<String, Option<AccessLevel>> = if self.store.reviews().ledger_head().await?.is_some() {
            self.store.reviews().list_ledger().await?.into_iter().filter(|e| e.seq > 0).map(|e| (e.key(), e.level)).collect()
        } else {
            HashMap::new()
        };
        let grants = self.store.list_active_grants(5000).await?;
        // What the identity provider said at each person's last sign-in (or sync).
        let identities: HashMap<Email, crate::identity::Identity> =
            self.store.reviews().list_identities().await?.into_iter().map(|i| (i.email.clone(), i)).collect();
        let mut summary = AccessSummary {
            organization: policy.organization_name.clone(),
            total_members: members.len(),
            projects: overview.projects.iter().map(|p| ProjectRef { id: p.id, name: p.name.clone() }).collect(),
            ..AccessSummary::default()
        };
        let mut items = Vec::new();
        for (index, m) in members.iter().enumerate() {
            let email = &m.member.email;
            match m.member.level {
                OrgLevel::Owner => summary.owners.push(email.clone()),
                OrgLevel::Admin => summary.admins.push(email.clone()),
                OrgLevel::Member => {
                    let viewer = !m.projects.is_empty() && m.projects.iter().all(|p| p.role == ProjectRole::Viewer);
                    if viewer { summary.viewers.push(email.clone()) } else { summary.members.push(email.clone()) }
                }
            }
            let mut targets = vec![(AccessTarget::Org, AccessLevel::Org(m.member.level))];
            targets.extend(m.projects.iter().map(|p| (AccessTarget::Project(p.project), AccessLevel::Project(Some(p.role)))));
            for (n, (target, access)) in targets.into_iter().enumerate() {
                let key = reviews::item_id(email, target);
                let through = ledger.get(&key).is_some_and(|l| *l == Some(access))
                    || grants
                        .iter()
                        .any(|g| g.status == GrantStatus::Active && &g.subject == email && g.target() == target && g.confirmed == access);
                let signals = Signals {
                    last_login: m.member.last_login,
                    is_2fa_enabled: m.member.is_2fa_enabled,
                    joined_at: m.member.joined_at,
                    through_hogwarden: through,
                };
                let admins: &[Email] = match target {
                    AccessTarget::Project(p) => admins_of.get(&p).map_or(&[], Vec::as_slice),
                    AccessTarget::Org => &[],
                };
                let identity = identities.get(email);
                let claimed_manager = identity.and_then(|i| i.manager.as_ref());
                let chosen = reviews::choose_reviewer(policy, email, target, admins, claimed_manager, index + n);
                items.push(ReviewItem {
                    campaign: id.clone(),
                    id: key,
                    person: email.clone(),
                    name: m.member.name.clone(),
                    target,
                    project_name: match target {
                        AccessTarget::Project(p) => names.get(&p).cloned(),
                        AccessTarget::Org => None,
                    },
                    access,
                    suggestions: reviews::suggestions(policy, email, access, &signals, identity, now),
                    signals,
                    reviewer: chosen.as_ref().map(|(e, _)| e.clone()),
                    assigned_by: chosen.map(|(_, r)| r),
                    decision: None,
                    skipped: false,
                    remediation: None,
                    version: 1,
                });
            }
        }
        for list in [&mut summary.owners, &mut summary.admins, &mut summary.members, &mut summary.viewers] {
            list.sort();
        }
        Ok((summary, items))
    }

    /// Tells each reviewer with open items how many wait and until when. With `active`
    /// (the members a snapshot just read), only those are told, without asking PostHog
    /// again; otherwise each recipient is checked as every notification is.
    async fn tell_reviewers(&self, campaign: &Campaign, items: &[ReviewItem], subject: &str, active: Option<&BTreeSet<&Email>>) -> usize {
        let mut counts: BTreeMap<&Email, usize> = BTreeMap::new();
        for item in items.iter().filter(|i| i.is_open()) {
            if let Some(r) = &item.reviewer {
                *counts.entry(r).or_default() += 1;
            }
        }
        let mut told = 0;
        for (reviewer, n) in counts {
            let body =
                format!("{n} item(s) of {} wait for your review, due {}.", campaign.title, campaign.due_at.format("%Y-%m-%d %H:%M UTC"));
            let link = Some(self.page_link("reviews/queue"));
            let delivered = match active {
                Some(active) if !active.contains(reviewer) => false,
                Some(_) => {
                    let n = crate::ports::Notification { to: reviewer.clone(), subject: subject.into(), body, link };
                    self.notifier.notify(n).await.inspect_err(|e| tracing::warn!(error = %e, "notification failed")).is_ok()
                }
                None => self.tell(reviewer, subject.into(), body, link).await,
            };
            if delivered {
                told += 1;
            }
        }
        told
    }

    pub async fn list_campaigns(&self, who: &Principal) -> Result<Vec<Campaign>> {
        Self::require_admin(who, "see access reviews")?;
        self.store.reviews().list_campaigns(100).await
    }

    /// A campaign and all its items (admins).
    pub async fn campaign(&self, who: &Principal, id: &CampaignId) -> Result<(Campaign, Vec<ReviewItem>)> {
        Self::require_admin(who, "see a whole access review")?;
        let reviews = self.store.reviews();
        let campaign = reviews.get_campaign(id).await?.ok_or_else(|| Error::NotFound(format!("campaign {id}")))?;
        let items = reviews.list_items(id).await?;
        Ok((campaign, items))
    }

    /// The caller's undecided items in open campaigns.
    pub async fn review_queue(&self, who: &Principal) -> Result<Vec<(Campaign, Vec<ReviewItem>)>> {
        let reviews = self.store.reviews();
        let mut out = Vec::new();
        for campaign in reviews.list_campaigns(100).await?.into_iter().filter(|c| c.status == CampaignStatus::Open) {
            let mine: Vec<ReviewItem> = reviews
                .list_items(&campaign.id)
                .await?
                .into_iter()
                .filter(|i| i.is_open() && i.reviewer.as_ref() == Some(&who.email))
                .collect();
            if !mine.is_empty() {
                out.push((campaign, mine));
            }
        }
        Ok(out)
    }

    async fn open_item(&self, campaign: &CampaignId, item: &str) -> Result<(Campaign, ReviewItem)> {
        let reviews = self.store.reviews();
        let c = reviews.get_campaign(campaign).await?.ok_or_else(|| Error::NotFound(format!("campaign {campaign}")))?;
        let i = reviews.get_item(campaign, item).await?.ok_or_else(|| Error::NotFound(format!("item {item} of campaign {campaign}")))?;
        Ok((c, i))
    }

    /// The item `who` may decide, or one refusal that is the same whatever the campaign
    /// and item hold. Only the item's reviewer and admins learn anything about it: to
    /// anyone else a missing campaign, a missing item and someone else's item answer
    /// alike and name nobody, so decisions cannot be used to find out who holds which
    /// access or who reviews whom.
    pub async fn item_to_decide(&self, who: &Principal, campaign: &CampaignId, item_id: &str) -> Result<(Campaign, ReviewItem)> {
        let refused = || {
            Error::Forbidden(format!(
                "You review no item '{item_id}' in campaign '{campaign}'. Only the item's assigned reviewer decides it; an admin can reassign items."
            ))
        };
        if who.has(Role::Admin) {
            return self.open_item(campaign, item_id).await;
        }
        match self.open_item(campaign, item_id).await {
            Ok((c, item)) if item.reviewer.as_ref() == Some(&who.email) => Ok((c, item)),
            Ok(_) | Err(Error::NotFound(_)) => Err(refused()),
            Err(e) => Err(e),
        }
    }

    /// Records a reviewer's decision. Nobody decides on their own access; only the
    /// assigned reviewer decides; revoke and downgrade need a reason. The same decision
    /// twice is a no-op; a different one is a conflict.
    #[tracing::instrument(skip_all, fields(campaign = %campaign, item = %item_id, by = %who.email))]
    pub async fn decide_item(
        &self,
        who: &Principal,
        campaign: &CampaignId,
        item_id: &str,
        verdict: Verdict,
        reason: Option<String>,
    ) -> Result<ReviewItem> {
        let (c, mut item) = self.item_to_decide(who, campaign, item_id).await?;
        if item.person == who.email {
            return Err(Error::Forbidden("You cannot review your own access; another reviewer must.".into()));
        }
        if item.reviewer.as_ref() != Some(&who.email) {
            return Err(Error::Forbidden(format!(
                "This item is assigned to {}; an admin can reassign it.",
                item.reviewer.as_ref().map_or_else(|| "nobody".to_owned(), ToString::to_string)
            )));
        }
        item.check_verdict(&verdict).map_err(Error::PolicyViolation)?;
        let reason = match (&verdict, reason.as_deref().map(str::trim).filter(|r| !r.is_empty())) {
            (Verdict::Keep, None) => None,
            (_, Some(r)) => Some(Justification::parse(r)?.as_str().to_owned()),
            (_, None) => return Err(Error::PolicyViolation("A revoke or downgrade needs a reason (at least 5 characters).".into())),
        };
        if let Some(done) = &item.decision {
            if done.verdict == verdict && done.by == who.actor() {
                return Ok(item);
            }
            return Err(Error::Conflict(format!("This item was already decided ({}) by {}.", done.verdict.as_str(), done.by)));
        }
        if c.status != CampaignStatus::Open {
            return Err(Error::Conflict(format!("The campaign is {}; decisions are closed.", c.status.as_str())));
        }
        let now = self.clock.now();
        let expected = item.version;
        item.decision = Some(ItemDecision { verdict, reason: reason.clone(), by: who.actor(), at: now });
        item.version = expected + 1;
        let audit = AuditDraft {
            at: now,
            actor: who.actor(),
            kind: AuditKind::ReviewDecided,
            subject: Some(item.person.clone()),
            request_id: None,
            grant_id: None,
            details: json!({ "campaign": campaign, "item": item.id, "access": item.access, "decision": verdict, "reason": reason }),
        };
        self.store
            .reviews()
            .commit_review(ReviewCommit {
                items: vec![Guarded::update(item.clone(), expected)],
                audit: vec![audit],
                ..ReviewCommit::default()
            })
            .await
            .map_err(|e| match e {
                Error::Conflict(_) => Error::Conflict("Someone decided or reassigned this item at the same moment; reload it.".into()),
                other => other,
            })?;
        Ok(item)
    }

    /// Gives an undecided item to another reviewer (admins). Never to the person under review.
    pub async fn reassign_item(&self, who: &Principal, campaign: &CampaignId, item_id: &str, to: Email) -> Result<ReviewItem> {
        Self::require_admin(who, "reassign review items")?;
        let (c, mut item) = self.open_item(campaign, item_id).await?;
        if to == item.person {
            return Err(Error::PolicyViolation(format!("{to} cannot review their own access; choose someone else.")));
        }
        if c.status != CampaignStatus::Open || !item.is_open() {
            return Err(Error::Conflict("Only undecided items of an open campaign can be reassigned.".into()));
        }
        if item.reviewer.as_ref() == Some(&to) {
            return Ok(item);
        }
        let now = self.clock.now();
        let expected = item.version;
        let from = item.reviewer.replace(to.clone());
        item.assigned_by = None;
        item.version = expected + 1;
        let audit = AuditDraft {
            at: now,
            actor: who.actor(),
            kind: AuditKind::ReviewReassigned,
            subject: Some(item.person.clone()),
            request_id: None,
            grant_id: None,
            details: json!({ "campaign": campaign, "item": item.id, "from": from, "to": to }),
        };
        self.store
            .reviews()
            .commit_review(ReviewCommit {
                items: vec![Guarded::update(item.clone(), expected)],
                audit: vec![audit],
                ..ReviewCommit::default()
            })
            .await
            .map_err(|e| match e {
                Error::Conflict(_) => Error::Conflict("Someone changed this item at the same moment; reload it.".into()),
                other => other,
            })?;
        let body = format!("{} asks you to review {}'s {} access in {}.", who.email, item.person, item.access.describe(), c.title);
        self.tell(&to, "An access review item was given to you".into(), body, Some(self.page_link("reviews/queue"))).await;
        Ok(item)
    }

    /// Reminds reviewers with open items, every `remind_every_days` until the due date.
    /// The campaign's `last_reminded_at` (a guarded write) makes a retried run a no-op.
    pub async fn remind_reviewers(&self) -> Result<ReviewRemindReport> {
        let reviews = self.store.reviews();
        let now = self.clock.now();
        let every = chrono::Duration::days(self.policy.reviews.remind_every_days);
        let mut report = ReviewRemindReport::default();
        for campaign in reviews.list_campaigns(100).await?.into_iter().filter(|c| c.status == CampaignStatus::Open) {
            let last = campaign.last_reminded_at.unwrap_or(campaign.opened_at);
            if now >= campaign.due_at || now - last < every {
                continue;
            }
            let mut next = campaign.clone();
            next.last_reminded_at = Some(now);
            next.reminders_sent += 1;
            next.version = campaign.version + 1;
            let audit = AuditDraft {
                at: now,
                actor: review_actor(),
                kind: AuditKind::Reminded,
                subject: None,
                request_id: None,
                grant_id: None,
                details: json!({ "campaign": campaign.id, "reminder": next.reminders_sent, "due_at": campaign.due_at }),
            };
            match reviews
                .commit_review(ReviewCommit {
                    campaigns: vec![Guarded::update(next.clone(), campaign.version)],
                    audit: vec![audit],
                    ..ReviewCommit::default()
                })
                .await
            {
                Ok(_) => {}
                Err(Error::Conflict(_)) => continue,
                Err(e) => return Err(e),
            }
            let items = reviews.list_items(&campaign.id).await?;
            report.campaigns += 1;
            report.reviewers_told += self.tell_reviewers(&next, &items, "Reminder: access review items wait for you", None).await;
        }
        Ok(report)
    }

    /// Closes a campaign (admins): undecided items are skipped or revoked as the
    /// campaign's policy says, then every revoke and downgrade is applied. Closing a
    /// closed campaign retries what did not apply.
    pub async fn close_campaign(&self, who: &Principal, id: &CampaignId) -> Result<(Campaign, Vec<ReviewItem>)> {
        Self::require_admin(who, "close an access review")?;
        let reviews = self.store.reviews();
        let campaign = reviews.get_campaign(id).await?.ok_or_else(|| Error::NotFound(format!("campaign {id}")))?;
        if campaign.status == CampaignStatus::Opening {
            return Err(Error::Conflict("The campaign is still opening; try again in a moment.".into()));
        }
        let now = self.clock.now();
        if campaign.status == CampaignStatus::Open {
            let items = reviews.list_items(id).await?;
            let mut updates = Vec::new();
            for item in items.into_iter().filter(ReviewItem::is_open) {
                let mut next = item.clone();
                next.version = item.version + 1;
                let verdict = if campaign.close_policy == ClosePolicy::Revoke { item.close_verdict() } else { None };
                if let Some(verdict) = verdict {
                    next.decision = Some(ItemDecision {
                        verdict,
                        reason: Some(format!("Not reviewed by the due date of {}", campaign.title)),
                        by: Actor::System("review-close".into()),
                        at: now,
                    });
                } else {
                    next.skipped = true;
                }
                updates.push(Guarded::update(next, item.version));
            }
            for chunk in updates.chunks(ITEMS_PER_COMMIT) {
                match reviews.commit_review(ReviewCommit { items: chunk.to_vec(), ..ReviewCommit::default() }).await {
                    // A concurrent close or a late decision: the final pass below sees it.
                    Ok(_) | Err(Error::Conflict(_)) => {}
                    Err(e) => return Err(e),
                }
            }
            let items = reviews.list_items(id).await?;
            let count = |f: &dyn Fn(&ReviewItem) -> bool| items.iter().filter(|i| f(i)).count();
            let mut closed = campaign.clone();
            closed.status = CampaignStatus::Closed;
            closed.closed_at = Some(now);
            closed.closed_by = Some(who.actor());
            closed.version = campaign.version + 1;
            let audit = AuditDraft {
                at: now,
                actor: who.actor(),
                kind: AuditKind::ReviewClosed,
                subject: None,
                request_id: None,
                grant_id: None,
                details: json!({
                    "campaign": id,
                    "close_policy": campaign.close_policy.as_str(),
                    "kept": count(&|i| matches!(i.decision.as_ref().map(|d| d.verdict), Some(Verdict::Keep))),
                    "revoked": count(&|i| matches!(i.decision.as_ref().map(|d| d.verdict), Some(Verdict::Revoke))),
                    "downgraded": count(&|i| matches!(i.decision.as_ref().map(|d| d.verdict), Some(Verdict::Downgrade(_)))),
                    "skipped": count(&|i| i.skipped),
                    "still_open": count(&ReviewItem::is_open),
                }),
            };
            match reviews
                .commit_review(ReviewCommit {
                    campaigns: vec![Guarded::update(closed, campaign.version)],
                    audit: vec![audit],
                    ..ReviewCommit::default()
                })
                .await
            {
                Ok(_) | Err(Error::Conflict(_)) => {}
                Err(e) => return Err(e),
            }
        }
        self.remediate_campaign(id, &who.email).await?;
        let campaign = reviews.get_campaign(id).await?.ok_or_else(|| Error::NotFound(format!("campaign {id}")))?;
        Ok((campaign, reviews.list_items(id).await?))
    }

    /// Applies every revoke and downgrade of a closed campaign that has not applied yet.
    async fn remediate_campaign(&self, id: &CampaignId, closer: &Email) -> Result<()> {
        let items = self.store.reviews().list_items(id).await?;
        // A removal from the organization is an offboarding (a revoke of an admin
        // recorded before removals existed finishes as the request it started).
        let is_removal = |i: &ReviewItem| {
            i.decision.as_ref().is_some_and(|d| i.removes_member(&d.verdict)) && i.remediation.as_ref().is_none_or(|r| r.offboarding)
        };
        let removals: HashMap<Email, String> = items.iter().filter(|i| is_removal(i)).map(|i| (i.person.clone(), i.id.clone())).collect();
        // Removals first: they take the person's project access with them.
        let (first, rest): (Vec<ReviewItem>, Vec<ReviewItem>) = items.into_iter().partition(|i| is_removal(i));
        for item in first.into_iter().chain(rest) {
            let Some(decision) = item.decision.clone() else { continue };
            if !item.needs_remediation(&decision.verdict)
                || item.remediation.as_ref().is_some_and(|r| r.status == RemediationStatus::Applied)
            {
                continue;
            }
            let removal = removals.get(&item.person).filter(|_| item.target != AccessTarget::Org);
            let outcome = if is_removal(&item) {
                self.remediate_removal(item, &decision, closer).await
            } else if let Some(org_item) = removal {
                self.cover_by_removal(item, org_item).await
            } else {
                self.remediate_item(item, &decision, closer).await
            };
            if let Err(e) = outcome {
                // One failing item never stops the others; it stays visible and retried.
                tracing::warn!(error = %e, "remediation deferred");
            }
        }
        Ok(())
    }

    /// Records on the item, before anything is asked of PostHog, the id its remediation
    /// (a request, or an offboarding) will have, so a retry finds the same one.
    pub(super) async fn start_remediation(&self, item: ReviewItem, offboarding: bool) -> Result<ReviewItem> {
        if item.remediation.is_some() {
            return Ok(item);
        }
        let expected = item.version;
        let mut item = item;
        item.remediation = Some(Remediation {
            request_id: RequestId::new(),
            status: RemediationStatus::Pending,
            applied_at: None,
            error: None,
            offboarding,
        });
        item.version = expected + 1;
        let commit = ReviewCommit { items: vec![Guarded::update(item.clone(), expected)], ..ReviewCommit::default() };
        self.store.reviews().commit_review(commit).await?;
        Ok(item)
    }

    /// Carries out one decision through the grant machinery: a request by the
    /// reviewer, approved by the decision itself, applied with read-back and audit.
    /// Every step is resumable: the request id is recorded on the item first.
    async fn remediate_item(&self, item: ReviewItem, decision: &ItemDecision, closer: &Email) -> Result<()> {
        let reviews = self.store.reviews();
        let change = item.change_for(&decision.verdict);
        if item.remediation.is_none() && change.is_none() {
            return Ok(());
        }
        let item = self.start_remediation(item, false).await?;
        let Some(remediation) = item.remediation.clone() else { return Ok(()) };
        let decider = decider(decision, closer);
        let request = match self.store.get_request(remediation.request_id).await? {
            Some(r) => r,
            None => {
                let Some(change) = change else { return Ok(()) };
                let now = self.clock.now();
                let reason = decision.reason.clone().unwrap_or_else(|| "Access review decision".into());
                let justification = Justification::parse(&format!("Access review {}: {reason}", item.campaign))?;
                let request = AccessRequest {
                    changes: vec![change.clone()],
                    ..AccessRequest::pending(
                        remediation.request_id,
                        super::review_removal::review_requester(),
                        item.person.clone(),
                        justification,
                        1,
                        now,
                        self.policy.pending_ttl_minutes,
                    )
                };
                let details =
                    json!({ "changes": request.changes, "campaign": item.campaign, "item": item.id, "decision": decision.verdict });
                let audit = self.draft(Actor::Person(decider.clone()), AuditKind::Requested, &request.subject, request.id, None, details);
                match self
                    .store
                    .commit(Commit { requests: vec![Guarded::create(request.clone())], audit: vec![audit], ..Commit::default() })
                    .await
                {
                    Ok(_) => request,
                    Err(Error::Conflict(_)) => {
                        self.store.get_request(remediation.request_id).await?.ok_or_else(|| Error::NotFound("request".into()))?
                    }
                    Err(e) => return Err(e),
                }
            }
        };
        let outcome = match request.status {
            RequestStatus::Pending => self.approve_as(Actor::Person(decider), request, decision.reason.clone()).await,
            RequestStatus::Approved => self.apply(request.id).await,
            _ => Ok(request),
        };
        let (status, error) = match &outcome {
            Ok(r) if r.status == RequestStatus::Applied || r.status == RequestStatus::Reverted => (RemediationStatus::Applied, None),
            Ok(r) if r.status == RequestStatus::Failed => (RemediationStatus::Failed, r.failure.clone()),
            Ok(_) => (RemediationStatus::Pending, None),
            Err(e) => (RemediationStatus::Pending, Some(e.to_string())),
        };
        let applied_at = if status == RemediationStatus::Applied {
            self.store.list_grants_for_request(remediation.request_id).await?.iter().map(|g| g.applied_at).min().or(Some(self.clock.now()))
        } else {
            None
        };
        let fresh = reviews.get_item(&item.campaign, &item.id).await?.unwrap_or(item);
        let expected = fresh.version;
        let mut next = fresh;
        next.remediation = Some(Remediation { request_id: remediation.request_id, status, applied_at, error, offboarding: false });
        next.version = expected + 1;
        match reviews.commit_review(ReviewCommit { items: vec![Guarded::update(next, expected)], ..ReviewCommit::default() }).await {
            Ok(_) | Err(Error::Conflict(_)) => {}
            Err(e) => return Err(e),
        }
        outcome.map(drop)
    }

    /// The campaign's evidence: a CSV row per item and the guide's Markdown record,
    /// with the audit chain's verification.
    pub async fn campaign_evidence(&self, who: &Principal, id: &CampaignId) -> Result<Evidence> {
        let (campaign, items) = self.campaign(who, id).await?;
        let chain = self.verify_audit().await?;
        Ok(Evidence { csv: evidence_csv(&items)?, markdown: evidence_markdown(&campaign, &items, &chain, self.clock.now()), chain })
    }
}

/// Who a decision is carried out as: the reviewer, or the admin who closed the
/// campaign for a decision the close policy made.
pub(super) fn decider(decision: &ItemDecision, closer: &Email) -> Email {
    match &decision.by {
        Actor::Person(e) => e.clone(),
        Actor::System(_) => closer.clone(),
    }
}

fn level_word(level: &AccessLevel) -> &'static str {
    level.describe()
}

fn evidence_csv(items: &[ReviewItem]) -> Result<String> {
    let header = [
        "campaign",
        "item",
        "person",
        "name",
        "target",
        "project",
        "access",
        "suggestions",
        "reviewer",
        "decision",
        "downgrade_to",
        "reason",
        "decided_by",
        "decided_at",
        "remediation",
        "request_id",
        "applied_at",
    ];
    let fail = |e: csv::Error| Error::Storage(format!("could not write the CSV: {e}"));
    let mut out = crate::export::CsvTable::new(header).map_err(fail)?;
    for i in items {
        let (decision, to, reason, by, at) = match &i.decision {
            Some(d) => (
                d.verdict.as_str().to_owned(),
                match &d.verdict {
                    Verdict::Downgrade(l) => level_word(l).to_owned(),
                    _ => String::new(),
                },
                d.reason.clone().unwrap_or_default(),
                d.by.to_string(),
                d.at.to_rfc3339(),
            ),
            None if i.skipped => ("skipped".into(), String::new(), String::new(), String::new(), String::new()),
            None => ("open".into(), String::new(), String::new(), String::new(), String::new()),
        };
        let (remediation, request, applied) = match &i.remediation {
            Some(r) => (r.status.as_str().to_owned(), r.request_id.to_string(), r.applied_at.map(|t| t.to_rfc3339()).unwrap_or_default()),
            None => (String::new(), String::new(), String::new()),
        };
        let target = match i.target {
            AccessTarget::Org => "organization".to_owned(),
            AccessTarget::Project(p) => format!("project {p}"),
        };
        let suggestions: Vec<&str> = i.suggestions.iter().map(|s| s.as_str()).collect();
        out.row([
            i.campaign.as_str(),
            &i.id,
            i.person.as_str(),
            &i.name,
            &target,
            i.project_name.as_deref().unwrap_or(""),
            level_word(&i.access),
            &suggestions.join(";"),
            i.reviewer.as_ref().map_or("", Email::as_str),
            &decision,
            &to,
            &reason,
            &by,
            &at,
            &remediation,
            &request,
            &applied,
        ])
        .map_err(fail)?;
    }
    out.finish().map_err(fail)
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// The guide's layout: the "export current access" block and the review record
/// (`# Q1 2024 Access Review`, `Date:`, `Reviewed by:`, `Actions:`, `Next review:`).
fn evidence_markdown(campaign: &Campaign, items: &[ReviewItem], chain: &ChainVerification, now: DateTime<Utc>) -> String {
    let s = &campaign.summary;
    let date = campaign.closed_at.unwrap_or(now);
    let reviewers: BTreeSet<String> =
        items.iter().filter_map(|i| i.decision.as_ref()).filter(|d| matches!(d.by, Actor::Person(_))).map(|d| d.by.to_string()).collect();
    let verdict = |i: &ReviewItem| i.decision.as_ref().map(|d| d.verdict);
    let removed_projects =
        items.iter().filter(|i| matches!(i.target, AccessTarget::Project(_)) && verdict(i) == Some(Verdict::Revoke)).count();
    let admins_down = items.iter().filter(|i| i.target == AccessTarget::Org && matches!(verdict(i), Some(Verdict::Downgrade(_)))).count();
    let org_removed = items.iter().filter(|i| i.target == AccessTarget::Org && verdict(i) == Some(Verdict::Revoke)).count();
    let project_down =
        items.iter().filter(|i| matches!(i.target, AccessTarget::Project(_)) && matches!(verdict(i), Some(Verdict::Downgrade(_)))).count();
    let kept = items.iter().filter(|i| verdict(i) == Some(Verdict::Keep)).count();
    let skipped = items.iter().filter(|i| i.skipped).count();
    let open = items.iter().filter(|i| i.is_open()).count();
    let failed = items.iter().filter(|i| i.remediation.as_ref().is_some_and(|r| r.status != RemediationStatus::Applied)).count();
    let people_removed: BTreeSet<&Email> = items
        .iter()
        .filter(|i| matches!(i.target, AccessTarget::Project(_)) && verdict(i) == Some(Verdict::Revoke))
        .map(|i| &i.person)
        .collect();

    let mut md = String::new();
    let mut line = |text: String| {
        md.push_str(&text);
        md.push('\n');
    };
    line(format!("# {}", campaign.title));
    line(format!("Date: {}", date.format("%Y-%m-%d")));
    line(format!(
        "Reviewed by: {}",
        if reviewers.is_empty() { "nobody".to_owned() } else { reviewers.into_iter().collect::<Vec<_>>().join(", ") }
    ));
    line("Actions:".into());
    line(format!(
        "  - Removed {} from projects ({})",
        plural(removed_projects, "access", "accesses"),
        plural(people_removed.len(), "user", "users")
    ));
    line(format!("  - Downgraded {} from Admin to Member", plural(admins_down, "user", "users")));
    if org_removed > 0 {
        line(format!("  - Removed {} from the organization (objects handed over as manager access)", plural(org_removed, "user", "users")));
    }
    if project_down > 0 {
        line(format!("  - Downgraded {}", plural(project_down, "project role", "project roles")));
    }
    line(format!("  - Kept {}", plural(kept, "access", "accesses")));
    if skipped > 0 {
        line(format!("  - Skipped {} nobody reviewed by the due date", plural(skipped, "item", "items")));
    }
    if open > 0 {
        line(format!("  - {} still open", plural(open, "item", "items")));
    }
    if failed > 0 {
        line(format!("  - {} not applied yet (see the CSV)", plural(failed, "change", "changes")));
    }
    line(format!("Next review: {}", reviews::next_review_date(date)));
    line(String::new());
    line(format!("## Current access (exported {})", campaign.opened_at.format("%Y-%m-%d %H:%M UTC")));
    line(String::new());
    line(format!("    Organization: {}", s.organization));
    line(format!("    Total members: {}", s.total_members));
    line("    ".into());
    let mut group = |title: &str, people: &[Email]| {
        md.push_str(&format!("    {title} ({}):\n", people.len()));
        for p in people {
            md.push_str(&format!("      - {p}\n"));
        }
        md.push_str("    \n");
    };
    if !s.owners.is_empty() {
        group("Owners", &s.owners);
    }
    group("Admins", &s.admins);
    group("Members", &s.members);
    group("Viewers", &s.viewers);
    md.push_str("## Audit chain\n\n");
    if chain.valid {
        md.push_str(&format!("Chain verified ({} entries)\n", chain.entries));
        if let Some(head) = &chain.head {
            md.push_str(&format!(
                "\nAnchor: entry {}, SHA-256 `{}`. Keep it with this record: `GET /api/audit/verify?anchor_seq={}&anchor_hash={}` later shows whether any entry up to it was removed or rewritten.\n",
                head.seq, head.hash, head.seq, head.hash
            ));
        }
    } else {
        md.push_str(&format!(
            "Chain broken at entry {}: {}\n",
            chain.first_broken_seq.unwrap_or_default(),
            chain.problem.clone().unwrap_or_default()
        ));
    }
    md
}

//! Bulk change sets as one access request: submitting a plan stores the set and a
//! request for it (approved once, as a whole, through the ordinary approve flow), and
//! [`Hogwarden::bulk_run`] applies its items within a time budget, one conditional
//! write per item transition, so a run may stop anywhere and the next one resumes.
//!
//! Never twice: before an item's PostHog write its baseline is recorded and the item
//! marked `in_flight`; after the write, its status, its grant and its audit entry are
//! one commit. An item found `in_flight` (the process died between the two) is compared
//! with PostHog's current state, and if PostHog already shows it the item is done
//! without a second write. Only the holder of the set's claim touches its items, so a
//! live run's `in_flight` item is never mistaken for a crashed one.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::audit::AuditKind;
use crate::authorize::Authorization;
use crate::bulk::{self, PlanAction};
use crate::changeset::{ChangeItem, ChangeSet, ItemCounts, ItemStatus, SetPhase, SetProgress};
use crate::claims::{self, Claim};
use crate::error::{Error, Result};
use crate::model::{AccessChange, AccessLevel, AccessRequest, AccessTarget, Grant, GrantStatus, RequestStatus};
use crate::ports::{Commit, Guarded, Member, PostHogError, ProjectRules};
use crate::types::{Actor, GrantId, Justification, ParseError, Principal, ProjectId, RequestId, Role};

use super::{Hogwarden, PostHogWrite, Written};

/// How long a run's claim on a set lasts; it is renewed while the run goes on, and a
/// crashed run's claim lapses after at most this long.
const CLAIM: chrono::Duration = chrono::Duration::seconds(20);
/// Renew the claim when less than this is left of it.
const RENEW_BELOW: chrono::Duration = chrono::Duration::seconds(12);

/// A change set to submit, as parsed at the edge.
#[derive(Debug, Clone)]
pub struct NewChangeSet {
    /// `csv` or `json`.
    pub format: String,
    pub content: String,
    /// Why; a default naming the set's size is used when absent.
    pub reason: Option<String>,
}

/// What a run over unfinished sets did (the timer and the scheduled task log it).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct BulkRunReport {
    pub sets: usize,
    pub finished: usize,
    pub errors: Vec<String>,
}

/// Why a run stopped before the set finished.
enum Stop {
    /// The budget is spent or another run holds the set.
    Yield,
    /// PostHog cannot take writes now; the next run retries.
    Upstream(PostHogError),
}

fn the_run() -> Actor {
    Actor::System("bulk".into())
}

impl Hogwarden {
    /// Plans a change set and stores it as one access request. The same text
    /// submitted again by the same person finds the set already made (`false`).
    #[tracing::instrument(skip_all, fields(requester = %who.email))]
    pub async fn bulk_submit(&self, who: &Principal, new: NewChangeSet) -> Result<(SetProgress, bool)> {
        if !who.has(Role::Admin) {
            return Err(Error::Forbidden("You need the admin role to submit bulk changes.".into()));
        }
        let rows = match new.format.as_str() {
            "csv" => bulk::parse_csv(&new.content)?,
            "json" => bulk::parse_json(&new.content)?,
            other => {
                return Err(Error::Invalid(ParseError::Other(format!(
                    "'format' must be 'csv' or 'json', not '{}'",
                    other.chars().take(20).collect::<String>()
                ))));
            }
        };
        let digest = format!("sha256:{}", hex::encode(Sha256::digest(new.content.as_bytes())));
        // The claim decides (sets made before claims existed are still found by digest).
        let key = claims::change_set_key(&who.email, &digest);
        let seen = self.store.get_claim(&key).await?;
        if let Some(live) = self.live_change_set(seen).await? {
            return Ok((live, false));
        }
        for set in self.store.find_change_sets(&who.email, &digest).await? {
            if let Some(live) = self.live_change_set(Some(set.request_id)).await? {
                return Ok((live, false));
            }
        }

        let plan = self.bulk_plan(who, &rows).await?;
        let bad: Vec<String> = plan.items.iter().filter(|i| i.action == PlanAction::Error).map(|i| i.line.to_string()).collect();
        if !bad.is_empty() {
            return Err(Error::Invalid(ParseError::Other(format!(
                "the change set has rows with errors (lines {}); fix them (see the plan) and submit again. Nothing was written.",
                bad.join(", ")
            ))));
        }
        let changes: Vec<AccessChange> =
            plan.items.iter().filter(|i| i.action == PlanAction::Change).filter_map(|i| i.change.clone()).collect();
        if changes.is_empty() {
            return Err(Error::PolicyViolation(
                "Every row is a no-op: PostHog already shows all of it, so there is nothing to apply.".into(),
            ));
        }
        let justification = match &new.reason {
            Some(r) => Justification::parse(r)?,
            None => Justification::parse(&format!(
                "Bulk change set: {} changes, {} no-ops ({})",
                changes.len(),
                plan.count(PlanAction::NoOp),
                &digest[..19]
            ))?,
        };

        let now = self.clock.now();
        let id = RequestId::new();
        let mut items = Vec::with_capacity(plan.items.len());
        for (seq, p) in plan.items.iter().enumerate() {
            let (Some(change), Ok(subject)) = (p.change.clone(), crate::types::Email::parse(&p.email)) else { continue };
            items.push(ChangeItem {
                request_id: id,
                seq: u32::try_from(seq).unwrap_or(u32::MAX),
                line: p.line,
                subject,
                target: p.target.clone(),
                change,
                ends_at: p.ends_at,
                status: if p.action == PlanAction::NoOp { ItemStatus::NoOp } else { ItemStatus::Pending },
                baseline: None,
                read_back: None,
                error: None,
                grant_id: None,
                attempts: 0,
                updated_at: now,
                version: 1,
            });
        }
        // Changing someone else's access is never approval-free.
        let others = items.iter().any(|i| i.subject != who.email);
        let approvals_required = self.policy.bulk_approvals_needed(&changes).max(u8::from(others) * self.policy.approvals_required.max(1));
        let request = AccessRequest::pending(
            id,
            who.email.clone(),
            who.email.clone(),
            justification,
            approvals_required,
            now,
            self.policy.pending_ttl_minutes,
        );
        let set = ChangeSet {
            request_id: id,
            requester: who.email.clone(),
            digest: digest.clone(),
            format: new.format.clone(),
            total: items.len(),
            claimed_until: None,
            started_at: None,
            finished_at: None,
            created_at: now,
            updated_at: now,
            version: 1,
        };
        let details = serde_json::json!({
            "bulk": { "digest": digest, "changes": changes.len(), "no_ops": plan.count(PlanAction::NoOp), "items": items.len() },
            "justification": request.justification,
            "approvals_required": approvals_required,
        });
        let audit = self.draft(who.actor(), AuditKind::Requested, &who.email, id, None, details);
        self.store.put_change_items(&items).await?;
        let claim = Claim { key: key.clone(), holder: id, replaces: seen };
        let created = self
            .store
            .commit(Commit {
                requests: vec![Guarded::create(request.clone())],
                change_sets: vec![Guarded::create(set.clone())],
                audit: vec![audit],
                claims: vec![claim],
                ..Commit::default()
            })
            .await;
        if let Err(Error::Conflict(why)) = created {
            // The same text submitted at the same moment: the winner's set is the answer
            // (this one's items, without a header, are never run).
            let winner = self.store.get_claim(&key).await?;
            if let Some(live) = self.live_change_set(winner).await? {
                tracing::info!(request_id = %live.set.request_id, "the same change set was submitted at once; answering with the first");
                return Ok((live, false));
            }
            return Err(Error::Conflict(why));
        }
        created?;
        tracing::info!(request_id = %id, items = items.len(), approvals_required, "bulk change set submitted");
        let request = if approvals_required > 0 {
            self.tell_approvers(&request, "A bulk change set waits for your approval").await;
            request
        } else {
            self.approve_as(Actor::System("policy".into()), request, None).await?
        };
        let counts = ItemCounts::of(&items);
        Ok((SetProgress { phase: phase(&request), set, request, counts, items }, true))
    }

    /// A set's progress (or its report, once finished). Admins and its requester may read it.
    pub async fn bulk_progress(&self, who: &Principal, id: RequestId) -> Result<SetProgress> {
        let set = self.store.get_change_set(id).await?.ok_or_else(|| Error::NotFound(format!("change set {id}")))?;
        if set.requester != who.email && !who.has(Role::Admin) && !who.has(Role::Approver) {
            return Err(Error::NotFound(format!("change set {id}")));
        }
        let request = self.store.get_request(id).await?.ok_or_else(|| Error::NotFound(format!("request {id}")))?;
        self.progress_of(set, request).await
    }

    /// The progress of the set `id` if its request is still live (pending, approved or
    /// applied): the one answer to the same text submitted again.
    async fn live_change_set(&self, id: Option<RequestId>) -> Result<Option<SetProgress>> {
        let Some(id) = id else { return Ok(None) };
        let (Some(set), Some(request)) = (self.store.get_change_set(id).await?, self.store.get_request(id).await?) else {
            return Ok(None);
        };
        if !matches!(request.status, RequestStatus::Pending | RequestStatus::Approved | RequestStatus::Applied) {
            return Ok(None);
        }
        Ok(Some(self.progress_of(set, request).await?))
    }

    async fn progress_of(&self, set: ChangeSet, request: AccessRequest) -> Result<SetProgress> {
        let items = self.store.list_change_items(set.request_id).await?;
        let counts = ItemCounts::of(&items);
        Ok(SetProgress { phase: phase(&request), set, request, counts, items })
    }

    /// Applies (or resumes) an approved set for at most `budget`, on an admin's behalf.
    pub async fn bulk_apply(&self, who: &Principal, id: RequestId, budget: Duration) -> Result<SetProgress> {
        if !who.has(Role::Admin) {
            return Err(Error::Forbidden("You need the admin role to apply bulk changes.".into()));
        }
        let set = self.store.get_change_set(id).await?.ok_or_else(|| Error::NotFound(format!("change set {id}")))?;
        let request = self.store.get_request(id).await?.ok_or_else(|| Error::NotFound(format!("request {id}")))?;
        match request.status {
            RequestStatus::Pending => {
                return Err(Error::Conflict(format!(
                    "The change set waits for approval ({} of {} approvals); it is applied once approved.",
                    request.approvals.len(),
                    request.approvals_required
                )));
            }
            RequestStatus::Denied | RequestStatus::Expired => {
                return Err(Error::Conflict(format!("The change set's request was {}; nothing is applied.", request.status.as_str())));
            }
            _ => {}
        }
        drop(set);
        self.bulk_run(id, budget).await
    }

    /// Runs every approved, unfinished set for at most `budget` in all (the local timer
    /// and the scheduled task call this; each run resumes where the last one stopped).
    pub async fn bulk_resume_all(&self, budget: Duration) -> Result<BulkRunReport> {
        let started = Instant::now();
        let mut report = BulkRunReport::default();
        for request in self.store.list_requests_by_status(RequestStatus::Approved, 200).await? {
            if !request.changes.is_empty() {
                continue;
            }
            let Some(left) = budget.checked_sub(started.elapsed()) else { break };
            if self.store.get_change_set(request.id).await?.is_none() {
                continue;
            }
            report.sets += 1;
            match self.bulk_run(request.id, left).await {
                Ok(p) if p.phase == SetPhase::Finished => report.finished += 1,
                Ok(_) => {}
                Err(e) => report.errors.push(format!("change set {}: {e}", request.id)),
            }
        }
        Ok(report)
    }

    /// Applies an approved set's unsettled items for at most `budget`, then returns its
    /// progress. Safe to call at any time from anywhere: a set that another run holds,
    /// or that is not approved, is only reported.
    #[tracing::instrument(skip_all, fields(request_id = %id))]
    pub async fn bulk_run(&self, id: RequestId, budget: Duration) -> Result<SetProgress> {
        let deadline = Instant::now() + budget;
        let mut set = self.store.get_change_set(id).await?.ok_or_else(|| Error::NotFound(format!("change set {id}")))?;
        let request = self.store.get_request(id).await?.ok_or_else(|| Error::NotFound(format!("request {id}")))?;
        if request.status != RequestStatus::Approved {
            return self.progress_of(set, request).await;
        }
        let now = self.clock.now();
        if set.claimed_until.is_some_and(|t| t > now) {
            return self.progress_of(set, request).await;
        }
        // Claim the set: only its holder touches the items.
        match self.claim(&mut set).await {
            Ok(()) => {}
            Err(Error::Conflict(_)) => {
                let set = self.store.get_change_set(id).await?.unwrap_or(set);
                return self.progress_of(set, request).await;
            }
            Err(e) => return Err(e),
        }

        let mut items = self.store.list_change_items(id).await?;
        let todo: Vec<usize> = (0..items.len()).filter(|&i| !items[i].status.is_settled()).collect();
        let mut stop: Option<Stop> = None;
        // PostHog's state is read once per run (the members, each project's rules: a
        // few requests, whatever the set's size) and kept current with what PostHog
        // confirms of each write, so an item costs one request when nothing else must
        // change. A run is bounded by its budget, and the next run reads afresh.
        let mut state = if todo.is_empty() {
            None
        } else {
            match self.read_state(todo.iter().map(|&i| &items[i])).await {
                Ok(s) => Some(s),
                Err(Error::Upstream(e)) => {
                    stop = Some(Stop::Upstream(e));
                    None
                }
                Err(e) => return Err(e),
            }
        };
        if let Some(state) = state.as_mut() {
            for &i in &todo {
                if Instant::now() >= deadline {
                    stop = Some(Stop::Yield);
                    break;
                }
                if let Err(e) = self.renew(&mut set).await {
                    tracing::warn!(error = %e, "lost the claim on the change set; another run goes on");
                    let set = self.store.get_change_set(id).await?.unwrap_or(set);
                    return self.progress_of(set, request).await;
                }
                match self.settle(&items[i], state).await {
                    Ok(settled) => items[i] = settled,
                    Err(Error::Upstream(e)) => {
                        stop = Some(Stop::Upstream(e));
                        break;
                    }
                    Err(Error::Conflict(m)) => {
                        // Only the claim holder writes items, so this means the claim was lost.
                        tracing::warn!(reason = %m, "an item changed under this run; stopping");
                        stop = Some(Stop::Yield);
                        break;
                    }
                    Err(e) => return Err(e),
                }
            }
        }

        let counts = ItemCounts::of(&items);
        if let Some(Stop::Upstream(e)) = &stop {
            tracing::warn!(error = %e, "PostHog cannot take the change set now; the next run resumes it");
        }
        if stop.is_none() && counts.unsettled() == 0 {
            return self.finish_set(set, request, items).await;
        }
        // Let the next run (the timer, the CLI, the scheduled task) go on at once.
        set.claimed_until = None;
        set.updated_at = self.clock.now();
        let expected = set.version;
        set.version += 1;
        self.store.commit(Commit { change_sets: vec![Guarded::update(set.clone(), expected)], ..Commit::default() }).await?;
        Ok(SetProgress { phase: phase(&request), set, request, counts, items })
    }

    async fn claim(&self, set: &mut ChangeSet) -> Result<()> {
        let now = self.clock.now();
        let mut next = set.clone();
        next.claimed_until = Some(now + CLAIM);
        next.started_at = set.started_at.or(Some(now));
        next.updated_at = now;
        next.version = set.version + 1;
        self.store.commit(Commit { change_sets: vec![Guarded::update(next.clone(), set.version)], ..Commit::default() }).await?;
        *set = next;
        Ok(())
    }

    async fn renew(&self, set: &mut ChangeSet) -> Result<()> {
        let now = self.clock.now();
        if set.claimed_until.is_some_and(|t| t - now > RENEW_BELOW) {
            return Ok(());
        }
        self.claim(set).await
    }

    /// PostHog's current state for these items: the members once, each project's
    /// explicit rules once.
    async fn read_state<'a>(&self, items: impl Iterator<Item = &'a ChangeItem>) -> Result<State> {
        let items: Vec<&ChangeItem> = items.collect();
        let members = self.posthog.list_members().await?;
        let mut rules = HashMap::new();
        for item in &items {
            if let AccessTarget::Project(p) = item.change.target()
                && let std::collections::hash_map::Entry::Vacant(slot) = rules.entry(p)
            {
                slot.insert(self.posthog.project_rules(p).await?);
            }
        }
        Ok(State { members: members.into_iter().map(|m| (m.email.as_str().to_owned(), m)).collect(), rules })
    }

    /// Takes one item to its next settled status (or leaves it `in_flight` when
    /// PostHog is unavailable, returning the error).
    async fn settle(&self, item: &ChangeItem, state: &mut State) -> Result<ChangeItem> {
        let desired = item.change.desired();
        let Some(member) = state.members.get(item.subject.as_str()).cloned() else {
            return self.item_failed(item, "is no longer a member of the PostHog organization".into()).await;
        };
        let current = state.current(&member, &item.change);
        if current == desired {
            return match item.status {
                // The write of a crashed run had landed: done, without writing again.
                ItemStatus::InFlight => {
                    let baseline = item.baseline.unwrap_or(current);
                    self.item_done(item.clone(), baseline, current, true).await
                }
                _ => {
                    let mut next = item.clone();
                    next.status = ItemStatus::NoOp;
                    self.write_item(next, item.version, Vec::new()).await
                }
            };
        }
        // Record the baseline and the attempt before the write.
        let baseline = match item.baseline {
            Some(b) => b,
            None => self.bulk_baseline(item, current).await?,
        };
        let mut flight = item.clone();
        flight.status = ItemStatus::InFlight;
        flight.baseline = Some(baseline);
        flight.attempts += 1;
        let flight = self.write_item(flight, item.version, Vec::new()).await?;
        match self.write_change(&member, item, state).await {
            Ok(read_back) => self.item_done(flight, baseline, read_back, false).await,
            Err(Error::Upstream(e)) if e.is_transient() || e == PostHogError::Unauthorized => Err(Error::Upstream(e)),
            Err(Error::Upstream(e)) => self.item_failed(&flight, e.to_string()).await,
            // The write path refused it (e.g. an approver of the set gains by this item).
            Err(Error::Forbidden(why)) => self.item_failed(&flight, why).await,
            Err(e) => Err(e),
        }
    }

    /// The access to restore when a temporary item ends: another live temporary
    /// grant's baseline if one covers the target, else what PostHog shows now.
    async fn bulk_baseline(&self, item: &ChangeItem, current: AccessLevel) -> Result<AccessLevel> {
        let live = self.store.list_active_grants_for_target(&item.subject, item.change.target()).await?;
        Ok(live.iter().filter(|g| g.expires_at.is_some()).min_by_key(|g| g.applied_at).map_or(current, |g| g.baseline))
    }

    /// Writes one item's change from the run's state, which it keeps current with what
    /// PostHog confirmed, through the one write path with the set as its authorization.
    async fn write_change(&self, member: &Member, item: &ChangeItem, state: &mut State) -> Result<AccessLevel> {
        let auth = Authorization::Request(item.request_id);
        let (project, role) = match &item.change {
            AccessChange::OrgRole { role } => {
                let (written, _) = self.writes().write(PostHogWrite::OrgLevel { member, level: role.level() }, &auth).await?;
                let level = written.access_level()?;
                if let (Some(m), AccessLevel::Org(l)) = (state.members.get_mut(member.email.as_str()), level) {
                    m.level = l;
                }
                return Ok(level);
            }
            AccessChange::ProjectRole { project, role } => (*project, Some(*role)),
            AccessChange::RemoveFromProject { project } => (*project, None),
        };
        let rules = state.rules.entry(project).or_default();
        let known = rules.of(&member.membership_id);
        let write = PostHogWrite::ProjectRoleFrom { member, project, role, known: &known };
        let (written, _) = self.writes().write(write, &auth).await?;
        let Written::ProjectRules(confirmed) = written else {
            return Err(Error::Storage("a project role write was answered with something else".into()));
        };
        let read_back = confirmed.role;
        rules.set(&member.membership_id, confirmed);
        Ok(AccessLevel::Project(read_back))
    }

    async fn write_item(&self, mut next: ChangeItem, expected: u64, audit: Vec<crate::audit::AuditDraft>) -> Result<ChangeItem> {
        next.updated_at = self.clock.now();
        next.version = expected + 1;
        self.store.commit(Commit { change_items: vec![Guarded::update(next.clone(), expected)], audit, ..Commit::default() }).await?;
        Ok(next)
    }

    /// The item's status, its grant and its audit entry, in one commit.
    async fn item_done(&self, item: ChangeItem, baseline: AccessLevel, read_back: AccessLevel, resumed: bool) -> Result<ChangeItem> {
        let now = self.clock.now();
        let grant = Grant {
            id: GrantId::new(),
            request_id: item.request_id,
            subject: item.subject.clone(),
            change: item.change.clone(),
            baseline,
            confirmed: read_back,
            status: GrantStatus::Active,
            applied_at: now,
            expires_at: item.ends_at,
            ended_at: None,
            revert_failures: 0,
            last_error: None,
            revert_claimed_until: None,
            reminded_days: Vec::new(),
            extensions: Vec::new(),
            version: 1,
        };
        let details = serde_json::json!({
            "bulk_line": item.line,
            "change": item.change,
            "baseline": baseline,
            "read_back": read_back,
            "expires_at": item.ends_at,
            "confirmed_after_restart": resumed,
        });
        let audit = self.draft(the_run(), AuditKind::Applied, &item.subject, item.request_id, Some(grant.id), details);
        let expected = item.version;
        let mut next = item;
        next.status = ItemStatus::Done;
        next.baseline = Some(baseline);
        next.read_back = Some(read_back);
        next.grant_id = Some(grant.id);
        next.updated_at = now;
        next.version = expected + 1;
        self.store
            .commit(Commit {
                grants: vec![Guarded::create(grant)],
                change_items: vec![Guarded::update(next.clone(), expected)],
                audit: vec![audit],
                ..Commit::default()
            })
            .await?;
        Ok(next)
    }

    async fn item_failed(&self, item: &ChangeItem, why: String) -> Result<ChangeItem> {
        let details = serde_json::json!({ "bulk_line": item.line, "change": item.change, "error": why });
        let audit = self.draft(the_run(), AuditKind::ApplyFailed, &item.subject, item.request_id, None, details);
        let mut next = item.clone();
        next.status = ItemStatus::Failed;
        next.error = Some(why);
        self.write_item(next, item.version, vec![audit]).await
    }

    /// Every item is settled: the request is applied (or failed, when nothing took),
    /// the claim released, the report audited and the requester told.
    async fn finish_set(&self, mut set: ChangeSet, mut request: AccessRequest, items: Vec<ChangeItem>) -> Result<SetProgress> {
        let now = self.clock.now();
        let counts = ItemCounts::of(&items);
        let failed: Vec<serde_json::Value> = items
            .iter()
            .filter(|i| i.status == ItemStatus::Failed)
            .map(|i| serde_json::json!({ "line": i.line, "email": i.subject, "target": i.target, "error": i.error }))
            .collect();
        let all_failed = counts.done == 0 && counts.no_op == 0;
        let expected_request = request.version;
        request.status = if all_failed { RequestStatus::Failed } else { RequestStatus::Applied };
        request.failure = (counts.failed > 0).then(|| format!("{} of {} items failed", counts.failed, items.len()));
        request.updated_at = now;
        request.version = expected_request + 1;
        let expected_set = set.version;
        set.claimed_until = None;
        set.finished_at = Some(now);
        set.updated_at = now;
        set.version = expected_set + 1;
        let details = serde_json::json!({
            "bulk_report": { "done": counts.done, "no_op": counts.no_op, "failed": counts.failed, "items": items.len(), "failures": failed },
        });
        let kind = if all_failed { AuditKind::ApplyFailed } else { AuditKind::Applied };
        let audit = self.draft(the_run(), kind, &request.subject, request.id, None, details);
        self.store
            .commit(Commit {
                requests: vec![Guarded::update(request.clone(), expected_request)],
                change_sets: vec![Guarded::update(set.clone(), expected_set)],
                audit: vec![audit],
                ..Commit::default()
            })
            .await?;
        tracing::info!(done = counts.done, no_op = counts.no_op, failed = counts.failed, "bulk change set finished");
        self.tell(
            &request.requester,
            "Your bulk change set was applied".into(),
            format!("{} changes done, {} no-ops, {} failed.", counts.done, counts.no_op, counts.failed),
            Some(self.page_link(&format!("bulk/{}", request.id))),
        )
        .await;
        Ok(SetProgress { phase: SetPhase::Finished, set, request, counts, items })
    }
}

/// PostHog's state as read at the start of a run, kept current with what PostHog
/// confirms of each write.
struct State {
    members: HashMap<String, Member>,
    rules: HashMap<ProjectId, ProjectRules>,
}

impl State {
    fn current(&self, member: &Member, change: &AccessChange) -> AccessLevel {
        match change.target() {
            AccessTarget::Org => AccessLevel::Org(member.level),
            AccessTarget::Project(p) => AccessLevel::Project(self.rules.get(&p).and_then(|r| r.of(&member.membership_id).role)),
        }
    }
}

fn phase(request: &AccessRequest) -> SetPhase {
    match request.status {
        RequestStatus::Pending => SetPhase::AwaitingApproval,
        RequestStatus::Denied | RequestStatus::Expired => SetPhase::Cancelled,
        RequestStatus::Approved => SetPhase::Applying,
        _ => SetPhase::Finished,
    }
}

//! Drift detection: PostHog's actual access against Hogwarden's ledger.
//!
//! The ledger starts from a baseline (the first check records what PostHog shows, and
//! says so in the audit log), then follows every change Hogwarden makes by folding the
//! audit log: `applied` and `reverted` entries carry the read-back of each change,
//! `drift_adopted` entries carry what an admin accepted. Anything else PostHog shows is
//! drift: granted outside Hogwarden, removed outside it, or a level that differs. Each
//! finding names who changed it and when where PostHog's activity log says, and is
//! either adopted into the ledger or reverted through an ordinary, approved request.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use crate::audit::{AuditDraft, AuditEntry, AuditKind};
use crate::error::{Error, Result};
use crate::model::{AccessChange, AccessLevel, AccessRequest, AccessTarget};
use crate::ports::Guarded;
use crate::reviews::{self, ActivityRecord, ChangedBy, DriftFinding, DriftKind, FindingStatus, LedgerEntry, LedgerHead, ReviewCommit};
use crate::types::{Actor, Email, Justification, OrgLevel, OrgRole, Principal, Role};

use super::Hogwarden;
use super::request::NewRequest;

/// Findings written per transaction.
const FINDINGS_PER_COMMIT: usize = 80;

/// What a drift check found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DriftReport {
    pub checked_at: Option<DateTime<Utc>>,
    pub baseline_at: Option<DateTime<Utc>>,
    /// True when this check took the baseline (nothing to compare yet).
    pub baseline_taken: bool,
    pub findings: Vec<DriftFinding>,
}

fn drift_actor() -> Actor {
    Actor::System("drift-check".into())
}

/// PostHog's access now, keyed like the ledger.
type Access = BTreeMap<String, (Email, AccessTarget, AccessLevel)>;

impl Hogwarden {
    /// The last check's findings (admins).
    pub async fn drift_report(&self, who: &Principal) -> Result<DriftReport> {
        if !who.has(Role::Admin) {
            return Err(Error::Forbidden("You need the admin role to see drift.".into()));
        }
        let reviews = self.store.reviews();
        let head = reviews.ledger_head().await?;
        Ok(DriftReport {
            checked_at: head.as_ref().map(|h| h.checked_at),
            baseline_at: head.as_ref().map(|h| h.baseline_at),
            baseline_taken: false,
            findings: reviews.list_findings().await?,
        })
    }

    /// An admin asks for a check now.
    pub async fn check_drift_now(&self, who: &Principal) -> Result<DriftReport> {
        if !who.has(Role::Admin) {
            return Err(Error::Forbidden("You need the admin role to check drift.".into()));
        }
        self.check_drift().await
    }

    /// The scheduled check. Idempotent: a retry compares again and writes the same.
    #[tracing::instrument(skip_all)]
    pub async fn check_drift(&self) -> Result<DriftReport> {
        let reviews = self.store.reviews();
        let now = self.clock.now();
        let Some(head) = reviews.ledger_head().await? else {
            return self.take_baseline(now).await;
        };
        // Fold what Hogwarden did since the last check into the ledger.
        let mut ledger: HashMap<String, LedgerEntry> = reviews.list_ledger().await?.into_iter().map(|e| (e.key(), e)).collect();
        let mut changed: BTreeMap<String, LedgerEntry> = BTreeMap::new();
        let mut seq = head.seq;
        loop {
            let page = self.store.audit_chain_page(seq, 500).await?;
            let Some(last) = page.last() else { break };
            seq = last.seq;
            for entry in &page {
                for (person, target, level) in ledger_changes(entry) {
                    let key = reviews::item_id(&person, target);
                    let version = ledger.get(&key).map_or(1, |e| e.version + 1);
                    let next = LedgerEntry { person, target, level, seq: entry.seq, version };
                    ledger.insert(key.clone(), next.clone());
                    changed.insert(key, next);
                }
            }
            if page.len() < 500 {
                break;
            }
        }
        let changed: Vec<LedgerEntry> = changed.into_values().collect();
        reviews.put_ledger(&changed).await?;

        let access = self.posthog_access().await?;
        let activity = match self.posthog.access_activity(head.checked_at - chrono::Duration::minutes(5)).await {
            Ok(records) => records,
            Err(e) => {
                tracing::warn!(error = %e, "PostHog's activity log is not available; drift is reported without who and when");
                Vec::new()
            }
        };
        let members = self.posthog.list_members().await.unwrap_or_default();
        let memberships: HashMap<&Email, &str> = members.iter().map(|m| (&m.email, m.membership_id.as_str())).collect();

        let mut found: BTreeMap<String, DriftFinding> = BTreeMap::new();
        let keys: std::collections::BTreeSet<&String> = access.keys().chain(ledger.keys()).collect();
        for key in keys {
            let expected = ledger.get(key).and_then(|e| e.level).filter(|l| *l != AccessLevel::Project(None));
            let actual = access.get(key).map(|(_, _, l)| *l);
            if expected == actual {
                continue;
            }
            let (person, target) = match (access.get(key), ledger.get(key)) {
                (Some((p, t, _)), _) => (p.clone(), *t),
                (None, Some(e)) => (e.person.clone(), e.target),
                (None, None) => continue,
            };
            let kind = match (expected, actual) {
                (None, Some(_)) => DriftKind::GrantedOutside,
                (Some(_), None) => DriftKind::RemovedOutside,
                _ => DriftKind::LevelDiffers,
            };
            let changed_by = who_changed(&activity, &person, target, memberships.get(&person).copied());
            found.insert(
                key.clone(),
                DriftFinding {
                    id: key.clone(),
                    person,
                    target,
                    kind,
                    expected,
                    found: actual,
                    changed_by,
                    detected_at: now,
                    status: FindingStatus::Open,
                    revert_request: None,
                    version: 1,
                },
            );
        }

        // Keep what was already reported (its status, its first detection), record the new.
        let existing: HashMap<String, DriftFinding> = reviews.list_findings().await?.into_iter().map(|f| (f.id.clone(), f)).collect();
        let mut writes: Vec<Guarded<DriftFinding>> = Vec::new();
        let mut new_ones = Vec::new();
        for (id, mut finding) in found.clone() {
            match existing.get(&id) {
                Some(old) if old.kind == finding.kind && old.expected == finding.expected && old.found == finding.found => {
                    if old.changed_by.is_none() && finding.changed_by.is_some() {
                        let mut next = old.clone();
                        next.changed_by = finding.changed_by.clone();
                        next.version = old.version + 1;
                        writes.push(Guarded::update(next, old.version));
                    }
                }
                Some(old) => {
                    finding.version = old.version + 1;
                    finding.changed_by = finding.changed_by.or_else(|| old.changed_by.clone());
                    new_ones.push(finding.clone());
                    writes.push(Guarded::update(finding, old.version));
                }
                None => {
                    new_ones.push(finding.clone());
                    writes.push(Guarded::create(finding));
                }
            }
        }
        let resolved: Vec<(String, u64)> =
            existing.values().filter(|f| !found.contains_key(&f.id)).map(|f| (f.id.clone(), f.version)).collect();
        for chunk in writes.chunks(FINDINGS_PER_COMMIT) {
            match reviews.commit_review(ReviewCommit { findings: chunk.to_vec(), ..ReviewCommit::default() }).await {
                Ok(_) | Err(Error::Conflict(_)) => {}
                Err(e) => return Err(e),
            }
        }
        for chunk in resolved.chunks(FINDINGS_PER_COMMIT) {
            match reviews.commit_review(ReviewCommit { resolved: chunk.to_vec(), ..ReviewCommit::default() }).await {
                Ok(_) | Err(Error::Conflict(_)) => {}
                Err(e) => return Err(e),
            }
        }
        let next_head = LedgerHead { seq, baseline_at: head.baseline_at, checked_at: now, version: head.version + 1 };
        let audit = (!new_ones.is_empty()).then(|| AuditDraft {
            at: now,
            actor: drift_actor(),
            kind: AuditKind::DriftDetected,
            subject: None,
            request_id: None,
            grant_id: None,
            details: json!({ "findings": new_ones.iter().map(finding_json).collect::<Vec<_>>() }),
        });
        match reviews
            .commit_review(ReviewCommit {
                head: Some(Guarded::update(next_head.clone(), head.version)),
                audit: audit.into_iter().collect(),
                ..ReviewCommit::default()
            })
            .await
        {
            // Another check moved the head at the same moment; its findings are the same.
            Ok(_) | Err(Error::Conflict(_)) => {}
            Err(e) => return Err(e),
        }
        tracing::info!(findings = found.len(), new = new_ones.len(), "drift check");
        Ok(DriftReport {
            checked_at: Some(now),
            baseline_at: Some(head.baseline_at),
            baseline_taken: false,
            findings: reviews.list_findings().await?,
        })
    }

    /// PostHog's access now (members minus the excluded accounts), keyed like the ledger.
    async fn posthog_access(&self) -> Result<Access> {
        let overview = self.read_access().await?;
        let mut access = Access::new();
        for m in overview.members.iter().filter(|m| !self.policy.reviews.excluded.contains(&m.member.email)) {
            let email = &m.member.email;
            access.insert(reviews::item_id(email, AccessTarget::Org), (email.clone(), AccessTarget::Org, AccessLevel::Org(m.member.level)));
            for p in &m.projects {
                let target = AccessTarget::Project(p.project);
                access.insert(reviews::item_id(email, target), (email.clone(), target, AccessLevel::Project(Some(p.role))));
            }
        }
        Ok(access)
    }

    /// The first check: what PostHog shows now becomes the ledger, and the audit log says so.
    async fn take_baseline(&self, now: DateTime<Utc>) -> Result<DriftReport> {
        let reviews = self.store.reviews();
        // The chain's end before PostHog is read: anything Hogwarden does from here on is
        // folded in later (folding a change the baseline already shows changes nothing).
        let seq = self.store.list_audit(&crate::ports::AuditQuery { limit: 1, ..Default::default() }).await?.first().map_or(0, |e| e.seq);
        let access = self.posthog_access().await?;
        let entries: Vec<LedgerEntry> = access
            .into_values()
            .map(|(person, target, level)| LedgerEntry { person, target, level: Some(level), seq: 0, version: 1 })
            .collect();
        reviews.put_ledger(&entries).await?;
        let head = LedgerHead { seq, baseline_at: now, checked_at: now, version: 1 };
        let audit = AuditDraft {
            at: now,
            actor: drift_actor(),
            kind: AuditKind::DriftBaseline,
            subject: None,
            request_id: None,
            grant_id: None,
            details: json!({ "entries": entries.len(), "after_seq": seq }),
        };
        match reviews.commit_review(ReviewCommit { head: Some(Guarded::create(head)), audit: vec![audit], ..ReviewCommit::default() }).await
        {
            Ok(_) | Err(Error::Conflict(_)) => {}
            Err(e) => return Err(e),
        }
        Ok(DriftReport { checked_at: Some(now), baseline_at: Some(now), baseline_taken: true, findings: Vec::new() })
    }

    async fn finding(&self, id: &str) -> Result<DriftFinding> {
        self.store.reviews().get_finding(id).await?.ok_or_else(|| Error::NotFound(format!("drift finding {id}")))
    }

    /// Accepts what PostHog shows into the ledger (admins).
    pub async fn adopt_drift(&self, who: &Principal, id: &str) -> Result<DriftFinding> {
        if !who.has(Role::Admin) {
            return Err(Error::Forbidden("You need the admin role to adopt drift.".into()));
        }
        let finding = self.finding(id).await?;
        if finding.person == who.email {
            return Err(Error::Forbidden("This drift is in your own access; another admin must decide whether to adopt it.".into()));
        }
        let reviews = self.store.reviews();
        let now = self.clock.now();
        let current = reviews.list_ledger().await?.into_iter().find(|e| e.key() == finding.id);
        let entry = LedgerEntry {
            person: finding.person.clone(),
            target: finding.target,
            level: finding.found,
            seq: 0,
            version: current.as_ref().map_or(1, |e| e.version + 1),
        };
        let guarded = match &current {
            Some(c) => Guarded::update(entry, c.version),
            None => Guarded::create(entry),
        };
        let audit = AuditDraft {
            at: now,
            actor: who.actor(),
            kind: AuditKind::DriftAdopted,
            subject: Some(finding.person.clone()),
            request_id: None,
            grant_id: None,
            details: json!({ "finding": finding_json(&finding), "target": finding.target, "level": finding.found }),
        };
        reviews
            .commit_review(ReviewCommit {
                ledger: vec![guarded],
                resolved: vec![(finding.id.clone(), finding.version)],
                audit: vec![audit],
                ..ReviewCommit::default()
            })
            .await
            .map_err(|e| match e {
                Error::Conflict(_) => Error::Conflict("The finding or the ledger changed at the same moment; check again.".into()),
                other => other,
            })?;
        Ok(finding)
    }

    /// Asks to restore the ledger's access through an ordinary request, which policy
    /// sends to the approvers like any other (admins).
    pub async fn revert_drift(&self, who: &Principal, id: &str) -> Result<AccessRequest> {
        if !who.has(Role::Admin) {
            return Err(Error::Forbidden("You need the admin role to revert drift.".into()));
        }
        let finding = self.finding(id).await?;
        if let Some(request) = finding.revert_request
            && let Some(r) = self.store.get_request(request).await?
            && !r.status.is_final()
        {
            return Ok(r);
        }
        let change = match (finding.target, finding.expected, finding.found) {
            (AccessTarget::Org, Some(AccessLevel::Org(OrgLevel::Admin)), Some(_)) => AccessChange::OrgRole { role: OrgRole::Admin },
            (AccessTarget::Org, Some(AccessLevel::Org(OrgLevel::Member)), Some(_)) => AccessChange::OrgRole { role: OrgRole::Member },
            (AccessTarget::Org, _, _) => {
                return Err(Error::Conflict(
                    "Hogwarden cannot restore this organization membership (an owner, someone who joined or left outside Hogwarden): adopt it, or invite or offboard the person in PostHog.".into(),
                ));
            }
            (AccessTarget::Project(_), _, None)
                if finding.kind == DriftKind::RemovedOutside && !self.is_member(&finding.person).await? =>
            {
                return Err(Error::Conflict(format!(
                    "{} is no longer in the organization; adopt the removal or invite them again.",
                    finding.person
                )));
            }
            (AccessTarget::Project(project), Some(AccessLevel::Project(Some(role))), _) => AccessChange::ProjectRole { project, role },
            (AccessTarget::Project(project), _, _) => AccessChange::RemoveFromProject { project },
        };
        let reason = format!(
            "Revert drift: PostHog shows {} where Hogwarden's ledger says {}",
            finding.found.as_ref().map_or("no access", AccessLevel::describe),
            finding.expected.as_ref().map_or("no access", AccessLevel::describe)
        );
        let request = self
            .request_access(
                who,
                NewRequest {
                    subject: Some(finding.person.clone()),
                    changes: vec![change],
                    duration: None,
                    ends_at: None,
                    justification: Justification::parse(&reason)?,
                    ticket: None,
                },
            )
            .await?;
        let mut next = finding.clone();
        next.status = FindingStatus::Reverting;
        next.revert_request = Some(request.id);
        next.version = finding.version + 1;
        match self
            .store
            .reviews()
            .commit_review(ReviewCommit { findings: vec![Guarded::update(next, finding.version)], ..ReviewCommit::default() })
            .await
        {
            Ok(_) | Err(Error::Conflict(_)) => {}
            Err(e) => return Err(e),
        }
        Ok(request)
    }

    async fn is_member(&self, email: &Email) -> Result<bool> {
        Ok(self.posthog.find_member(email).await?.is_some())
    }
}

fn finding_json(f: &DriftFinding) -> Value {
    json!({
        "person": f.person,
        "target": f.target,
        "kind": f.kind.as_str(),
        "expected": f.expected,
        "found": f.found,
        "changed_by": f.changed_by.as_ref().map(|c| json!({ "actor": c.actor, "at": c.at })),
    })
}

/// What an audit entry changed in the ledger: (person, target, level).
fn ledger_changes(entry: &AuditEntry) -> Vec<(Email, AccessTarget, Option<AccessLevel>)> {
    let parse = |v: &Value| serde_json::from_value::<AccessChange>(v.clone()).ok();
    let level = |v: &Value| serde_json::from_value::<Option<AccessLevel>>(v.clone()).ok().flatten();
    let Some(subject) = entry.subject.clone() else { return Vec::new() };
    match entry.kind {
        // A request's changes (`grants`), or one bulk item (`change`).
        AuditKind::Applied => match entry.details["grants"].as_array() {
            Some(grants) => {
                grants.iter().filter_map(|g| Some((subject.clone(), parse(&g["change"])?.target(), level(&g["read_back"])))).collect()
            }
            None => parse(&entry.details["change"])
                .map(|c| vec![(subject.clone(), c.target(), level(&entry.details["read_back"]))])
                .unwrap_or_default(),
        },
        AuditKind::Reverted => parse(&entry.details["change"])
            .map(|c| {
                let restored = level(&entry.details["read_back"]).or(match c.target() {
                    AccessTarget::Project(_) => Some(AccessLevel::Project(None)),
                    AccessTarget::Org => None,
                });
                vec![(subject.clone(), c.target(), restored)]
            })
            .unwrap_or_default(),
        // Offboarding removes the person from each project, then from the organization.
        AuditKind::MemberRemoved => match entry.details["scope"].as_str() {
            Some("project") => serde_json::from_value::<crate::types::ProjectId>(entry.details["project"].clone())
                .ok()
                .map(|p| vec![(subject.clone(), AccessTarget::Project(p), None)])
                .unwrap_or_default(),
            Some("organization") => vec![(subject, AccessTarget::Org, None)],
            _ => Vec::new(),
        },
        AuditKind::DriftAdopted => serde_json::from_value::<AccessTarget>(entry.details["target"].clone())
            .ok()
            .map(|t| vec![(subject.clone(), t, level(&entry.details["level"]))])
            .unwrap_or_default(),
        _ => Vec::new(),
    }
    .into_iter()
    .map(|(p, t, l)| (p, t, l.filter(|l| *l != AccessLevel::Project(None))))
    .collect()
}

/// The latest activity-log record about this person's access at this target.
fn who_changed(activity: &[ActivityRecord], person: &Email, target: AccessTarget, membership: Option<&str>) -> Option<ChangedBy> {
    activity
        .iter()
        .filter(|r| match target {
            AccessTarget::Org => {
                r.scope == "OrganizationMembership"
                    && (membership.is_some_and(|m| m.eq_ignore_ascii_case(&r.item_id))
                        || r.name.as_deref().is_some_and(|n| n.eq_ignore_ascii_case(person.as_str())))
            }
            AccessTarget::Project(p) => {
                r.scope == "AccessControl"
                    && r.project == Some(p)
                    && r.name.as_deref().is_some_and(|n| n.to_ascii_lowercase().contains(person.as_str()))
            }
        })
        .max_by_key(|r| r.at)
        .map(|r| ChangedBy { actor: r.actor.clone(), at: r.at })
}

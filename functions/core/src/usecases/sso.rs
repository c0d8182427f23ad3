//! Applying SSO rules: a plan per person (change, no-op, exception, error), then the
//! changes through the same machinery as any request (one recorded, pre-approved
//! request per person, applied with read-back, grants and audit entries).
//!
//! A change made by hand in PostHog is detected, not overwritten: Hogwarden remembers
//! what a rule last set (the read-back of its last SSO grant at that target); when
//! PostHog now shows something else, someone changed it since, and the item is an
//! exception that a person must settle (the guide's "SSO user permissions keep
//! resetting").

use std::collections::BTreeMap;

use sha2::{Digest, Sha256};

use crate::audit::{AuditDraft, AuditKind};
use crate::error::{Error, Result};
use crate::model::{AccessChange, AccessLevel, AccessRequest, AccessTarget, RequestStatus};
use crate::ports::{Commit, Guarded, Member};
use crate::sso::Claims;
use crate::types::{Actor, Email, Justification, OrgLevel, OrgRole, Principal, ProjectId, RequestId, Role};

use super::Hogwarden;

use crate::authorize::SSO_REQUESTER;

/// How the justification of every request the SSO rules make begins.
const SSO_JUSTIFICATION: &str = "SSO rule: ";

fn sso_actor() -> Actor {
    Actor::System("sso".into())
}

fn sso_requester() -> Email {
    Email::parse(SSO_REQUESTER).expect("a valid address")
}

/// One person and their identity-provider claims.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SsoPerson {
    pub email: Email,
    pub claims: Claims,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SsoAction {
    Change,
    NoOp,
    /// Changed by hand in PostHog since the rule set it: left alone, reported.
    Exception,
    Error,
}

impl SsoAction {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Change => "change",
            Self::NoOp => "no_op",
            Self::Exception => "exception",
            Self::Error => "error",
        }
    }
}

/// One line of a plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SsoItem {
    pub email: Email,
    /// `organization`, a project's name, or `-` when no target applies.
    pub target: String,
    pub project: Option<ProjectId>,
    pub current: Option<AccessLevel>,
    pub desired: Option<AccessLevel>,
    /// What the rule set last time (from its last SSO grant here).
    pub last_applied: Option<AccessLevel>,
    pub action: SsoAction,
    /// The rule that matched (`department = Engineering → admin`).
    pub rule: Option<String>,
    pub message: String,
}

impl SsoItem {
    fn change(&self) -> Option<AccessChange> {
        match (self.desired?, self.project) {
            (AccessLevel::Org(OrgLevel::Admin), None) => Some(AccessChange::OrgRole { role: OrgRole::Admin }),
            (AccessLevel::Org(OrgLevel::Member), None) => Some(AccessChange::OrgRole { role: OrgRole::Member }),
            (AccessLevel::Project(Some(role)), Some(project)) => Some(AccessChange::ProjectRole { project, role }),
            (AccessLevel::Project(None), Some(project)) => Some(AccessChange::RemoveFromProject { project }),
            _ => None,
        }
    }
}

/// A plan: every item, and a fingerprint that applying must match (so what is applied
/// is what was shown).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SsoPlan {
    pub items: Vec<SsoItem>,
    pub fingerprint: String,
}

impl SsoPlan {
    fn new(items: Vec<SsoItem>) -> Self {
        let mut h = Sha256::new();
        for i in &items {
            h.update(format!("{}|{}|{}|{:?}|{:?}\n", i.email, i.target, i.action.as_str(), i.current, i.desired));
        }
        Self { items, fingerprint: hex::encode(h.finalize())[..16].to_owned() }
    }

    pub fn count(&self, action: SsoAction) -> usize {
        self.items.iter().filter(|i| i.action == action).count()
    }
}

/// What applying did.
#[derive(Debug, Clone)]
pub struct SsoOutcome {
    pub plan: SsoPlan,
    /// The request recorded and applied for each person with changes.
    pub requests: Vec<AccessRequest>,
}

fn describe(level: Option<AccessLevel>) -> &'static str {
    level.as_ref().map_or("—", AccessLevel::describe)
}

impl Hogwarden {
    fn require_sso_admin(&self, who: &Principal) -> Result<()> {
        if who.has(Role::Admin) { Ok(()) } else { Err(Error::Forbidden("SSO sync needs the admin role.".into())) }
    }

    /// What each SSO-made grant of the person last set, per target.
    async fn sso_last_applied(&self, email: &Email) -> Result<BTreeMap<AccessTarget, AccessLevel>> {
        let requester = sso_requester();
        let mut grants = self.store.list_grants_for_user(email, 500).await?;
        grants.sort_by_key(|g| g.applied_at);
        let mut last = BTreeMap::new();
        let mut by_sso: BTreeMap<RequestId, bool> = BTreeMap::new();
        for g in grants {
            let sso = match by_sso.get(&g.request_id) {
                Some(v) => *v,
                None => {
                    // The rules' own requests at sign-in, and a sync's (requested by the
                    // admin who ran it, so another approver decides).
                    let v = self
                        .store
                        .get_request(g.request_id)
                        .await?
                        .is_some_and(|r| r.requester == requester || r.justification.as_str().starts_with(SSO_JUSTIFICATION));
                    by_sso.insert(g.request_id, v);
                    v
                }
            };
            if sso {
                last.insert(g.target(), g.confirmed);
            }
        }
        Ok(last)
    }

    async fn sso_plan_person(&self, person: &SsoPerson, projects: &[crate::ports::Project]) -> Result<(Vec<SsoItem>, Option<Member>)> {
        let item = |target: &str, action, message: String| SsoItem {
            email: person.email.clone(),
            target: target.into(),
            project: None,
            current: None,
            desired: None,
            last_applied: None,
            action,
            rule: None,
            message,
        };
        let Some((index, rule)) = self.policy.sso.matching(&person.claims) else {
            return Ok((vec![item("-", SsoAction::NoOp, "No SSO rule matches these claims; access is left alone.".into())], None));
        };
        let outcome = rule.outcome(index).map_err(|e| Error::PolicyViolation(e.to_string()))?;
        let Some(member) = self.posthog.find_member(&person.email).await? else {
            let mut i = item("organization", SsoAction::Error, "Not a member of the PostHog organization: invite them first.".into());
            i.rule = Some(rule.describe());
            return Ok((vec![i], None));
        };
        if member.level == OrgLevel::Owner {
            let mut i =
                item("organization", SsoAction::Exception, "An owner of the PostHog organization: Hogwarden never changes owners.".into());
            i.rule = Some(rule.describe());
            return Ok((vec![i], Some(member)));
        }
        let last = self.sso_last_applied(&person.email).await?;
        let mut wanted: Vec<(String, Option<ProjectId>, AccessLevel, AccessLevel)> =
            vec![("organization".into(), None, AccessLevel::Org(member.level), AccessLevel::Org(outcome.org))];
        for p in projects {
            if let Some(role) = outcome.project(&p.name) {
                let current = self.posthog.project_role(&member, p.id).await?;
                wanted.push((p.name.clone(), Some(p.id), AccessLevel::Project(current), AccessLevel::Project(role)));
            }
        }
        for name in outcome.projects.keys().filter(|n| *n != crate::sso::ALL_PROJECTS) {
            if !projects.iter().any(|p| &p.name == name) {
                let mut i = item(name, SsoAction::Error, format!("The rule names project '{name}', which PostHog does not have."));
                i.rule = Some(rule.describe());
                return Ok((vec![i], Some(member)));
            }
        }
        let items = wanted
            .into_iter()
            .map(|(target, project, current, desired)| {
                let key = project.map_or(AccessTarget::Org, AccessTarget::Project);
                let last_applied = last.get(&key).copied();
                let (action, message) = if current == desired {
                    (SsoAction::NoOp, format!("Already {}.", current.describe()))
                } else if let Some(prev) = last_applied.filter(|prev| *prev != current) {
                    (
                        SsoAction::Exception,
                        format!(
                            "Changed by hand in PostHog: the rule set {} and PostHog now shows {}. Left alone; the rule would set {}. Settle it by hand, or change the rule.",
                            prev.describe(),
                            current.describe(),
                            desired.describe()
                        ),
                    )
                } else {
                    (SsoAction::Change, format!("{} → {}", current.describe(), desired.describe()))
                };
                SsoItem {
                    email: person.email.clone(),
                    target,
                    project,
                    current: Some(current),
                    desired: Some(desired),
                    last_applied,
                    action,
                    rule: Some(rule.describe()),
                    message,
                }
            })
            .collect();
        Ok((items, Some(member)))
    }

    async fn sso_plan_all(&self, people: &[SsoPerson]) -> Result<SsoPlan> {
        if people.len() > 1000 {
            return Err(Error::PolicyViolation("A sync takes at most 1000 people at once.".into()));
        }
        let projects = self.posthog.list_projects().await?;
        let mut items = Vec::new();
        for person in people {
            items.extend(self.sso_plan_person(person, &projects).await?.0);
        }
        Ok(SsoPlan::new(items))
    }

    /// The plan for these people: nothing is written.
    #[tracing::instrument(skip_all, fields(people = people.len()))]
    pub async fn sso_plan(&self, who: &Principal, people: &[SsoPerson]) -> Result<SsoPlan> {
        self.require_sso_admin(who)?;
        self.sso_plan_all(people).await
    }

    /// Applies the plan shown as `fingerprint` (planned again now; if PostHog changed
    /// in between, the plan differs and nothing is applied).
    #[tracing::instrument(skip_all, fields(people = people.len()))]
    pub async fn sso_apply(&self, who: &Principal, people: &[SsoPerson], fingerprint: &str) -> Result<SsoOutcome> {
        self.require_sso_admin(who)?;
        let plan = self.sso_plan_all(people).await?;
        if plan.fingerprint != fingerprint {
            return Err(Error::Conflict("PostHog or the rules changed since this plan was made; plan again and check it.".into()));
        }
        let described: Vec<_> = people.iter().map(|p| (&p.email, &p.claims)).collect();
        self.record_identities(&described, crate::identity::IdentitySource::Sync).await;
        self.sso_carry_out(plan, Actor::Person(who.email.clone())).await
    }

    /// Applies the rules to a person who just signed in, with the claims of their token.
    #[tracing::instrument(skip_all, fields(person = %person.email))]
    pub async fn sso_sign_in(&self, person: SsoPerson) -> Result<SsoOutcome> {
        // Kept for access reviews (manager claim, departed), rules or not.
        self.record_identities(&[(&person.email, &person.claims)], crate::identity::IdentitySource::SignIn).await;
        if self.policy.sso.is_empty() {
            return Ok(SsoOutcome { plan: SsoPlan::new(Vec::new()), requests: Vec::new() });
        }
        let plan = self.sso_plan_all(std::slice::from_ref(&person)).await?;
        self.sso_carry_out(plan, sso_actor()).await
    }

    async fn sso_carry_out(&self, plan: SsoPlan, by: Actor) -> Result<SsoOutcome> {
        let now = self.clock.now();
        let mut requests = Vec::new();
        let mut people: Vec<&Email> = plan.items.iter().map(|i| &i.email).collect();
        people.dedup();
        for email in people {
            let mine: Vec<&SsoItem> = plan.items.iter().filter(|i| &i.email == email).collect();
            let exceptions: Vec<AuditDraft> = mine
                .iter()
                .filter(|i| i.action == SsoAction::Exception)
                .map(|i| AuditDraft {
                    at: now,
                    actor: by.clone(),
                    kind: AuditKind::SsoException,
                    subject: Some(email.clone()),
                    request_id: None,
                    grant_id: None,
                    details: serde_json::json!({
                        "target": i.target, "rule": i.rule, "last_applied": describe(i.last_applied),
                        "current": describe(i.current), "rule_would_set": describe(i.desired), "message": i.message,
                    }),
                })
                .collect();
            if !exceptions.is_empty() {
                self.store.commit(Commit { audit: exceptions, ..Commit::default() }).await?;
            }
            let changes: Vec<(&SsoItem, AccessChange)> =
                mine.iter().filter(|i| i.action == SsoAction::Change).filter_map(|i| Some((*i, i.change()?))).collect();
            if changes.is_empty() {
                continue;
            }
            let rule = changes[0].0.rule.clone().unwrap_or_default();
            // The rules stand in for an approver, except for admin: anything that makes
            // someone an admin waits for a person's approval, whatever the rules say.
            // A sync's claims come from the admin who runs it, not from the person's own
            // sign-in: its changes wait for an approver other than that admin.
            let by_person = match &by {
                Actor::Person(admin) => Some(admin.clone()),
                _ => None,
            };
            let needs_person = by_person.is_some() || changes.iter().any(|(_, c)| c.grants_admin());
            let request = AccessRequest {
                id: RequestId::new(),
                requester: by_person.unwrap_or_else(sso_requester),
                subject: email.clone(),
                changes: changes.iter().map(|(_, c)| c.clone()).collect(),
                duration: None,
                ends_at: None,
                extends: None,
                approvers_reminded: false,
                informed_at: None,
                justification: Justification::parse(&format!("{SSO_JUSTIFICATION}{rule}"))?,
                ticket: None,
                status: if needs_person { RequestStatus::Pending } else { RequestStatus::Approved },
                created_at: now,
                updated_at: now,
                expires_at: now + chrono::Duration::minutes(if needs_person { self.policy.pending_ttl_minutes } else { 60 }),
                approvals_required: if needs_person { self.policy.approvals_required.max(1) } else { 0 },
                approvals: Vec::new(),
                denial: None,
                baselines: changes.iter().map(|(i, _)| i.current.unwrap_or(AccessLevel::Project(None))).collect(),
                failure: None,
                version: 1,
            };
            let details = serde_json::json!({
                "rule": rule,
                "by": by.to_string(),
                "changes": changes.iter().map(|(i, _)| serde_json::json!({"target": i.target, "from": describe(i.current), "to": describe(i.desired)})).collect::<Vec<_>>(),
                "approved_by": match (&by, needs_person) {
                    (Actor::Person(_), _) => "waits for an approver: a sync's claims come from the admin who ran it",
                    (_, true) => "waits for an approver: it grants admin",
                    _ => "policy: the SSO rules applied to the person's own sign-in",
                },
            });
            let audit = self.draft(by.clone(), AuditKind::SsoApplied, email, request.id, None, details);
            self.store.commit(Commit { requests: vec![Guarded::create(request.clone())], audit: vec![audit], ..Commit::default() }).await?;
            if needs_person {
                self.tell_approvers(&request, "An SSO rule asks for an access change; it waits for your approval").await;
                requests.push(request);
                continue;
            }
            match self.apply(request.id).await {
                Ok(applied) => requests.push(applied),
                Err(Error::Upstream(e)) if e.is_transient() => {
                    tracing::warn!(error = %e, "SSO changes deferred to the sweep");
                    requests.push(self.store.get_request(request.id).await?.unwrap_or(request));
                }
                Err(e) => return Err(e),
            }
        }
        Ok(SsoOutcome { plan, requests })
    }
}

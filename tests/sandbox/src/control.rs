//! What tests and the demo stack do to a sandbox besides sending it HTTP: read its state
//! directly, change it "as if someone used PostHog's UI", and flip its switches.
//!
//! None of this goes through the request gate, so it is never counted, recorded, delayed,
//! throttled or failed.

use std::time::Duration;

use chrono::{DateTime, Utc};
use http::Method;

use crate::app::{RecordedRequest, SandboxState};
use crate::config::{Behaviour, FaultKind, FaultPlan, RateLimit};
use crate::model::{API_SCOPE_OBJECTS, AccessLevel, OrgLevel, PROJECT_RESOURCE, Scope, rank};
use crate::rules;
use crate::seed::SERVICE_EMAIL;
use crate::state::{Actor, InviteDraft, NewPerson, RuleKey, Store, StoreError, truncate_to_micros};

/// A person to add with [`SandboxState::add_member`].
pub type NewMember = NewPerson;

/// An invitation as tests read it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InviteRecord {
    /// The invite id.
    pub id: String,
    /// Who is invited.
    pub target_email: String,
    /// Organization level code (1, 8 or 15) given on acceptance.
    pub level: u8,
    /// When it was sent.
    pub created_at: DateTime<Utc>,
    /// Whether it is past its three days by the sandbox clock.
    pub is_expired: bool,
}

/// An activity-log entry as tests read it.
#[derive(Debug, Clone, PartialEq)]
pub struct ActivityRecord {
    /// The acting user's email.
    pub actor_email: Option<String>,
    /// `OrganizationMembership`, `AccessControl`, ...
    pub scope: String,
    /// `created`, `updated` or `deleted`.
    pub activity: String,
    /// The changed thing's id (a membership id for membership entries).
    pub item_id: String,
    /// The project, for project entries.
    pub team_id: Option<i64>,
    /// The first changed field.
    pub field: Option<String>,
    /// Its value before.
    pub before: serde_json::Value,
    /// Its value after.
    pub after: serde_json::Value,
    /// `api` or `web`.
    pub client: String,
    /// When.
    pub at: DateTime<Utc>,
}

fn now() -> DateTime<Utc> {
    truncate_to_micros(Utc::now())
}

fn web_actor(store: &Store, email: &str) -> Result<Actor, StoreError> {
    let (user, _) = store.member_by_email(email)?;
    Ok(Actor { user_id: user.id, client: "web" })
}

fn project_level_arg(level: Option<&str>, resource: &str) -> Result<Option<AccessLevel>, StoreError> {
    level
        .map(|text| {
            AccessLevel::parse(text)
                .filter(|l| rank(resource, *l).is_some())
                .ok_or_else(|| StoreError::InvalidLevel { resource: resource.to_owned(), level: text.to_owned() })
        })
        .transpose()
}

impl SandboxState {
    // ----- inspection -----

    /// The id of the project called `name`.
    pub fn project_id(&self, name: &str) -> Option<i64> {
        self.store().projects().iter().find(|p| p.name == name).map(|p| p.id)
    }

    /// The organization's name.
    pub fn organization_name(&self) -> String {
        self.store().organization().name.clone()
    }

    /// Every project as `(name, id)`.
    pub fn projects(&self) -> Vec<(String, i64)> {
        self.store().projects().iter().map(|p| (p.name.clone(), p.id)).collect()
    }

    /// The organization level (1, 8 or 15) of the active member with this email.
    pub fn member_level(&self, email: &str) -> Option<u8> {
        self.store().member_by_email(email).ok().map(|(_, m)| m.level.code())
    }

    /// The membership id (the `id` of a member object) of the active member with this email.
    pub fn membership_id(&self, email: &str) -> Option<String> {
        self.store().member_by_email(email).ok().map(|(_, m)| m.id.to_string())
    }

    /// The user uuid (the path key of `/members/{user_uuid}/`) of the user with this email.
    pub fn user_uuid(&self, email: &str) -> Option<String> {
        self.store().user_by_email(email).map(|u| u.uuid.to_string())
    }

    /// Emails of the active members, in membership order.
    pub fn member_emails(&self) -> Vec<String> {
        self.store().active_memberships().map(|(_, u)| u.email.clone()).collect()
    }

    /// The member's explicit project-level row on `project_id` (`"none"`, `"member"` or
    /// `"admin"`), if there is one.
    pub fn project_access(&self, project_id: i64, email: &str) -> Option<String> {
        let store = self.store();
        let (_, membership) = store.member_by_email(email).ok()?;
        let member = membership.id;
        store
            .project_rules(project_id)
            .find(|r| r.organization_member == Some(member) && r.role.is_none())
            .map(|r| r.access_level.as_str().to_owned())
    }

    /// The project-wide default of `project_id` (`None` when the project has no default row,
    /// which PostHog treats as open to everyone with `admin`).
    pub fn project_default(&self, project_id: i64) -> Option<String> {
        self.store().project_rules(project_id).find(|r| r.is_default()).map(|r| r.access_level.as_str().to_owned())
    }

    /// The level the member effectively has on `project_id`, counting org admin, explicit
    /// rows, roles, the project default and PostHog's default.
    pub fn effective_project_level(&self, project_id: i64, email: &str) -> Option<String> {
        let store = self.store();
        let (user, _) = store.member_by_email(email).ok()?;
        store.project(project_id)?;
        store.project_level(user.id, project_id).map(|l| l.as_str().to_owned())
    }

    /// The member's explicit resource-level rows on `project_id` as `(resource, level)`,
    /// sorted by resource.
    pub fn resource_access(&self, project_id: i64, email: &str) -> Vec<(String, String)> {
        let store = self.store();
        let Ok((_, membership)) = store.member_by_email(email) else {
            return Vec::new();
        };
        let member = membership.id;
        let mut rows: Vec<(String, String)> = store
            .resource_rules(project_id)
            .filter(|r| r.organization_member == Some(member) && r.role.is_none())
            .map(|r| (r.resource.clone(), r.access_level.as_str().to_owned()))
            .collect();
        rows.sort();
        rows
    }

    /// Successful state-changing requests so far (a revoke of a row that did not exist
    /// changes nothing and is not counted).
    pub fn write_count(&self) -> usize {
        self.writes()
    }

    /// Every request received, oldest first.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.recorded()
    }

    /// Forgets the recorded requests (the write count stays).
    pub fn clear_requests(&self) {
        self.clear_recorded();
    }

    /// Requests refused with 429 so far.
    pub fn throttled_count(&self) -> usize {
        self.throttle().throttled_count()
    }

    /// The activity log, oldest first.
    pub fn activity_log(&self) -> Vec<ActivityRecord> {
        let store = self.store();
        store
            .activity()
            .iter()
            .map(|e| {
                let first = e.changes.first();
                ActivityRecord {
                    actor_email: e.user_id.and_then(|id| store.user(id)).map(|u| u.email.clone()),
                    scope: e.scope.clone(),
                    activity: e.activity.clone(),
                    item_id: e.item_id.clone(),
                    team_id: e.team_id,
                    field: first.and_then(|c| c.field.clone()),
                    before: first.map(|c| c.before.clone()).unwrap_or_default(),
                    after: first.map(|c| c.after.clone()).unwrap_or_default(),
                    client: e.client.to_owned(),
                    at: e.created_at,
                }
            })
            .collect()
    }

    // ----- changes made "in PostHog's UI" -----

    /// `actor_email` changes `email`'s organization level, under PostHog's rules, and the
    /// activity log names the actor.
    pub fn set_member_level_as(&self, actor_email: &str, email: &str, level: u8) -> Result<(), StoreError> {
        let level = OrgLevel::from_code(level).ok_or(StoreError::InvalidOrgLevel(level))?;
        let mut store = self.store();
        let actor = web_actor(&store, actor_email)?;
        let requester = store.member_by_email(actor_email)?.1.clone();
        let target = store.member_by_email(email)?.1.clone();
        rules::validate_update(Store::seat(&requester), Store::seat(&target), Some(level))?;
        store.set_level(target.id, level, actor, now());
        Ok(())
    }

    /// `actor_email` removes `email` from the organization, under PostHog's rules.
    pub fn remove_member_as(&self, actor_email: &str, email: &str) -> Result<(), StoreError> {
        let mut store = self.store();
        let actor = web_actor(&store, actor_email)?;
        let requester = store.member_by_email(actor_email)?.1.clone();
        let target = store.member_by_email(email)?.1.clone();
        rules::validate_update(Store::seat(&requester), Store::seat(&target), None)?;
        rules::check_removal(self.behaviour().owner_removal, target.level, store.owner_count())?;
        store.remove_membership(target.id, actor, now());
        Ok(())
    }

    /// `actor_email` sets (or with `None` removes) `email`'s explicit project-level row.
    pub fn set_project_access_as(&self, actor_email: &str, project_id: i64, email: &str, level: Option<&str>) -> Result<(), StoreError> {
        let level = project_level_arg(level, PROJECT_RESOURCE)?;
        let key = {
            let store = self.store();
            let member = store.member_by_email(email)?.1.id;
            RuleKey::project(project_id, Some(member))
        };
        self.write_rule_as(actor_email, &key, level)
    }

    /// `actor_email` sets (or with `None` removes) `email`'s resource-level row for `resource`.
    pub fn set_resource_access_as(
        &self,
        actor_email: &str,
        project_id: i64,
        email: &str,
        resource: &str,
        level: Option<&str>,
    ) -> Result<(), StoreError> {
        let takes_resource_levels = API_SCOPE_OBJECTS.contains(&resource) && resource != PROJECT_RESOURCE && resource != "organization";
        if !takes_resource_levels {
            return Err(StoreError::UnknownResource(resource.to_owned()));
        }
        let level = project_level_arg(level, resource)?;
        let key = {
            let store = self.store();
            let member = store.member_by_email(email)?.1.id;
            RuleKey::resource(project_id, resource, Some(member))
        };
        self.write_rule_as(actor_email, &key, level)
    }

    /// Sets the project-wide default of `project_id` (`"none"` restricts the project,
    /// `"member"` opens it to the whole organization; `None` removes the default row), as
    /// the service account in PostHog's UI.
    pub fn set_project_default(&self, project_id: i64, level: Option<&str>) -> Result<(), StoreError> {
        let level = project_level_arg(level, PROJECT_RESOURCE)?;
        self.write_rule_as(SERVICE_EMAIL, &RuleKey::project(project_id, None), level)
    }

    /// Sets (or with `None` removes) the project-level row of RBAC role `role_id` (from
    /// [`SandboxState::add_role`]) on `project_id`, as the service account in PostHog's UI.
    pub fn set_role_project_access(&self, project_id: i64, role_id: &str, level: Option<&str>) -> Result<(), StoreError> {
        let level = project_level_arg(level, PROJECT_RESOURCE)?;
        let role = uuid::Uuid::parse_str(role_id)
            .ok()
            .filter(|id| self.store().role(*id).is_some())
            .ok_or_else(|| StoreError::UnknownResource(format!("role {role_id}")))?;
        let key = RuleKey { role: Some(role), ..RuleKey::project(project_id, None) };
        self.write_rule_as(SERVICE_EMAIL, &key, level)
    }

    fn write_rule_as(&self, actor_email: &str, key: &RuleKey, level: Option<AccessLevel>) -> Result<(), StoreError> {
        let log = self.behaviour().log_access_control_changes;
        let mut store = self.store();
        if store.project(key.team_id).is_none() {
            return Err(StoreError::UnknownProject(key.team_id));
        }
        let actor = web_actor(&store, actor_email)?;
        let subject = store.subject(actor.user_id).ok_or_else(|| StoreError::UnknownEmail(actor_email.to_owned()))?;
        if !rules::can_modify_project_access(&subject, store.project_rules(key.team_id)) {
            return Err(StoreError::Forbidden("Must be an Organization admin to modify project-wide permissions.".to_owned()));
        }
        match level {
            Some(level) => {
                store.upsert_rule(key, level, actor, now(), log);
            }
            None => {
                store.delete_rule(key, actor, now(), log);
            }
        }
        Ok(())
    }

    /// Adds a person to the organization; returns their user uuid.
    pub fn add_member(&self, member: NewMember) -> Result<String, StoreError> {
        let mut store = self.store();
        let id = store.add_person(member, now(), |user| user.last_login = Some(now()))?;
        Ok(store.user(id).map(|u| u.uuid.to_string()).unwrap_or_default())
    }

    /// Adds a project that is restricted (default `none`), as the seeded ones; returns its id.
    pub fn add_project(&self, name: &str) -> i64 {
        let mut store = self.store();
        let at = now();
        let id = store.add_project(name, at);
        let bot = store.member_by_email(SERVICE_EMAIL).map(|(u, _)| u.id).unwrap_or(1);
        let actor = Actor { user_id: bot, client: "web" };
        store.upsert_rule(&RuleKey::project(id, None), AccessLevel::None, actor, at, false);
        id
    }

    /// Adds an RBAC role holding the members with `member_emails`; returns the role id.
    pub fn add_role(&self, name: &str, member_emails: &[&str]) -> Result<String, StoreError> {
        let mut store = self.store();
        let members = member_emails.iter().map(|email| store.member_by_email(email).map(|(_, m)| m.id)).collect::<Result<Vec<_>, _>>()?;
        Ok(store.add_role(name, members).to_string())
    }

    /// Deactivates the user: they leave member lists and their keys stop working.
    pub fn deactivate_user(&self, email: &str) -> Result<(), StoreError> {
        let mut store = self.store();
        let id = store.user_by_email(email).map(|u| u.id).ok_or_else(|| StoreError::UnknownEmail(email.to_owned()))?;
        store.deactivate(id);
        Ok(())
    }

    /// Issues a personal API key with `scopes` (e.g. `["organization_member:write"]`, or
    /// `["*"]`) to the user with this email; returns the key.
    pub fn issue_api_key(&self, email: &str, scopes: &[&str]) -> Result<String, StoreError> {
        let scopes = scopes.iter().map(|s| Scope::parse(s)).collect::<Result<Vec<_>, _>>()?;
        let mut store = self.store();
        let user = store.user_by_email(email).map(|u| u.id).ok_or_else(|| StoreError::UnknownEmail(email.to_owned()))?;
        Ok(store.issue_key(user, scopes, None))
    }

    /// Rolls a personal API key, as PostHog does for a leaked key: the old value stops
    /// working. Returns the new value.
    pub fn roll_api_key(&self, key: &str) -> Option<String> {
        self.store().roll_key(key)
    }

    // ----- invitations and the clock -----

    /// The sandbox clock: the wall clock moved by [`SandboxState::advance_clock`].
    pub fn clock_now(&self) -> DateTime<Utc> {
        self.now()
    }

    /// Moves the sandbox clock forward (or back, with a negative duration). Only
    /// time-dependent answers read it, such as an invite's `is_expired`.
    pub fn advance_clock(&self, by: chrono::Duration) {
        self.advance_clock_by(by);
    }

    /// `actor_email` invites `email` at member level, `sent_ago` before the sandbox clock's
    /// now, under PostHog's rules: refused for someone who already belongs to the
    /// organization, and any earlier invite for the same email is replaced. Returns the
    /// invite id.
    pub fn invite_as(&self, actor_email: &str, email: &str, sent_ago: chrono::Duration) -> Result<String, StoreError> {
        let at = self.now() - sent_ago;
        let mut store = self.store();
        let actor = web_actor(&store, actor_email)?;
        if store.has_membership_for_email(email) {
            return Err(StoreError::DuplicateEmail(email.to_owned()));
        }
        Ok(store.add_invite(InviteDraft::member(email), Some(actor.user_id), at).id.to_string())
    }

    /// Every invitation, newest first, with `is_expired` by the sandbox clock.
    pub fn invites(&self) -> Vec<InviteRecord> {
        let now = self.now();
        let store = self.store();
        let mut invites: Vec<InviteRecord> = store
            .invites()
            .iter()
            .map(|i| InviteRecord {
                id: i.id.to_string(),
                target_email: i.target_email.clone(),
                level: i.level.code(),
                created_at: i.created_at,
                is_expired: i.is_expired(now),
            })
            .collect();
        invites.sort_by_key(|i| std::cmp::Reverse(i.created_at));
        invites
    }

    // ----- switches -----

    /// Sets the latency added to every request.
    pub fn set_latency(&self, latency: Duration) {
        self.set_latency_value(latency);
    }

    /// Replaces the throttle budgets.
    pub fn set_rate_limit(&self, rate_limit: RateLimit) {
        self.throttle().set_config(rate_limit);
    }

    /// Fails `rate` (0.0–1.0) of requests at random with one of `kinds`.
    pub fn set_fault_rate(&self, rate: f64, kinds: Vec<FaultKind>) {
        let hold = self.timeout_hold();
        self.set_fault_plan(FaultPlan { rate, kinds, timeout_hold: hold });
    }

    /// Replaces the random fault plan (rate, kinds and how long `Timeout` holds).
    pub fn set_faults(&self, plan: FaultPlan) {
        self.set_fault_plan(plan);
    }

    /// Fails the next `n` requests whose method is `method` and whose path starts with
    /// `path_prefix`, with `kind`.
    pub fn fail_next(&self, method: Method, path_prefix: &str, n: usize, kind: FaultKind) {
        self.faults().fail_next(method, path_prefix, n, kind);
    }

    /// Stops every random and queued fault.
    pub fn clear_faults(&self) {
        self.faults().clear();
    }

    /// Sets the version-dependent behaviours.
    pub fn set_behaviour(&self, behaviour: Behaviour) {
        self.set_behaviour_value(behaviour);
    }

    /// The version-dependent behaviours in force.
    pub fn current_behaviour(&self) -> Behaviour {
        self.behaviour()
    }
}

//! The in-memory store of the simulated organization and the operations that change it.
//!
//! Operations here apply a change and append its activity-log entry together, so a caller
//! can never write one without the other. Nothing here knows about HTTP; the routes check
//! permissions with `rules.rs` first and call these once the change is allowed.

use chrono::{DateTime, Utc};
use rand::rngs::StdRng;
use rand::{RngCore, SeedableRng};
use serde_json::json;
use uuid::Uuid;

use crate::model::{
    AccessLevel, AccessRule, ActivityEntry, ApiKey, Change, Invite, Membership, OrgLevel, Organization, PROJECT_RESOURCE, Project, Role,
    Scope, User,
};
use crate::rules::{self, Seat, Subject};

/// The digits PostHog's `int_to_base(…, 62)` uses.
const BASE62: &[u8; 62] = b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";

/// Encodes `bytes` as one big-endian integer in base 62, like PostHog's `generate_random_token`.
pub fn base62(bytes: &[u8]) -> String {
    let mut number: Vec<u8> = bytes.to_vec();
    let mut digits = Vec::new();
    while number.iter().any(|b| *b != 0) {
        let mut remainder: u32 = 0;
        for byte in &mut number {
            let value = (remainder << 8) | u32::from(*byte);
            *byte = u8::try_from(value / 62).unwrap_or(0);
            remainder = value % 62;
        }
        digits.push(BASE62[remainder as usize]);
    }
    if digits.is_empty() {
        digits.push(b'0');
    }
    digits.reverse();
    String::from_utf8(digits).unwrap_or_default()
}

/// Drops sub-microsecond precision, which PostHog's timestamps do not have.
pub fn truncate_to_micros(at: DateTime<Utc>) -> DateTime<Utc> {
    let micros = at.timestamp_micros();
    DateTime::from_timestamp_micros(micros).unwrap_or(at)
}

/// Generates every id and token from one seeded generator, so a seed gives the same
/// organization every time.
#[derive(Debug)]
pub struct IdGen {
    rng: StdRng,
}

impl IdGen {
    /// A generator seeded with `seed`.
    pub fn new(seed: u64) -> Self {
        Self { rng: StdRng::seed_from_u64(seed) }
    }

    /// A random (version 4) uuid.
    pub fn uuid(&mut self) -> Uuid {
        let mut bytes = [0u8; 16];
        self.rng.fill_bytes(&mut bytes);
        uuid::Builder::from_random_bytes(bytes).into_uuid()
    }

    /// `prefix` + base62 of `nbytes` random bytes (`phx_`: 35 bytes, `phc_`: 32 bytes).
    pub fn token(&mut self, prefix: &str, nbytes: usize) -> String {
        let mut bytes = vec![0u8; nbytes];
        self.rng.fill_bytes(&mut bytes);
        format!("{prefix}{}", base62(&bytes))
    }
}

/// Who made a change and through what.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Actor {
    /// The acting user.
    pub user_id: i64,
    /// `api` for personal-API-key requests, `web` for changes made "in PostHog's UI".
    pub client: &'static str,
}

/// Everything about a new person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewPerson {
    /// Email address.
    pub email: String,
    /// First name.
    pub first_name: String,
    /// Last name.
    pub last_name: String,
    /// Organization level.
    pub level: OrgLevel,
}

/// Why a direct (non-HTTP) change could not be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// No active member has that email.
    #[error("no member with email {0}")]
    UnknownEmail(String),
    /// No project has that id.
    #[error("no project with id {0}")]
    UnknownProject(i64),
    /// Someone already uses that email.
    #[error("a user with email {0} already exists")]
    DuplicateEmail(String),
    /// The level string is not valid for the resource.
    #[error("invalid access level {level:?} for {resource}")]
    InvalidLevel {
        /// The resource.
        resource: String,
        /// The level given.
        level: String,
    },
    /// The organization level code is not 1, 8 or 15.
    #[error("\"{0}\" is not a valid choice.")]
    InvalidOrgLevel(u8),
    /// The resource is not one that takes access controls.
    #[error("invalid resource {0}")]
    UnknownResource(String),
    /// PostHog's access-control rules refused the change.
    #[error("{0}")]
    Forbidden(String),
    /// A scope string did not parse.
    #[error(transparent)]
    InvalidScope(#[from] crate::model::InvalidScope),
    /// PostHog's level rules refused the change.
    #[error(transparent)]
    Refused(#[from] rules::LevelDenial),
    /// PostHog's removal rules refused the change.
    #[error(transparent)]
    RemovalRefused(#[from] rules::RemovalDenial),
}

/// The whole simulated organization.
#[derive(Debug)]
pub struct Store {
    org: Organization,
    users: Vec<User>,
    memberships: Vec<Membership>,
    projects: Vec<Project>,
    roles: Vec<Role>,
    rules: Vec<AccessRule>,
    keys: Vec<ApiKey>,
    invites: Vec<Invite>,
    activity: Vec<ActivityEntry>,
    ids: IdGen,
    next_user_id: i64,
    next_project_id: i64,
    objects: crate::objects::Objects,
}

impl Store {
    /// An organization named `name` with no one in it yet.
    pub fn new(name: &str, mut ids: IdGen) -> Self {
        let org = Organization { id: ids.uuid(), name: name.to_owned() };
        let objects = crate::objects::Objects::new(org.id.as_u128() as u64);
        Self {
            org,
            users: Vec::new(),
            memberships: Vec::new(),
            projects: Vec::new(),
            roles: Vec::new(),
            rules: Vec::new(),
            keys: Vec::new(),
            invites: Vec::new(),
            activity: Vec::new(),
            ids,
            next_user_id: 1,
            next_project_id: 1001,
            objects,
        }
    }

    /// The organization.
    pub fn organization(&self) -> &Organization {
        &self.org
    }

    pub(crate) fn objects_ref(&self) -> &crate::objects::Objects {
        &self.objects
    }

    pub(crate) fn objects_mut(&mut self) -> &mut crate::objects::Objects {
        &mut self.objects
    }

    // ----- people -----

    /// Adds a user and their membership; returns the user id.
    pub fn add_person(
        &mut self,
        person: NewPerson,
        joined_at: DateTime<Utc>,
        configure: impl FnOnce(&mut User),
    ) -> Result<i64, StoreError> {
        if self.users.iter().any(|u| u.email == person.email) {
            return Err(StoreError::DuplicateEmail(person.email));
        }
        let id = self.next_user_id;
        self.next_user_id += 1;
        let mut user = User {
            id,
            uuid: self.ids.uuid(),
            distinct_id: self.ids.token("", 24),
            first_name: person.first_name,
            last_name: person.last_name,
            email: person.email,
            is_email_verified: Some(true),
            role_at_organization: None,
            is_active: true,
            is_2fa_enabled: false,
            has_social_auth: false,
            last_login: None,
        };
        configure(&mut user);
        let membership = Membership { id: self.ids.uuid(), user_id: id, level: person.level, joined_at, updated_at: joined_at };
        self.users.push(user);
        self.memberships.push(membership);
        Ok(id)
    }

    /// The user with id `id`.
    pub fn user(&self, id: i64) -> Option<&User> {
        // Ids are handed out in increasing order, so the list stays sorted by id.
        self.users.binary_search_by_key(&id, |u| u.id).ok().and_then(|index| self.users.get(index))
    }

    /// The user with exactly this email, active or not.
    pub fn user_by_email(&self, email: &str) -> Option<&User> {
        self.users.iter().find(|u| u.email == email)
    }

    /// The active user with exactly this email who is a member.
    pub fn member_by_email(&self, email: &str) -> Result<(&User, &Membership), StoreError> {
        self.user_by_email(email)
            .filter(|u| u.is_active)
            .and_then(|u| self.membership_of_user(u.id).map(|m| (u, m)))
            .ok_or_else(|| StoreError::UnknownEmail(email.to_owned()))
    }

    /// The membership of user `user_id`, if they are a member.
    pub fn membership_of_user(&self, user_id: i64) -> Option<&Membership> {
        self.memberships.iter().find(|m| m.user_id == user_id)
    }

    /// The membership with id `id`.
    pub fn membership(&self, id: Uuid) -> Option<&Membership> {
        self.memberships.iter().find(|m| m.id == id)
    }

    /// Memberships of active users, which is what PostHog lists.
    pub fn active_memberships(&self) -> impl Iterator<Item = (&Membership, &User)> {
        self.memberships.iter().filter_map(|m| self.user(m.user_id).filter(|u| u.is_active).map(|user| (m, user)))
    }

    /// The active membership whose user has uuid `user_uuid`.
    pub fn active_membership_by_user_uuid(&self, user_uuid: Uuid) -> Option<(&Membership, &User)> {
        self.active_memberships().find(|(_, u)| u.uuid == user_uuid)
    }

    /// The level-rule view of a membership.
    pub fn seat(membership: &Membership) -> Seat {
        Seat { membership_id: membership.id, level: membership.level }
    }

    /// How many owners the organization has.
    pub fn owner_count(&self) -> usize {
        self.memberships.iter().filter(|m| m.level == OrgLevel::Owner).count()
    }

    /// Marks a user inactive: they vanish from member lists and their keys stop working.
    pub fn deactivate(&mut self, user_id: i64) {
        if let Some(user) = self.users.iter_mut().find(|u| u.id == user_id) {
            user.is_active = false;
        }
    }

    /// Changes a membership's level and logs it.
    pub fn set_level(&mut self, membership_id: Uuid, level: OrgLevel, actor: Actor, now: DateTime<Utc>) -> Option<Membership> {
        let membership = self.memberships.iter_mut().find(|m| m.id == membership_id)?;
        let before = membership.level;
        membership.level = level;
        membership.updated_at = now;
        let updated = membership.clone();
        // Like PostHog's activity mixin, a save that changes nothing logs nothing.
        if before != level {
            let name = self.user(updated.user_id).map(|u| u.email.clone());
            self.log(ActivityDraft {
                actor,
                team_id: None,
                scope: "OrganizationMembership",
                activity: "updated",
                item_id: membership_id.to_string(),
                name,
                changes: vec![Change {
                    kind: "OrganizationMembership".into(),
                    action: "changed".into(),
                    field: Some("level".into()),
                    before: json!(before.code()),
                    after: json!(level.code()),
                }],
                at: now,
            });
        }
        Some(updated)
    }

    /// Saves a membership without changing it, which moves `updated_at` (Django's `auto_now`).
    pub fn touch_membership(&mut self, membership_id: Uuid, now: DateTime<Utc>) -> Option<Membership> {
        let membership = self.memberships.iter_mut().find(|m| m.id == membership_id)?;
        membership.updated_at = now;
        Some(membership.clone())
    }

    /// Removes a membership, with its access-control rows and role memberships, and logs it.
    pub fn remove_membership(&mut self, membership_id: Uuid, actor: Actor, now: DateTime<Utc>) {
        let Some(index) = self.memberships.iter().position(|m| m.id == membership_id) else {
            return;
        };
        let removed = self.memberships.remove(index);
        // PostHog deletes access controls with their membership (ON DELETE CASCADE).
        self.rules.retain(|r| r.organization_member != Some(membership_id));
        for role in &mut self.roles {
            role.members.retain(|m| *m != membership_id);
        }
        let name = self.user(removed.user_id).map(|u| u.email.clone());
        self.log(ActivityDraft {
            actor,
            team_id: None,
            scope: "OrganizationMembership",
            activity: "deleted",
            item_id: membership_id.to_string(),
            name,
            changes: vec![Change {
                kind: "OrganizationMembership".into(),
                action: "deleted".into(),
                field: None,
                before: json!({"level": removed.level.code()}),
                after: serde_json::Value::Null,
            }],
            at: now,
        });
    }

    /// Whether any membership, of an active user or not, belongs to a user with exactly this
    /// email (the `user__email=` filter PostHog's invite checks use).
    pub fn has_membership_for_email(&self, email: &str) -> bool {
        self.user_by_email(email).is_some_and(|u| self.membership_of_user(u.id).is_some())
    }

    // ----- invites -----

    /// Stores a new invite, first deleting every invite (expired or not) for the same email,
    /// as PostHog's `delete_existing_invites` does. Returns the stored invite.
    pub fn add_invite(&mut self, draft: InviteDraft, created_by: Option<i64>, now: DateTime<Utc>) -> Invite {
        self.invites.retain(|i| i.target_email != draft.target_email);
        let invite = Invite {
            id: self.ids.uuid(),
            target_email: draft.target_email,
            first_name: draft.first_name,
            level: draft.level,
            message: draft.message,
            private_project_access: draft.private_project_access,
            emailing_attempt_made: draft.send_email,
            created_by,
            created_at: now,
            updated_at: now,
        };
        self.invites.push(invite.clone());
        invite
    }

    /// Every invite, in the order they were stored.
    pub fn invites(&self) -> &[Invite] {
        &self.invites
    }

    /// Deletes the invite with id `id`; returns whether it existed.
    pub fn delete_invite(&mut self, id: Uuid) -> bool {
        let before = self.invites.len();
        self.invites.retain(|i| i.id != id);
        self.invites.len() < before
    }

    // ----- keys -----

    /// Issues a personal API key for `user_id`; `value` is generated when `None`.
    pub fn issue_key(&mut self, user_id: i64, scopes: Vec<Scope>, value: Option<String>) -> String {
        let label = format!("key {}", self.keys.len() + 1);
        self.issue_key_at(user_id, scopes, value, &label, truncate_to_micros(Utc::now()))
    }

    /// Issues a personal API key with a label, created at `now`.
    pub fn issue_key_at(&mut self, user_id: i64, scopes: Vec<Scope>, value: Option<String>, label: &str, now: DateTime<Utc>) -> String {
        let value = value.unwrap_or_else(|| self.ids.token("phx_", 35));
        let id = self.ids.uuid();
        self.keys.push(ApiKey {
            id,
            user_id,
            value: value.clone(),
            scopes,
            label: label.to_owned(),
            created_at: now,
            last_used_at: None,
            last_rolled_at: None,
        });
        value
    }

    /// The key whose secret is `value`.
    pub fn key_by_value(&self, value: &str) -> Option<&ApiKey> {
        self.keys.iter().find(|k| k.value == value)
    }

    /// Gives the key a new secret, as PostHog's roll does; the old secret stops working.
    pub fn roll_key(&mut self, value: &str) -> Option<String> {
        self.roll_key_at(value, truncate_to_micros(Utc::now()))
    }

    /// [`Self::roll_key`] at `now` (sets `last_rolled_at`).
    pub fn roll_key_at(&mut self, value: &str, now: DateTime<Utc>) -> Option<String> {
        let fresh = self.ids.token("phx_", 35);
        let key = self.keys.iter_mut().find(|k| k.value == value)?;
        key.value = fresh.clone();
        key.last_rolled_at = Some(now);
        Some(fresh)
    }

    /// Every personal API key (the session-only organization inventory reads them).
    pub fn keys(&self) -> &[ApiKey] {
        &self.keys
    }

    /// Notes that the key was used, at most once an hour as PostHog does.
    pub fn touch_key(&mut self, id: Uuid, now: DateTime<Utc>) {
        if let Some(key) = self.keys.iter_mut().find(|k| k.id == id)
            && key.last_used_at.is_none_or(|at| now - at > chrono::Duration::hours(1))
        {
            key.last_used_at = Some(now);
        }
    }

    /// A fresh random token with PostHog's prefix and length.
    pub fn token(&mut self, prefix: &str, nbytes: usize) -> String {
        self.ids.token(prefix, nbytes)
    }

    /// A fresh uuid.
    pub fn uuid(&mut self) -> Uuid {
        self.ids.uuid()
    }

    /// Gives the project a new public token, as `reset_token_and_save` does: the old
    /// one stops working at once. Logs the change (scope `Team`, field `api_token`).
    pub fn reset_project_token(&mut self, project_id: i64, actor: Actor, now: DateTime<Utc>) -> Option<String> {
        let fresh = self.ids.token("phc_", 32);
        let project = self.projects.iter_mut().find(|p| p.id == project_id)?;
        let before = std::mem::replace(&mut project.api_token, fresh.clone());
        let name = project.name.clone();
        self.log(ActivityDraft {
            actor,
            team_id: Some(project_id),
            scope: "Team",
            activity: "updated",
            item_id: project_id.to_string(),
            name: Some(name),
            changes: vec![Change {
                kind: "Team".into(),
                action: "changed".into(),
                field: Some("api_token".into()),
                before: serde_json::Value::String(before),
                after: serde_json::Value::String(fresh.clone()),
            }],
            at: now,
        });
        Some(fresh)
    }

    /// The project whose public token is `token`.
    pub fn project_by_token(&self, token: &str) -> Option<&Project> {
        self.projects.iter().find(|p| p.api_token == token)
    }

    // ----- projects -----

    /// Adds a project and returns its id.
    pub fn add_project(&mut self, name: &str, created_at: DateTime<Utc>) -> i64 {
        let id = self.next_project_id;
        self.next_project_id += 1;
        let project = Project { id, uuid: self.ids.uuid(), name: name.to_owned(), api_token: self.ids.token("phc_", 32), created_at };
        self.projects.push(project);
        id
    }

    /// All projects, by id.
    pub fn projects(&self) -> &[Project] {
        &self.projects
    }

    /// The project with id `id`.
    pub fn project(&self, id: i64) -> Option<&Project> {
        self.projects.iter().find(|p| p.id == id)
    }

    // ----- roles -----

    /// Adds a role holding `members` and returns its id.
    pub fn add_role(&mut self, name: &str, members: Vec<Uuid>) -> Uuid {
        let id = self.ids.uuid();
        self.roles.push(Role { id, name: name.to_owned(), members });
        id
    }

    /// The role with id `id`.
    pub fn role(&self, id: Uuid) -> Option<&Role> {
        self.roles.iter().find(|r| r.id == id)
    }

    // ----- access controls -----

    /// Who `user_id` is for access resolution, if they are an active member.
    pub fn subject(&self, user_id: i64) -> Option<Subject> {
        let user = self.user(user_id).filter(|u| u.is_active)?;
        let membership = self.membership_of_user(user.id)?;
        Some(Subject {
            membership_id: membership.id,
            is_org_admin: membership.level >= OrgLevel::Admin,
            role_ids: self.roles.iter().filter(|r| r.members.contains(&membership.id)).map(|r| r.id).collect(),
        })
    }

    /// Project-level rows of project `project_id`.
    pub fn project_rules(&self, project_id: i64) -> impl Iterator<Item = &AccessRule> {
        let id = project_id.to_string();
        self.rules
            .iter()
            .filter(move |r| r.team_id == project_id && r.resource == PROJECT_RESOURCE && r.resource_id.as_deref() == Some(id.as_str()))
    }

    /// Rows of one object (`resource` and `resource_id`), then the resource-type rows of
    /// its resource, in project `project_id`: what an object's level is resolved from.
    pub fn object_rules<'a>(&'a self, project_id: i64, resource: &'a str, resource_id: &'a str) -> impl Iterator<Item = &'a AccessRule> {
        self.rules.iter().filter(move |r| {
            r.team_id == project_id && r.resource == resource && (r.resource_id.is_none() || r.resource_id.as_deref() == Some(resource_id))
        })
    }

    /// Rows of exactly one object.
    pub fn rules_of_object<'a>(&'a self, project_id: i64, resource: &'a str, resource_id: &'a str) -> impl Iterator<Item = &'a AccessRule> {
        self.rules
            .iter()
            .filter(move |r| r.team_id == project_id && r.resource == resource && r.resource_id.as_deref() == Some(resource_id))
    }

    /// Resource-level rows (no `resource_id`) of project `project_id`.
    pub fn resource_rules(&self, project_id: i64) -> impl Iterator<Item = &AccessRule> {
        self.rules.iter().filter(move |r| r.team_id == project_id && r.resource_id.is_none())
    }

    /// `user_id`'s level on project `project_id`; `None` when they are not an active member.
    pub fn project_level(&self, user_id: i64, project_id: i64) -> Option<AccessLevel> {
        let subject = self.subject(user_id)?;
        rules::object_level(&subject, PROJECT_RESOURCE, self.project_rules(project_id), false)
    }

    /// Whether `user_id` can see project `project_id` at all (PostHog filters the others
    /// out of its querysets, so they answer 404).
    pub fn can_see_project(&self, user_id: i64, project_id: i64) -> bool {
        self.project(project_id).is_some() && self.project_level(user_id, project_id).is_some_and(|level| level != AccessLevel::None)
    }

    /// Creates or updates the row identified by `key`; returns it and whether it was created.
    pub fn upsert_rule(&mut self, key: &RuleKey, level: AccessLevel, actor: Actor, now: DateTime<Utc>, log: bool) -> (AccessRule, bool) {
        let existing = self.rules.iter_mut().find(|r| key.matches(r));
        let (rule, before, created) = match existing {
            Some(rule) => {
                let before = rule.access_level;
                rule.access_level = level;
                rule.updated_at = now;
                (rule.clone(), Some(before), false)
            }
            None => {
                let rule = AccessRule {
                    id: self.ids.uuid(),
                    team_id: key.team_id,
                    resource: key.resource.clone(),
                    resource_id: key.resource_id.clone(),
                    organization_member: key.organization_member,
                    role: key.role,
                    access_level: level,
                    created_by: Some(actor.user_id),
                    created_at: now,
                    updated_at: now,
                };
                self.rules.push(rule.clone());
                (rule, None, true)
            }
        };
        if log {
            let activity = if created { "created" } else { "updated" };
            self.log_rule_change(&rule, activity, before, Some(level), actor, now);
        }
        (rule, created)
    }

    /// Deletes the row identified by `key`; returns whether one existed.
    pub fn delete_rule(&mut self, key: &RuleKey, actor: Actor, now: DateTime<Utc>, log: bool) -> bool {
        let Some(index) = self.rules.iter().position(|r| key.matches(r)) else {
            return false;
        };
        let rule = self.rules.remove(index);
        if log {
            self.log_rule_change(&rule, "deleted", Some(rule.access_level), None, actor, now);
        }
        true
    }

    fn log_rule_change(
        &mut self,
        rule: &AccessRule,
        activity: &'static str,
        before: Option<AccessLevel>,
        after: Option<AccessLevel>,
        actor: Actor,
        now: DateTime<Utc>,
    ) {
        let subject = match (rule.organization_member, rule.role) {
            (Some(member), _) => {
                self.membership(member).and_then(|m| self.user(m.user_id)).map_or_else(|| member.to_string(), |u| u.email.clone())
            }
            (None, Some(role)) => self.role(role).map_or_else(|| role.to_string(), |r| format!("role {}", r.name)),
            (None, None) => "everyone".to_owned(),
        };
        let action = match activity {
            "created" => "created",
            "deleted" => "deleted",
            _ => "changed",
        };
        self.log(ActivityDraft {
            actor,
            team_id: Some(rule.team_id),
            scope: "AccessControl",
            activity,
            item_id: rule.id.to_string(),
            name: Some(format!("{} access for {subject}", rule.resource)),
            changes: vec![Change {
                kind: "AccessControl".into(),
                action: action.into(),
                field: Some("access_level".into()),
                before: before.map_or(serde_json::Value::Null, |l| json!(l.as_str())),
                after: after.map_or(serde_json::Value::Null, |l| json!(l.as_str())),
            }],
            at: now,
        });
    }

    // ----- activity -----

    /// Appends an activity-log entry.
    pub fn log(&mut self, draft: ActivityDraft) {
        let entry = ActivityEntry {
            id: self.ids.uuid(),
            user_id: Some(draft.actor.user_id),
            team_id: draft.team_id,
            scope: draft.scope.to_owned(),
            activity: draft.activity.to_owned(),
            item_id: draft.item_id,
            name: draft.name,
            changes: draft.changes,
            client: draft.actor.client,
            created_at: draft.at,
        };
        self.activity.push(entry);
    }

    /// Every activity-log entry, oldest first.
    pub fn activity(&self) -> &[ActivityEntry] {
        &self.activity
    }
}

/// What identifies an access-control row (PostHog's unique constraint, less the team's
/// organization).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleKey {
    /// The project.
    pub team_id: i64,
    /// The resource.
    pub resource: String,
    /// The object, or `None` for a resource-level row.
    pub resource_id: Option<String>,
    /// The member the row is for.
    pub organization_member: Option<Uuid>,
    /// The role the row is for.
    pub role: Option<Uuid>,
}

impl RuleKey {
    /// The project-level row of `project_id` for `member` (or everyone when `None`).
    pub fn project(project_id: i64, member: Option<Uuid>) -> Self {
        Self {
            team_id: project_id,
            resource: PROJECT_RESOURCE.to_owned(),
            resource_id: Some(project_id.to_string()),
            organization_member: member,
            role: None,
        }
    }

    /// The resource-level row of `resource` in `project_id` for `member`.
    pub fn resource(project_id: i64, resource: &str, member: Option<Uuid>) -> Self {
        Self { team_id: project_id, resource: resource.to_owned(), resource_id: None, organization_member: member, role: None }
    }

    fn matches(&self, rule: &AccessRule) -> bool {
        rule.team_id == self.team_id
            && rule.resource == self.resource
            && rule.resource_id == self.resource_id
            && rule.organization_member == self.organization_member
            && rule.role == self.role
    }
}

/// What an invite is created from, once validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InviteDraft {
    /// Who is invited (domain already lower-cased).
    pub target_email: String,
    /// First name, or empty.
    pub first_name: String,
    /// The level the invitee gets.
    pub level: OrgLevel,
    /// The note sent with it.
    pub message: Option<String>,
    /// Project access written on acceptance.
    pub private_project_access: Vec<(i64, AccessLevel)>,
    /// Whether to email it (the sandbox only records that an attempt was made).
    pub send_email: bool,
}

impl InviteDraft {
    /// A member-level invite for `email` with nothing else set.
    pub fn member(email: &str) -> Self {
        Self {
            target_email: email.to_owned(),
            first_name: String::new(),
            level: OrgLevel::Member,
            message: None,
            private_project_access: Vec::new(),
            send_email: true,
        }
    }
}

/// An activity-log entry before it gets its id.
#[derive(Debug, Clone)]
pub struct ActivityDraft {
    /// Who acted.
    pub actor: Actor,
    /// The project, for project-scoped entries.
    pub team_id: Option<i64>,
    /// What kind of thing changed.
    pub scope: &'static str,
    /// `created`, `updated` or `deleted`.
    pub activity: &'static str,
    /// The changed thing's id.
    pub item_id: String,
    /// A human name for it.
    pub name: Option<String>,
    /// Field changes.
    pub changes: Vec<Change>,
    /// When.
    pub at: DateTime<Utc>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base62_matches_posthogs_alphabet() {
        assert_eq!(base62(&[0]), "0");
        assert_eq!(base62(&[61]), "Z");
        assert_eq!(base62(&[62]), "10");
        assert_eq!(base62(&[1, 0]), "48");
    }

    #[test]
    fn tokens_are_deterministic_for_a_seed() {
        let a = IdGen::new(7).token("phx_", 35);
        let b = IdGen::new(7).token("phx_", 35);
        assert_eq!(a, b);
        assert!(a.starts_with("phx_"));
        assert!(a.len() > 40);
    }

    #[test]
    fn removing_a_membership_removes_its_access_rows() {
        let now = Utc::now();
        let mut store = Store::new("Org", IdGen::new(1));
        let user = store
            .add_person(
                NewPerson { email: "a@example.com".into(), first_name: "A".into(), last_name: "B".into(), level: OrgLevel::Member },
                now,
                |_| {},
            )
            .unwrap();
        let membership = store.membership_of_user(user).unwrap().id;
        let project = store.add_project("P", now);
        let actor = Actor { user_id: user, client: "web" };
        store.upsert_rule(&RuleKey::project(project, Some(membership)), AccessLevel::Member, actor, now, true);
        assert_eq!(store.project_rules(project).count(), 1);
        store.remove_membership(membership, actor, now);
        assert_eq!(store.project_rules(project).count(), 0);
        assert_eq!(store.activity().len(), 2);
    }
}

//! Starting data: the guide's demo organization "Acme Corp", an empty organization, or a
//! generated large one for benchmarks.
//!
//! Ids and tokens come from the seeded generator and timestamps are laid out from the
//! configured anchor, so a given configuration always produces the same organization.
//!
//! Acme Corp holds the owner service account `hogwarden-bot@acme.example` and 42 people:
//! admins alice, bob, charlie, diana and evan; 35 members (frank … oscar, see `MEMBERS`);
//! and the "viewers" victor and wendy, who have project Viewer on Production (project
//! `member` plus resource `viewer` on every access-control resource). Every project is
//! restricted (its project-wide default is `none`), so explicit access is what counts.
//! Two people are invited but not members: `newhire@example.com` (pending, sent a day
//! before the sandbox started) and `oldinvite@example.com` (expired, sent ten days before).

use chrono::{DateTime, Duration, Utc};

use crate::config::{SandboxConfig, Seed};
use crate::model::{ACCESS_CONTROL_RESOURCES, AccessLevel, OrgLevel, Scope};
use crate::state::{Actor, IdGen, InviteDraft, NewPerson, RuleKey, Store};

/// The service account's email.
pub const SERVICE_EMAIL: &str = "hogwarden-bot@acme.example";

/// The scopes of the service account's key: what Hogwarden needs, least privilege.
pub const SERVICE_SCOPES: &[&str] = &[
    "organization_member:write",
    "access_control:write",
    "organization:read",
    "project:write",
    "activity_log:read",
    "dashboard:write",
    "insight:write",
    "feature_flag:write",
    "notebook:write",
];

/// Acme Corp's organization admins (level 8), all `@example.com`.
pub const ADMINS: &[&str] = &["alice", "bob", "charlie", "diana", "evan"];

/// Acme Corp's plain members (level 1), all `@example.com`.
pub const MEMBERS: &[&str] = &[
    "frank", "grace", "heidi", "ivan", "judy", "karl", "laura", "mallory", "niaj", "olivia", "peggy", "quentin", "rupert", "sybil",
    "trent", "uma", "walter", "xavier", "yvonne", "zara", "aaron", "bella", "carlos", "dora", "elena", "felix", "gina", "hugo", "iris",
    "jack", "kate", "liam", "maya", "noah", "oscar",
];

/// Acme Corp's members with project Viewer on Production.
pub const VIEWERS: &[&str] = &["victor", "wendy"];

/// Acme Corp's projects, which get ids 1001, 1002, 1003 and 1004 in this order.
pub const PROJECTS: &[&str] = &["Production", "Staging", "Web App", "Mobile App"];

/// Explicit project access in Acme Corp: (project, person, level).
pub const PROJECT_ACCESS: &[(&str, &str, AccessLevel)] = &[
    ("Production", "grace", AccessLevel::Member),
    ("Production", "heidi", AccessLevel::Member),
    ("Production", "victor", AccessLevel::Member),
    ("Production", "wendy", AccessLevel::Member),
    ("Staging", "judy", AccessLevel::Admin),
    ("Staging", "karl", AccessLevel::Admin),
    ("Staging", "frank", AccessLevel::Member),
    ("Staging", "grace", AccessLevel::Member),
    ("Web App", "frank", AccessLevel::Member),
    ("Web App", "laura", AccessLevel::Member),
    ("Web App", "mallory", AccessLevel::Member),
    ("Web App", "niaj", AccessLevel::Member),
    ("Web App", "olivia", AccessLevel::Member),
    ("Web App", "peggy", AccessLevel::Member),
    ("Web App", "quentin", AccessLevel::Admin),
    ("Mobile App", "rupert", AccessLevel::Member),
    ("Mobile App", "sybil", AccessLevel::Member),
    ("Mobile App", "trent", AccessLevel::Member),
    ("Mobile App", "uma", AccessLevel::Admin),
];

const LAST_NAMES: &[&str] = &[
    "Anderson", "Brown", "Carter", "Davis", "Evans", "Fischer", "Garcia", "Hughes", "Ito", "Jensen", "Kowalski", "Lopez", "Martin",
    "Nguyen", "Okafor", "Patel", "Quinn", "Rossi", "Schmidt", "Taylor", "Ueda", "Varga", "Wilson", "Xu", "Young", "Zhang",
];

const ROLES_AT_ORGANIZATION: &[&str] = &["engineering", "product", "data", "marketing", "sales", "leadership", "other"];

/// The organization a configuration starts with, and the service account's key.
#[derive(Debug)]
pub struct Seeded {
    /// The store.
    pub store: Store,
    /// The service account's personal API key.
    pub service_key: String,
}

/// The email of an Acme Corp person, e.g. `alice@example.com`.
pub fn email(name: &str) -> String {
    format!("{name}@example.com")
}

fn capitalised(name: &str) -> String {
    let mut chars = name.chars();
    chars.next().map(|first| first.to_uppercase().chain(chars).collect()).unwrap_or_default()
}

/// Builds the starting organization for `config`.
///
/// `now` is the sandbox clock at start: invitations are only valid for three days, so the
/// seeded ones are dated from it rather than from the fixed anchor.
pub fn build(config: &SandboxConfig, now: DateTime<Utc>) -> Seeded {
    let anchor = config.seed_anchor;
    let name = match config.seed {
        Seed::AcmeCorp | Seed::Empty => "Acme Corp",
        Seed::Large { .. } => "Acme Corp (large)",
    };
    let mut store = Store::new(name, IdGen::new(config.rng_seed));
    let bot = add_service_account(&mut store, anchor);
    let scopes = SERVICE_SCOPES.iter().filter_map(|s| Scope::parse(s).ok()).collect();
    let service_key = store.issue_key(bot, scopes, config.api_key.clone());
    match config.seed {
        Seed::AcmeCorp => {
            seed_acme(&mut store, bot, anchor);
            seed_invites(&mut store, now);
        }
        Seed::Empty => {}
        Seed::Large { members, projects } => seed_large(&mut store, bot, anchor, members, projects),
    }
    Seeded { store, service_key }
}

fn add_service_account(store: &mut Store, anchor: DateTime<Utc>) -> i64 {
    let person = NewPerson {
        email: SERVICE_EMAIL.to_owned(),
        first_name: "Hogwarden".to_owned(),
        last_name: "Bot".to_owned(),
        level: OrgLevel::Owner,
    };
    store
        .add_person(person, anchor - Duration::days(999), |user| {
            user.role_at_organization = Some("engineering".to_owned());
            user.last_login = Some(anchor - Duration::hours(1));
        })
        .unwrap_or_default()
}

fn seed_acme(store: &mut Store, bot: i64, anchor: DateTime<Utc>) {
    let people = ADMINS
        .iter()
        .map(|n| (*n, OrgLevel::Admin))
        .chain(MEMBERS.iter().map(|n| (*n, OrgLevel::Member)))
        .chain(VIEWERS.iter().map(|n| (*n, OrgLevel::Member)));
    for (index, (name, level)) in people.enumerate() {
        let i = i64::try_from(index).unwrap_or_default();
        let person = NewPerson {
            email: email(name),
            first_name: capitalised(name),
            last_name: LAST_NAMES[index % LAST_NAMES.len()].to_owned(),
            level,
        };
        let joined_at = anchor - Duration::days(900 - i * 20) + Duration::minutes(i * 7);
        let _ = store.add_person(person, joined_at, |user| {
            user.role_at_organization = Some(ROLES_AT_ORGANIZATION[index % ROLES_AT_ORGANIZATION.len()].to_owned());
            user.is_2fa_enabled = index % 3 == 0;
            user.has_social_auth = index % 4 == 1;
            user.last_login = match index % 11 {
                // A few people have not signed in for months, so access reviews find them.
                3 | 8 => Some(anchor - Duration::days(100 + i * 3)),
                5 => None,
                _ => Some(anchor - Duration::days(i % 20) - Duration::hours(i % 9)),
            };
        });
    }

    let actor = Actor { user_id: bot, client: "web" };
    for (index, name) in PROJECTS.iter().enumerate() {
        let i = i64::try_from(index).unwrap_or_default();
        let created_at = anchor - Duration::days(800 - i * 90);
        let id = store.add_project(name, created_at);
        restrict(store, id, actor, created_at);
    }
    for (project, person, level) in PROJECT_ACCESS {
        grant(store, project, person, *level, actor, anchor);
    }
    let production = project_id(store, "Production");
    for viewer in VIEWERS {
        let Some(membership) = store.member_by_email(&email(viewer)).ok().map(|(_, m)| m.id) else {
            continue;
        };
        for resource in ACCESS_CONTROL_RESOURCES {
            let key = RuleKey::resource(production, resource, Some(membership));
            store.upsert_rule(&key, AccessLevel::Viewer, actor, anchor - Duration::days(30), false);
        }
    }
    crate::objects::seed(store, anchor);
}

/// Acme Corp's pending invitation: sent by alice a day before the sandbox started, member
/// level, with Member on Web App once accepted.
pub const PENDING_INVITE: &str = "newhire@example.com";
/// Acme Corp's expired invitation: sent by bob ten days before the sandbox started.
pub const EXPIRED_INVITE: &str = "oldinvite@example.com";

fn seed_invites(store: &mut Store, now: DateTime<Utc>) {
    let inviter = |store: &Store, name: &str| store.member_by_email(&email(name)).ok().map(|(u, _)| u.id);
    let web_app = project_id(store, "Web App");
    let pending = InviteDraft {
        first_name: "Nora".to_owned(),
        private_project_access: vec![(web_app, AccessLevel::Member)],
        ..InviteDraft::member(PENDING_INVITE)
    };
    let alice = inviter(store, "alice");
    store.add_invite(pending, alice, now - Duration::days(1));
    let bob = inviter(store, "bob");
    store.add_invite(InviteDraft { first_name: "Otto".to_owned(), ..InviteDraft::member(EXPIRED_INVITE) }, bob, now - Duration::days(10));
}

fn project_id(store: &Store, name: &str) -> i64 {
    store.projects().iter().find(|p| p.name == name).map_or(0, |p| p.id)
}

fn restrict(store: &mut Store, project: i64, actor: Actor, at: DateTime<Utc>) {
    store.upsert_rule(&RuleKey::project(project, None), AccessLevel::None, actor, at, false);
}

fn grant(store: &mut Store, project: &str, person: &str, level: AccessLevel, actor: Actor, anchor: DateTime<Utc>) {
    let project = project_id(store, project);
    let Some(membership) = store.member_by_email(&email(person)).ok().map(|(_, m)| m.id) else {
        return;
    };
    let key = RuleKey::project(project, Some(membership));
    store.upsert_rule(&key, level, actor, anchor - Duration::days(60), false);
}

fn seed_large(store: &mut Store, bot: i64, anchor: DateTime<Utc>, members: usize, projects: usize) {
    let actor = Actor { user_id: bot, client: "web" };
    let project_ids: Vec<i64> = (0..projects)
        .map(|n| {
            let id = store.add_project(&format!("Project {}", n + 1), anchor - Duration::days(500));
            restrict(store, id, actor, anchor - Duration::days(500));
            id
        })
        .collect();
    for index in 0..members {
        let i = i64::try_from(index).unwrap_or_default();
        let level = if index % 50 == 0 { OrgLevel::Admin } else { OrgLevel::Member };
        let person = NewPerson {
            email: format!("user{index:05}@example.com"),
            first_name: format!("User{index}"),
            last_name: LAST_NAMES[index % LAST_NAMES.len()].to_owned(),
            level,
        };
        let joined_at = anchor - Duration::days(600) + Duration::minutes(i * 13);
        let Ok(user) = store.add_person(person, joined_at, |user| {
            user.is_2fa_enabled = index % 2 == 0;
            user.last_login = Some(anchor - Duration::days(i % 200));
        }) else {
            continue;
        };
        let Some(membership) = store.membership_of_user(user).map(|m| m.id) else {
            continue;
        };
        if project_ids.is_empty() || level == OrgLevel::Admin {
            continue;
        }
        let first = project_ids[index % project_ids.len()];
        store.upsert_rule(&RuleKey::project(first, Some(membership)), AccessLevel::Member, actor, joined_at, false);
        if index % 10 == 0 {
            let second = project_ids[(index / 10) % project_ids.len()];
            store.upsert_rule(&RuleKey::project(second, Some(membership)), AccessLevel::Admin, actor, joined_at, false);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn build_now(config: &SandboxConfig) -> Seeded {
        build(config, Utc::now())
    }

    #[test]
    fn acme_corp_has_one_pending_and_one_expired_invite() {
        let now = Utc::now();
        let seeded = build(&SandboxConfig::acme_corp(), now);
        let invites = seeded.store.invites();
        assert_eq!(invites.len(), 2);
        let pending = invites.iter().find(|i| i.target_email == PENDING_INVITE).unwrap();
        assert!(!pending.is_expired(now));
        let expired = invites.iter().find(|i| i.target_email == EXPIRED_INVITE).unwrap();
        assert!(expired.is_expired(now));
        assert!(build(&SandboxConfig::empty(), now).store.invites().is_empty());
    }

    #[test]
    fn acme_corp_has_forty_two_people_and_the_bot() {
        let seeded = build_now(&SandboxConfig::acme_corp());
        assert_eq!(ADMINS.len() + MEMBERS.len() + VIEWERS.len(), 42);
        assert_eq!(seeded.store.active_memberships().count(), 43);
        assert_eq!(seeded.store.projects().len(), 4);
        assert_eq!(seeded.store.projects()[0].id, 1001);
    }

    #[test]
    fn the_same_seed_gives_the_same_organization() {
        let a = build_now(&SandboxConfig::acme_corp());
        let b = build_now(&SandboxConfig::acme_corp());
        assert_eq!(a.store.organization().id, b.store.organization().id);
        assert_eq!(a.service_key, b.service_key);
        let c = build_now(&SandboxConfig::acme_corp().with_rng_seed(7));
        assert_ne!(a.store.organization().id, c.store.organization().id);
    }

    #[test]
    fn configured_api_key_is_used() {
        let seeded = build_now(&SandboxConfig::empty().with_api_key("phx_given"));
        assert_eq!(seeded.service_key, "phx_given");
        assert_eq!(seeded.store.active_memberships().count(), 1);
    }

    #[test]
    fn large_seed_builds_the_requested_size() {
        let seeded = build_now(&SandboxConfig::large(200, 5));
        assert_eq!(seeded.store.active_memberships().count(), 201);
        assert_eq!(seeded.store.projects().len(), 5);
    }
}

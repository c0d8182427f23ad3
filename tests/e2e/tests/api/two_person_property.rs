//! The two-person rule as a property (issue 14): random sequences of calls by random
//! callers (requesters, approvers, an admin, a person with no group, an approver who
//! left PostHog) over requests, approvals, denials, bulk sets, SSO syncs, offboardings
//! and the sweep, each against a fresh local stack and PostHog sandbox. After every
//! sequence:
//! - every change PostHog holds for a person was made by a grant or an offboarding
//!   Hogwarden recorded (no write without a record);
//! - every grant's request was allowed: approvals by enough people who are neither its
//!   requester nor the person whose access it changes nor someone who left, or the
//!   policy rule for one's own access, or the SSO rules at the person's own sign-in;
//! - every offboarding that ran was approved by someone other than its requester, the
//!   person leaving and the new owner;
//! - nobody's approval counts toward a change that gives them access.
//!
//! The use cases are called as the API's handlers call them (the handlers only parse
//! and map), with principals made here, so callers with any roles can be drawn.

use std::collections::BTreeMap;

use hogwarden_core::Hogwarden;
use hogwarden_core::model::{AccessRequest, RequestStatus};
use hogwarden_core::offboard::OffboardStatus;
use hogwarden_core::policy::Policy;
use hogwarden_core::types::{Email, Justification, Principal, Role};
use hogwarden_core::usecases::{NewChangeSet, NewRequest, SSO_REQUESTER, SsoPerson};
use hogwarden_e2e::{TestStack, spawn_stack_with_policy};
use posthog_sandbox::SERVICE_EMAIL;
use proptest::prelude::*;

/// The callers: (email, roles). ivan is an approver who leaves PostHog before anything
/// happens; heidi has no Hogwarden group.
const CALLERS: &[(&str, &[Role])] = &[
    ("alice@example.com", &[Role::Requester, Role::Approver, Role::Admin]),
    ("bob@example.com", &[Role::Requester, Role::Approver]),
    ("frank@example.com", &[Role::Requester]),
    ("grace@example.com", &[Role::Requester]),
    ("heidi@example.com", &[]),
    ("ivan@example.com", &[Role::Requester, Role::Approver]),
];
const DEPARTED: &str = "ivan@example.com";
/// The people whose access the calls change (the callers among them).
const PEOPLE: &[&str] = &["alice@example.com", "bob@example.com", "frank@example.com", "grace@example.com", "judy@example.com"];
const PROJECTS: &[&str] = &["Staging", "Production"];
const ROLES: &[&str] = &["viewer", "member", "admin"];

#[derive(Debug, Clone)]
enum Call {
    /// caller asks for a project role (or org admin when `project` is None) for subject.
    Request {
        caller: usize,
        subject: usize,
        project: Option<usize>,
        role: usize,
    },
    Approve {
        caller: usize,
        nth: usize,
    },
    Deny {
        caller: usize,
        nth: usize,
    },
    /// caller submits a bulk set of (subject, project, role) items, then it is run.
    Bulk {
        caller: usize,
        items: Vec<(usize, usize, usize)>,
    },
    /// caller syncs SSO claims putting subject in a department.
    Sso {
        caller: usize,
        subject: usize,
        department: usize,
    },
    /// caller offboards a person with new_owner receiving their objects.
    Offboard {
        caller: usize,
        subject: usize,
        new_owner: usize,
    },
    ApproveOffboarding {
        caller: usize,
        nth: usize,
    },
    /// Time passes and the sweep runs.
    Sweep {
        minutes: i64,
    },
}

fn call() -> impl Strategy<Value = Call> {
    let who = 0..CALLERS.len();
    let person = 0..PEOPLE.len();
    prop_oneof![
        4 => (who.clone(), person.clone(), prop::option::of(0..PROJECTS.len()), 0..ROLES.len())
            .prop_map(|(caller, subject, project, role)| Call::Request { caller, subject, project, role }),
        4 => (who.clone(), 0..4usize).prop_map(|(caller, nth)| Call::Approve { caller, nth }),
        1 => (who.clone(), 0..4usize).prop_map(|(caller, nth)| Call::Deny { caller, nth }),
        2 => (who.clone(), prop::collection::vec((person.clone(), 0..PROJECTS.len(), 0..ROLES.len()), 1..3))
            .prop_map(|(caller, items)| Call::Bulk { caller, items }),
        1 => (who.clone(), person.clone(), 0..2usize).prop_map(|(caller, subject, department)| Call::Sso { caller, subject, department }),
        1 => (who.clone(), person.clone(), person).prop_map(|(caller, subject, new_owner)| Call::Offboard { caller, subject, new_owner }),
        2 => (who, 0..3usize).prop_map(|(caller, nth)| Call::ApproveOffboarding { caller, nth }),
        1 => (1..90i64).prop_map(|minutes| Call::Sweep { minutes }),
    ]
}

fn email(s: &str) -> Email {
    Email::parse(s).unwrap()
}

fn principal(i: usize) -> Principal {
    let (e, roles) = CALLERS[i];
    Principal { email: email(e), subject: format!("sub-{e}"), roles: roles.to_vec() }
}

fn policy() -> Policy {
    let sso = serde_json::json!({"rules": [
        {"claim": "department", "equals": "Engineering", "role": "admin"},
        {"claim": "department", "equals": "Product", "role": "member", "projects": {"Staging": "member"}},
    ]});
    Policy { sso: serde_json::from_value(sso).unwrap(), ..Policy::default() }
}

/// Every person's access in the sandbox: org level and each project's explicit level.
fn snapshot(t: &TestStack) -> BTreeMap<(String, String), Option<String>> {
    let sb = t.sandbox();
    let mut out = BTreeMap::new();
    for person in PEOPLE.iter().chain([&DEPARTED]) {
        out.insert((person.to_string(), "org".into()), sb.member_level(person).map(|l| l.to_string()));
        for project in PROJECTS {
            let id = sb.project_id(project).unwrap();
            let resources = sb.resource_access(id, person).len();
            out.insert((person.to_string(), project.to_string()), sb.project_access(id, person).map(|l| format!("{l}+{resources}")));
        }
    }
    out
}

async fn pending(app: &Hogwarden, nth: usize) -> Option<AccessRequest> {
    let list = app.store.list_requests_by_status(RequestStatus::Pending, 50).await.unwrap();
    if list.is_empty() { None } else { Some(list[nth % list.len()].clone()) }
}

async fn run(t: &TestStack, call: &Call) {
    let app = &t.stack.app;
    let reason = || Justification::parse("Property test: a random call").unwrap();
    // Each call may be refused; what matters is what reaches PostHog.
    match call.clone() {
        Call::Request { caller, subject, project, role } => {
            let change = match project {
                None => hogwarden_core::model::AccessChange::OrgRole { role: hogwarden_core::types::OrgRole::Admin },
                Some(p) => {
                    let id = t.sandbox().project_id(PROJECTS[p]).unwrap();
                    let project = hogwarden_core::types::ProjectId::new(id).unwrap();
                    let role = hogwarden_core::types::ProjectRole::parse(ROLES[role]).unwrap();
                    hogwarden_core::model::AccessChange::ProjectRole { project, role }
                }
            };
            let duration = hogwarden_core::types::GrantDuration::from_minutes(30).ok();
            let new = NewRequest {
                subject: Some(email(PEOPLE[subject])),
                changes: vec![change],
                duration,
                ends_at: None,
                justification: reason(),
                ticket: None,
            };
            let _ = app.request_access(&principal(caller), new).await;
        }
        Call::Approve { caller, nth } => {
            if let Some(r) = pending(app, nth).await {
                let _ = app.approve(&principal(caller), r.id, None).await;
                if app.store.get_change_set(r.id).await.ok().flatten().is_some() {
                    let _ = app.bulk_run(r.id, std::time::Duration::from_secs(5)).await;
                }
            }
        }
        Call::Deny { caller, nth } => {
            if let Some(r) = pending(app, nth).await {
                let _ = app.deny(&principal(caller), r.id, reason()).await;
            }
        }
        Call::Bulk { caller, items } => {
            let mut csv = String::from("email,project,role\n");
            for (subject, project, role) in items {
                csv.push_str(&format!("{},{},{}\n", PEOPLE[subject], PROJECTS[project], ROLES[role]));
            }
            let new = NewChangeSet { format: "csv".into(), content: csv, reason: Some("Property test: a random set".into()) };
            if let Ok((set, _)) = app.bulk_submit(&principal(caller), new).await {
                let _ = app.bulk_run(set.set.request_id, std::time::Duration::from_secs(5)).await;
            }
        }
        Call::Sso { caller, subject, department } => {
            let claims = [("department".to_owned(), vec![["Engineering", "Product"][department].to_owned()])].into_iter().collect();
            let people = vec![SsoPerson { email: email(PEOPLE[subject]), claims }];
            if let Ok(plan) = app.sso_plan(&principal(caller), &people).await {
                let _ = app.sso_apply(&principal(caller), &people, &plan.fingerprint).await;
            }
        }
        Call::Offboard { caller, subject, new_owner } => {
            let _ = app.offboard_request(&principal(caller), &email(PEOPLE[subject]), &email(PEOPLE[new_owner]), reason(), None).await;
        }
        Call::ApproveOffboarding { caller, nth } => {
            let open = app.store.list_offboardings(Some(OffboardStatus::Pending), 50).await.unwrap();
            if !open.is_empty() {
                let _ = app.offboard_approve(&principal(caller), open[nth % open.len()].id, None).await;
            }
        }
        Call::Sweep { minutes } => {
            t.clock.advance(chrono::Duration::minutes(minutes));
            let _ = app.sweep().await;
        }
    }
}

/// The approvals that count for a change to `subject`'s access in `request`.
fn counted(request: &AccessRequest, subject: &Email) -> usize {
    request.approvals.iter().filter(|a| a.by != request.requester && &a.by != subject && a.by.as_str() != DEPARTED).count()
}

/// What the rule says of everything Hogwarden recorded; an empty list when it holds.
async fn violations(t: &TestStack, before: &BTreeMap<(String, String), Option<String>>, policy: &Policy) -> Vec<String> {
    let app = &t.stack.app;
    let mut out = Vec::new();
    let mut changed_by_record: Vec<(String, String)> = Vec::new();
    for status in [RequestStatus::Approved, RequestStatus::Applied, RequestStatus::Reverted, RequestStatus::Failed] {
        for request in app.store.list_requests_by_status(status, 500).await.unwrap() {
            for grant in app.store.list_grants_for_request(request.id).await.unwrap() {
                let target = match grant.change.project() {
                    None => "org".to_owned(),
                    Some(p) => t.sandbox().projects().into_iter().find(|(_, id)| *id == p.get()).map(|(n, _)| n).unwrap_or_default(),
                };
                changed_by_record.push((grant.subject.as_str().to_owned(), target));
                let by_rule = request.approvals.is_empty()
                    && ((request.requester == grant.subject
                        && request.requester == request.subject
                        && policy.approvals_needed(&request.changes) == 0)
                        || (request.requester.as_str() == SSO_REQUESTER && !grant.change.grants_admin()));
                let required = usize::from(request.approvals_required.max(1));
                if !by_rule && counted(&request, &grant.subject) < required {
                    out.push(format!(
                        "grant {} ({} for {}) of request {} by {} was approved by {:?} only",
                        grant.id,
                        grant.change.describe(),
                        grant.subject,
                        request.id,
                        request.requester,
                        request.approvals.iter().map(|a| a.by.as_str()).collect::<Vec<_>>()
                    ));
                }
                if request.approvals.iter().any(|a| a.by == grant.subject) {
                    out.push(format!("{} approved request {} that changes their own access", grant.subject, request.id));
                }
            }
        }
    }
    for record in app.store.list_offboardings(None, 500).await.unwrap() {
        let ran = record.steps.iter().any(|s| s.status == hogwarden_core::offboard::StepStatus::Done);
        if ran {
            for person in [&record.subject, &record.new_owner] {
                changed_by_record.push((person.as_str().to_owned(), "*".into()));
            }
            let ok = record
                .approvals
                .iter()
                .filter(|a| a.by != record.requester && a.by != record.subject && a.by != record.new_owner && a.by.as_str() != DEPARTED)
                .count();
            if ok < usize::from(record.approvals_required.max(1)) {
                out.push(format!("offboarding {} of {} ran with approvals {:?}", record.id, record.subject, record.approvals));
            }
        }
    }
    for (key, after) in snapshot(t) {
        if before.get(&key) != Some(&after)
            && !changed_by_record.iter().any(|(p, target)| *p == key.0 && (*target == key.1 || target == "*" || key.1 == "org"))
        {
            out.push(format!("{} at {} changed from {:?} to {after:?} with no grant or offboarding", key.0, key.1, before.get(&key)));
        }
    }
    out
}

#[test]
fn no_sequence_of_calls_gets_a_change_into_posthog_without_two_people() {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    let config = ProptestConfig { cases: 24, failure_persistence: None, ..ProptestConfig::default() };
    proptest!(config, |(calls in prop::collection::vec(call(), 4..14))| {
        let found = runtime.block_on(async {
            let policy = policy();
            let t = spawn_stack_with_policy(policy.clone()).await;
            t.sandbox().remove_member_as(SERVICE_EMAIL, DEPARTED).expect("ivan leaves");
            let before = snapshot(&t);
            for call in &calls {
                run(&t, call).await;
            }
            let found = violations(&t, &before, &policy).await;
            t.shutdown().await;
            found
        });
        prop_assert!(found.is_empty(), "the two-person rule was broken: {found:#?}");
    });
}

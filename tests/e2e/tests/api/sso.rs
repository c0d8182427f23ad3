//! Scenario 8, SSO attribute mapping: the guide's example mapping, verbatim, as rules in
//! the policy; applied when a person signs in and by a sync that shows a plan first; a
//! change made by hand in PostHog is reported as an exception, never silently reset.

use hogwarden_api_types as dto;
use hogwarden_core::policy::Policy;
use hogwarden_e2e::{APPROVER, MEMBER, OTHER_MEMBER, SECOND_APPROVER, TestStack, spawn_stack_with_policy};
use serde_json::json;

/// The guide's "Example mapping": department Engineering → PostHog Admin, Product →
/// PostHog Member, Executive → PostHog Viewer; contractor true → limited project
/// access (false → full access: the department's rule).
fn guide_policy() -> Policy {
    let sso = json!({"rules": [
        {"claim": "contractor", "equals": "true", "role": "member", "projects": {"Web App": "member"}, "limited": true},
        {"claim": "department", "equals": "Engineering", "role": "admin"},
        {"claim": "department", "equals": "Product", "role": "member"},
        {"claim": "department", "equals": "Executive", "role": "viewer"},
    ]});
    Policy { sso: serde_json::from_value(sso).unwrap(), ..Policy::default() }
}

fn project(t: &TestStack, name: &str) -> i64 {
    t.sandbox().project_id(name).unwrap()
}

async fn audit_kinds_for(t: &TestStack, email: &str) -> Vec<String> {
    let mut entries: Vec<dto::AuditEntryDto> =
        t.audit(APPROVER).await.entries.into_iter().filter(|e| e.subject.as_deref() == Some(email)).collect();
    entries.sort_by_key(|e| e.seq);
    entries.into_iter().map(|e| e.kind).collect()
}

#[tokio::test]
async fn the_rules_are_shown_and_bad_rules_never_start() {
    let t = spawn_stack_with_policy(guide_policy()).await;
    let r = t.get(MEMBER, "/api/sso/rules").await;
    assert_eq!(r.status, 200);
    let rules: dto::SsoRulesDto = r.json();
    let described: Vec<&str> = rules.rules.iter().map(|r| r.description.as_str()).collect();
    assert_eq!(
        described,
        [
            "contractor = true → member (Web App: member), no access elsewhere",
            "department = Engineering → admin",
            "department = Product → member",
            "department = Executive → viewer",
        ]
    );
    t.shutdown().await;

    let owner = Policy {
        sso: serde_json::from_value(json!({"rules": [{"claim": "department", "equals": "X", "role": "owner"}]})).unwrap(),
        ..Policy::default()
    };
    let msg = owner.validate().unwrap_err().to_string();
    assert!(msg.contains("sso.rules[0].role") && msg.contains("never granted"), "{msg}");
    // The stack refuses to start with rules it cannot use.
    let dir = tempfile::tempdir().unwrap();
    let mut config = hogwarden_local::StackConfig::new(dir.path());
    config.policy = owner;
    let started = hogwarden_local::Stack::start(config).await;
    assert!(started.is_err_and(|e| e.to_string().contains("sso.rules[0].role")));
}

#[tokio::test]
async fn signing_in_applies_the_guides_mapping() {
    let t = spawn_stack_with_policy(guide_policy()).await;
    let sb = t.sandbox().clone();
    let (production, staging, web, mobile) =
        (project(&t, "Production"), project(&t, "Staging"), project(&t, "Web App"), project(&t, "Mobile App"));
    assert_eq!(sb.project_access(production, MEMBER), None);

    // frank: department Product → PostHog Member (member of every project).
    let r = t.dev_login(MEMBER).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(sb.member_level(MEMBER), Some(1));
    for p in [production, staging, web, mobile] {
        assert_eq!(sb.project_access(p, MEMBER).as_deref(), Some("member"), "project {p}");
    }
    assert_eq!(audit_kinds_for(&t, MEMBER).await, ["sso_applied", "applied"]);

    // grace: contractor → limited project access: Web App only.
    assert_eq!(sb.project_access(production, OTHER_MEMBER).as_deref(), Some("member"));
    let r = t.dev_login(OTHER_MEMBER).await;
    assert_eq!(r.status, 200);
    assert_eq!(sb.project_access(web, OTHER_MEMBER).as_deref(), Some("member"));
    assert_eq!(sb.project_access(production, OTHER_MEMBER), None);
    assert_eq!(sb.project_access(staging, OTHER_MEMBER), None);

    // alice and bob: Engineering → Admin, which they are: nothing to write.
    let writes = sb.write_count();
    assert_eq!(t.dev_login(APPROVER).await.status, 200);
    assert_eq!(t.post(SECOND_APPROVER, "/api/sso/sign-in", json!({})).await.status, 200);
    assert_eq!(sb.write_count(), writes);
    assert_eq!(sb.member_level(APPROVER), Some(8));

    // Signing in again changes nothing: the rule's access is in place.
    let again: dto::SsoPlanDto = t.post(MEMBER, "/api/sso/sign-in", json!({})).await.json();
    assert_eq!((again.changes, again.exceptions), (0, 0));
    assert!(again.applied_requests.is_empty());
    assert_eq!(sb.write_count(), writes);
    t.shutdown().await;
}

/// The SSO request that makes `email` an admin waits in the inbox; bob approves it.
async fn approve_sso_admin(t: &TestStack, outcome: &dto::SsoPlanDto, email: &str) {
    let mut waiting = Vec::new();
    for id in &outcome.applied_requests {
        let r: dto::RequestDto = t.get(SECOND_APPROVER, &format!("/api/requests/{id}")).await.json();
        if r.subject == email && r.status == "pending" {
            waiting.push(r.id);
        }
    }
    assert_eq!(waiting.len(), 1, "one SSO request for {email} waits for an approver");
    let r = t.approve(SECOND_APPROVER, &waiting[0]).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
}

fn person(email: &str, claims: &serde_json::Value) -> serde_json::Value {
    json!({"email": email, "claims": claims})
}

#[tokio::test]
async fn the_sync_shows_a_plan_and_applies_it_on_confirm() {
    let t = spawn_stack_with_policy(guide_policy()).await;
    let sb = t.sandbox().clone();
    let people = json!([
        person("niaj@example.com", &json!({"department": "Engineering"})),
        person("victor@example.com", &json!({"department": "Executive", "contractor": false})),
        person("walter@example.com", &json!({"department": "Sales"})),
        person("nobody@example.com", &json!({"department": "Product"})),
    ]);
    let writes = sb.write_count();
    let r = t.post(APPROVER, "/api/sso/plan", json!({"people": people})).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let plan: dto::SsoPlanDto = r.json();
    assert_eq!(sb.write_count(), writes, "a plan writes nothing");
    let find = |email: &str, target: &str| plan.items.iter().find(|i| i.email == email && i.target == target).unwrap().clone();
    let niaj = find("niaj@example.com", "organization");
    assert_eq!((niaj.action.as_str(), niaj.current.as_deref(), niaj.desired.as_deref()), ("change", Some("member"), Some("admin")));
    assert_eq!(find("victor@example.com", "Production").action, "no_op", "victor is already a Viewer there");
    assert_eq!(find("victor@example.com", "Staging").action, "change");
    assert_eq!(find("walter@example.com", "-").action, "no_op");
    assert_eq!(find("nobody@example.com", "organization").action, "error");
    assert_eq!((plan.changes, plan.errors), (4, 1));

    // Only admins sync; a stale plan is refused; bad input names the problem.
    assert_eq!(t.post(SECOND_APPROVER, "/api/sso/plan", json!({"people": people})).await.status, 403);
    let stale = t.post(APPROVER, "/api/sso/apply", json!({"people": people, "fingerprint": "0000"})).await;
    assert_eq!(stale.status, 409);
    let bad = t.post(APPROVER, "/api/sso/plan", json!({"people": [person("niaj", &json!({}))]})).await;
    assert_eq!(bad.status, 400);
    assert!(bad.message().contains("people[0].email"), "{}", bad.message());
    assert_eq!(sb.write_count(), writes);

    let r = t.post(APPROVER, "/api/sso/apply", json!({"people": people, "fingerprint": plan.fingerprint})).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let applied: dto::SsoPlanDto = r.json();
    assert_eq!(applied.applied_requests.len(), 2);
    // A sync's claims come from the admin who runs it: every change waits for another
    // approver (the two-person rule), so nothing reaches PostHog yet.
    assert_eq!(sb.write_count(), writes);
    assert_eq!(sb.member_level("niaj@example.com"), Some(1));
    approve_sso_admin(&t, &applied, "niaj@example.com").await;
    approve_sso_admin(&t, &applied, "victor@example.com").await;
    assert_eq!(sb.member_level("niaj@example.com"), Some(8));
    let staging = project(&t, "Staging");
    assert_eq!(sb.project_access(staging, "victor@example.com").as_deref(), Some("member"));
    assert!(sb.resource_access(staging, "victor@example.com").iter().all(|(_, level)| level == "viewer"));
    assert!(!sb.resource_access(staging, "victor@example.com").is_empty(), "Viewer is member plus viewer on every resource");
    let kinds = audit_kinds_for(&t, "niaj@example.com").await;
    assert_eq!(kinds, ["sso_applied", "approved", "applied"]);
    t.shutdown().await;
}

#[tokio::test]
async fn a_change_made_by_hand_in_posthog_is_an_exception_not_reset() {
    let t = spawn_stack_with_policy(guide_policy()).await;
    let sb = t.sandbox().clone();
    let people = json!([person("niaj@example.com", &json!({"department": "Engineering"}))]);
    let plan: dto::SsoPlanDto = t.post(APPROVER, "/api/sso/plan", json!({"people": people})).await.json();
    let r = t.post(APPROVER, "/api/sso/apply", json!({"people": people, "fingerprint": plan.fingerprint})).await;
    assert_eq!(r.status, 200);
    approve_sso_admin(&t, &r.json(), "niaj@example.com").await;
    assert_eq!(sb.member_level("niaj@example.com"), Some(8));

    // Someone demotes niaj by hand in PostHog.
    sb.set_member_level_as(APPROVER, "niaj@example.com", 1).unwrap();
    let plan: dto::SsoPlanDto = t.post(APPROVER, "/api/sso/plan", json!({"people": people})).await.json();
    let item = plan.items.iter().find(|i| i.target == "organization").unwrap();
    assert_eq!(item.action, "exception", "{item:?}");
    assert_eq!(
        (item.last_applied.as_deref(), item.current.as_deref(), item.desired.as_deref()),
        (Some("admin"), Some("member"), Some("admin"))
    );
    assert!(item.message.contains("Changed by hand in PostHog"), "{}", item.message);
    let writes = sb.write_count();
    let r = t.post(APPROVER, "/api/sso/apply", json!({"people": people, "fingerprint": plan.fingerprint})).await;
    assert_eq!(r.status, 200);
    assert_eq!(sb.write_count(), writes, "not silently reset");
    assert_eq!(sb.member_level("niaj@example.com"), Some(1));
    let kinds = audit_kinds_for(&t, "niaj@example.com").await;
    assert_eq!(kinds, ["sso_applied", "approved", "applied", "sso_exception"]);

    // The same at sign-in: frank's Mobile App access taken away by hand stays away.
    assert_eq!(t.dev_login(MEMBER).await.status, 200);
    let mobile = project(&t, "Mobile App");
    assert_eq!(sb.project_access(mobile, MEMBER).as_deref(), Some("member"));
    sb.set_project_access_as(APPROVER, mobile, MEMBER, None).unwrap();
    let r: dto::SsoPlanDto = t.post(MEMBER, "/api/sso/sign-in", json!({})).await.json();
    assert_eq!(r.exceptions, 1, "{:?}", r.items);
    assert_eq!(sb.project_access(mobile, MEMBER), None);
    assert!(audit_kinds_for(&t, MEMBER).await.contains(&"sso_exception".to_owned()));
    t.shutdown().await;
}

//! The security review's attacks on the two-person rule (issue 14), each as the
//! attacker tried it against a running stack: what the answer is, and what the PostHog
//! sandbox holds afterwards.

use hogwarden_api_types as dto;
use hogwarden_core::policy::Policy;
use hogwarden_e2e::{APPROVER, MEMBER, OTHER_MEMBER, SECOND_APPROVER, TestStack, spawn_stack, spawn_stack_with_policy};
use posthog_sandbox::SERVICE_EMAIL;
use serde_json::json;

fn project(t: &TestStack, name: &str) -> i64 {
    t.sandbox().project_id(name).unwrap()
}

/// The `authorization` recorded on every `applied` and `reverted` entry of a request.
async fn authorizations(t: &TestStack, request: &str) -> Vec<serde_json::Value> {
    let r = t.get(APPROVER, &format!("/api/audit?request_id={request}&limit=100")).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let list: dto::AuditList = r.json();
    list.entries.into_iter().filter(|e| e.kind == "applied" || e.kind == "reverted").map(|e| e.details["authorization"].clone()).collect()
}

#[tokio::test]
async fn h2_an_approver_cannot_approve_a_bulk_set_that_elevates_them() {
    // GIVEN alice submits a bulk set whose one item makes bob, an approver, Production admin
    let t = spawn_stack().await;
    let production = project(&t, "Production");
    let csv = "email,project,role\nbob@example.com,Production,admin\n";
    let r =
        t.post(APPROVER, "/api/bulk/sets", json!({ "format": "csv", "content": csv, "reason": "Production incident rota, OPS-91" })).await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let set: dto::BulkSetDto = r.json();

    // WHEN bob approves it
    let approve = t.approve(SECOND_APPROVER, &set.id).await;

    // THEN he is refused, and PostHog never made him an admin
    assert_eq!(approve.status, 403, "{:?}", approve.body);
    assert!(approve.message().contains("changes your own access"), "{}", approve.message());
    let sb = t.sandbox();
    assert_eq!(sb.project_access(production, SECOND_APPROVER), None);
    assert_eq!(sb.write_count(), 0);
    t.shutdown().await;
}

#[tokio::test]
async fn h3_a_requester_cannot_lower_someone_elses_access_without_an_approver() {
    // GIVEN grace is a Member of Staging and Viewer needs no approval by policy
    let t = spawn_stack().await;
    let staging = project(&t, "Staging");
    assert_eq!(t.sandbox().project_access(staging, OTHER_MEMBER).as_deref(), Some("member"));

    // WHEN frank asks for grace to become a Viewer of Staging
    let r = t
        .post(
            MEMBER,
            "/api/requests",
            json!({ "subject_email": OTHER_MEMBER, "changes": [{ "kind": "project_role", "project_id": staging, "role": "viewer" }], "reason": "She only needs to read the dashboards" }),
        )
        .await;

    // THEN the request waits for an approver and grace keeps her access
    assert_eq!(r.status, 201, "{:?}", r.body);
    let request: dto::RequestDto = r.json();
    assert_eq!(request.status, "pending");
    assert!(request.approvals_required >= 1);
    assert_eq!(t.sandbox().project_access(staging, OTHER_MEMBER).as_deref(), Some("member"));
    assert!(t.sandbox().resource_access(staging, OTHER_MEMBER).is_empty());
    assert_eq!(t.sandbox().write_count(), 0);

    // AND once bob approves, it is applied and the audit names him as the authorization
    let approved = t.approve(SECOND_APPROVER, &request.id).await;
    assert_eq!(approved.status, 200, "{:?}", approved.body);
    let auth = authorizations(&t, &request.id).await;
    assert_eq!(auth.len(), 1, "{auth:?}");
    assert_eq!(auth[0]["kind"], "approvals");
    assert_eq!(auth[0]["approvers"], json!([SECOND_APPROVER]));
    t.shutdown().await;
}

#[tokio::test]
async fn a_request_for_ones_own_viewer_access_goes_through_by_the_policy_rule_it_names() {
    let t = spawn_stack().await;
    let mobile = project(&t, "Mobile App");
    let r = t
        .post(
            MEMBER,
            "/api/requests",
            json!({ "changes": [{ "kind": "project_role", "project_id": mobile, "role": "viewer" }], "reason": "Read the crash dashboards" }),
        )
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let request: dto::RequestDto = r.json();
    assert_eq!(request.status, "applied");
    let auth = authorizations(&t, &request.id).await;
    assert_eq!(auth[0]["kind"], "policy_rule", "{auth:?}");
    assert_eq!(auth[0]["requester"], MEMBER);
    t.shutdown().await;
}

#[tokio::test]
async fn m2_the_new_owner_cannot_approve_an_offboarding_and_a_departed_approver_decides_nothing() {
    let t = spawn_stack().await;
    let laura = "laura@example.com";
    // An offboarding of laura whose objects go to bob.
    let r = t
        .post(APPROVER, "/api/offboardings", json!({ "email": laura, "new_owner": SECOND_APPROVER, "reason": "Leaves Acme on Friday" }))
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let id = r.body["id"].as_str().unwrap().to_owned();

    // bob, who would receive every object, approves it: refused, laura stays.
    let own = t.post(SECOND_APPROVER, &format!("/api/offboardings/{id}/approve"), json!({})).await;
    assert_eq!(own.status, 403, "{:?}", own.body);
    assert!(own.message().contains("receive"), "{}", own.message());
    assert!(t.sandbox().member_level(laura).is_some());

    // bob leaves the organization; his token still works, his decisions do not.
    let request = t.request_temporary_admin(MEMBER, 30).await;
    t.sandbox().remove_member_as(SERVICE_EMAIL, SECOND_APPROVER).expect("bob is removed");
    let deny = t.post(SECOND_APPROVER, &format!("/api/requests/{}/deny", request.id), json!({ "reason": "Not this week" })).await;
    let deny_off = t.post(SECOND_APPROVER, &format!("/api/offboardings/{id}/deny"), json!({ "reason": "Not yet" })).await;
    assert_eq!(deny.status, 403, "{:?}", deny.body);
    assert_eq!(deny_off.status, 403, "{:?}", deny_off.body);
    let still: dto::RequestDto = t.get(MEMBER, &format!("/api/requests/{}", request.id)).await.json();
    assert_eq!(still.status, "pending");
    t.shutdown().await;
}

fn sso_policy() -> Policy {
    let sso = json!({"rules": [{"claim": "department", "equals": "Product", "role": "member", "projects": {"Production": "member"}}]});
    Policy { sso: serde_json::from_value(sso).unwrap(), ..Policy::default() }
}

#[tokio::test]
async fn m3_an_sso_sync_from_an_admins_body_waits_for_another_approver() {
    // GIVEN alice (admin) runs a sync whose claims, from her own request body, give
    // her Production access
    let t = spawn_stack_with_policy(sso_policy()).await;
    let production = project(&t, "Production");
    let people = json!([{ "email": APPROVER, "claims": { "department": "Product" } }]);
    let plan: dto::SsoPlanDto = t.post(APPROVER, "/api/sso/plan", json!({ "people": people })).await.json();
    assert!(plan.changes >= 1, "{plan:?}");

    // WHEN she applies it
    let r = t.post(APPROVER, "/api/sso/apply", json!({ "people": people, "fingerprint": plan.fingerprint })).await;

    // THEN nothing reaches PostHog; the change waits, and she cannot approve it herself
    assert_eq!(r.status, 200, "{:?}", r.body);
    let outcome: dto::SsoPlanDto = r.json();
    assert_eq!(t.sandbox().project_access(production, APPROVER), None);
    let id = &outcome.applied_requests[0];
    let waiting: dto::RequestDto = t.get(APPROVER, &format!("/api/requests/{id}")).await.json();
    assert_eq!((waiting.status.as_str(), waiting.requester.as_str()), ("pending", APPROVER));
    assert_eq!(t.approve(APPROVER, id).await.status, 403);
    assert_eq!(t.approve(SECOND_APPROVER, id).await.status, 200);
    assert_eq!(t.sandbox().project_access(production, APPROVER).as_deref(), Some("member"));
    t.shutdown().await;
}

#[tokio::test]
async fn l1_an_owners_access_cannot_be_requested() {
    let t = spawn_stack().await;
    let owner =
        t.sandbox().member_emails().into_iter().find(|e| t.sandbox().member_level(e) == Some(15)).expect("the demo org has an owner");
    let staging = project(&t, "Staging");
    let r = t
        .post(
            APPROVER,
            "/api/requests",
            json!({ "subject_email": owner, "changes": [{ "kind": "project_role", "project_id": staging, "role": "viewer" }], "reason": "Tidy up the owner's access" }),
        )
        .await;
    assert_eq!(r.status, 422, "{:?}", r.body);
    assert!(r.message().contains("owner"), "{}", r.message());
    assert_eq!(t.sandbox().write_count(), 0);
    t.shutdown().await;
}

#[tokio::test]
async fn l5_an_admin_cannot_adopt_drift_in_their_own_access() {
    let t = spawn_stack().await;
    let web = project(&t, "Web App");
    let _: dto::DriftReportDto = t.post(APPROVER, "/api/drift/check", json!({})).await.json();
    // Someone gives alice Web App admin by hand in PostHog.
    t.sandbox().set_project_access_as(SERVICE_EMAIL, web, APPROVER, Some("admin")).unwrap();
    let report: dto::DriftReportDto = t.post(APPROVER, "/api/drift/check", json!({})).await.json();
    let finding = report.findings.iter().find(|f| f.person == APPROVER).expect("alice's drift is found").id.clone();
    let enc = |s: &str| s.replace('#', "%23").replace('@', "%40");

    let adopt = t.post(APPROVER, &format!("/api/drift/{}/adopt", enc(&finding)), json!({})).await;

    assert_eq!(adopt.status, 403, "{:?}", adopt.body);
    assert!(adopt.message().contains("your own access"), "{}", adopt.message());
    t.shutdown().await;
}

#[tokio::test]
async fn each_offboarding_write_records_the_approvals_that_allowed_it() {
    let t = spawn_stack().await;
    let laura = "laura@example.com";
    let r = t
        .post(APPROVER, "/api/offboardings", json!({ "email": laura, "new_owner": OTHER_MEMBER, "reason": "Leaves Acme on Friday" }))
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let id = r.body["id"].as_str().unwrap().to_owned();
    let approved = t.post(SECOND_APPROVER, &format!("/api/offboardings/{id}/approve"), json!({})).await;
    assert_eq!(approved.status, 200, "{:?}", approved.body);
    assert_eq!(t.sandbox().member_level(laura), None);

    let list: dto::AuditList = t.get(APPROVER, &format!("/api/audit?request_id={id}&limit=100")).await.json();
    let writes: Vec<_> = list.entries.iter().filter(|e| e.kind == "handed_over" || e.kind == "member_removed").collect();
    assert!(!writes.is_empty());
    for e in writes {
        let auth = &e.details["authorization"];
        if e.details["already_in_place"] == json!(true) {
            assert!(auth.is_null(), "{e:?}");
        } else {
            assert_eq!(auth["kind"], "approvals", "{e:?}");
            assert_eq!(auth["approvers"], json!([SECOND_APPROVER]), "{e:?}");
        }
    }
    t.shutdown().await;
}

//! The roles guide's scenarios ("Update User Access in PostHog: Roles Guide"), run
//! through the API against the sandbox. The guide's three project examples run as
//! written; each test checks PostHog's final state and the audit trail.

use hogwarden_api_types as dto;
use hogwarden_e2e::{APPROVER, SECOND_APPROVER, TestStack, spawn_stack};
use serde_json::{Value, json};

/// alice is requester, approver and admin; she asks on others' behalf.
const ADMIN: &str = APPROVER;

async fn ask(t: &TestStack, subject: &str, changes: Value) -> hogwarden_e2e::Reply {
    t.post(
        ADMIN,
        "/api/requests",
        json!({ "subject_email": subject, "changes": changes, "reason": "Roles guide scenario", "ticket": "OPS-7" }),
    )
    .await
}

/// Asks, has bob approve when approval is needed, and returns the final request.
async fn ask_and_apply(t: &TestStack, subject: &str, changes: Value) -> dto::RequestDto {
    let reply = ask(t, subject, changes).await;
    assert_eq!(reply.status, 201, "{:?}", reply.body);
    let request: dto::RequestDto = reply.json();
    let request = if request.status == "pending" {
        let approved = t.approve(SECOND_APPROVER, &request.id).await;
        assert_eq!(approved.status, 200, "{:?}", approved.body);
        approved.json()
    } else {
        request
    };
    assert_eq!(request.status, "applied", "{request:?}");
    request
}

fn project(t: &TestStack, name: &str) -> i64 {
    t.sandbox().project_id(name).unwrap_or_else(|| panic!("the sandbox has {name}"))
}

async fn role(t: &TestStack, email: &str, project: i64) -> Option<String> {
    let overview: dto::AccessOverviewDto = t.get(ADMIN, "/api/access").await.json();
    let member = overview.members.into_iter().find(|m| m.email == email)?;
    member.projects.into_iter().find(|p| p.project_id == project).map(|p| p.role)
}

#[tokio::test]
async fn an_org_member_is_promoted_to_admin_with_approval_and_downgraded_again() {
    let t = spawn_stack().await;
    let who = "heidi@example.com";

    let promote = ask(&t, who, json!([{ "kind": "org_role", "role": "admin" }])).await;
    assert_eq!(promote.status, 201, "{:?}", promote.body);
    let promote: dto::RequestDto = promote.json();
    assert_eq!(promote.status, "pending", "admin always needs an approver");
    assert_eq!(t.sandbox().member_level(who), Some(1), "nothing changes before approval");
    assert_eq!(t.approve(SECOND_APPROVER, &promote.id).await.status, 200);
    assert_eq!(t.sandbox().member_level(who), Some(8));

    let down = ask_and_apply(&t, who, json!([{ "kind": "org_role", "role": "member" }])).await;

    assert_eq!(t.sandbox().member_level(who), Some(1));
    assert_eq!(down.grants[0].baseline, "admin");
    assert_eq!(down.grants[0].confirmed, "member");
    assert_eq!(t.audit_kinds().await, ["requested", "approved", "applied", "requested", "approved", "applied"]);
    t.shutdown().await;
}

#[tokio::test]
async fn owner_is_never_granted_and_the_refusal_says_why() {
    let t = spawn_stack().await;
    let writes = t.sandbox().write_count();

    let reply = ask(&t, "heidi@example.com", json!([{ "kind": "org_role", "role": "owner" }])).await;

    assert_eq!(reply.status, 400, "{:?}", reply.body);
    assert!(reply.message().contains("owner is never granted"), "{}", reply.message());
    assert!(reply.message().contains("billing"), "{}", reply.message());
    assert_eq!(t.sandbox().write_count(), writes);
    assert!(t.audit_kinds().await.is_empty());
    t.shutdown().await;
}

#[tokio::test]
async fn guide_example_production_viewer_becomes_member() {
    // Before: Production: Viewer
    let t = spawn_stack().await;
    let production = project(&t, "Production");
    let who = "victor@example.com";
    assert_eq!(role(&t, who, production).await.as_deref(), Some("viewer"));

    ask_and_apply(&t, who, json!([{ "kind": "project_role", "project_id": production, "role": "member" }])).await;

    // After: Production: Member
    assert_eq!(role(&t, who, production).await.as_deref(), Some("member"));
    assert!(t.sandbox().resource_access(production, who).is_empty(), "no viewer rule is left to cap the new role");
    t.shutdown().await;
}

#[tokio::test]
async fn guide_example_a_pm_takes_on_a_second_product() {
    // Before: Web App: Member
    let t = spawn_stack().await;
    let (web, mobile) = (project(&t, "Web App"), project(&t, "Mobile App"));
    let who = "laura@example.com";
    assert_eq!(role(&t, who, web).await.as_deref(), Some("member"));
    assert_eq!(role(&t, who, mobile).await, None);

    ask_and_apply(&t, who, json!([{ "kind": "project_role", "project_id": mobile, "role": "member" }])).await;

    // After: Web App: Member, Mobile App: Member
    assert_eq!(role(&t, who, web).await.as_deref(), Some("member"));
    assert_eq!(role(&t, who, mobile).await.as_deref(), Some("member"));
    assert_eq!(t.sandbox().member_level(who), Some(1), "organization membership is untouched");
    t.shutdown().await;
}

#[tokio::test]
async fn guide_example_an_admin_leaves_the_project_team_in_one_request() {
    // Before: Production: Admin, Staging: Admin
    let t = spawn_stack().await;
    let (production, staging) = (project(&t, "Production"), project(&t, "Staging"));
    let who = "karl@example.com";
    t.sandbox().set_project_access_as("alice@example.com", production, who, Some("admin")).expect("set up");
    assert_eq!(role(&t, who, production).await.as_deref(), Some("admin"));
    assert_eq!(role(&t, who, staging).await.as_deref(), Some("admin"));

    let request = ask_and_apply(
        &t,
        who,
        json!([
            { "kind": "project_role", "project_id": production, "role": "viewer" },
            { "kind": "project_role", "project_id": staging, "role": "viewer" },
        ]),
    )
    .await;

    // After: Production: Viewer, Staging: Viewer
    assert_eq!(request.grants.len(), 2, "one request, two changes");
    assert_eq!(role(&t, who, production).await.as_deref(), Some("viewer"));
    assert_eq!(role(&t, who, staging).await.as_deref(), Some("viewer"));
    let audit = t.audit(ADMIN).await;
    let applied = audit.entries.iter().find(|e| e.kind == "applied").expect("applied entry");
    assert_eq!(applied.details["grants"].as_array().map(Vec::len), Some(2), "one audit entry covers the whole request");
    t.shutdown().await;
}

#[tokio::test]
async fn removal_from_one_project_keeps_the_organization_and_other_projects() {
    let t = spawn_stack().await;
    let (staging, web) = (project(&t, "Staging"), project(&t, "Web App"));
    let who = "frank@example.com";

    let request = ask_and_apply(&t, who, json!([{ "kind": "remove_from_project", "project_id": staging }])).await;

    assert_eq!(role(&t, who, staging).await, None, "removed from Staging");
    assert_eq!(t.sandbox().project_access(staging, who), None);
    assert_eq!(role(&t, who, web).await.as_deref(), Some("member"), "keeps Web App");
    assert_eq!(t.sandbox().member_level(who), Some(1), "keeps the organization");
    assert_eq!(request.grants[0].baseline, "member");
    assert_eq!(request.grants[0].confirmed, "no access");
    t.shutdown().await;
}

#[tokio::test]
async fn removal_from_a_project_open_to_everyone_is_refused_with_the_way_out() {
    let t = spawn_stack().await;
    let web = project(&t, "Web App");
    t.sandbox().set_project_default(web, Some("member")).expect("open Web App to the organization");
    let writes = t.sandbox().write_count();

    let open = ask(&t, "laura@example.com", json!([{ "kind": "remove_from_project", "project_id": web }])).await;
    let nothing = ask(&t, "heidi@example.com", json!([{ "kind": "remove_from_project", "project_id": project(&t, "Staging") }])).await;
    let temporary = t
        .post(
            ADMIN,
            "/api/requests",
            json!({ "subject_email": "frank@example.com", "changes": [{ "kind": "remove_from_project", "project_id": project(&t, "Staging") }],
                    "duration_minutes": 60, "reason": "Roles guide scenario" }),
        )
        .await;

    assert_eq!(open.status, 422, "{:?}", open.body);
    assert!(open.message().contains("open to everyone in the organization"), "{}", open.message());
    assert!(open.message().contains("Restrict the project first"), "{}", open.message());
    assert_eq!(nothing.status, 422, "{:?}", nothing.body);
    assert!(nothing.message().contains("nothing to remove"), "{}", nothing.message());
    assert_eq!(temporary.status, 422, "{:?}", temporary.body);
    assert!(temporary.message().contains("permanent"), "{}", temporary.message());
    assert_eq!(t.sandbox().write_count(), writes, "nothing was written to PostHog");
    assert!(t.audit_kinds().await.is_empty(), "no request was recorded");
    assert_eq!(t.sandbox().project_access(web, "laura@example.com").as_deref(), Some("member"));
    t.shutdown().await;
}

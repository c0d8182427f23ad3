//! Who has what (GET /api/access), the access snapshot the quarterly schedule
//! records, and Hogwarden's own key as PostHog sees it (GET /api/keys and the
//! scheduled key check).

use std::sync::Arc;

use hogwarden_api_types as dto;
use hogwarden_core::policy::Policy;
use hogwarden_core::types::{Actor, Email};
use hogwarden_e2e::{APPROVER, MEMBER, SECOND_APPROVER, spawn_stack};

fn member<'a>(overview: &'a dto::AccessOverviewDto, email: &str) -> &'a dto::MemberAccessDto {
    overview.members.iter().find(|m| m.email == email).unwrap_or_else(|| panic!("{email} is in the overview"))
}

fn role_in(m: &dto::MemberAccessDto, project: i64) -> Option<&str> {
    m.projects.iter().find(|p| p.project_id == project).map(|p| p.role.as_str())
}

#[tokio::test]
async fn admins_see_every_member_with_their_project_roles_and_temporary_grants() {
    // Arrange: frank holds temporary Admin.
    let t = spawn_stack().await;
    let request = t.request_temporary_admin(MEMBER, 60).await;
    assert_eq!(t.approve(SECOND_APPROVER, &request.id).await.status, 200);
    let production = t.sandbox().project_id("Production").unwrap();
    let staging = t.sandbox().project_id("Staging").unwrap();
    let reads_before = t.posthog_calls("GET", "/api/");

    // Act
    let reply = t.get(APPROVER, "/api/access").await;
    let refused = t.get(MEMBER, "/api/access").await;

    // Assert
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    let overview: dto::AccessOverviewDto = reply.json();
    assert_eq!(overview.members.len(), 43, "42 people and the owner bot");
    assert_eq!(overview.projects.len(), 4);
    assert_eq!(overview.members.iter().filter(|m| m.org_level == "admin").count(), 6, "5 admins plus frank's temporary Admin");
    let frank = member(&overview, MEMBER);
    assert_eq!(frank.org_level, "admin");
    let grant = frank.org_grant.as_ref().expect("frank's Admin is marked temporary");
    assert_eq!(grant.seconds_left, 3600);
    assert_eq!(role_in(frank, staging), Some("member"));
    assert!(frank.projects.iter().all(|p| p.grant.is_none()), "project roles are permanent");
    assert_eq!(role_in(member(&overview, "victor@example.com"), production), Some("viewer"));
    assert_eq!(role_in(member(&overview, "judy@example.com"), staging), Some("admin"));
    assert_eq!(role_in(member(&overview, "grace@example.com"), production), Some("member"));
    assert!(member(&overview, APPROVER).org_grant.is_none());
    let reads = t.posthog_calls("GET", "/api/") - reads_before;
    assert!(reads <= 2 + 2 * 4, "members, projects and at most two reads per project, not one per member: {reads}");
    assert_eq!(refused.status, 403, "{:?}", refused.body);
    assert!(refused.message().contains("admin role"), "{}", refused.message());
    t.shutdown().await;
}

#[tokio::test]
async fn an_access_snapshot_records_the_counts_in_the_audit_log() {
    let t = spawn_stack().await;

    let (_, counts) = t.stack.app.access_snapshot(Actor::System("quarterly-review".into())).await.expect("snapshot");

    assert_eq!((counts.members, counts.owners, counts.admins, counts.org_members), (43, 1, 5, 37));
    assert_eq!(counts.projects, 4);
    let audit = t.audit(APPROVER).await;
    let entry = audit.entries.iter().find(|e| e.kind == "access_snapshot").expect("the snapshot is audited");
    assert_eq!(entry.details["admins"], 5);
    assert_eq!(entry.details["members"], 43);
    assert_eq!(entry.actor, "hogwarden:quarterly-review");
    let verification = t.verify().await;
    assert!(verification.valid, "{verification:?}");
    t.shutdown().await;
}

#[tokio::test]
async fn the_service_key_is_listed_by_fingerprint_and_a_rejected_key_is_audited_and_reported() {
    // Arrange
    let t = spawn_stack().await;
    let key = t.sandbox().service_api_key();
    let mut app = t.stack.app.clone();
    app.policy = Arc::new(Policy { security_contacts: vec![Email::parse("security@example.com").unwrap()], ..Policy::default() });

    // Act: list while the key works, then PostHog rolls it (as after a leak).
    let before = t.get(APPROVER, "/api/keys").await;
    let refused = t.get(MEMBER, "/api/keys").await;
    let healthy = app.check_service_key().await.expect("check");
    t.sandbox().roll_api_key(&key).expect("the sandbox rolls the key");
    let after: dto::KeyList = t.get(APPROVER, "/api/keys").await.json();
    let rejected = app.check_service_key().await.expect("a 401 is an answer, not an error");

    // Assert
    assert_eq!(before.status, 200, "{:?}", before.body);
    let listed: dto::KeyList = before.json();
    let service = &listed.keys[0];
    assert_eq!(service.name, "Hogwarden service key");
    assert_eq!(service.accepted, Some(true));
    let fingerprint = service.fingerprint.clone().expect("Hogwarden holds its own key");
    assert!(fingerprint.starts_with("sha256:") && fingerprint.len() == 19, "{fingerprint}");
    assert!(!before.body.to_string().contains(&key), "the key's value never leaves the server");
    assert!(!before.body.to_string().contains("phx_"));
    assert_eq!(refused.status, 403);
    assert!(healthy.accepted);
    assert_eq!(after.keys[0].accepted, Some(false), "PostHog now answers 401");
    assert_eq!(after.keys.len(), 1, "the project keys cannot be read with a rejected key");
    assert!(after.notes.iter().any(|n| n.contains("rejects Hogwarden's key")), "{:?}", after.notes);
    assert!(!rejected.accepted);
    assert_eq!(t.audit_kinds().await.iter().filter(|k| *k == "service_key_rejected").count(), 1, "only the failed check is audited");
    let told: Vec<_> = t.stack.outbox.sent().into_iter().filter(|n| n.to.as_str() == "security@example.com").collect();
    assert_eq!(told.len(), 1, "{told:?}");
    assert!(told[0].body.contains(&rejected.fingerprint));
    assert!(!told[0].body.contains(&key));
    t.shutdown().await;
}

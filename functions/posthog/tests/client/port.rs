//! The domain's `PostHog` port: mapping, read-back, and project roles as rules.

use hogwarden_core::ports::{Member, PostHog, PostHogError};
use hogwarden_core::types::{Email, OrgLevel, ProjectId, ProjectRole};
use hogwarden_posthog::DEFAULT_VIEWER_RESOURCES;

use crate::fake::{FakePostHog, member_id, user_uuid};

const PROJECT: i64 = 7;

fn project() -> ProjectId {
    ProjectId::new(PROJECT).unwrap()
}

/// A fake with Ada (member level) in it and project 7; returns Ada as core sees her.
async fn with_ada() -> (FakePostHog, Member) {
    let fake = FakePostHog::start().await;
    fake.add_member(1, "ada@example.com", 1);
    fake.add_project(PROJECT, "Web");
    let ada = fake.client().find_member(&Email::parse("ada@example.com").unwrap()).await.unwrap().unwrap();
    (fake, ada)
}

fn all_viewer() -> Vec<(String, String)> {
    let mut rules: Vec<(String, String)> = DEFAULT_VIEWER_RESOURCES.iter().map(|r| ((*r).to_owned(), "viewer".to_owned())).collect();
    rules.sort();
    rules
}

#[tokio::test]
async fn a_posthog_member_becomes_a_core_member() {
    // Arrange
    let fake = FakePostHog::start().await;
    fake.add_member(2, "grace@example.com", 8);

    // Act
    let grace = fake.client().find_member(&Email::parse("grace@example.com").unwrap()).await.unwrap().unwrap();

    // Assert
    assert_eq!(grace.user_uuid, user_uuid(2));
    assert_eq!(grace.membership_id, member_id(2));
    assert_eq!(grace.name, "First2 Last");
    assert_eq!(grace.level, OrgLevel::Admin);
    assert!(grace.is_2fa_enabled);
    assert_eq!(grace.last_login.unwrap().to_rfc3339(), "2025-01-02T03:04:05+00:00");
}

#[tokio::test]
async fn an_unknown_email_is_no_member() {
    let fake = FakePostHog::start().await;
    fake.add_member(1, "ada@example.com", 1);

    let found = fake.client().find_member(&Email::parse("eve@example.com").unwrap()).await.unwrap();

    assert_eq!(found, None);
}

#[tokio::test]
async fn members_with_a_level_hogwarden_does_not_know_are_left_out_of_the_list() {
    // Arrange
    let fake = FakePostHog::start().await;
    fake.add_member(1, "ada@example.com", 1);
    fake.add_member(2, "odd@example.com", 5);
    fake.add_member(3, "owner@example.com", 15);

    // Act
    let members = PostHog::list_members(&fake.client()).await.unwrap();
    let odd = fake.client().find_member(&Email::parse("odd@example.com").unwrap()).await;

    // Assert: the list goes on; asking for that member by name fails loudly.
    let levels: Vec<_> = members.iter().map(|m| (m.email.as_str().to_owned(), m.level)).collect();
    assert_eq!(levels, [("ada@example.com".to_owned(), OrgLevel::Member), ("owner@example.com".to_owned(), OrgLevel::Owner)]);
    assert!(matches!(odd, Err(PostHogError::Unavailable(ref m)) if m.contains("level 5")), "{odd:?}");
}

#[tokio::test]
async fn an_org_level_change_is_read_back() {
    // Arrange
    let (fake, ada) = with_ada().await;

    // Act
    let level = fake.client().set_org_level(&ada, OrgLevel::Admin).await.unwrap();

    // Assert
    assert_eq!(level, OrgLevel::Admin);
    let hits = fake.hits();
    let patch = hits.iter().find(|h| h.method == "PATCH").unwrap();
    assert_eq!(patch.path, format!("/api/organizations/{}/members/{}/", crate::fake::ORG, ada.user_uuid));
    assert_eq!(patch.body, Some(serde_json::json!({"level": 8})));
    assert_eq!(hits.last().unwrap().method, "GET", "the change was read back");
}

#[tokio::test]
async fn an_org_level_change_that_does_not_stick_is_not_confirmed() {
    // Arrange: PostHog answers 200 but keeps the old level.
    let (fake, ada) = with_ada().await;
    fake.state().ignore_level_writes = true;

    // Act
    let err = fake.client().set_org_level(&ada, OrgLevel::Admin).await.unwrap_err();

    // Assert
    assert_eq!(err, PostHogError::NotConfirmed { expected: "admin".into(), found: "member".into() });
}

#[tokio::test]
async fn without_an_explicit_rule_there_is_no_project_role() {
    let (fake, ada) = with_ada().await;

    let role = fake.client().project_role(&ada, project()).await.unwrap();

    assert_eq!(role, None);
}

#[tokio::test]
async fn a_viewer_gets_member_access_and_viewer_on_every_resource_type() {
    // Arrange: an editor rule left over on a type outside the configured list.
    let (fake, ada) = with_ada().await;
    fake.add_rule(PROJECT, "cohort", Some(&ada.membership_id), "editor");

    // Act
    let role = fake.client().set_project_role(&ada, project(), Some(ProjectRole::Viewer)).await.unwrap();

    // Assert
    assert_eq!(role, Some(ProjectRole::Viewer));
    assert_eq!(fake.project_rule(PROJECT, &ada.membership_id).as_deref(), Some("member"));
    let mut expected = all_viewer();
    expected.push(("cohort".into(), "viewer".into()));
    expected.sort();
    assert_eq!(fake.resource_rules(PROJECT, &ada.membership_id), expected);
    // Restrictions go on before the project rule they restrict.
    let puts: Vec<_> = fake.hits().into_iter().filter(|h| h.method == "PUT").collect();
    assert_eq!(puts.last().unwrap().path, "/api/projects/7/access_controls/");
    assert_eq!(fake.client().project_role(&ada, project()).await.unwrap(), Some(ProjectRole::Viewer));
}

#[tokio::test]
async fn making_a_viewer_a_member_clears_the_viewer_rules_only() {
    // Arrange
    let (fake, ada) = with_ada().await;
    let client = fake.client();
    client.set_project_role(&ada, project(), Some(ProjectRole::Viewer)).await.unwrap();
    fake.add_rule(PROJECT, "cohort", Some(&ada.membership_id), "editor");

    // Act
    let role = client.set_project_role(&ada, project(), Some(ProjectRole::Member)).await.unwrap();

    // Assert
    assert_eq!(role, Some(ProjectRole::Member));
    assert_eq!(fake.project_rule(PROJECT, &ada.membership_id).as_deref(), Some("member"));
    assert_eq!(fake.resource_rules(PROJECT, &ada.membership_id), [("cohort".to_owned(), "editor".to_owned())]);
}

#[tokio::test]
async fn making_someone_project_admin_clears_their_resource_rules() {
    // Arrange
    let (fake, ada) = with_ada().await;
    let client = fake.client();
    client.set_project_role(&ada, project(), Some(ProjectRole::Viewer)).await.unwrap();
    fake.add_rule(PROJECT, "dashboard", Some(&member_id(99)), "viewer"); // someone else's rule stays

    // Act
    let role = client.set_project_role(&ada, project(), Some(ProjectRole::Admin)).await.unwrap();

    // Assert
    assert_eq!(role, Some(ProjectRole::Admin));
    assert_eq!(fake.project_rule(PROJECT, &ada.membership_id).as_deref(), Some("admin"));
    assert!(fake.resource_rules(PROJECT, &ada.membership_id).is_empty());
    assert_eq!(fake.resource_rules(PROJECT, &member_id(99)).len(), 1);
}

#[tokio::test]
async fn removing_project_access_deletes_the_rule_and_the_resource_rules() {
    // Arrange
    let (fake, ada) = with_ada().await;
    let client = fake.client();
    client.set_project_role(&ada, project(), Some(ProjectRole::Viewer)).await.unwrap();

    // Act
    let role = client.set_project_role(&ada, project(), None).await.unwrap();

    // Assert
    assert_eq!(role, None);
    assert_eq!(fake.project_rule(PROJECT, &ada.membership_id), None);
    assert!(fake.resource_rules(PROJECT, &ada.membership_id).is_empty());
    let revoke = fake
        .hits()
        .into_iter()
        .find(|h| h.method == "PUT" && h.body.as_ref().is_some_and(|b| b["access_level"].is_null() && b.get("resource").is_none()));
    assert!(revoke.is_some(), "the project rule was revoked with an explicit null");
}

#[tokio::test]
async fn a_project_role_that_does_not_stick_is_not_confirmed() {
    // Arrange
    let (fake, ada) = with_ada().await;
    fake.state().ignore_access_writes = true;

    // Act
    let err = fake.client().set_project_role(&ada, project(), Some(ProjectRole::Admin)).await.unwrap_err();

    // Assert
    assert_eq!(err, PostHogError::NotConfirmed { expected: "admin".into(), found: "no explicit access".into() });
}

#[tokio::test]
async fn a_member_rule_with_only_some_viewer_rules_reads_as_member() {
    // Arrange: viewer on dashboards only, other types at their default (editor).
    let (fake, ada) = with_ada().await;
    fake.add_rule(PROJECT, "project", Some(&ada.membership_id), "member");
    fake.add_rule(PROJECT, "dashboard", Some(&ada.membership_id), "viewer");

    // Act
    let role = fake.client().project_role(&ada, project()).await.unwrap();

    // Assert
    assert_eq!(role, Some(ProjectRole::Member));
}

#[tokio::test]
async fn projects_are_listed_with_their_ids_and_names() {
    let fake = FakePostHog::start().await;
    fake.add_project(7, "Web");
    fake.add_project(12, "Mobile");

    let projects = PostHog::list_projects(&fake.client()).await.unwrap();

    let listed: Vec<_> = projects.iter().map(|p| (p.id.get(), p.name.as_str())).collect();
    assert_eq!(listed, [(7, "Web"), (12, "Mobile")]);
}

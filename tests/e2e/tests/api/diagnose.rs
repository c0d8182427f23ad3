//! Troubleshooting "why can't this person see this project?" against the sandbox's Acme
//! Corp: one test per verdict, each checking that nothing was written to PostHog.

use hogwarden_api_types as dto;
use hogwarden_e2e::{APPROVER, MEMBER, SECOND_APPROVER, TestStack, spawn_stack};
use posthog_sandbox::{EXPIRED_INVITE, PENDING_INVITE};

fn project(t: &TestStack, name: &str) -> i64 {
    t.sandbox().project_id(name).unwrap_or_else(|| panic!("the sandbox has {name}"))
}

/// Asks as alice (approver and admin) and checks PostHog saw no write.
async fn diagnose(t: &TestStack, email: &str, project_id: i64) -> dto::DiagnosisDto {
    let writes = t.sandbox().write_count();
    let reply = t.get(APPROVER, &format!("/api/diagnose?email={email}&project_id={project_id}")).await;
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    assert_eq!(t.sandbox().write_count(), writes, "a diagnosis writes nothing to PostHog");
    reply.json()
}

fn checks(d: &dto::DiagnosisDto) -> Vec<(&str, bool)> {
    d.checks.iter().map(|c| (c.check.as_str(), c.ok)).collect()
}

#[tokio::test]
async fn someone_never_invited_is_not_a_member_and_has_no_invitation() {
    // Arrange
    let t = spawn_stack().await;

    // Act
    let d = diagnose(&t, "stranger@example.com", project(&t, "Production")).await;

    // Assert
    assert_eq!(d.verdict, "not_invited");
    assert!(!d.can_see);
    assert_eq!(checks(&d), [("membership", false), ("invitation", false), ("project", true)]);
    assert!(d.summary.contains("not a member") && d.summary.contains("no invitation"), "{}", d.summary);
    assert!(d.next_step.contains("Invite them"), "{}", d.next_step);
    t.shutdown().await;
}

#[tokio::test]
async fn an_invited_person_who_has_not_accepted_has_a_pending_invitation_with_its_date() {
    // Arrange
    let t = spawn_stack().await;
    let sent = t.sandbox().invites().into_iter().find(|i| i.target_email == PENDING_INVITE).expect("seeded invite").created_at;

    // Act
    let d = diagnose(&t, PENDING_INVITE, project(&t, "Web App")).await;

    // Assert
    assert_eq!(d.verdict, "invitation_pending");
    assert!(!d.can_see);
    assert_eq!(d.invitation_sent_at, Some(sent));
    assert_eq!(d.invitation_expires_at, Some(sent + chrono::Duration::days(3)));
    let date = sent.format("%Y-%m-%d %H:%M UTC").to_string();
    assert!(d.summary.contains(&format!("a pending invitation sent {date}, not yet accepted")), "{}", d.summary);
    assert!(d.next_step.contains("accept the invitation"), "{}", d.next_step);
    t.shutdown().await;
}

#[tokio::test]
async fn an_expired_invitation_says_when_it_expired_and_to_send_a_new_one() {
    // Arrange
    let t = spawn_stack().await;
    let sent = t.sandbox().invites().into_iter().find(|i| i.target_email == EXPIRED_INVITE).expect("seeded invite").created_at;

    // Act
    let d = diagnose(&t, EXPIRED_INVITE, project(&t, "Production")).await;

    // Assert
    assert_eq!(d.verdict, "invitation_expired");
    let expired = (sent + chrono::Duration::days(3)).format("%Y-%m-%d %H:%M UTC").to_string();
    assert!(d.summary.contains(&format!("the invitation expired on {expired}")), "{}", d.summary);
    assert!(d.next_step.contains("Send a new invitation"), "{}", d.next_step);
    t.shutdown().await;
}

#[tokio::test]
async fn a_pending_invitation_turns_expired_after_three_days_on_posthogs_clock() {
    // Arrange
    let t = spawn_stack().await;
    t.sandbox().advance_clock(chrono::Duration::days(3));

    // Act
    let d = diagnose(&t, PENDING_INVITE, project(&t, "Web App")).await;

    // Assert
    assert_eq!(d.verdict, "invitation_expired");
    t.shutdown().await;
}

#[tokio::test]
async fn a_project_id_that_does_not_exist_is_named_as_deleted_or_wrong() {
    // Arrange
    let t = spawn_stack().await;

    // Act
    let d = diagnose(&t, MEMBER, 9999).await;

    // Assert
    assert_eq!(d.verdict, "project_not_found");
    assert_eq!(d.project_name, None);
    assert_eq!(checks(&d), [("membership", true), ("project", false)]);
    assert!(d.summary.contains("deleted, or the id is wrong"), "{}", d.summary);
    t.shutdown().await;
}

#[tokio::test]
async fn a_member_without_a_role_in_a_restricted_project_is_told_to_ask_for_a_project_role() {
    // Arrange
    let t = spawn_stack().await;

    // Act
    let d = diagnose(&t, MEMBER, project(&t, "Production")).await;

    // Assert
    assert_eq!(d.verdict, "no_project_access");
    assert!(!d.can_see);
    assert_eq!(d.project_name.as_deref(), Some("Production"));
    assert_eq!(checks(&d), [("membership", true), ("project", true), ("project_access", false)]);
    assert!(d.summary.contains("restricted"), "{}", d.summary);
    assert!(d.next_step.contains("Grant a project role: ask with a project_role change"), "{}", d.next_step);
    t.shutdown().await;
}

#[tokio::test]
async fn a_member_with_an_explicit_role_can_see_the_project_with_that_role() {
    // Arrange
    let t = spawn_stack().await;
    let production = project(&t, "Production");

    // Act
    let grace = diagnose(&t, "grace@example.com", production).await;
    let victor = diagnose(&t, "victor@example.com", production).await;

    // Assert
    assert_eq!((grace.verdict.as_str(), grace.role.as_deref(), grace.can_see), ("explicit_role", Some("member"), true));
    assert_eq!((victor.verdict.as_str(), victor.role.as_deref()), ("explicit_role", Some("viewer")));
    assert!(grace.summary.contains("project role member"), "{}", grace.summary);
    t.shutdown().await;
}

#[tokio::test]
async fn a_member_sees_a_project_open_to_the_whole_organization_through_its_default() {
    // Arrange
    let t = spawn_stack().await;
    let mobile = project(&t, "Mobile App");
    t.sandbox().set_project_default(mobile, Some("member")).expect("the project opens");

    // Act
    let d = diagnose(&t, MEMBER, mobile).await;

    // Assert
    assert_eq!(d.verdict, "project_default");
    assert!(d.can_see);
    assert_eq!(d.role, None);
    assert!(d.summary.contains("open to everyone in the organization"), "{}", d.summary);
    t.shutdown().await;
}

#[tokio::test]
async fn an_organization_admin_sees_every_project_even_a_restricted_one() {
    // Arrange
    let t = spawn_stack().await;

    // Act
    let d = diagnose(&t, SECOND_APPROVER, project(&t, "Mobile App")).await;

    // Assert
    assert_eq!(d.verdict, "organization_admin");
    assert!(d.can_see);
    assert!(d.summary.contains("organization admin"), "{}", d.summary);
    t.shutdown().await;
}

#[tokio::test]
async fn only_approvers_and_admins_may_diagnose() {
    // Arrange
    let t = spawn_stack().await;
    let path = format!("/api/diagnose?email={PENDING_INVITE}&project_id={}", project(&t, "Production"));

    // Act
    let member = t.get(MEMBER, &path).await;
    let approver = t.get(SECOND_APPROVER, &path).await;

    // Assert
    assert_eq!(member.status, 403, "{:?}", member.body);
    assert_eq!(approver.status, 200, "{:?}", approver.body);
    t.shutdown().await;
}

#[tokio::test]
async fn a_missing_or_malformed_parameter_is_a_400_naming_it() {
    // Arrange
    let t = spawn_stack().await;

    // Act
    let no_email = t.get(APPROVER, "/api/diagnose?project_id=1001").await;
    let bad_email = t.get(APPROVER, "/api/diagnose?email=not-an-email&project_id=1001").await;
    let no_project = t.get(APPROVER, "/api/diagnose?email=frank@example.com").await;
    let bad_project = t.get(APPROVER, "/api/diagnose?email=frank@example.com&project_id=abc").await;

    // Assert
    for (reply, name) in [(&no_email, "'email'"), (&bad_email, "'email'"), (&no_project, "'project_id'"), (&bad_project, "'project_id'")] {
        assert_eq!(reply.status, 400, "{:?}", reply.body);
        assert!(reply.message().contains(name), "{}", reply.message());
    }
    t.shutdown().await;
}

#[tokio::test]
async fn a_member_who_sees_a_restricted_project_through_an_rbac_role_is_told_so() {
    // Arrange
    let t = spawn_stack().await;
    let mobile = project(&t, "Mobile App");
    let role = t.sandbox().add_role("Mobile team", &[MEMBER]).expect("role added");
    t.sandbox().set_role_project_access(mobile, &role, Some("member")).expect("role rule written");

    // Act
    let d = diagnose(&t, MEMBER, mobile).await;

    // Assert
    assert_eq!(d.verdict, "rbac_role");
    assert!(d.can_see);
    assert!(d.summary.contains("a role (RBAC)"), "{}", d.summary);
    t.shutdown().await;
}

#[tokio::test]
async fn an_explicit_none_rule_on_an_open_project_is_named_as_the_cause() {
    // Arrange
    let t = spawn_stack().await;
    let mobile = project(&t, "Mobile App");
    t.sandbox().set_project_default(mobile, Some("member")).expect("the project opens");
    t.sandbox().set_project_access_as("hogwarden-bot@acme.example", mobile, MEMBER, Some("none")).expect("none rule written");

    // Act
    let d = diagnose(&t, MEMBER, mobile).await;

    // Assert
    assert_eq!(d.verdict, "no_project_access");
    assert!(!d.can_see);
    assert!(d.summary.contains("sets frank@example.com's access to none"), "{}", d.summary);
    assert!(d.next_step.contains("Grant a project role"), "{}", d.next_step);
    t.shutdown().await;
}

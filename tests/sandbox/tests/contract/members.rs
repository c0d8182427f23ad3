//! Organization members: listing, level changes and removal (contract §0 Pagination, §1).

use std::collections::HashSet;

use posthog_sandbox::{Behaviour, MemberDenialText, OwnerRemoval, SandboxConfig};
use serde_json::{Value, json};

use crate::helpers::{ALICE, BOB, BOT, FRANK, GRACE, error, forbidden, spawn, spawn_with, status_and_json};

// §0 Pagination, §7: LimitOffsetPagination, `next`/`previous` absolute, `null` at the ends.
#[tokio::test]
async fn members_list_pages_with_absolute_links_until_next_is_null() {
    // Arrange
    let sandbox = spawn().await;
    let path = format!("{}?limit=20", sandbox.members_path());

    // Act
    let (status, first) = status_and_json(sandbox.get(&sandbox.bot_key, &path).await).await;

    // Assert
    assert_eq!(status, 200);
    assert_eq!(first["count"], 43);
    assert_eq!(first["previous"], Value::Null);
    assert_eq!(first["next"], json!(format!("{}?limit=20&offset=20", sandbox.url(&sandbox.members_path()))));
    let mut ids: HashSet<String> = HashSet::new();
    let mut next = Some(path);
    let mut pages = 0;
    let mut last = Value::Null;
    while let Some(url) = next {
        let relative = url.strip_prefix(&sandbox.handle.base_url()).unwrap_or(&url).to_owned();
        let (_, page) = status_and_json(sandbox.get(&sandbox.bot_key, &relative).await).await;
        for member in page["results"].as_array().unwrap() {
            ids.insert(member["id"].as_str().unwrap().to_owned());
        }
        next = page["next"].as_str().map(str::to_owned);
        pages += 1;
        last = page;
    }
    assert_eq!(pages, 3);
    assert_eq!(ids.len(), 43);
    assert_eq!(last["next"], Value::Null);
    assert_eq!(last["previous"], json!(format!("{}?limit=20&offset=20", sandbox.url(&sandbox.members_path()))));
}

// §0 Pagination: a page that ends exactly at the last member has no `next`.
#[tokio::test]
async fn page_ending_on_the_last_member_has_no_next() {
    // Arrange
    let sandbox = spawn().await;
    let path = format!("{}?limit=43", sandbox.members_path());

    // Act
    let (_, page) = status_and_json(sandbox.get(&sandbox.bot_key, &path).await).await;

    // Assert
    assert_eq!(page["results"].as_array().unwrap().len(), 43);
    assert_eq!(page["next"], Value::Null);
}

// §0 Pagination: a generated large organization pages the same way.
#[tokio::test]
async fn large_organization_pages_through_every_member() {
    // Arrange
    let sandbox = spawn_with(SandboxConfig::large(2000, 20)).await;
    let mut path = Some(format!("{}?limit=500", sandbox.members_path()));
    let mut seen = 0;

    // Act
    while let Some(next) = path {
        let relative = next.strip_prefix(&sandbox.handle.base_url()).unwrap_or(&next).to_owned();
        let (_, page) = status_and_json(sandbox.get(&sandbox.bot_key, &relative).await).await;
        seen += page["results"].as_array().unwrap().len();
        path = page["next"].as_str().map(str::to_owned);
    }

    // Assert
    assert_eq!(seen, 2001);
    assert_eq!(sandbox.handle.projects().len(), 20);
}

// §0 Pagination: PAGE_SIZE = 100, so Acme Corp's 43 members fit on one page.
#[tokio::test]
async fn default_page_holds_all_forty_three_members() {
    // Arrange
    let sandbox = spawn().await;

    // Act
    let (_, page) = status_and_json(sandbox.get(&sandbox.bot_key, &sandbox.members_path()).await).await;

    // Assert
    assert_eq!(page["results"].as_array().unwrap().len(), 43);
    assert_eq!(page["next"], Value::Null);
}

// §1 Member object: membership uuid as `id`, the user's basic fields, level and dates.
#[tokio::test]
async fn member_object_has_the_documented_fields() {
    // Arrange
    let sandbox = spawn().await;
    let path = format!("{}?email={ALICE}", sandbox.members_path());

    // Act
    let (_, page) = status_and_json(sandbox.get(&sandbox.bot_key, &path).await).await;

    // Assert
    let alice = &page["results"][0];
    assert_eq!(alice["id"], json!(sandbox.membership(ALICE)));
    assert_eq!(alice["level"], 8);
    assert_eq!(alice["user"]["email"], ALICE);
    assert_eq!(alice["user"]["uuid"], json!(sandbox.handle.user_uuid(ALICE)));
    assert_eq!(alice["user"]["first_name"], "Alice");
    assert!(alice["user"]["id"].is_i64());
    assert_eq!(alice["user"]["hedgehog_config"], Value::Null);
    for field in ["distinct_id", "last_name", "is_email_verified", "role_at_organization"] {
        assert!(alice["user"].get(field).is_some(), "user.{field}");
    }
    for field in ["joined_at", "updated_at", "is_2fa_enabled", "has_social_auth", "last_login"] {
        assert!(alice.get(field).is_some(), "{field}");
    }
    assert!(alice["joined_at"].as_str().unwrap().ends_with('Z'));
}

// §1: `order=joined_at|-joined_at`, default `-joined_at` (newest first).
#[tokio::test]
async fn members_are_newest_first_unless_oldest_first_is_asked() {
    // Arrange
    let sandbox = spawn().await;

    // Act
    let (_, newest) = status_and_json(sandbox.get(&sandbox.bot_key, &sandbox.members_path()).await).await;
    let oldest_path = format!("{}?order=joined_at", sandbox.members_path());
    let (_, oldest) = status_and_json(sandbox.get(&sandbox.bot_key, &oldest_path).await).await;

    // Assert
    let joined = |page: &Value| -> Vec<String> {
        page["results"].as_array().unwrap().iter().map(|m| m["joined_at"].as_str().unwrap().to_owned()).collect()
    };
    let mut sorted = joined(&newest);
    sorted.sort();
    sorted.reverse();
    assert_eq!(joined(&newest), sorted);
    assert_eq!(oldest["results"][0]["user"]["email"], BOT);
}

// §1: the `email=` filter is an exact match (`user__email=`).
#[tokio::test]
async fn email_filter_returns_only_that_member() {
    // Arrange
    let sandbox = spawn().await;

    // Act
    let exact = format!("{}?email={FRANK}", sandbox.members_path());
    let (_, found) = status_and_json(sandbox.get(&sandbox.bot_key, &exact).await).await;
    let other_case = format!("{}?email=Frank@example.com", sandbox.members_path());
    let (_, not_found) = status_and_json(sandbox.get(&sandbox.bot_key, &other_case).await).await;

    // Assert
    assert_eq!(found["count"], 1);
    assert_eq!(found["results"][0]["user"]["email"], FRANK);
    assert_eq!(not_found["count"], 0);
}

// §1: the default queryset excludes inactive users.
#[tokio::test]
async fn inactive_users_are_not_listed() {
    // Arrange
    let sandbox = spawn().await;
    sandbox.handle.deactivate_user(GRACE).unwrap();

    // Act
    let (_, page) = status_and_json(sandbox.get(&sandbox.bot_key, &sandbox.members_path()).await).await;

    // Assert
    assert_eq!(page["count"], 42);
}

// §1: PATCH `{"level": 8}` answers with the full member object.
#[tokio::test]
async fn owner_promotes_member_to_admin_and_gets_the_member_back() {
    // Arrange
    let sandbox = spawn().await;
    let lookup = format!("{}?email={FRANK}", sandbox.members_path());
    let (_, before) = status_and_json(sandbox.get(&sandbox.bot_key, &lookup).await).await;
    let requests_before = sandbox.handle.requests().len();

    // Act
    let (status, body) = status_and_json(sandbox.set_level(&sandbox.bot_key, FRANK, json!(8)).await).await;

    // Assert
    assert_eq!(status, 200);
    assert_eq!(body["level"], 8);
    assert_eq!(body["id"], json!(sandbox.membership(FRANK)));
    assert_eq!(body["user"]["email"], FRANK);
    assert_eq!(body["joined_at"], before["results"][0]["joined_at"]);
    assert_ne!(body["updated_at"], before["results"][0]["updated_at"]);
    assert_eq!(sandbox.handle.member_level(FRANK), Some(8));
    assert_eq!(sandbox.handle.write_count(), 1);
    assert_eq!(sandbox.handle.requests().len(), requests_before + 1);
}

// §1 Levels: 1, 8 or 15; anything else is DRF's invalid choice on `level`.
#[tokio::test]
async fn level_outside_one_eight_fifteen_is_an_invalid_choice() {
    // Arrange
    let sandbox = spawn().await;

    // Act
    let (status, body) = status_and_json(sandbox.set_level(&sandbox.bot_key, FRANK, json!(7)).await).await;
    let (text_status, text_body) = status_and_json(sandbox.set_level(&sandbox.bot_key, FRANK, json!("8")).await).await;

    // Assert
    assert_eq!(status, 400);
    assert_eq!(body, error("validation_error", "invalid_choice", "\"7\" is not a valid choice.", Some("level")));
    assert_eq!(text_status, 200, "a numeric string is a valid choice: {text_body}");
    assert_eq!(sandbox.handle.member_level(FRANK), Some(8));
}

// §1 rule 1: nobody changes their own level.
#[tokio::test]
async fn nobody_can_change_their_own_level() {
    // Arrange
    let sandbox = spawn().await;

    // Act
    let (status, body) = status_and_json(sandbox.set_level(&sandbox.bot_key, BOT, json!(8)).await).await;

    // Assert
    assert_eq!(status, 403);
    assert_eq!(body, forbidden("You can't change your own access level."));
    assert_eq!(sandbox.handle.member_level(BOT), Some(15));
}

// §1 rule 2: only owners make owners.
#[tokio::test]
async fn admin_cannot_promote_anyone_to_owner() {
    // Arrange
    let sandbox = spawn().await;
    let alice = sandbox.key_for(ALICE);

    // Act
    let (status, body) = status_and_json(sandbox.set_level(&alice, FRANK, json!(15)).await).await;

    // Assert
    assert_eq!(status, 403);
    assert_eq!(body, forbidden("You can only make another member owner if you're this organization's owner."));
    assert_eq!(sandbox.handle.member_level(FRANK), Some(1));
}

// §1: owners may make further owners (no unique-owner constraint).
#[tokio::test]
async fn owner_can_make_another_owner() {
    // Arrange
    let sandbox = spawn().await;

    // Act
    let (status, _) = status_and_json(sandbox.set_level(&sandbox.bot_key, ALICE, json!(15)).await).await;

    // Assert
    assert_eq!(status, 200);
    assert_eq!(sandbox.handle.member_level(ALICE), Some(15));
    assert_eq!(sandbox.handle.member_level(BOT), Some(15));
}

// §1 rule 4: a target above the requester cannot be edited (checked before the new level).
#[tokio::test]
async fn admin_cannot_edit_an_owner() {
    // Arrange
    let sandbox = spawn().await;
    let alice = sandbox.key_for(ALICE);

    // Act
    let (status, body) = status_and_json(sandbox.set_level(&alice, BOT, json!(8)).await).await;

    // Assert
    assert_eq!(status, 403);
    assert_eq!(body, forbidden("You can only edit others with level lower or equal to you."));
    assert_eq!(sandbox.handle.member_level(BOT), Some(15));
}

// §1 Effective matrix: admins can set other admins and members to member or admin.
#[tokio::test]
async fn admin_can_demote_another_admin() {
    // Arrange
    let sandbox = spawn().await;
    let alice = sandbox.key_for(ALICE);

    // Act
    let (status, body) = status_and_json(sandbox.set_level(&alice, BOB, json!(1)).await).await;

    // Assert
    assert_eq!(status, 200);
    assert_eq!(body["level"], 1);
    assert_eq!(sandbox.handle.member_level(BOB), Some(1));
}

// §1 rule 4 via the object permission: PostHog's own test expects the rule's text, because the
// permission catches only ValidationError; the contract's generic reading is a switch.
#[tokio::test]
async fn member_cannot_edit_others() {
    // Arrange
    let sandbox = spawn().await;
    let frank = sandbox.key_for(FRANK);

    // Act
    let (status, body) = status_and_json(sandbox.set_level(&frank, GRACE, json!(1)).await).await;
    sandbox.handle.set_behaviour(Behaviour { member_denial_text: MemberDenialText::Generic, ..Behaviour::default() });
    let (generic_status, generic) = status_and_json(sandbox.delete(&frank, &sandbox.member_path(GRACE)).await).await;

    // Assert
    assert_eq!(status, 403);
    assert_eq!(body, forbidden("You can only edit others if you are an admin."));
    assert_eq!(generic_status, 403);
    assert_eq!(generic, forbidden("Your cannot edit other organization members."));
    assert_eq!(sandbox.handle.member_level(GRACE), Some(1));
}

// §1: the path key is the user's uuid; a membership id is a 404.
#[tokio::test]
async fn membership_id_in_the_path_is_not_found() {
    // Arrange
    let sandbox = spawn().await;
    let path = format!("{}{}/", sandbox.members_path(), sandbox.membership(FRANK));

    // Act
    let (status, body) = status_and_json(sandbox.patch(&sandbox.bot_key, &path, json!({"level": 8})).await).await;

    // Assert
    assert_eq!(status, 404);
    assert_eq!(body, error("invalid_request", "not_found", "Not found.", None));
    assert_eq!(sandbox.handle.member_level(FRANK), Some(1));
}

// §1 Removal: DELETE → 204; the membership's access controls go with it.
#[tokio::test]
async fn removing_a_member_answers_204_and_drops_their_project_access() {
    // Arrange
    let sandbox = spawn().await;
    let web_app = sandbox.project("Web App");
    assert_eq!(sandbox.handle.project_access(web_app, FRANK).as_deref(), Some("member"));

    // Act
    let response = sandbox.delete(&sandbox.bot_key, &sandbox.member_path(FRANK)).await;

    // Assert
    assert_eq!(response.status().as_u16(), 204);
    assert_eq!(sandbox.handle.member_level(FRANK), None);
    assert_eq!(sandbox.handle.project_access(web_app, FRANK), None);
    let (_, page) = status_and_json(sandbox.get(&sandbox.bot_key, &sandbox.members_path()).await).await;
    assert_eq!(page["count"], 42);
    let users_path = format!("/api/projects/{web_app}/users_with_access/");
    let (_, users) = status_and_json(sandbox.get(&sandbox.bot_key, &users_path).await).await;
    let frank_uuid = sandbox.handle.user_uuid(FRANK).unwrap();
    assert!(users["users"].as_array().unwrap().iter().all(|u| u["user_id"] != json!(frank_uuid)));
}

// §1 Removal: any member may leave.
#[tokio::test]
async fn member_can_leave_the_organization() {
    // Arrange
    let sandbox = spawn().await;
    let frank = sandbox.key_for(FRANK);

    // Act
    let response = sandbox.delete(&frank, &sandbox.member_path(FRANK)).await;

    // Assert
    assert_eq!(response.status().as_u16(), 204);
    assert_eq!(sandbox.handle.member_level(FRANK), None);
}

// §1 Removal: admins cannot remove someone above them.
#[tokio::test]
async fn admin_cannot_remove_an_owner() {
    // Arrange
    let sandbox = spawn().await;
    let alice = sandbox.key_for(ALICE);

    // Act
    let (status, body) = status_and_json(sandbox.delete(&alice, &sandbox.member_path(BOT)).await).await;

    // Assert
    assert_eq!(status, 403);
    assert_eq!(body, forbidden("You can only edit others with level lower or equal to you."));
}

// §1 Removal [version-uncertain]: `User.leave` refuses any owner with 400.
#[tokio::test]
async fn removing_an_owner_is_refused_with_400() {
    // Arrange
    let sandbox = spawn().await;

    // Act
    let (status, body) = status_and_json(sandbox.delete(&sandbox.bot_key, &sandbox.member_path(BOT)).await).await;

    // Assert
    assert_eq!(status, 400);
    assert_eq!(body, error("validation_error", "invalid_input", "Cannot leave the organization as its owner!", None));
    assert_eq!(sandbox.handle.member_level(BOT), Some(15));
    assert_eq!(sandbox.handle.write_count(), 0);
}

// §1 Removal [version-uncertain]: the newer rule only keeps the last owner.
#[tokio::test]
async fn with_the_last_owner_rule_a_second_owner_can_be_removed() {
    // Arrange
    let sandbox = spawn().await;
    sandbox.handle.set_behaviour(Behaviour { owner_removal: OwnerRemoval::RejectLastOwner, ..Behaviour::default() });
    sandbox.handle.set_member_level_as(BOT, ALICE, 15).unwrap();

    // Act
    let removed = sandbox.delete(&sandbox.bot_key, &sandbox.member_path(ALICE)).await;
    let (last_status, last) = status_and_json(sandbox.delete(&sandbox.bot_key, &sandbox.member_path(BOT)).await).await;

    // Assert
    assert_eq!(removed.status().as_u16(), 204);
    assert_eq!(last_status, 400);
    assert_eq!(last["detail"], "You can't leave the organization as its only owner. Make someone else an owner first.");
}

// §1: PostHog's router takes the detail path with or without the trailing slash.
#[tokio::test]
async fn member_path_without_trailing_slash_works() {
    // Arrange
    let sandbox = spawn().await;
    let path = sandbox.member_path(FRANK);
    let bare = path.trim_end_matches('/');

    // Act
    let response = sandbox.patch(&sandbox.bot_key, bare, json!({"level": 8})).await;

    // Assert
    assert_eq!(response.status().as_u16(), 200);
}

// §1 / PostHog's test_cant_list_members_for_an_alien_organization: another org is 403.
#[tokio::test]
async fn another_organization_is_forbidden() {
    // Arrange
    let sandbox = spawn().await;
    let path = "/api/organizations/0190c7e6-0000-4000-8000-000000000000/members/";

    // Act
    let (status, body) = status_and_json(sandbox.get(&sandbox.bot_key, path).await).await;

    // Assert
    assert_eq!(status, 403);
    assert_eq!(body, forbidden("You do not have permission to perform this action."));
}

// §0 Path placeholders: `@current` resolves to the key owner's organization.
#[tokio::test]
async fn current_organization_placeholder_lists_members() {
    // Arrange
    let sandbox = spawn().await;

    // Act
    let (status, page) = status_and_json(sandbox.get(&sandbox.bot_key, "/api/organizations/@current/members/").await).await;

    // Assert
    assert_eq!(status, 200);
    assert_eq!(page["count"], 43);
}

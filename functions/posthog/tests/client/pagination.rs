//! Limit/offset pagination, and `next` links that point somewhere else.

use hogwarden_core::ports::PostHog;
use hogwarden_core::types::Email;

use crate::fake::{FakePostHog, user_uuid};

fn offsets(fake: &FakePostHog, path_end: &str) -> Vec<String> {
    fake.hits()
        .iter()
        .filter(|h| h.path.ends_with(path_end))
        .map(|h| h.query.split('&').filter(|p| p.starts_with("limit=") || p.starts_with("offset=")).collect::<Vec<_>>().join("&"))
        .collect()
}

#[tokio::test]
async fn members_are_read_across_three_pages_with_the_right_offsets() {
    // Arrange
    let fake = FakePostHog::start().await;
    for n in 0..250 {
        fake.add_member(n, &format!("person{n}@example.com"), 1);
    }

    // Act
    let members = fake.client().list_members().await.unwrap();

    // Assert
    assert_eq!(members.len(), 250);
    assert_eq!(members[0].user.uuid, user_uuid(0));
    assert_eq!(members[249].user.uuid, user_uuid(249));
    assert_eq!(offsets(&fake, "/members/"), ["limit=100&offset=0", "limit=100&offset=100", "limit=100&offset=200"]);
}

#[tokio::test]
async fn a_next_link_to_another_host_is_never_requested() {
    // Arrange: a second server stands in for the foreign host and counts its hits.
    let fake = FakePostHog::start().await;
    let foreign = FakePostHog::start().await;
    for n in 0..250 {
        fake.add_member(n, &format!("person{n}@example.com"), 1);
    }
    fake.state().link_origin = Some(foreign.base_url.as_str().trim_end_matches('/').to_owned());

    // Act
    let members = fake.client().list_members().await.unwrap();

    // Assert: every page came from the configured host, none from the other one.
    assert_eq!(members.len(), 250);
    assert_eq!(foreign.hit_count(), 0);
    assert_eq!(fake.hit_count(), 3);
}

#[tokio::test]
async fn a_smaller_page_size_still_reads_everything() {
    // Arrange
    let fake = FakePostHog::start().await;
    for id in 1..=5 {
        fake.add_project(id, &format!("Project {id}"));
    }
    let mut config = fake.config();
    config.page_size = 2;
    let client = hogwarden_posthog::PostHogClient::new(config).unwrap();

    // Act
    let projects = PostHog::list_projects(&client).await.unwrap();

    // Assert
    assert_eq!(projects.iter().map(|p| p.id.get()).collect::<Vec<_>>(), [1, 2, 3, 4, 5]);
    assert_eq!(offsets(&fake, "/projects/"), ["limit=2&offset=0", "limit=2&offset=2", "limit=2&offset=4"]);
}

#[tokio::test]
async fn finding_a_member_asks_posthog_to_filter_by_email() {
    // Arrange
    let fake = FakePostHog::start().await;
    fake.add_member(1, "ada@example.com", 8);
    fake.add_member(2, "bob@example.com", 1);

    // Act
    let found = fake.client().find_member(&Email::parse("Ada@Example.com").unwrap()).await.unwrap();

    // Assert
    assert_eq!(found.map(|m| m.user_uuid), Some(user_uuid(1)));
    assert!(fake.hits()[0].query.contains("email=ada%40example.com"), "{:?}", fake.hits()[0].query);
}

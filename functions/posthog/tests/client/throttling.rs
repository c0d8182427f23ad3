//! 429s and the budget shared by every caller of one key.

use std::time::{Duration, Instant};

use hogwarden_core::ports::{PostHog, PostHogError};
use hogwarden_posthog::{ClientError, PostHogClient, RateLimit};

use crate::fake::{FakePostHog, Fault};

#[tokio::test]
async fn a_429_is_waited_out_and_the_call_succeeds() {
    // Arrange
    let fake = FakePostHog::start().await;
    fake.add_member(1, "ada@example.com", 8);
    fake.push_fault(Fault::throttled(Some("1"), 1));

    // Act
    let started = Instant::now();
    let members = fake.client().list_members().await;

    // Assert
    assert_eq!(members.unwrap().len(), 1);
    assert!(started.elapsed() >= Duration::from_millis(1000), "waited only {:?}", started.elapsed());
    let hits = fake.hits();
    assert_eq!(hits.len(), 2);
    assert!(hits[1].at - hits[0].at >= Duration::from_millis(1000));
}

#[tokio::test]
async fn without_retry_after_the_wait_in_the_detail_is_used() {
    // Arrange
    let fake = FakePostHog::start().await;
    fake.push_fault(Fault::throttled(None, 1));

    // Act
    let started = Instant::now();
    let result = fake.client().list_projects().await;

    // Assert
    assert!(result.is_ok(), "{result:?}");
    assert!(started.elapsed() >= Duration::from_millis(1000), "waited only {:?}", started.elapsed());
}

#[tokio::test]
async fn a_429_seen_by_one_caller_pauses_another_caller_of_the_same_key() {
    // Arrange: two separately built clients with the same key.
    let fake = FakePostHog::start().await;
    fake.add_project(1, "Web");
    fake.push_fault(Fault::throttled(Some("1"), 1));
    let first = fake.client();
    let second = fake.client();

    // Act: the first caller meets the 429; the second starts while it waits.
    let first_call = tokio::spawn(async move { first.list_projects().await });
    while fake.hit_count() == 0 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    let second_started = Instant::now();
    let second_result = second.list_projects().await;
    let first_result = first_call.await.unwrap();

    // Assert: nothing reached PostHog until the Retry-After had passed.
    assert!(first_result.is_ok() && second_result.is_ok());
    assert!(second_started.elapsed() >= Duration::from_millis(800), "second waited only {:?}", second_started.elapsed());
    let hits = fake.hits();
    assert_eq!(hits.len(), 3);
    for later in &hits[1..] {
        assert!(later.at - hits[0].at >= Duration::from_millis(1000), "a request went out during the pause");
    }
}

#[tokio::test]
async fn another_key_is_not_paused_by_a_429() {
    // Arrange
    let fake = FakePostHog::start().await;
    let other = FakePostHog::start().await;
    fake.push_fault(Fault::throttled(Some("2"), 2));
    let throttled = fake.client();

    // Act
    let paused = tokio::spawn(async move { throttled.list_projects().await });
    while fake.hit_count() == 0 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let started = Instant::now();
    other.client().list_projects().await.unwrap();

    // Assert
    assert!(started.elapsed() < Duration::from_millis(1000), "took {:?}", started.elapsed());
    paused.await.unwrap().unwrap();
}

#[tokio::test]
async fn the_burst_budget_caps_requests() {
    // Arrange: 5 requests a second.
    let fake = FakePostHog::start().await;
    let mut config = fake.config();
    config.burst = RateLimit::new(5, Duration::from_secs(1));
    let client = PostHogClient::new(config).unwrap();

    // Act
    let started = Instant::now();
    for _ in 0..10 {
        client.list_projects().await.unwrap();
    }

    // Assert: the second five waited for the first five to leave the window.
    assert!(started.elapsed() >= Duration::from_millis(950), "took only {:?}", started.elapsed());
    let hits = fake.hits();
    assert_eq!(hits.len(), 10);
    for i in 0..5 {
        assert!(hits[i + 5].at - hits[i].at >= Duration::from_millis(950), "6 requests within a second");
    }
}

#[tokio::test]
async fn a_wait_longer_than_allowed_fails_at_once_as_throttled() {
    // Arrange: PostHog's hourly limit is spent.
    let fake = FakePostHog::start().await;
    fake.push_fault(Fault::throttled(Some("3000"), 3000));
    let client = fake.client();

    // Act
    let started = Instant::now();
    let err = client.list_projects().await.unwrap_err();

    // Assert: the caller learns how long, and nobody else sends meanwhile.
    assert_eq!(err, ClientError::Throttled { retry_after: Some(Duration::from_secs(3000)) });
    assert!(started.elapsed() < Duration::from_secs(2));
    assert!(matches!(PostHogError::from(err), PostHogError::Unavailable(_)));
    let again = client.list_projects().await.unwrap_err();
    assert!(matches!(again, ClientError::Throttled { .. }), "{again:?}");
    assert_eq!(fake.hit_count(), 1);
}

#[tokio::test]
async fn too_many_429s_in_a_row_give_up_as_throttled() {
    // Arrange
    let fake = FakePostHog::start().await;
    let mut config = fake.config();
    config.max_throttle_waits = 2;
    for _ in 0..3 {
        fake.push_fault(Fault::throttled(Some("0"), 0));
    }
    let client = PostHogClient::new(config).unwrap();

    // Act
    let err = PostHog::list_projects(&client).await.unwrap_err();

    // Assert
    assert!(matches!(err, PostHogError::Unavailable(ref m) if m.contains("throttling")), "{err:?}");
    assert_eq!(fake.hit_count(), 3);
}

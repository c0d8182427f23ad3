//! Retries of idempotent calls: 5xx, timeouts, dropped connections.

use std::time::{Duration, Instant};

use hogwarden_core::ports::{PostHog, PostHogError};
use hogwarden_core::types::ProjectId;
use hogwarden_posthog::wire::ProjectAccessLevel;
use hogwarden_posthog::{ClientError, PostHogClient};

use crate::fake::{FakePostHog, Fault};

#[tokio::test]
async fn a_get_that_fails_twice_with_5xx_then_succeeds() {
    // Arrange
    let fake = FakePostHog::start().await;
    fake.add_member(1, "ada@example.com", 8);
    fake.push_fault(Fault::server_error());
    fake.push_fault(Fault::drf(502, "server_error", "error", "Bad gateway"));

    // Act
    let members = fake.client().list_members().await.unwrap();

    // Assert
    assert_eq!(members.len(), 1);
    assert_eq!(fake.hit_count(), 3);
}

#[tokio::test]
async fn a_put_that_fails_twice_with_5xx_then_succeeds() {
    // Arrange
    let fake = FakePostHog::start().await;
    let (_, membership) = fake.add_member(1, "ada@example.com", 1);
    fake.add_project(7, "Web");
    fake.push_fault(Fault::server_error());
    fake.push_fault(Fault::server_error());

    // Act
    let rule = fake.client().put_access_control(ProjectId::new(7).unwrap(), &membership, Some(ProjectAccessLevel::Admin)).await.unwrap();

    // Assert
    assert_eq!(rule.and_then(|r| r.access_level).as_deref(), Some("admin"));
    assert_eq!(fake.project_rule(7, &membership).as_deref(), Some("admin"));
    let puts: Vec<_> = fake.hits().into_iter().filter(|h| h.method == "PUT").collect();
    assert_eq!(puts.len(), 3);
    assert!(puts.iter().all(|h| h.body == puts[0].body), "every attempt sends the same body");
}

#[tokio::test]
async fn a_503_with_retry_after_is_waited_out() {
    // Arrange: DatabaseUnavailable, as posthog/exceptions.py answers it.
    let fake = FakePostHog::start().await;
    fake.push_fault(Fault::Status {
        status: 503,
        body: serde_json::json!({"type": "server_error", "code": "database_unavailable",
                                 "detail": "Database is unavailable.", "attr": null}),
        retry_after: Some("1"),
    });

    // Act
    let started = Instant::now();
    fake.client().list_projects().await.unwrap();

    // Assert
    assert!(started.elapsed() >= Duration::from_millis(1000), "waited only {:?}", started.elapsed());
    assert_eq!(fake.hit_count(), 2);
}

#[tokio::test]
async fn a_dropped_connection_is_retried() {
    // Arrange
    let fake = FakePostHog::start().await;
    fake.add_project(1, "Web");
    fake.state().drop_connections = 1;

    // Act
    let projects = fake.client().list_projects().await.unwrap();

    // Assert
    assert_eq!(projects.len(), 1);
    assert_eq!(fake.state().dropped, 1);
    assert_eq!(fake.hit_count(), 1);
}

#[tokio::test]
async fn a_timeout_is_retried() {
    // Arrange
    let fake = FakePostHog::start().await;
    fake.add_project(1, "Web");
    fake.push_fault(Fault::Delay(Duration::from_secs(2)));
    let mut config = fake.config();
    config.request_timeout = Duration::from_millis(300);
    let client = PostHogClient::new(config).unwrap();

    // Act
    let started = Instant::now();
    let projects = client.list_projects().await.unwrap();

    // Assert
    assert_eq!(projects.len(), 1);
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert!(started.elapsed() < Duration::from_secs(2), "the slow answer was awaited");
    assert_eq!(fake.hit_count(), 2);
}

#[tokio::test]
async fn when_every_attempt_times_out_the_error_says_so() {
    // Arrange
    let fake = FakePostHog::start().await;
    let mut config = fake.config();
    config.request_timeout = Duration::from_millis(100);
    config.max_retries = 2;
    for _ in 0..3 {
        fake.push_fault(Fault::Delay(Duration::from_secs(1)));
    }
    let client = PostHogClient::new(config).unwrap();

    // Act
    let err = client.list_projects().await.unwrap_err();

    // Assert
    assert_eq!(err, ClientError::Timeout { attempts: 3 });
    assert!(PostHogError::from(err).is_transient());
}

#[tokio::test]
async fn persistent_5xx_give_up_after_the_retry_budget() {
    // Arrange
    let fake = FakePostHog::start().await;
    let mut config = fake.config();
    config.max_retries = 2;
    for _ in 0..5 {
        fake.push_fault(Fault::server_error());
    }
    let client = PostHogClient::new(config).unwrap();

    // Act
    let err = PostHog::list_projects(&client).await.unwrap_err();

    // Assert
    assert!(matches!(err, PostHogError::Unavailable(ref m) if m.contains("500")), "{err:?}");
    assert_eq!(fake.hit_count(), 3);
}

#[tokio::test]
async fn a_delete_retried_after_a_lost_answer_counts_as_done() {
    // Arrange: the first DELETE removes the member but its answer is lost.
    let fake = FakePostHog::start().await;
    let (user, _) = fake.add_member(1, "ada@example.com", 1);
    fake.push_fault(Fault::AppliedThen { status: 502 });

    // Act
    let result = fake.client().remove_member(&user).await;

    // Assert
    assert_eq!(result, Ok(()));
    assert!(fake.state().members.is_empty());
    assert_eq!(fake.hit_count(), 2);
}

#[tokio::test]
async fn deleting_someone_who_is_not_a_member_is_refused() {
    // Arrange
    let fake = FakePostHog::start().await;

    // Act
    let err = fake.client().remove_member("0188aaaa-0000-7000-8000-00000000dead").await.unwrap_err();

    // Assert
    assert_eq!(err.status(), Some(404));
    assert_eq!(fake.hit_count(), 1);
}

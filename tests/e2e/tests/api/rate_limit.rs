//! With PostHog's rate limit set low, Hogwarden waits out the 429s and every change
//! still lands; reads any signed-in person can repeat do not spend the budget.

use std::time::Duration;

use hogwarden_api_types as dto;
use hogwarden_e2e::{APPROVER, MEMBER, spawn_stack};
use posthog_sandbox::{Budget, RateLimit};

#[tokio::test]
async fn with_a_low_rate_limit_every_change_still_lands() {
    // Arrange: 4 requests per second instead of 480 per minute.
    let t = spawn_stack().await;
    let people = ["frank@example.com", "grace@example.com"];
    let mut ids = Vec::new();
    for p in people {
        ids.push(t.request_temporary_admin(p, 30).await.id);
    }
    t.sandbox().set_rate_limit(RateLimit { burst: Budget { count: 4, window: Duration::from_secs(1) }, ..RateLimit::default() });

    // Act: approve both at once; each apply makes several PostHog calls.
    let (a, b) = tokio::join!(t.approve(APPROVER, &ids[0]), t.approve(APPROVER, &ids[1]));

    // Assert
    for r in [a, b] {
        assert_eq!(r.status, 200, "{:?}", r.body);
        assert_eq!(r.json::<dto::RequestDto>().status, "applied");
    }
    for p in people {
        assert_eq!(t.sandbox().member_level(p), Some(8), "{p}");
    }
    assert!(t.sandbox().throttled_count() > 0, "the sandbox did throttle");
    t.shutdown().await;
}

#[tokio::test]
async fn fifty_project_lists_by_a_plain_member_cost_posthog_one_read() {
    // Arrange
    let t = spawn_stack().await;
    let before = t.sandbox().requests().len();

    // Act: 25 one after another, then 25 at once.
    let mut replies = Vec::new();
    for _ in 0..25 {
        replies.push(t.get(MEMBER, "/api/projects").await);
    }
    let mut at_once = tokio::task::JoinSet::new();
    for _ in 0..25 {
        let (http, url, token) = (t.http.clone(), t.url("/api/projects"), t.token(MEMBER));
        at_once.spawn(async move { http.get(url).bearer_auth(token).send().await.map(|r| r.status().as_u16()) });
    }
    let concurrent: Vec<u16> = at_once.join_all().await.into_iter().map(Result::unwrap).collect();

    // Assert
    for r in &replies {
        assert_eq!(r.status, 200, "{:?}", r.body);
        assert_eq!(r.body, replies[0].body);
    }
    assert!(!replies[0].json::<dto::ProjectList>().projects.is_empty());
    assert_eq!(concurrent, vec![200; 25]);
    let spent = t.sandbox().requests().len() - before;
    assert!(spent <= 2, "50 project lists made {spent} PostHog requests");
    t.shutdown().await;
}

//! With PostHog's rate limit set low, Hogwarden waits out the 429s and every change
//! still lands.

use std::time::Duration;

use hogwarden_api_types as dto;
use hogwarden_e2e::{APPROVER, spawn_stack};
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

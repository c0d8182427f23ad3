//! Short-lived copies of PostHog reads that any signed-in person may ask for.
//!
//! Every PostHog call draws from the one request budget of Hogwarden's key, which the
//! sweep's reverts need too. A read any caller can repeat (the project list) is
//! therefore served from a copy at most [`READ_TTL`] old: however many calls arrive,
//! PostHog is asked at most once per TTL. Callers that arrive while the copy is being
//! fetched wait for that one fetch instead of starting their own. Failures are not
//! kept, so the next caller asks again.

use std::future::Future;
use std::time::{Duration, Instant};

use tokio::sync::Mutex;

/// How long a copy of a PostHog read is served before PostHog is asked again.
pub const READ_TTL: Duration = Duration::from_secs(60);

/// One cached value, fetched at most once per `ttl`.
#[derive(Debug)]
pub struct ReadCache<T> {
    ttl: Duration,
    slot: Mutex<Option<(Instant, T)>>,
}

impl<T: Clone> ReadCache<T> {
    pub fn new(ttl: Duration) -> Self {
        Self { ttl, slot: Mutex::new(None) }
    }

    /// The cached value while it is younger than the TTL, else what `fetch` returns
    /// (kept when it succeeds).
    pub async fn get_or_fetch<E, F>(&self, fetch: impl FnOnce() -> F) -> Result<T, E>
    where
        F: Future<Output = Result<T, E>>,
    {
        let mut slot = self.slot.lock().await;
        if let Some((at, value)) = slot.as_ref()
            && at.elapsed() < self.ttl
        {
            return Ok(value.clone());
        }
        let value = fetch().await?;
        *slot = Some((Instant::now(), value.clone()));
        Ok(value)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    #[tokio::test]
    async fn concurrent_callers_share_one_fetch_and_failures_are_not_kept() {
        // Arrange
        let cache = Arc::new(ReadCache::<u32>::new(Duration::from_secs(60)));
        let fetches = Arc::new(AtomicUsize::new(0));
        let failed: Result<u32, &str> = cache.get_or_fetch(|| async { Err("PostHog is down") }).await;

        // Act
        let calls = (0..20).map(|_| {
            let (cache, fetches) = (cache.clone(), fetches.clone());
            tokio::spawn(async move {
                cache
                    .get_or_fetch(|| async move {
                        fetches.fetch_add(1, Ordering::SeqCst);
                        tokio::time::sleep(Duration::from_millis(20)).await;
                        Ok::<_, &str>(7)
                    })
                    .await
            })
        });
        let answers: Vec<u32> = futures_join(calls).await;

        // Assert
        assert!(failed.is_err());
        assert_eq!(answers, vec![7; 20]);
        assert_eq!(fetches.load(Ordering::SeqCst), 1);
    }

    async fn futures_join(calls: impl Iterator<Item = tokio::task::JoinHandle<Result<u32, &'static str>>>) -> Vec<u32> {
        let mut out = Vec::new();
        for c in calls.collect::<Vec<_>>() {
            out.push(c.await.unwrap().unwrap());
        }
        out
    }
}

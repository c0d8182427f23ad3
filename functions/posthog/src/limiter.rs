//! The request budget of one PostHog API key, shared by every caller in the process.
//!
//! PostHog throttles per key (the cache key is the SHA-256 of the key), not per
//! client, so every [`crate::PostHogClient`] built for the same key draws from one
//! [`Budget`], found in a process-wide registry by the key's [`fingerprint`].
//!
//! The budget mirrors DRF's `SimpleRateThrottle`, which PostHog's burst (480/min) and
//! sustained (4800/h) throttles are: a sliding window that remembers when each
//! request was let through and refuses once `requests` fall within the last `per`.
//! A token bucket (GCRA) with the same numbers would let up to twice as many requests
//! through in a window after a burst, and PostHog would answer them with 429s.
//!
//! A 429 that gets through anyway (another process uses the key, clocks differ)
//! pauses the whole budget until PostHog's `Retry-After` has passed, so no caller of
//! the key keeps hammering while one waits.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError};
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};
use tokio::time::Instant;

use crate::config::RateLimit;

/// Hex SHA-256 of a key: how the key is named in the budget registry, in logs and in
/// leak alerts, without being the key.
pub fn fingerprint(key: &SecretString) -> String {
    hex::encode(Sha256::digest(key.expose_secret().as_bytes()))
}

/// One key's budget. Callers reserve a slot with [`Budget::acquire`] before each
/// request; reservations are handed out in order, so waiting callers are served
/// first come, first served.
#[derive(Debug)]
pub(crate) struct Budget {
    state: Mutex<State>,
}

#[derive(Debug)]
struct State {
    burst: Window,
    sustained: Window,
    /// Set by a 429: nobody sends before this instant.
    paused_until: Option<Instant>,
}

/// The instants at which requests were (or are reserved to be) sent, oldest first,
/// never more than `limit.requests` within any `limit.per`.
#[derive(Debug)]
struct Window {
    limit: RateLimit,
    sent: VecDeque<Instant>,
}

impl Window {
    fn new(limit: RateLimit) -> Self {
        Self { limit, sent: VecDeque::new() }
    }

    /// The earliest instant at or after `now` when one more request fits.
    fn ready_at(&mut self, now: Instant) -> Instant {
        while self.sent.front().is_some_and(|&t| t + self.limit.per <= now) {
            self.sent.pop_front();
        }
        let n = self.limit.requests as usize;
        if self.sent.len() < n {
            return now;
        }
        // The request `n` places back must have left the window.
        self.sent[self.sent.len() - n] + self.limit.per
    }
}

/// Why [`Budget::acquire`] gave up: the wait would have been longer than allowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TooLong {
    pub wait: Duration,
}

impl Budget {
    pub(crate) fn new(burst: RateLimit, sustained: RateLimit) -> Self {
        Self { state: Mutex::new(State { burst: Window::new(burst), sustained: Window::new(sustained), paused_until: None }) }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave the windows inconsistent in a
        // way that matters (at worst one reservation too many), so keep going.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn limits(&self) -> (RateLimit, RateLimit) {
        let state = self.lock();
        (state.burst.limit, state.sustained.limit)
    }

    /// Waits until one more request may be sent, and counts it. Refuses (without
    /// counting) when that would mean waiting longer than `max_wait`.
    pub(crate) async fn acquire(&self, max_wait: Duration) -> Result<(), TooLong> {
        let slot = {
            let mut state = self.lock();
            let now = Instant::now();
            let mut slot = state.burst.ready_at(now).max(state.sustained.ready_at(now));
            if let Some(paused) = state.paused_until {
                slot = slot.max(paused);
            }
            // Keep reservations in order so the windows stay sorted.
            for last in [state.burst.sent.back(), state.sustained.sent.back()].into_iter().flatten() {
                slot = slot.max(*last);
            }
            let wait = slot.saturating_duration_since(now);
            if wait > max_wait {
                return Err(TooLong { wait });
            }
            state.burst.sent.push_back(slot);
            state.sustained.sent.push_back(slot);
            slot
        };
        tokio::time::sleep_until(slot).await;
        // A 429 may have paused the key while this caller slept on its reservation.
        loop {
            let paused = self.lock().paused_until;
            match paused {
                Some(until) if until > Instant::now() => {
                    let wait = until.saturating_duration_since(Instant::now());
                    if wait > max_wait {
                        return Err(TooLong { wait });
                    }
                    tokio::time::sleep_until(until).await;
                }
                _ => return Ok(()),
            }
        }
    }

    /// Stops every caller of this key from sending for `wait` (a 429's
    /// `Retry-After`). A shorter pause never shortens a longer one.
    pub(crate) fn pause_for(&self, wait: Duration) {
        let until = Instant::now() + wait;
        let mut state = self.lock();
        state.paused_until = Some(state.paused_until.map_or(until, |p| p.max(until)));
    }
}

type Registry = Mutex<HashMap<String, Arc<Budget>>>;

fn registry() -> &'static Registry {
    static REGISTRY: OnceLock<Registry> = OnceLock::new();
    REGISTRY.get_or_init(Registry::default)
}

/// The budget for a key, created on first use. Budgets live as long as the process:
/// a client dropped and rebuilt a moment later must not get a fresh allowance that
/// PostHog does not know about. The first client of a key sets its limits; a later
/// client asking for others gets the existing budget and a warning.
pub(crate) fn budget_for(fingerprint: &str, burst: RateLimit, sustained: RateLimit) -> Arc<Budget> {
    let mut budgets = registry().lock().unwrap_or_else(PoisonError::into_inner);
    let budget = budgets.entry(fingerprint.to_owned()).or_insert_with(|| Arc::new(Budget::new(burst, sustained)));
    if budget.limits() != (burst, sustained) {
        tracing::warn!(
            key_fingerprint = &fingerprint[..12.min(fingerprint.len())],
            "a PostHog client asked for different rate limits for a key that already has a budget; keeping the first"
        );
    }
    Arc::clone(budget)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limit(requests: u32, millis: u64) -> RateLimit {
        RateLimit::new(requests, Duration::from_millis(millis))
    }

    #[test]
    fn the_fingerprint_is_the_hex_sha256_of_the_key() {
        // sha256("abc"), the FIPS 180-2 test vector.
        assert_eq!(fingerprint(&SecretString::from("abc")), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    }

    #[test]
    fn the_same_key_shares_one_budget_and_another_key_does_not() {
        let a = budget_for("limiter-test-a", limit(5, 1000), limit(50, 10_000));
        let again = budget_for("limiter-test-a", limit(5, 1000), limit(50, 10_000));
        let b = budget_for("limiter-test-b", limit(5, 1000), limit(50, 10_000));
        assert!(Arc::ptr_eq(&a, &again));
        assert!(!Arc::ptr_eq(&a, &b));
    }

    #[tokio::test(start_paused = true)]
    async fn the_window_lets_a_burst_through_then_waits_for_the_oldest_to_leave() {
        let budget = Budget::new(limit(3, 1000), limit(100, 60_000));
        let start = Instant::now();
        for _ in 0..3 {
            budget.acquire(Duration::from_secs(5)).await.unwrap();
        }
        assert_eq!(start.elapsed(), Duration::ZERO);
        budget.acquire(Duration::from_secs(5)).await.unwrap();
        assert_eq!(start.elapsed(), Duration::from_millis(1000));
    }

    #[tokio::test(start_paused = true)]
    async fn the_sustained_window_applies_too() {
        let budget = Budget::new(limit(10, 100), limit(4, 2000));
        let start = Instant::now();
        for _ in 0..5 {
            budget.acquire(Duration::from_secs(5)).await.unwrap();
        }
        assert_eq!(start.elapsed(), Duration::from_millis(2000));
    }

    #[tokio::test(start_paused = true)]
    async fn a_wait_longer_than_allowed_is_refused_without_counting() {
        let budget = Budget::new(limit(1, 10_000), limit(100, 60_000));
        budget.acquire(Duration::from_secs(1)).await.unwrap();
        let refused = budget.acquire(Duration::from_secs(1)).await.unwrap_err();
        assert_eq!(refused.wait, Duration::from_secs(10));
        assert_eq!(budget.lock().burst.sent.len(), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn a_pause_holds_everyone_and_never_shrinks() {
        let budget = Budget::new(limit(100, 1000), limit(100, 60_000));
        budget.pause_for(Duration::from_secs(3));
        budget.pause_for(Duration::from_secs(1));
        let start = Instant::now();
        budget.acquire(Duration::from_secs(10)).await.unwrap();
        assert_eq!(start.elapsed(), Duration::from_secs(3));
    }
}

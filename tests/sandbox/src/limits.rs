//! Throttling per personal API key and the decision of which requests fail on purpose.
//!
//! The throttle copies DRF's `SimpleRateThrottle`: a sliding log of request times per key
//! and per budget, and a wait computed from the oldest request still in the window. Faults
//! come from a seeded generator so a test that fails once fails the same way every run.

use std::collections::{HashMap, VecDeque};
use std::time::Duration;

use http::Method;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tokio::time::Instant;
use uuid::Uuid;

use crate::config::{Budget, FaultKind, FaultPlan, RateLimit};

/// Request times of one key against one budget, newest last.
#[derive(Debug, Default)]
struct History {
    times: VecDeque<Instant>,
}

impl History {
    /// DRF's `allow_request` + `wait`: `Ok` records the request, `Err` carries the wait.
    fn allow(&mut self, budget: Budget, now: Instant) -> Result<(), Duration> {
        while let Some(oldest) = self.times.front() {
            if now.duration_since(*oldest) >= budget.window {
                self.times.pop_front();
            } else {
                break;
            }
        }
        if self.times.len() >= budget.count {
            let remaining = self.times.front().map_or(budget.window, |oldest| budget.window.saturating_sub(now.duration_since(*oldest)));
            let available = (budget.count + 1).saturating_sub(self.times.len()).max(1);
            let divisor = u32::try_from(available).unwrap_or(u32::MAX);
            return Err(remaining / divisor);
        }
        self.times.push_back(now);
        Ok(())
    }
}

/// Whole seconds a client should wait: DRF rounds up, and a sub-second window still says 1.
pub fn whole_seconds(wait: Duration) -> u64 {
    let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    secs.max(1)
}

/// The burst and sustained throttles of every key.
#[derive(Debug)]
pub struct Throttle {
    config: RateLimit,
    burst: HashMap<Uuid, History>,
    sustained: HashMap<Uuid, History>,
    throttled: usize,
}

impl Throttle {
    /// Throttles with `config`.
    pub fn new(config: RateLimit) -> Self {
        Self { config, burst: HashMap::new(), sustained: HashMap::new(), throttled: 0 }
    }

    /// Replaces the budgets; request history is kept.
    pub fn set_config(&mut self, config: RateLimit) {
        self.config = config;
    }

    /// Checks both budgets for `key_id` as DRF does (every throttle is asked, the longest
    /// wait wins); `Err` carries the whole seconds to wait.
    pub fn check(&mut self, key_id: Uuid, now: Instant) -> Result<(), u64> {
        if !self.config.enabled {
            return Ok(());
        }
        let burst = self.burst.entry(key_id).or_default().allow(self.config.burst, now);
        let sustained = self.sustained.entry(key_id).or_default().allow(self.config.sustained, now);
        let wait = [burst.err(), sustained.err()].into_iter().flatten().max();
        match wait {
            Some(wait) => {
                self.throttled += 1;
                Err(whole_seconds(wait))
            }
            None => Ok(()),
        }
    }

    /// How many requests were refused so far.
    pub fn throttled_count(&self) -> usize {
        self.throttled
    }
}

/// "Fail the next `remaining` requests whose method is `method` and whose path starts with
/// `prefix`".
#[derive(Debug, Clone)]
struct FailNext {
    method: Method,
    prefix: String,
    remaining: usize,
    kind: FaultKind,
}

/// Decides which requests fail.
#[derive(Debug)]
pub struct Faults {
    plan: FaultPlan,
    rng: StdRng,
    queue: Vec<FailNext>,
}

impl Faults {
    /// Faults following `plan`, drawn from a generator seeded with `seed`.
    pub fn new(plan: FaultPlan, seed: u64) -> Self {
        Self { plan, rng: StdRng::seed_from_u64(seed), queue: Vec::new() }
    }

    /// Replaces the random part of the plan; queued `fail_next` entries stay.
    pub fn set_plan(&mut self, plan: FaultPlan) {
        self.plan = plan;
    }

    /// The current plan.
    pub fn plan(&self) -> &FaultPlan {
        &self.plan
    }

    /// Queues `n` failures of `kind` for requests matching `method` and `prefix`.
    pub fn fail_next(&mut self, method: Method, prefix: &str, n: usize, kind: FaultKind) {
        self.queue.push(FailNext { method, prefix: prefix.to_owned(), remaining: n, kind });
    }

    /// Forgets every queued and random fault.
    pub fn clear(&mut self) {
        self.queue.clear();
        self.plan.rate = 0.0;
        self.plan.kinds.clear();
    }

    /// The fault for this request, if any; `Status5xx` is resolved to a concrete status.
    pub fn decide(&mut self, method: &Method, path: &str) -> Option<FaultKind> {
        let queued = self.queue.iter_mut().find(|f| f.remaining > 0 && f.method == *method && path.starts_with(&f.prefix)).map(|f| {
            f.remaining -= 1;
            f.kind
        });
        self.queue.retain(|f| f.remaining > 0);
        let kind = queued.or_else(|| self.random())?;
        Some(self.resolve(kind))
    }

    fn random(&mut self) -> Option<FaultKind> {
        if self.plan.kinds.is_empty() || self.plan.rate <= 0.0 {
            return None;
        }
        let roll: f64 = self.rng.random();
        if roll >= self.plan.rate {
            return None;
        }
        let index = self.rng.random_range(0..self.plan.kinds.len());
        self.plan.kinds.get(index).copied()
    }

    fn resolve(&mut self, kind: FaultKind) -> FaultKind {
        match kind {
            FaultKind::Status5xx if self.rng.random_bool(0.5) => FaultKind::ServerError,
            FaultKind::Status5xx => FaultKind::DatabaseUnavailable,
            other => other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn burst_budget_refuses_the_request_after_the_last_allowed_one() {
        let mut throttle = Throttle::new(RateLimit::burst(2, Duration::from_secs(60)));
        let key = Uuid::nil();
        let now = Instant::now();
        assert_eq!(throttle.check(key, now), Ok(()));
        assert_eq!(throttle.check(key, now), Ok(()));
        assert_eq!(throttle.check(key, now), Err(60));
        assert_eq!(throttle.throttled_count(), 1);
    }

    #[test]
    fn budget_recovers_after_the_window() {
        let mut throttle = Throttle::new(RateLimit::burst(1, Duration::from_millis(500)));
        let key = Uuid::nil();
        let start = Instant::now();
        assert_eq!(throttle.check(key, start), Ok(()));
        assert_eq!(throttle.check(key, start + Duration::from_millis(100)), Err(1));
        assert_eq!(throttle.check(key, start + Duration::from_millis(600)), Ok(()));
    }

    #[test]
    fn budgets_are_per_key() {
        let mut throttle = Throttle::new(RateLimit::burst(1, Duration::from_secs(1)));
        let now = Instant::now();
        assert_eq!(throttle.check(Uuid::from_u128(1), now), Ok(()));
        assert_eq!(throttle.check(Uuid::from_u128(2), now), Ok(()));
    }

    #[test]
    fn disabled_throttle_allows_everything() {
        let mut throttle = Throttle::new(RateLimit { burst: Budget::new(0, Duration::from_secs(1)), ..RateLimit::disabled() });
        assert_eq!(throttle.check(Uuid::nil(), Instant::now()), Ok(()));
    }

    #[test]
    fn whole_seconds_rounds_up_and_is_at_least_one() {
        assert_eq!(whole_seconds(Duration::from_millis(1)), 1);
        assert_eq!(whole_seconds(Duration::from_millis(11_200)), 12);
        assert_eq!(whole_seconds(Duration::from_secs(12)), 12);
        assert_eq!(whole_seconds(Duration::ZERO), 1);
    }

    #[test]
    fn fail_next_hits_only_matching_requests_and_only_n_times() {
        let mut faults = Faults::new(FaultPlan::none(), 1);
        faults.fail_next(Method::PATCH, "/api/organizations/", 1, FaultKind::ServerError);
        assert_eq!(faults.decide(&Method::GET, "/api/organizations/x/members/"), None);
        assert_eq!(faults.decide(&Method::PATCH, "/api/organizations/x/members/y/"), Some(FaultKind::ServerError));
        assert_eq!(faults.decide(&Method::PATCH, "/api/organizations/x/members/y/"), None);
    }

    #[test]
    fn random_faults_are_reproducible_for_a_seed() {
        let plan = FaultPlan::random(0.5, vec![FaultKind::Status5xx, FaultKind::Timeout]);
        let run = |seed| {
            let mut faults = Faults::new(plan.clone(), seed);
            (0..50).map(|_| faults.decide(&Method::GET, "/")).collect::<Vec<_>>()
        };
        let first = run(9);
        assert_eq!(first, run(9));
        assert!(first.iter().any(Option::is_some));
        assert!(first.iter().any(Option::is_none));
        assert!(!first.contains(&Some(FaultKind::Status5xx)));
    }
}

//! The state every request and every handle shares: the store, the switches, the throttle,
//! the fault plan and the request log.
//!
//! Locks are `std::sync::Mutex` held only for short, await-free sections, so a handler never
//! sleeps while holding one and a handle method never waits on a slow request.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock};
use std::time::Duration;

use chrono::{DateTime, Utc};
use http::Method;
use uuid::Uuid;

use crate::config::{Behaviour, FaultKind, FaultPlan, SandboxConfig};
use crate::limits::{Faults, Throttle};
use crate::seed;
use crate::state::Store;

/// One request the sandbox received. It never holds the `Authorization` header, and a
/// `personal_api_key` in the query string is redacted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedRequest {
    /// HTTP method.
    pub method: Method,
    /// Path, e.g. `/api/organizations/<id>/members/`.
    pub path: String,
    /// Query string, if any.
    pub query: Option<String>,
    /// Status sent; `None` when the connection was dropped or the request was held.
    pub status: Option<u16>,
    /// The fault injected into this request, if any.
    pub fault: Option<FaultKind>,
    /// When the request arrived.
    pub at: DateTime<Utc>,
}

/// Mutable switches that are cheap to read on every request.
#[derive(Debug, Clone)]
struct Switches {
    latency: Duration,
    behaviour: Behaviour,
    /// How far the sandbox clock runs ahead of the wall clock (moved by tests).
    clock_offset: chrono::Duration,
}

#[derive(Debug)]
struct Shared {
    store: Mutex<Store>,
    switches: Mutex<Switches>,
    throttle: Mutex<Throttle>,
    faults: Mutex<Faults>,
    requests: Mutex<Vec<RecordedRequest>>,
    keyring: Mutex<crate::keyring::KeyRing>,
    writes: AtomicUsize,
    base_url: RwLock<String>,
    service_key: String,
    organization_id: Uuid,
}

/// Locks `mutex`, carrying on after a panic elsewhere: the sandbox's data stays usable for
/// the remaining assertions of a test even if one handler panicked.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The shared state of one sandbox. Cheap to clone; every clone sees the same organization.
#[derive(Debug, Clone)]
pub struct SandboxState {
    shared: Arc<Shared>,
}

impl SandboxState {
    /// Seeds a sandbox from `config` without serving it (use with [`crate::router`] and
    /// `tower::ServiceExt::oneshot`, or through [`crate::Sandbox::start`]).
    pub fn new(config: &SandboxConfig) -> Self {
        let seeded = seed::build(config, crate::state::truncate_to_micros(Utc::now()));
        let organization_id = seeded.store.organization().id;
        // A separate stream for faults, so adding a seeded record does not shift which
        // requests fail.
        let fault_seed = config.rng_seed ^ 0x5eed_fa17;
        let shared = Shared {
            store: Mutex::new(seeded.store),
            switches: Mutex::new(Switches { latency: config.latency, behaviour: config.behaviour, clock_offset: chrono::Duration::zero() }),
            throttle: Mutex::new(Throttle::new(config.rate_limit)),
            faults: Mutex::new(Faults::new(config.faults.clone(), fault_seed)),
            requests: Mutex::new(Vec::new()),
            keyring: Mutex::new(crate::keyring::KeyRing::default()),
            writes: AtomicUsize::new(0),
            base_url: RwLock::new("http://testserver".to_owned()),
            service_key: seeded.service_key,
            organization_id,
        };
        Self { shared: Arc::new(shared) }
    }

    /// The store, locked.
    pub(crate) fn store(&self) -> MutexGuard<'_, Store> {
        lock(&self.shared.store)
    }

    /// Project secret keys, captured events and leaked-key emails, locked. Never hold it
    /// together with [`Self::store`] unless the store was locked first.
    pub(crate) fn keyring(&self) -> MutexGuard<'_, crate::keyring::KeyRing> {
        lock(&self.shared.keyring)
    }

    /// The organization's uuid.
    pub(crate) fn org_uuid(&self) -> Uuid {
        self.shared.organization_id
    }

    /// The URL clients reach this sandbox at, e.g. `http://127.0.0.1:8010`.
    pub fn base_url(&self) -> String {
        self.shared.base_url.read().unwrap_or_else(PoisonError::into_inner).clone()
    }

    pub(crate) fn set_base_url(&self, url: String) {
        *self.shared.base_url.write().unwrap_or_else(PoisonError::into_inner) = url;
    }

    /// The service account's personal API key.
    pub fn service_api_key(&self) -> String {
        self.shared.service_key.clone()
    }

    /// The organization's id.
    pub fn organization_id(&self) -> String {
        self.shared.organization_id.to_string()
    }

    pub(crate) fn latency(&self) -> Duration {
        lock(&self.shared.switches).latency
    }

    pub(crate) fn set_latency_value(&self, latency: Duration) {
        lock(&self.shared.switches).latency = latency;
    }

    /// The sandbox clock: the wall clock plus the offset tests moved it by, at PostHog's
    /// microsecond precision. Time-dependent answers (an invite's `is_expired`) use it.
    pub(crate) fn now(&self) -> DateTime<Utc> {
        let offset = lock(&self.shared.switches).clock_offset;
        crate::state::truncate_to_micros(Utc::now() + offset)
    }

    pub(crate) fn advance_clock_by(&self, by: chrono::Duration) {
        let mut switches = lock(&self.shared.switches);
        switches.clock_offset += by;
    }

    pub(crate) fn behaviour(&self) -> Behaviour {
        lock(&self.shared.switches).behaviour
    }

    pub(crate) fn set_behaviour_value(&self, behaviour: Behaviour) {
        lock(&self.shared.switches).behaviour = behaviour;
    }

    pub(crate) fn throttle(&self) -> MutexGuard<'_, Throttle> {
        lock(&self.shared.throttle)
    }

    pub(crate) fn faults(&self) -> MutexGuard<'_, Faults> {
        lock(&self.shared.faults)
    }

    pub(crate) fn timeout_hold(&self) -> Duration {
        self.faults().plan().timeout_hold
    }

    pub(crate) fn set_fault_plan(&self, plan: FaultPlan) {
        self.faults().set_plan(plan);
    }

    pub(crate) fn record(&self, request: RecordedRequest) {
        lock(&self.shared.requests).push(request);
    }

    pub(crate) fn recorded(&self) -> Vec<RecordedRequest> {
        lock(&self.shared.requests).clone()
    }

    pub(crate) fn clear_recorded(&self) {
        lock(&self.shared.requests).clear();
    }

    /// Counts one successful state-changing request.
    pub(crate) fn count_write(&self) {
        self.shared.writes.fetch_add(1, Ordering::SeqCst);
    }

    pub(crate) fn writes(&self) -> usize {
        self.shared.writes.load(Ordering::SeqCst)
    }

    /// The `WWW-Authenticate` value PostHog sends with a 401.
    pub(crate) fn www_authenticate(&self) -> String {
        format!("Bearer resource_metadata=\"{}/.well-known/oauth-protected-resource\"", self.base_url())
    }
}

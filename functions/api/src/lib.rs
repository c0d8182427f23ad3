//! Hogwarden's HTTP API. Each Lambda serves one sub-router and the local stack
//! merges them all, so the same handlers run in both hosts (DESIGN.md, "One axum
//! Router, two hosts").

pub mod auth;
pub mod cache;
pub mod convert;
pub mod error;
pub mod openapi;
mod routes;

use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use hogwarden_core::Hogwarden;

pub use auth::{AuthMode, GatewayClaims, JwtVerifier};
pub use error::{ApiError, ApiJson};

/// Largest request body the API reads; larger ones get 413.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// What every handler needs.
#[derive(Clone, Debug)]
pub struct ApiState {
    pub app: Hogwarden,
    pub auth: Arc<AuthMode>,
    /// Leaked-key webhooks (`POST /webhooks/{provider}`); `None` answers 503.
    pub leaks: Option<Arc<hogwarden_core::usecases::LeakResponse>>,
    /// Replacing Hogwarden's own key (`PUT /api/keys/service`).
    pub service_keys: Option<Arc<hogwarden_core::usecases::ServiceKeys>>,
    /// The full key inventory (`GET /api/keys`); without it only Hogwarden's own key.
    pub inventory: Option<Arc<hogwarden_core::usecases::KeyInventory>>,
    /// Guided project-token rotations (`/api/keys/rotations`); `None` answers 403.
    pub token_rotations: Option<Arc<hogwarden_core::usecases::TokenRotations>>,
    /// PostHog's project list as `GET /api/projects` serves it: any signed-in person
    /// may call it, so PostHog is asked at most once per [`cache::READ_TTL`].
    pub projects: Arc<cache::ReadCache<Vec<hogwarden_core::ports::Project>>>,
}

impl ApiState {
    pub fn new(app: Hogwarden, auth: AuthMode) -> Self {
        Self {
            app,
            auth: Arc::new(auth),
            leaks: None,
            service_keys: None,
            inventory: None,
            token_rotations: None,
            projects: Arc::new(cache::ReadCache::new(cache::READ_TTL)),
        }
    }

    /// Answers leaked-key webhooks with `leaks`.
    #[must_use]
    pub fn with_leaks(mut self, leaks: hogwarden_core::usecases::LeakResponse) -> Self {
        self.leaks = Some(Arc::new(leaks));
        self
    }

    /// Lists every key Hogwarden knows with `inventory`.
    pub fn with_inventory(mut self, inventory: hogwarden_core::usecases::KeyInventory) -> Self {
        self.inventory = Some(Arc::new(inventory));
        self
    }

    /// Runs guided project-token rotations with `rotations`.
    #[must_use]
    pub fn with_token_rotations(mut self, rotations: hogwarden_core::usecases::TokenRotations) -> Self {
        self.token_rotations = Some(Arc::new(rotations));
        self
    }

    /// Lets admins replace Hogwarden's key with `keys`.
    #[must_use]
    pub fn with_service_keys(mut self, keys: hogwarden_core::usecases::ServiceKeys) -> Self {
        self.service_keys = Some(Arc::new(keys));
        self
    }
}

/// Requests, approvals, the inbox, grants and the audit log (the grants Lambda).
pub fn grants_router(state: ApiState) -> Router {
    one_function(
        routes::grants(state.clone())
            .merge(routes::audit(state.clone()))
            .merge(routes::meta(state.clone()))
            .merge(routes::offboarding(state)),
    )
}

/// Early revoke of a grant (the reverts Lambda, which also runs the sweep).
pub fn reverts_router(state: ApiState) -> Router {
    one_function(routes::reverts(state))
}

/// Who has what, and access snapshots (the reviews Lambda).
pub fn reviews_router(state: ApiState) -> Router {
    one_function(routes::reviews(state))
}

/// The PostHog keys Hogwarden holds (the key-rotation Lambda).
pub fn keys_router(state: ApiState) -> Router {
    one_function(routes::keys(state))
}

/// Every route, plus the OpenAPI document and a JSON 404 for anything else.
pub fn router(state: ApiState) -> Router {
    Router::new()
        .merge(routes::grants(state.clone()))
        .merge(routes::audit(state.clone()))
        .merge(routes::meta(state.clone()))
        .merge(routes::reviews(state.clone()))
        .merge(routes::keys(state.clone()))
        .merge(routes::offboarding(state.clone()))
        .merge(routes::reverts(state))
        .merge(openapi::routes())
        .fallback(routes::not_found)
        .layer(common_layers())
}

/// One Lambda's routes: anything else is a JSON 404 (API Gateway only sends a function
/// its own routes, but `{proxy+}` routes can carry paths the function does not serve).
fn one_function(routes: Router) -> Router {
    routes.fallback(routes::not_found).layer(common_layers())
}

fn common_layers() -> tower::layer::util::Stack<DefaultBodyLimit, tower::layer::util::Identity> {
    tower::layer::util::Stack::new(DefaultBodyLimit::max(MAX_BODY_BYTES), tower::layer::util::Identity::new())
}

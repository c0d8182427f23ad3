//! PostHog sandbox: a faithful in-process simulator of the parts of PostHog's REST API that
//! Hogwarden uses (organization members, invites, projects, RBAC access controls, activity log), with
//! switches for latency, throttling and injected faults.
//!
//! The contract it implements is `shared/posthog-api.md`, checked against PostHog's source.
//! Start one with [`Sandbox::start`] and talk to [`SandboxHandle::base_url`], or drive
//! [`router`] with `tower::ServiceExt::oneshot`:
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use posthog_sandbox::{Sandbox, SandboxConfig};
//! let sandbox = Sandbox::start(SandboxConfig::acme_corp(), "127.0.0.1:0".parse().unwrap()).await?;
//! let members_url = format!("{}/api/organizations/{}/members/", sandbox.base_url(), sandbox.organization_id());
//! let key = sandbox.service_api_key();
//! # let _ = (members_url, key);
//! sandbox.shutdown().await;
//! # Ok(()) }
//! ```

mod app;
mod auth;
mod cli;
mod config;
mod control;
mod errors;
mod github;
mod key_control;
mod keyring;
mod limits;
mod model;
mod objects;
mod routes;
mod rules;
mod seed;
mod server;
mod state;

use std::net::SocketAddr;
use std::ops::Deref;
use std::sync::{Arc, Mutex};

use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

pub use app::{RecordedRequest, SandboxState};
pub use cli::{SandboxArgs, serve_forever};
pub use config::{
    Behaviour, Budget, FaultKind, FaultPlan, MemberDenialText, OwnerRemoval, RateLimit, SandboxConfig, Seed, default_seed_anchor,
};
pub use control::{ActivityRecord, InviteRecord, NewMember};
pub use github::GitHubSandbox;
pub use key_control::{CapturedEvent, ExposedKeyEmail, ORG_ADMIN_ONLY, PersonalKeyRecord, SecretKeyRecord};
pub use model::{ACCESS_CONTROL_RESOURCES, INVITE_DAYS_VALIDITY, InvalidScope, OrgLevel};
pub use objects::{OFFBOARDING_DEMO, ObjectKind, ObjectRecord, SEEDED_OBJECTS};
pub use routes::router;
pub use rules::{LevelDenial, RemovalDenial};
pub use seed::{ADMINS, EXPIRED_INVITE, MEMBERS, PENDING_INVITE, PROJECT_ACCESS, PROJECTS, SERVICE_EMAIL, SERVICE_SCOPES, VIEWERS, email};
pub use state::StoreError as ChangeError;

/// Starts sandboxes.
#[derive(Debug)]
pub struct Sandbox;

impl Sandbox {
    /// Seeds a sandbox from `config` and serves it on `addr` (port 0 picks a free port).
    pub async fn start(config: SandboxConfig, addr: SocketAddr) -> std::io::Result<SandboxHandle> {
        let state = SandboxState::new(&config);
        let listener = TcpListener::bind(addr).await?;
        let mut local = listener.local_addr()?;
        // A wildcard bind is reached through loopback by local clients.
        if local.ip().is_unspecified() {
            local.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
        }
        state.set_base_url(format!("http://{local}"));
        let shutdown = CancellationToken::new();
        let task = tokio::spawn(server::serve(listener, router(state.clone()), shutdown.clone()));
        tracing::debug!(base_url = %state.base_url(), "PostHog sandbox started");
        Ok(SandboxHandle { state, shutdown, task: Arc::new(Mutex::new(Some(task))) })
    }
}

/// A running sandbox. Clones share it; every [`SandboxState`] method (inspection, direct
/// changes, switches) is available on the handle.
#[derive(Debug, Clone)]
pub struct SandboxHandle {
    state: SandboxState,
    shutdown: CancellationToken,
    task: Arc<Mutex<Option<JoinHandle<()>>>>,
}

impl SandboxHandle {
    /// The shared state, e.g. to build a second router over the same organization.
    pub fn state(&self) -> &SandboxState {
        &self.state
    }

    /// Stops accepting connections and closes every open one, held requests included.
    pub async fn shutdown(self) {
        self.shutdown.cancel();
        let task = app::lock(&self.task).take();
        if let Some(task) = task {
            let _ = task.await;
        }
    }
}

/// The handle is a running [`SandboxState`]: deref keeps one set of methods for both.
impl Deref for SandboxHandle {
    type Target = SandboxState;

    fn deref(&self) -> &SandboxState {
        &self.state
    }
}

//! Browser tests' harness: the local stack serving the built front end (with the
//! PostHog sandbox in-process), one headless Chromium per person, and page objects
//! written in find / act / check verbs with role and label locators.
//!
//! The front end must have been built (`frontend/dist`); `cargo xtask test` does it
//! before the tests run. A missing build fails the tests, it never skips them.

pub mod browser;
pub mod driver;
pub mod locate;
pub mod pages;

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use hogwarden_local::{Stack, StackConfig, StackHandle};
use posthog_sandbox::SandboxHandle;

pub use browser::{Browser, Screenshots};
pub use locate::Target;

/// Demo users of the local stack (functions/local/src/demo.rs).
pub const MEMBER: &str = "frank@example.com";
/// An approver who is also an admin.
pub const APPROVER_ADMIN: &str = "alice@example.com";
pub const APPROVER: &str = "bob@example.com";

pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().expect("the workspace root exists")
}

/// The built front end: `HOGWARDEN_FRONTEND_DIR`, or `frontend/dist`.
pub fn frontend_dist() -> anyhow::Result<PathBuf> {
    let dist = std::env::var_os("HOGWARDEN_FRONTEND_DIR").map(PathBuf::from).unwrap_or_else(|| workspace_root().join("frontend/dist"));
    if !dist.join("index.html").is_file() {
        bail!(
            "{} has no index.html: the browser tests drive the built front end. Run `cargo xtask test` \
             (it builds the front end, then runs every test), or build it alone with \
             `cargo xtask size` (the release build, and its size).",
            dist.display()
        );
    }
    Ok(dist)
}

/// One browser test: a fresh stack serving the front end, and its screenshot folder.
#[derive(Debug)]
pub struct BrowserTest {
    pub stack: StackHandle,
    pub shots: Screenshots,
    _data: tempfile::TempDir,
}

impl BrowserTest {
    /// Starts the local stack (SQLite in a temp folder, the sandbox on a free port, no
    /// sweep timer, the real clock so the page's "time left" agrees with the server).
    pub async fn start(test: &str) -> anyhow::Result<Self> {
        let dist = frontend_dist()?;
        let shots = Screenshots::new(test)?;
        let data = tempfile::tempdir()?;
        let mut config = StackConfig::new(data.path());
        config.sweep_interval = None;
        config.frontend_dir = Some(dist);
        // A review's removal hands the person's objects to someone who is not a
        // reviewer (the two-person rule): charlie, an admin of the demo organization.
        config.policy.reviews.hand_over_to = Some(hogwarden_core::types::Email::parse("charlie@example.com")?);
        let stack = Stack::start(config).await.context("starting the local stack")?;
        Ok(Self { stack, shots, _data: data })
    }

    /// A new headless Chromium for one person, on the app's start page.
    pub async fn browser(&self, who: &str) -> anyhow::Result<Browser> {
        let short = who.split('@').next().unwrap_or(who);
        let browser = Browser::open(short, &self.stack.url, self.shots.clone()).await?;
        browser.goto("/").await?;
        Ok(browser)
    }

    pub fn sandbox(&self) -> &SandboxHandle {
        self.stack.sandbox.as_ref().expect("the browser tests run the sandbox")
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.stack.url)
    }

    pub async fn shutdown(self) {
        self.stack.shutdown().await;
    }
}

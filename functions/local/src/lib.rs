//! The local stack: the same use cases and routers as the AWS deployment, in one
//! process. SQLite in a data folder, a 0600 file vault, a tokio timer for the sweep,
//! a local token issuer with a dev sign-in for the demo users, and the PostHog
//! sandbox in-process (or a real PostHog when configured).

pub mod bulk_cli;
pub mod config;
pub mod demo;
pub mod headers;
pub mod issuer;
pub mod notifier;
pub mod sso_demo;
pub mod stack;

pub use config::{NotifyConfig, PostHogTarget, StackConfig};
pub use stack::{Stack, StackHandle};

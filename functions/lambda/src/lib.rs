//! What the four Lambdas (grants, reverts, key-rotation, reviews) share: the
//! configuration read once from the environment ([`Config`]), the AWS composition of
//! the use cases ([`AwsStack`]), the copy of API Gateway's JWT claims into the
//! request ([`copy_gateway_claims`]) and the one entry point that dispatches HTTP
//! events and scheduled inputs ([`Handler`]). Each binary is `main` = [`init_tracing`],
//! `Config::from_env`, `AwsStack::builder(..).build()`, [`run`].

pub mod claims;
pub mod config;
pub mod dispatch;
pub mod env;
pub mod notifier;
pub mod stack;

pub use claims::copy_gateway_claims;
pub use config::{Config, ConfigError};
pub use dispatch::{Handler, HandlerError, ScheduledInput, Task, run};
pub use notifier::LogNotifier;
pub use stack::{AwsStack, AwsStackBuilder, StartupError};

/// JSON log lines on stdout (CloudWatch adds the time), filtered by `RUST_LOG`
/// (default `info`).
pub fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_env(env::LOG).unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt().json().with_env_filter(filter).with_current_span(false).without_time().with_target(false).init();
}

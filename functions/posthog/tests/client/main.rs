//! Integration tests of the PostHog client against a real HTTP server: a small
//! PostHog (`fake.rs`) that answers as PostHog's source says it does, with faults
//! the tests inject. One binary, so the workspace links it once.

mod errors;
mod fake;
mod pagination;
mod port;
mod retries;
mod throttling;

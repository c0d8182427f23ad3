//! Headless Chromium driving the built front end, served by the local stack with the
//! PostHog sandbox. One binary, one module per story; screenshots of every step go to
//! `tests/output/browser/<test>/`.

mod bulk_changes;
mod content_security_policy;
mod contractor;
mod diagnose;
mod key_alerts;
mod keys;
mod navigation;
mod offboarding;
mod reviews;
mod self_approval;
mod sign_in;
mod temporary_admin;
mod token_rotation;

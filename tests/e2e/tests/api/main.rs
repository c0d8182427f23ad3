//! The local stack end to end over HTTP, against the PostHog sandbox. One binary,
//! one module per concern; every test starts its own stack (temp folder, free ports).

mod access;
mod audit_anchor;
mod audit_filters;
mod authz_matrix;
mod bad_input;
mod bulk;
mod bulk_apply;
mod checklist;
mod concurrency;
mod diagnose;
mod exports;
mod extensions;
mod key_alerts;
mod key_consumers;
mod key_inventory;
mod leaks;
mod no_key_values;
mod notifications;
mod offboarding;
mod openapi;
mod races;
mod rate_limit;
mod reviews;
mod reviews_removal;
mod scenarios;
mod service_key;
mod sign_in_guards;
mod sso;
mod temporary_elevation;
mod token_rotation;
mod two_person_property;
mod two_person_rule;

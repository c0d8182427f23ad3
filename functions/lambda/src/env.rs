//! The environment variables the Lambdas read, named once. infra/template.yaml sets
//! exactly these (a test compares the two).

/// The DynamoDB table holding requests, grants, audit entries and reviews.
pub const TABLE: &str = "HOGWARDEN_TABLE";
/// The name or ARN of the Secrets Manager secret holding Hogwarden's PostHog API key.
pub const POSTHOG_KEY_SECRET: &str = "HOGWARDEN_POSTHOG_KEY_SECRET";
/// PostHog's base URL, e.g. `https://us.posthog.com`.
pub const POSTHOG_HOST: &str = "POSTHOG_HOST";
/// The PostHog organization Hogwarden manages (a UUID).
pub const POSTHOG_ORG_ID: &str = "POSTHOG_ORG_ID";
/// Where people open Hogwarden's pages (links in notifications), e.g. the CloudFront URL.
pub const WEB_URL: &str = "HOGWARDEN_WEB_URL";
/// The policy as JSON (optional: the built-in default policy when unset).
pub const POLICY: &str = "HOGWARDEN_POLICY";
/// The verified SES sender for email notifications, e.g. `Hogwarden <hogwarden@example.com>`
/// (optional: without it, notifications are only logged).
pub const EMAIL_FROM: &str = "HOGWARDEN_EMAIL_FROM";
/// Log filter, as for `tracing_subscriber::EnvFilter` (optional).
pub const LOG: &str = "RUST_LOG";

/// Every variable a Lambda reads, with whether it must be set.
pub const VARIABLES: &[(&str, bool)] = &[
    (TABLE, true),
    (POSTHOG_KEY_SECRET, true),
    (POSTHOG_HOST, true),
    (POSTHOG_ORG_ID, true),
    (WEB_URL, true),
    (POLICY, false),
    (EMAIL_FROM, false),
    (LOG, false),
];

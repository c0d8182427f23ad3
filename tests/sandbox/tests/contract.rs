//! Contract tests of the PostHog sandbox: each test checks one rule of
//! `shared/posthog-api.md` (the section is cited above each test) against a sandbox started
//! on port 0 and spoken to over real HTTP.

#[path = "contract/helpers.rs"]
mod helpers;

#[path = "contract/access_controls.rs"]
mod access_controls;
#[path = "contract/activity.rs"]
mod activity;
#[path = "contract/auth.rs"]
mod auth;
#[path = "contract/invites.rs"]
mod invites;
#[path = "contract/keys.rs"]
mod keys;
#[path = "contract/members.rs"]
mod members;
#[path = "contract/objects.rs"]
mod objects;
#[path = "contract/router.rs"]
mod router;
#[path = "contract/switches.rs"]
mod switches;

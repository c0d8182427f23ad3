//! What the identity provider last said about a person: the claims they signed in
//! with (or an admin's SSO sync carried), kept so access reviews can use them. The
//! manager claim assigns review items (before the policy's `reviews.managers`), and a
//! provider that marks a person inactive makes their items suggest "departed".
//!
//! Claims that only describe the token itself (`iat`, `exp`, `nonce`...) are not
//! kept, so signing in again with the same attributes writes nothing.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::sso::Claims;
use crate::types::Email;

/// Claim names that may carry the person's manager (an email), tried in order.
pub const MANAGER_CLAIMS: &[&str] = &["manager", "manager_email", "managerEmail"];

/// Token mechanics, never kept.
const TOKEN_CLAIMS: &[&str] = &[
    "iat",
    "exp",
    "nbf",
    "jti",
    "nonce",
    "at_hash",
    "c_hash",
    "auth_time",
    "iss",
    "aud",
    "azp",
    "sid",
    "token_use",
    "event_id",
    "origin_jti",
];

/// At most this many claims, and this many characters per value, are kept.
const MAX_CLAIMS: usize = 50;
const MAX_VALUE_LEN: usize = 256;

/// Where the claims came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IdentitySource {
    /// The person's own sign-in token.
    SignIn,
    /// An admin's SSO sync (`POST /api/sso/apply`), from the provider's directory.
    Sync,
}

/// One person as the identity provider last described them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identity {
    pub email: Email,
    /// The kept claims (token mechanics left out).
    pub claims: Claims,
    /// The manager claim, when it is an email.
    pub manager: Option<Email>,
    /// `false` when the provider says the person is disabled or gone.
    pub active: bool,
    pub source: IdentitySource,
    pub first_seen: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Optimistic-concurrency version; every write is conditional on it.
    pub version: u64,
}

/// The claims worth keeping: token mechanics and Hogwarden's own role claims dropped,
/// long values cut.
pub fn kept_claims(claims: &Claims) -> Claims {
    claims
        .iter()
        .filter(|(k, _)| !TOKEN_CLAIMS.contains(&k.as_str()))
        .take(MAX_CLAIMS)
        .map(|(k, values)| (k.clone(), values.iter().map(|v| v.chars().take(MAX_VALUE_LEN).collect()).collect()))
        .collect()
}

/// The manager claim, when it holds an email.
pub fn manager_of(claims: &Claims) -> Option<Email> {
    MANAGER_CLAIMS.iter().find_map(|name| claims.get(*name)?.iter().find_map(|v| Email::parse(v).ok()))
}

/// Whether the claims say the person is disabled or gone: `active: false`,
/// `enabled: false`, `disabled: true`, `departed: true`, or a `status` of `disabled`,
/// `deprovisioned`, `suspended`, `inactive`, `terminated`, `deleted` or `departed`.
pub fn active_in(claims: &Claims) -> bool {
    let has = |name: &str, wanted: &[&str]| {
        claims.get(name).is_some_and(|values| values.iter().any(|v| wanted.contains(&v.trim().to_ascii_lowercase().as_str())))
    };
    let gone = has("active", &["false", "0", "no"])
        || has("enabled", &["false", "0", "no"])
        || has("disabled", &["true", "1", "yes"])
        || has("departed", &["true", "1", "yes"])
        || has("status", &["disabled", "deprovisioned", "suspended", "inactive", "terminated", "deleted", "departed"]);
    !gone
}

impl Identity {
    /// The record these claims make, replacing `previous` (if any); `None` when nothing
    /// changed (a sign-in with the same attributes writes nothing).
    pub fn updated(
        previous: Option<&Identity>,
        email: &Email,
        claims: &Claims,
        source: IdentitySource,
        now: DateTime<Utc>,
    ) -> Option<Self> {
        let kept = kept_claims(claims);
        if previous.is_some_and(|p| p.claims == kept && p.source == source) {
            return None;
        }
        // A provider that says nothing about the manager (an SSO sync without the claim,
        // a token without it) leaves the one known from before; an empty or non-email
        // manager claim clears it.
        let says_manager = MANAGER_CLAIMS.iter().any(|name| kept.contains_key(*name));
        let manager = if says_manager { manager_of(&kept).filter(|m| m != email) } else { previous.and_then(|p| p.manager.clone()) };
        Some(Self {
            email: email.clone(),
            manager,
            active: active_in(&kept),
            claims: kept,
            source,
            first_seen: previous.map_or(now, |p| p.first_seen),
            updated_at: now,
            version: previous.map_or(1, |p| p.version + 1),
        })
    }
}

/// What changed between two records in the fields reviews use (the manager, whether
/// the person is active), as audit details; `None` when neither changed. A first record
/// is compared with "no manager, active".
pub fn review_relevant_change(previous: Option<&Identity>, next: &Identity) -> Option<serde_json::Value> {
    let (manager, active) = previous.map_or((None, true), |p| (p.manager.clone(), p.active));
    if manager == next.manager && active == next.active {
        return None;
    }
    Some(serde_json::json!({
        "source": next.source,
        "manager": { "from": manager, "to": next.manager },
        "active": { "from": active, "to": next.active },
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(pairs: &[(&str, &str)]) -> Claims {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), vec![(*v).to_owned()])).collect()
    }

    fn email(n: &str) -> Email {
        Email::parse(&format!("{n}@example.com")).unwrap()
    }

    #[test]
    fn the_manager_and_the_status_come_from_the_claims_and_token_mechanics_are_dropped() {
        let now = Utc::now();
        let c = claims(&[("manager", "bob@example.com"), ("department", "Product"), ("exp", "123"), ("nonce", "n")]);
        let i = Identity::updated(None, &email("grace"), &c, IdentitySource::SignIn, now).unwrap();
        assert_eq!(i.manager, Some(email("bob")));
        assert!(i.active);
        assert_eq!(i.claims.keys().collect::<Vec<_>>(), ["department", "manager"]);
        assert_eq!(i.version, 1);

        // The same attributes in a new token (another exp): nothing to write.
        let again = claims(&[("manager", "bob@example.com"), ("department", "Product"), ("exp", "999")]);
        assert_eq!(Identity::updated(Some(&i), &email("grace"), &again, IdentitySource::SignIn, now), None);

        let gone = claims(&[("status", "Deprovisioned")]);
        let next = Identity::updated(Some(&i), &email("grace"), &gone, IdentitySource::Sync, now).unwrap();
        assert!(!next.active);
        assert_eq!((next.version, next.manager), (2, Some(email("bob"))), "a provider silent about the manager keeps it");
        assert!(!active_in(&claims(&[("active", "false")])));
        assert!(active_in(&claims(&[("active", "true")])));
    }

    #[test]
    fn a_provider_silent_about_the_manager_keeps_the_known_one_and_only_review_fields_are_audited() {
        let now = Utc::now();
        let signed_in =
            Identity::updated(None, &email("grace"), &claims(&[("manager", "bob@example.com")]), IdentitySource::SignIn, now).unwrap();
        assert!(review_relevant_change(None, &signed_in).is_some(), "a first manager is a change");

        // An SSO sync that carries other claims but no manager: the manager stays.
        let synced =
            Identity::updated(Some(&signed_in), &email("grace"), &claims(&[("department", "Growth")]), IdentitySource::Sync, now).unwrap();
        assert_eq!(synced.manager, Some(email("bob")));
        assert_eq!(review_relevant_change(Some(&signed_in), &synced), None, "only the department changed");

        // A manager claim that is present but empty clears it; a departure is a change too.
        let cleared = Identity::updated(Some(&synced), &email("grace"), &claims(&[("manager", "")]), IdentitySource::Sync, now).unwrap();
        assert_eq!(cleared.manager, None);
        let change = review_relevant_change(Some(&synced), &cleared).unwrap();
        assert_eq!(change["manager"]["from"], "bob@example.com");
        assert!(change["manager"]["to"].is_null());
        let gone = Identity::updated(Some(&cleared), &email("grace"), &claims(&[("active", "false")]), IdentitySource::Sync, now).unwrap();
        assert_eq!(review_relevant_change(Some(&cleared), &gone).unwrap()["active"]["to"], false);
        assert_eq!(
            review_relevant_change(None, &Identity::updated(None, &email("ann"), &Claims::new(), IdentitySource::SignIn, now).unwrap()),
            None
        );
    }

    #[test]
    fn a_manager_claim_that_is_not_an_email_or_names_the_person_is_ignored() {
        let now = Utc::now();
        let i = Identity::updated(None, &email("ann"), &claims(&[("manager", "Bob Smith")]), IdentitySource::SignIn, now).unwrap();
        assert_eq!(i.manager, None);
        let me = Identity::updated(None, &email("ann"), &claims(&[("manager", "ann@example.com")]), IdentitySource::SignIn, now).unwrap();
        assert_eq!(me.manager, None);
    }
}

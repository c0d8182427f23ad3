//! Personal-API-key authentication, scope checks and throttling, in PostHog's order.
//!
//! DRF authenticates first (401), then runs the permission classes (scope, organization
//! membership: 403), then the throttles (429). Handlers take a [`Caller`] (authentication)
//! and call one of the `authorize_*` methods (the rest), so each endpoint states its scope
//! where it is defined.

use axum::extract::FromRequestParts;
use http::header;
use http::request::Parts;
use tokio::time::Instant;
use uuid::Uuid;

use crate::app::SandboxState;
use crate::errors::ApiError;
use crate::model::{OrgLevel, RequiredScope, Scope};

/// The authenticated key and its owner.
#[derive(Debug, Clone)]
pub struct Caller {
    /// The key owner's user id; the request acts with their permissions.
    pub user_id: i64,
    key_id: Uuid,
    scopes: Vec<Scope>,
}

/// Where a key was found, named as PostHog names it in its 401 text.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Found {
    Header(String),
    QueryString(String),
}

/// Applies PostHog's header pattern `^Bearer\s+(\S.+)$` and strips the match.
fn bearer_token(value: &str) -> Option<String> {
    let rest = value.strip_prefix("Bearer")?;
    let token = rest.trim_start();
    let separated = rest.len() > token.len();
    // `(\S.+)` needs a non-space character followed by at least one more character.
    if !separated || token.chars().count() < 2 {
        return None;
    }
    let token = token.trim();
    // `pha_` tokens are OAuth access tokens, which the personal-key authenticator skips.
    if token.starts_with("pha_") {
        return None;
    }
    Some(token.to_owned())
}

fn find_key(parts: &Parts) -> Option<Found> {
    if let Some(token) = parts.headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).and_then(bearer_token) {
        return Some(Found::Header(token));
    }
    let query = parts.uri.query()?;
    url::form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == "personal_api_key")
        .map(|(_, v)| Found::QueryString(v.into_owned()))
        .filter(|f| !matches!(f, Found::QueryString(v) if v.is_empty()))
}

impl FromRequestParts<SandboxState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &SandboxState) -> Result<Self, Self::Rejection> {
        let Some(found) = find_key(parts) else {
            return Err(ApiError::not_authenticated(state.www_authenticate()));
        };
        let (value, source) = match found {
            Found::Header(value) => (value, "Authorization header"),
            Found::QueryString(value) => (value, "query string"),
        };
        let now = state.now();
        let mut store = state.store();
        let key = store.key_by_value(&value).filter(|key| store.user(key.user_id).is_some_and(|u| u.is_active));
        match key.map(|key| Self { user_id: key.user_id, key_id: key.id, scopes: key.scopes.clone() }) {
            Some(caller) => {
                store.touch_key(caller.key_id, now);
                Ok(caller)
            }
            None => Err(ApiError::invalid_key(source, state.www_authenticate())),
        }
    }
}

impl Caller {
    /// The id of the personal API key the request authenticated with.
    pub(crate) fn key_id(&self) -> Uuid {
        self.key_id
    }
}

impl SandboxState {
    fn check_scope(caller: &Caller, scope: RequiredScope) -> Result<(), ApiError> {
        if caller.scopes.iter().any(|s| s.satisfies(&scope)) {
            Ok(())
        } else {
            Err(ApiError::permission_denied(format!("API key missing required scope '{scope}'")))
        }
    }

    fn check_throttle(&self, caller: &Caller) -> Result<(), ApiError> {
        self.throttle().check(caller.key_id, Instant::now()).map_err(ApiError::throttled)
    }

    /// Permission and throttle checks of an organization endpoint: the scope, then that the
    /// caller belongs to organization `org_id` (`@current` accepted), then the throttle.
    /// Returns the caller's organization level.
    pub(crate) fn authorize_org(&self, caller: &Caller, org_id: &str, scope: RequiredScope) -> Result<OrgLevel, ApiError> {
        Self::check_scope(caller, scope)?;
        let is_ours = org_id == "@current" || Uuid::parse_str(org_id).is_ok_and(|id| id == self.org_uuid());
        let level = {
            let store = self.store();
            store.membership_of_user(caller.user_id).map(|m| m.level)
        };
        let level = match level {
            Some(level) if is_ours => level,
            _ => return Err(ApiError::forbidden()),
        };
        self.check_throttle(caller)?;
        Ok(level)
    }

    /// Permission and throttle checks of a project endpoint: the scope, then the throttle.
    /// Whether the caller may see the project is the handler's concern (404), as in PostHog,
    /// where it comes from the queryset after the throttles ran.
    pub(crate) fn authorize_project(&self, caller: &Caller, scope: RequiredScope) -> Result<(), ApiError> {
        Self::check_scope(caller, scope)?;
        self.check_throttle(caller)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_header_is_resilient_to_extra_whitespace() {
        assert_eq!(bearer_token("Bearer  phx_abc  ").as_deref(), Some("phx_abc"));
        assert_eq!(bearer_token("Bearer phx_abc").as_deref(), Some("phx_abc"));
    }

    #[test]
    fn malformed_bearer_headers_carry_no_key() {
        assert_eq!(bearer_token("Bearerphx_abc"), None);
        assert_eq!(bearer_token("Bearer x"), None);
        assert_eq!(bearer_token("Basic abc"), None);
        assert_eq!(bearer_token("Bearer pha_oauth"), None);
    }
}

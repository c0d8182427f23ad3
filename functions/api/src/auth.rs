//! Who is calling. Two modes, one result (a [`Principal`]):
//! - `Verify`: the API checks the bearer JWT itself, exactly as API Gateway's JWT
//!   authorizer would (signature from the issuer's keys, `iss`, `aud`, `exp`, `nbf`;
//!   RS256/ES256 only). The local stack uses this with its own issuer.
//! - `Gateway`: API Gateway already verified the token; the Lambda host puts the
//!   claims it delivered into the request as [`GatewayClaims`].
//!
//! Roles come from the `groups` claim (or `cognito:groups`): only Hogwarden's own
//! group names (`hogwarden-requester`, `hogwarden-approver`, `hogwarden-admin`, see
//! [`Role::group_name`]) count, each matched whole. API Gateway flattens an array to a
//! string like `"[hogwarden-approver hogwarden-requester]"`; that form is split on
//! spaces (so it cannot carry group names with spaces), a JSON array never is.
//!
//! Identity is the `email` claim, bound to the token's `sub`: a token whose
//! `email_verified` is present and not true is refused, and the first subject seen
//! with an email is stored (a one-time binding); a later token with the same email and
//! another subject is refused.

use std::collections::HashMap;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use hogwarden_core::types::{Email, Principal, Role};
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation, decode, decode_header};
use serde::Deserialize;

use crate::ApiState;
use crate::error::ApiError;

/// How the API learns who is calling.
#[derive(Debug)]
pub enum AuthMode {
    Verify(JwtVerifier),
    Gateway,
}

/// Claims API Gateway verified and delivered (`requestContext.authorizer.jwt.claims`).
#[derive(Debug, Clone, Default)]
pub struct GatewayClaims(pub HashMap<String, String>);

/// Verifies bearer tokens against a fixed issuer, audience and key set.
pub struct JwtVerifier {
    issuer: String,
    audience: String,
    keys: Vec<(Option<String>, Algorithm, DecodingKey)>,
}

impl std::fmt::Debug for JwtVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwtVerifier")
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .field("keys", &self.keys.len())
            .finish()
    }
}

/// Why a key set could not be used.
#[derive(Debug, thiserror::Error)]
#[error("unusable key set: {0}")]
pub struct KeySetError(String);

impl JwtVerifier {
    /// Builds a verifier from the issuer's JWKS document (RSA and P-256 keys only).
    pub fn from_jwks(jwks_json: &str, issuer: impl Into<String>, audience: impl Into<String>) -> Result<Self, KeySetError> {
        let set: JwkSet = serde_json::from_str(jwks_json).map_err(|e| KeySetError(e.to_string()))?;
        let mut keys = Vec::new();
        for jwk in &set.keys {
            let alg = match &jwk.algorithm {
                jsonwebtoken::jwk::AlgorithmParameters::RSA(_) => Algorithm::RS256,
                jsonwebtoken::jwk::AlgorithmParameters::EllipticCurve(_) => Algorithm::ES256,
                _ => continue,
            };
            let key = DecodingKey::from_jwk(jwk).map_err(|e| KeySetError(e.to_string()))?;
            keys.push((jwk.common.key_id.clone(), alg, key));
        }
        if keys.is_empty() {
            return Err(KeySetError("no RSA or P-256 key in the set".into()));
        }
        Ok(Self { issuer: issuer.into(), audience: audience.into(), keys })
    }

    /// Checks a token and returns its claims, or says what is wrong with it.
    pub fn verify(&self, token: &str) -> Result<HashMap<String, serde_json::Value>, ApiError> {
        let bad = |why: &str| ApiError::Unauthorized(format!("The access token is not valid: {why}. Sign in again."));
        let header = decode_header(token).map_err(|_| bad("it is not a well-formed JWT"))?;
        if !matches!(header.alg, Algorithm::RS256 | Algorithm::ES256) {
            return Err(bad("its signing algorithm is not allowed"));
        }
        let (_, alg, key) = self
            .keys
            .iter()
            .find(|(kid, alg, _)| *alg == header.alg && (header.kid.is_none() || kid.as_deref() == header.kid.as_deref()))
            .ok_or_else(|| bad("it was signed with an unknown key"))?;
        let mut validation = Validation::new(*alg);
        validation.set_issuer(&[&self.issuer]);
        validation.set_audience(&[&self.audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.validate_nbf = true;
        validation.leeway = 5;
        let data = decode::<HashMap<String, serde_json::Value>>(token, key, &validation).map_err(|e| {
            use jsonwebtoken::errors::ErrorKind as K;
            match e.kind() {
                K::ExpiredSignature => bad("it has expired"),
                K::ImmatureSignature => bad("it is not valid yet"),
                K::InvalidIssuer => bad("it was issued by an issuer this API does not trust"),
                K::InvalidAudience => bad("it was issued for another audience"),
                K::InvalidSignature => bad("its signature does not match"),
                K::MissingRequiredClaim(c) => bad(&format!("it has no '{c}' claim")),
                _ => bad("it could not be verified"),
            }
        })?;
        Ok(data.claims)
    }
}

#[derive(Debug, Deserialize)]
struct StandardClaims {
    sub: String,
    email: Option<String>,
}

/// Turns verified claims into a principal. Values may be JSON or API Gateway's strings.
pub fn principal_from_claims(claims: &HashMap<String, serde_json::Value>) -> Result<Principal, ApiError> {
    let std: StandardClaims = serde_json::from_value(serde_json::Value::Object(claims.clone().into_iter().collect()))
        .map_err(|_| ApiError::Unauthorized("The access token has no subject; sign in again.".into()))?;
    if std.sub.trim().is_empty() {
        return Err(ApiError::Unauthorized("The access token's subject ('sub') is empty; sign in again.".into()));
    }
    let email_raw =
        std.email.ok_or_else(|| ApiError::Unauthorized("The access token carries no email claim; Hogwarden needs one.".into()))?;
    let email =
        Email::parse(&email_raw).map_err(|_| ApiError::Unauthorized("The access token's email claim is not an email address.".into()))?;
    // A provider that says the address is unverified (JSON `false`, or API Gateway's
    // string "false") does not vouch for it. Absent is accepted: many providers' access
    // tokens do not carry the claim.
    if let Some(verified) = claims.get("email_verified") {
        let yes = match verified {
            serde_json::Value::Bool(b) => *b,
            serde_json::Value::String(s) => s.trim().eq_ignore_ascii_case("true"),
            _ => false,
        };
        if !yes {
            return Err(ApiError::Unauthorized(
                "The identity provider has not verified this token's email address (email_verified is not true); verify it there and sign in again."
                    .into(),
            ));
        }
    }
    let mut roles = Vec::new();
    for key in ["groups", "cognito:groups"] {
        if let Some(v) = claims.get(key) {
            for g in group_names(v) {
                if let Some(r) = Role::from_group(&g).filter(|r| !roles.contains(r)) {
                    roles.push(r);
                }
            }
        }
    }
    Ok(Principal { email, subject: std.sub, roles })
}

/// Groups as a JSON array (each name taken whole), as API Gateway's flattened
/// `"[a b]"` (split on spaces), or as one group name.
fn group_names(v: &serde_json::Value) -> Vec<String> {
    match v {
        serde_json::Value::Array(items) => items.iter().filter_map(|i| i.as_str().map(str::to_owned)).collect(),
        serde_json::Value::String(s) => match s.trim().strip_prefix('[').and_then(|s| s.strip_suffix(']')) {
            Some(flattened) => flattened.split_whitespace().map(str::to_owned).collect(),
            None => vec![s.clone()],
        },
        _ => Vec::new(),
    }
}

/// The one-time claim binding an email to the first subject seen with it.
pub fn subject_binding_key(email: &Email) -> String {
    format!("identity-sub#{email}")
}

/// Binds the principal's email to its subject the first time it is seen, and refuses a
/// token whose subject differs from the bound one (another account of the identity
/// provider, or another provider, using the same address).
async fn check_subject(state: &ApiState, who: &Principal) -> Result<(), ApiError> {
    let app = &state.app;
    let bound = app.store.keys().bind_once(&subject_binding_key(&who.email), &who.subject, app.clock.now()).await?;
    if bound != who.subject {
        tracing::warn!(email = %who.email, "a token's subject differs from the one bound to its email; refused");
        return Err(ApiError::Unauthorized(format!(
            "The access token's subject ('sub') is not the identity-provider account {} first signed in with; Hogwarden refuses the same email from another account. If the account was replaced on purpose, ask whoever runs Hogwarden to remove the old binding.",
            who.email
        )));
    }
    Ok(())
}

/// The caller, for handlers: `async fn h(Caller(who): Caller, …)`.
#[derive(Debug, Clone)]
pub struct Caller(pub Principal);

/// The verified claims of the request's token, whichever way they arrived.
pub(crate) fn verified_claims(parts: &Parts, state: &ApiState) -> Result<HashMap<String, serde_json::Value>, ApiError> {
    match state.auth.as_ref() {
        AuthMode::Gateway => {
            let gw = parts
                .extensions
                .get::<GatewayClaims>()
                .ok_or_else(|| ApiError::Unauthorized("Sign in first: the request carries no verified identity.".into()))?;
            Ok(gw.0.iter().map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone()))).collect())
        }
        AuthMode::Verify(verifier) => {
            let header = parts
                .headers
                .get(axum::http::header::AUTHORIZATION)
                .ok_or_else(|| ApiError::Unauthorized("Sign in first: send 'Authorization: Bearer <token>'.".into()))?;
            let value = header.to_str().map_err(|_| ApiError::Unauthorized("The Authorization header is not readable text.".into()))?;
            let token = value
                .strip_prefix("Bearer ")
                .or_else(|| value.strip_prefix("bearer "))
                .map(str::trim)
                .filter(|t| !t.is_empty())
                .ok_or_else(|| ApiError::Unauthorized("The Authorization header must be 'Bearer <token>'.".into()))?;
            verifier.verify(token)
        }
    }
}

impl FromRequestParts<ApiState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &ApiState) -> Result<Self, Self::Rejection> {
        let who = principal_from_claims(&verified_claims(parts, state)?)?;
        check_subject(state, &who).await?;
        Ok(Caller(who))
    }
}

/// The caller and every verified claim of their token (for SSO rules).
#[derive(Debug, Clone)]
pub struct CallerClaims(pub Principal, pub HashMap<String, serde_json::Value>);

impl FromRequestParts<ApiState> for CallerClaims {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &ApiState) -> Result<Self, Self::Rejection> {
        let claims = verified_claims(parts, state)?;
        let who = principal_from_claims(&claims)?;
        check_subject(state, &who).await?;
        Ok(CallerClaims(who, claims))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(pairs: serde_json::Value) -> HashMap<String, serde_json::Value> {
        serde_json::from_value(pairs).unwrap()
    }

    #[test]
    fn groups_arrive_in_every_shape_api_gateway_uses() {
        assert_eq!(
            group_names(&serde_json::json!("[hogwarden-approver hogwarden-requester]")),
            vec!["hogwarden-approver", "hogwarden-requester"]
        );
        assert_eq!(group_names(&serde_json::json!(["hogwarden-admin"])), vec!["hogwarden-admin"]);
        assert_eq!(group_names(&serde_json::json!("hogwarden-requester")), vec!["hogwarden-requester"]);
        assert_eq!(group_names(&serde_json::json!(["Billing admin"])), vec!["Billing admin"], "an array's names are never split");
    }

    #[test]
    fn only_hogwarden_group_names_give_roles() {
        let who = |groups: serde_json::Value| {
            principal_from_claims(&claims(serde_json::json!({ "sub": "s1", "email": "eve@example.com", "groups": groups }))).unwrap().roles
        };
        assert_eq!(who(serde_json::json!(["Billing admin"])), vec![]);
        assert_eq!(who(serde_json::json!(["admin", "approver", "requester"])), vec![]);
        assert_eq!(who(serde_json::json!("Billing admin")), vec![]);
        assert_eq!(who(serde_json::json!("admin,approver")), vec![]);
        assert_eq!(who(serde_json::json!(["hogwarden-admin"])), vec![Role::Admin]);
        assert_eq!(who(serde_json::json!("[hogwarden-requester hogwarden-approver]")), vec![Role::Requester, Role::Approver]);
    }

    #[test]
    fn an_unverified_email_is_refused_and_a_verified_or_silent_one_accepted() {
        let with = |verified: Option<serde_json::Value>| {
            let mut c = claims(serde_json::json!({ "sub": "s1", "email": "eve@example.com" }));
            if let Some(v) = verified {
                c.insert("email_verified".into(), v);
            }
            principal_from_claims(&c)
        };
        for refused in [serde_json::json!(false), serde_json::json!("false"), serde_json::json!("False"), serde_json::json!(0)] {
            let err = with(Some(refused.clone())).unwrap_err();
            assert!(matches!(&err, ApiError::Unauthorized(m) if m.contains("email_verified")), "{refused}: {err:?}");
        }
        for accepted in [Some(serde_json::json!(true)), Some(serde_json::json!("true")), None] {
            assert!(with(accepted.clone()).is_ok(), "{accepted:?}");
        }
    }

    #[test]
    fn a_token_without_email_is_refused() {
        let claims: HashMap<String, serde_json::Value> = [("sub".to_string(), serde_json::json!("abc"))].into_iter().collect();
        assert!(matches!(principal_from_claims(&claims), Err(ApiError::Unauthorized(_))));
    }
}

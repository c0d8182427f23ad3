//! The runtime configuration the app reads from `/config.json` when it starts, so one
//! build serves the local stack (dev sign-in, same origin) and AWS (OIDC, API Gateway).

use serde::Deserialize;

/// The contents of `config.json`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuntimeConfig {
    /// Where the API lives: empty for the page's own origin, else e.g.
    /// `https://abc123.execute-api.eu-west-1.amazonaws.com`.
    #[serde(default)]
    pub api_url: String,
    pub auth: AuthConfig,
}

/// How people sign in.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(tag = "mode", rename_all = "snake_case")]
pub enum AuthConfig {
    /// The local stack's dev sign-in: pick a demo user.
    Dev,
    /// Authorization code + PKCE against an OIDC provider.
    Oidc(OidcConfig),
}

/// An OIDC client without a secret (a public client, as browsers must be).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OidcConfig {
    pub issuer: String,
    pub authorization_endpoint: String,
    pub token_endpoint: String,
    pub client_id: String,
    pub redirect_uri: String,
    #[serde(default = "default_scope")]
    pub scope: String,
    /// Which token the API expects as bearer. API Gateway's JWT authorizer in front of
    /// Cognito needs the ID token (it carries `email` and `aud` = the client id).
    #[serde(default)]
    pub bearer: BearerToken,
}

/// The token sent to the API after an OIDC sign-in.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BearerToken {
    #[default]
    IdToken,
    AccessToken,
}

fn default_scope() -> String {
    "openid email profile".into()
}

impl RuntimeConfig {
    /// The absolute or same-origin URL of an API path such as `/api/me`.
    pub fn api(&self, path: &str) -> String {
        format!("{}{path}", self.api_url.trim_end_matches('/'))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_local_stacks_config_means_dev_sign_in_on_the_same_origin() {
        let c: RuntimeConfig = serde_json::from_str(r#"{"api_url": "", "auth": {"mode": "dev"}}"#).unwrap();
        assert_eq!(c.auth, AuthConfig::Dev);
        assert_eq!(c.api("/api/me"), "/api/me");
    }

    #[test]
    fn an_oidc_config_defaults_the_scope_and_the_bearer_token() {
        let c: RuntimeConfig = serde_json::from_str(
            r#"{"api_url": "https://api.example.com/", "auth": {"mode": "oidc", "issuer": "https://idp.example.com",
               "authorization_endpoint": "https://idp.example.com/authorize", "token_endpoint": "https://idp.example.com/token",
               "client_id": "abc", "redirect_uri": "https://app.example.com/"}}"#,
        )
        .unwrap();
        let AuthConfig::Oidc(o) = &c.auth else { panic!("oidc expected") };
        assert_eq!(o.scope, "openid email profile");
        assert_eq!(o.bearer, BearerToken::IdToken);
        assert_eq!(c.api("/api/me"), "https://api.example.com/api/me");
    }

    #[test]
    fn a_misspelt_field_is_refused_rather_than_ignored() {
        let r = serde_json::from_str::<RuntimeConfig>(r#"{"apiurl": "", "auth": {"mode": "dev"}}"#);
        assert!(r.is_err());
    }
}

//! Everything a Lambda reads from its environment, read once at cold start. A
//! missing or malformed variable stops the start with a message naming it.

use hogwarden_core::policy::Policy;
use url::Url;

use crate::env;

/// The configuration every Hogwarden Lambda starts from.
#[derive(Debug, Clone)]
pub struct Config {
    /// The DynamoDB table ([`env::TABLE`]).
    pub table: String,
    /// The Secrets Manager secret holding the PostHog API key ([`env::POSTHOG_KEY_SECRET`]).
    pub posthog_key_secret: String,
    /// PostHog's base URL ([`env::POSTHOG_HOST`]).
    pub posthog_host: Url,
    /// The PostHog organization Hogwarden manages ([`env::POSTHOG_ORG_ID`]).
    pub posthog_org_id: String,
    /// Where people open Hogwarden ([`env::WEB_URL`]).
    pub web_url: Url,
    /// The policy ([`env::POLICY`]), or the built-in default.
    pub policy: Policy,
    /// The SES sender for email notifications ([`env::EMAIL_FROM`]); `None` logs them only.
    pub email_from: Option<String>,
}

/// Why the environment does not make a configuration. The messages name the
/// variable and never echo its value.
#[derive(thiserror::Error)]
pub enum ConfigError {
    #[error("{name} is not set; it must hold {what} (infra/template.yaml sets it for every Hogwarden function)")]
    Missing { name: &'static str, what: &'static str },
    #[error("{name} is not valid: {why}")]
    Invalid { name: &'static str, why: String },
}

/// `main` returning this error prints it with `{:?}`: make that the readable message.
impl std::fmt::Debug for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{self}")
    }
}

impl Config {
    /// Reads the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads variables through `lookup` (the environment, or a map in tests).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let required = |name: &'static str, what: &'static str| {
            lookup(name).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty()).ok_or(ConfigError::Missing { name, what })
        };
        let table = required(env::TABLE, "the name of Hogwarden's DynamoDB table")?;
        let posthog_key_secret =
            required(env::POSTHOG_KEY_SECRET, "the name or ARN of the Secrets Manager secret with Hogwarden's PostHog API key")?;
        let posthog_host = parse_url(env::POSTHOG_HOST, &required(env::POSTHOG_HOST, "PostHog's base URL, e.g. https://us.posthog.com")?)?;
        let posthog_org_id = required(env::POSTHOG_ORG_ID, "the id (a UUID) of the PostHog organization Hogwarden manages")?;
        uuid::Uuid::parse_str(&posthog_org_id).map_err(|_| ConfigError::Invalid {
            name: env::POSTHOG_ORG_ID,
            why: "it is not a UUID (PostHog shows it under Organization settings)".into(),
        })?;
        let web_url = parse_url(env::WEB_URL, &required(env::WEB_URL, "the URL where people open Hogwarden")?)?;
        let policy = match lookup(env::POLICY).filter(|v| !v.trim().is_empty()) {
            None => Policy::default(),
            Some(json) => {
                let policy: Policy = serde_json::from_str(&json)
                    .map_err(|e| ConfigError::Invalid { name: env::POLICY, why: format!("it is not a policy document: {e}") })?;
                policy.validate().map_err(|e| ConfigError::Invalid { name: env::POLICY, why: e.to_string() })?;
                policy
            }
        };
        let email_from = lookup(env::EMAIL_FROM).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
        Ok(Self { table, posthog_key_secret, posthog_host, posthog_org_id, web_url, policy, email_from })
    }
}

fn parse_url(name: &'static str, value: &str) -> Result<Url, ConfigError> {
    let url = Url::parse(value).map_err(|e| ConfigError::Invalid { name, why: format!("it is not a URL ({e})") })?;
    if !matches!(url.scheme(), "https" | "http") {
        return Err(ConfigError::Invalid { name, why: "it must be an https:// URL".into() });
    }
    Ok(url)
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn complete() -> HashMap<&'static str, String> {
        [
            (env::TABLE, "hogwarden"),
            (env::POSTHOG_KEY_SECRET, "hogwarden/posthog-key"),
            (env::POSTHOG_HOST, "https://eu.posthog.com"),
            (env::POSTHOG_ORG_ID, "0192f1a4-8c3e-7d2a-9b1e-5f6a7b8c9d0e"),
            (env::WEB_URL, "https://hogwarden.example.com"),
        ]
        .into_iter()
        .map(|(k, v)| (k, v.to_owned()))
        .collect()
    }

    fn read(vars: &HashMap<&'static str, String>) -> Result<Config, ConfigError> {
        Config::from_lookup(|name| vars.get(name).cloned())
    }

    #[test]
    fn a_complete_environment_reads_with_the_default_policy() {
        let config = read(&complete()).unwrap();
        assert_eq!(config.table, "hogwarden");
        assert_eq!(config.posthog_host.as_str(), "https://eu.posthog.com/");
        assert_eq!(config.policy, Policy::default());
    }

    #[test]
    fn every_required_variable_is_named_when_missing_or_blank() {
        for (name, required) in env::VARIABLES.iter().copied().filter(|(n, _)| *n != env::LOG) {
            for absent in [None, Some("  ")] {
                let mut vars = complete();
                match absent {
                    None => vars.remove(name),
                    Some(blank) => vars.insert(name, blank.to_owned()),
                };
                let result = read(&vars);
                if required {
                    let err = result.expect_err(name).to_string();
                    assert!(err.starts_with(&format!("{name} is not set")), "{err}");
                } else {
                    assert!(result.is_ok(), "{name} is optional");
                }
            }
        }
    }

    #[test]
    fn malformed_values_are_named_and_not_echoed() {
        let mut vars = complete();
        vars.insert(env::POSTHOG_ORG_ID, "not-a-uuid-secretish".into());
        let err = read(&vars).unwrap_err().to_string();
        assert!(err.starts_with("POSTHOG_ORG_ID is not valid"), "{err}");
        assert!(!err.contains("secretish"), "{err}");

        let mut vars = complete();
        vars.insert(env::POSTHOG_HOST, "ftp://posthog".into());
        assert!(read(&vars).unwrap_err().to_string().starts_with("POSTHOG_HOST is not valid"));

        let mut vars = complete();
        vars.insert(env::POLICY, "{\"nope\": 1".into());
        assert!(read(&vars).unwrap_err().to_string().starts_with("HOGWARDEN_POLICY is not valid"));
    }

    #[test]
    fn a_policy_document_replaces_the_default() {
        let mut policy = Policy::default();
        policy.approvals_required = policy.approvals_required.saturating_add(1);
        let mut vars = complete();
        vars.insert(env::POLICY, serde_json::to_string(&policy).unwrap());
        assert_eq!(read(&vars).unwrap().policy, policy);
    }
}

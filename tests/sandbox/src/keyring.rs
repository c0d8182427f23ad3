//! What the sandbox keeps about keys besides personal API keys (which live in the store):
//! project secret API keys (`phs_`), the events capture accepted, and what PostHog "emailed"
//! when a leaked key was revoked (contract §4, §5, §9).

use std::collections::VecDeque;

use chrono::{DateTime, Utc};
use uuid::Uuid;

/// How many project secret API keys a project may have (`MAX_PROJECT_SECRET_API_KEYS_PER_TEAM`).
pub const MAX_SECRET_KEYS_PER_PROJECT: usize = 50;

/// The scopes a project secret API key may hold (`PROJECT_SECRET_API_KEY_ALLOWED_API_SCOPE_ACTION`).
pub const SECRET_KEY_SCOPES: &[&str] = &["endpoint:read", "feature_flag:read"];

/// A project secret API key. The sandbox keeps the value in clear: it is a simulator.
#[derive(Debug, Clone)]
pub struct SecretKey {
    pub id: Uuid,
    pub project_id: i64,
    pub label: String,
    pub value: String,
    pub scopes: Vec<String>,
    pub created_at: DateTime<Utc>,
    pub created_by: Option<i64>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub last_rolled_at: Option<DateTime<Utc>>,
}

/// An event capture accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CapturedEvent {
    pub project_id: i64,
    pub event: String,
    pub distinct_id: String,
    pub at: DateTime<Utc>,
}

/// An email PostHog would have sent about a revoked leaked key (`send_personal_api_key_exposed`
/// and its project-secret-key counterpart). Holds the masked value only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExposedKeyEmail {
    /// `personal_api_key` or `project_secret_api_key`.
    pub key_type: &'static str,
    /// The key's id.
    pub key_id: String,
    /// The old value's mask (`phx_...abcd`).
    pub old_mask: String,
    /// The owner (personal keys) or the project (secret keys).
    pub to: String,
}

/// The key-related state of one sandbox.
#[derive(Debug, Default)]
pub struct KeyRing {
    pub secret_keys: Vec<SecretKey>,
    pub events: Vec<CapturedEvent>,
    pub exposed_emails: Vec<ExposedKeyEmail>,
    /// Times of recent `revoke_leaked_key` calls (`LeakedKeyReportThrottle`: 10/minute).
    pub leak_reports: VecDeque<DateTime<Utc>>,
}

impl KeyRing {
    pub fn project_keys(&self, project_id: i64) -> impl Iterator<Item = &SecretKey> {
        self.secret_keys.iter().filter(move |k| k.project_id == project_id)
    }

    pub fn secret_key_mut(&mut self, project_id: i64, id: Uuid) -> Option<&mut SecretKey> {
        self.secret_keys.iter_mut().find(|k| k.project_id == project_id && k.id == id)
    }

    /// Counts one leaked-key report; `Err(seconds)` when over 10 in the last minute.
    pub fn count_leak_report(&mut self, now: DateTime<Utc>) -> Result<(), u64> {
        while self.leak_reports.front().is_some_and(|at| now - *at >= chrono::Duration::minutes(1)) {
            self.leak_reports.pop_front();
        }
        if self.leak_reports.len() >= 10 {
            let oldest = self.leak_reports.front().copied().unwrap_or(now);
            let wait = (oldest + chrono::Duration::minutes(1) - now).num_seconds().max(1);
            return Err(u64::try_from(wait).unwrap_or(1));
        }
        self.leak_reports.push_back(now);
        Ok(())
    }
}

/// PostHog's `mask_key_value`: the first 4 and last 4 characters, or `********` when
/// shorter than 16.
pub fn mask_key_value(value: &str) -> String {
    let chars: Vec<char> = value.chars().collect();
    if chars.len() < 16 {
        return "********".to_owned();
    }
    let head: String = chars[..4].iter().collect();
    let tail: String = chars[chars.len() - 4..].iter().collect();
    format!("{head}...{tail}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_keep_four_characters_each_side() {
        assert_eq!(mask_key_value("phx_0123456789abcdefWXYZ"), "phx_...WXYZ");
        assert_eq!(mask_key_value("short"), "********");
    }

    #[test]
    fn leak_reports_are_throttled_at_ten_a_minute() {
        let mut ring = KeyRing::default();
        let now = Utc::now();
        for _ in 0..10 {
            assert!(ring.count_leak_report(now).is_ok());
        }
        assert!(ring.count_leak_report(now).is_err());
        assert!(ring.count_leak_report(now + chrono::Duration::minutes(1)).is_ok());
    }
}

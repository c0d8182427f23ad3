//! Policy as data: which changes need approval, how long temporary access may last,
//! how long a request may wait. Two rules are not data, because no configuration may
//! turn them off: nobody approves their own request (or one that changes their own
//! access), and anything that makes someone an admin needs approval.

use serde::{Deserialize, Serialize};

use crate::model::AccessChange;
use crate::types::{GrantDuration, OrgRole, ProjectRole};

/// Maximum temporary duration per target role, in minutes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MaxDurations {
    pub org_admin: i64,
    pub org_member: i64,
    pub project_admin: i64,
    pub project_member: i64,
    pub project_viewer: i64,
}

/// Whether a kind of change needs an approver.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApprovalRules {
    pub org_member: bool,
    pub project_member: bool,
    pub project_viewer: bool,
    /// Removing someone from a project (default: yes).
    #[serde(default = "yes")]
    pub project_removal: bool,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    pub max_duration_minutes: MaxDurations,
    /// Approval for changes that do not grant admin (admin always needs approval).
    pub approval_required: ApprovalRules,
    /// How many distinct approvers a request needs (at least 1 when approval is needed).
    pub approvals_required: u8,
    /// An unanswered request expires after this many minutes.
    pub pending_ttl_minutes: i64,
    /// Changes one request may hold.
    pub max_changes_per_request: usize,
    /// Who is told when something needs a security engineer (PostHog rejecting
    /// Hogwarden's key, a leaked key). Empty: nobody but the audit log.
    #[serde(default)]
    pub security_contacts: Vec<crate::types::Email>,
    /// Who is told that a request waits for approval (and reminded before it
    /// expires). Anyone with the approver role may approve; these are the ones told.
    #[serde(default)]
    pub approvers: Vec<crate::types::Email>,
    /// Days before temporary access ends at which its holder and sponsor are reminded.
    #[serde(default = "default_reminder_days")]
    pub reminder_days_before: Vec<u32>,
    /// Minutes before an unanswered request expires at which approvers are reminded.
    #[serde(default = "default_approver_reminder")]
    pub approver_reminder_minutes: i64,
    /// SSO attribute mapping: identity-provider claims → PostHog access.
    #[serde(default)]
    pub sso: crate::sso::SsoRules,
    /// A bulk change set with more changes than this needs approval as one request,
    /// whatever its changes; a smaller one follows the rules per change.
    #[serde(default = "default_bulk_approval_over")]
    pub bulk_approval_over: usize,
    /// Access reviews and drift detection.
    #[serde(default)]
    pub reviews: crate::reviews::ReviewPolicy,
    /// Key rotation and personal-key reminders.
    #[serde(default)]
    pub keys: KeyPolicy,
}

/// How long an old project secret key keeps working after rotation, and when people
/// are reminded about their personal API keys.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct KeyPolicy {
    /// Minutes the previous project secret key stays in PostHog after a rotation, so
    /// consumers that cached it keep working while they move to the new one.
    pub secret_key_grace_minutes: i64,
    /// Owners are reminded to roll personal API keys older than this (days since
    /// created or last rolled).
    pub personal_key_max_age_days: i64,
    /// Owners are reminded to delete personal API keys unused this long (days).
    pub personal_key_unused_days: i64,
    /// A key's owner is reminded again at most once in this many days.
    pub personal_key_reminder_days: i64,
    /// Vault names of the project secret keys Hogwarden rotates (a leaked `phs_` value is
    /// matched against them).
    pub managed_secrets: Vec<String>,
}

impl KeyPolicy {
    /// Every bound names its field.
    pub fn validate(&self) -> Result<(), PolicyError> {
        let ranges = [
            ("secret_key_grace_minutes", self.secret_key_grace_minutes, 0, 60 * 24 * 30),
            ("personal_key_max_age_days", self.personal_key_max_age_days, 1, 3650),
            ("personal_key_unused_days", self.personal_key_unused_days, 1, 3650),
            ("personal_key_reminder_days", self.personal_key_reminder_days, 1, 365),
        ];
        for (name, value, low, high) in ranges {
            if !(low..=high).contains(&value) {
                return Err(PolicyError(format!("keys.{name} must be between {low} and {high} (it is {value})")));
            }
        }
        let mut seen = std::collections::HashSet::new();
        for name in &self.managed_secrets {
            if name.trim().is_empty() || name.len() > 200 || name.chars().any(char::is_control) {
                return Err(PolicyError("keys.managed_secrets must hold vault names of 1 to 200 characters".into()));
            }
            if !seen.insert(name) {
                return Err(PolicyError(format!("keys.managed_secrets names '{name}' twice")));
            }
        }
        Ok(())
    }
}

impl Default for KeyPolicy {
    fn default() -> Self {
        Self {
            secret_key_grace_minutes: 24 * 60,
            personal_key_max_age_days: 90,
            personal_key_unused_days: 30,
            personal_key_reminder_days: 7,
            managed_secrets: Vec::new(),
        }
    }
}

fn default_bulk_approval_over() -> usize {
    10
}

fn default_reminder_days() -> Vec<u32> {
    vec![7, 1]
}

fn default_approver_reminder() -> i64 {
    24 * 60
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            max_duration_minutes: MaxDurations {
                org_admin: 24 * 60,
                org_member: 90 * 24 * 60,
                project_admin: 7 * 24 * 60,
                project_member: 90 * 24 * 60,
                project_viewer: 180 * 24 * 60,
            },
            approval_required: ApprovalRules { org_member: true, project_member: true, project_viewer: false, project_removal: true },
            approvals_required: 1,
            pending_ttl_minutes: 72 * 60,
            max_changes_per_request: 20,
            security_contacts: Vec::new(),
            approvers: Vec::new(),
            reminder_days_before: default_reminder_days(),
            approver_reminder_minutes: default_approver_reminder(),
            sso: crate::sso::SsoRules::default(),
            bulk_approval_over: default_bulk_approval_over(),
            keys: KeyPolicy::default(),
            reviews: crate::reviews::ReviewPolicy::default(),
        }
    }
}

/// Why a policy document cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid policy: {0}")]
pub struct PolicyError(pub String);

impl Policy {
    /// Checks a policy loaded from configuration before it is used.
    pub fn validate(&self) -> Result<(), PolicyError> {
        let m = &self.max_duration_minutes;
        for (name, v) in [
            ("org_admin", m.org_admin),
            ("org_member", m.org_member),
            ("project_admin", m.project_admin),
            ("project_member", m.project_member),
            ("project_viewer", m.project_viewer),
        ] {
            if GrantDuration::from_minutes(v).is_err() {
                return Err(PolicyError(format!(
                    "max_duration_minutes.{name} must be between 1 and {}",
                    GrantDuration::ABSOLUTE_MAX_MINUTES
                )));
            }
        }
        if !(1..=5).contains(&self.approvals_required) {
            return Err(PolicyError("approvals_required must be between 1 and 5".into()));
        }
        if !(1..=60 * 24 * 90).contains(&self.pending_ttl_minutes) {
            return Err(PolicyError("pending_ttl_minutes must be between 1 and 129600".into()));
        }
        if self.reminder_days_before.iter().any(|d| !(1..=365).contains(d)) {
            return Err(PolicyError("reminder_days_before must hold days between 1 and 365".into()));
        }
        if !(1..=60 * 24 * 90).contains(&self.approver_reminder_minutes) {
            return Err(PolicyError("approver_reminder_minutes must be between 1 and 129600".into()));
        }
        if !(1..=100).contains(&self.max_changes_per_request) {
            return Err(PolicyError("max_changes_per_request must be between 1 and 100".into()));
        }
        self.keys.validate()?;
        self.sso.validate().map_err(|e| PolicyError(e.to_string()))?;
        self.reviews.validate().map_err(PolicyError)?;
        Ok(())
    }

    /// The longest temporary duration for one change.
    pub fn max_duration(&self, change: &AccessChange) -> GrantDuration {
        let m = &self.max_duration_minutes;
        let minutes = match change {
            AccessChange::OrgRole { role: OrgRole::Admin } => m.org_admin,
            AccessChange::OrgRole { role: OrgRole::Member } => m.org_member,
            AccessChange::ProjectRole { role: ProjectRole::Admin, .. } => m.project_admin,
            AccessChange::ProjectRole { role: ProjectRole::Member, .. } => m.project_member,
            AccessChange::ProjectRole { role: ProjectRole::Viewer, .. } => m.project_viewer,
            // A removal is never temporary; the request check refuses a duration.
            AccessChange::RemoveFromProject { .. } => GrantDuration::MIN_MINUTES,
        };
        GrantDuration::from_minutes(minutes)
            .unwrap_or_else(|_| GrantDuration::from_minutes(GrantDuration::MIN_MINUTES).expect("1 minute is valid"))
    }

    /// The longest duration a request with these changes may ask for (the tightest cap).
    pub fn max_duration_for(&self, changes: &[AccessChange]) -> Option<GrantDuration> {
        changes.iter().map(|c| self.max_duration(c)).min()
    }

    /// Whether one change needs an approver. Admin always does.
    pub fn needs_approval(&self, change: &AccessChange) -> bool {
        if change.grants_admin() {
            return true;
        }
        let a = &self.approval_required;
        match change {
            AccessChange::OrgRole { .. } => a.org_member,
            AccessChange::ProjectRole { role: ProjectRole::Member, .. } => a.project_member,
            AccessChange::ProjectRole { role: ProjectRole::Viewer, .. } => a.project_viewer,
            AccessChange::ProjectRole { role: ProjectRole::Admin, .. } => true,
            AccessChange::RemoveFromProject { .. } => a.project_removal,
        }
    }

    /// How many approvals a bulk change set with these changes needs: a large set
    /// always needs approval, a small one as its changes do.
    pub fn bulk_approvals_needed(&self, changes: &[AccessChange]) -> u8 {
        if changes.len() > self.bulk_approval_over { self.approvals_required.max(1) } else { self.approvals_needed(changes) }
    }

    /// How many approvals a request by `requester` for `subject` needs (0 = none).
    /// Changing someone else's access, raising or lowering it, is never approval-free.
    pub fn approvals_needed_by(&self, requester: &crate::types::Email, subject: &crate::types::Email, changes: &[AccessChange]) -> u8 {
        if requester != subject { self.approvals_required.max(1) } else { self.approvals_needed(changes) }
    }

    /// How many approvals a request with these changes needs (0 = none).
    pub fn approvals_needed(&self, changes: &[AccessChange]) -> u8 {
        if changes.iter().any(|c| self.needs_approval(c)) { self.approvals_required.max(1) } else { 0 }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::ProjectId;

    #[test]
    fn admin_always_needs_approval_whatever_the_rules_say() {
        let p = Policy {
            approval_required: ApprovalRules { org_member: false, project_member: false, project_viewer: false, project_removal: false },
            ..Policy::default()
        };
        assert!(p.needs_approval(&AccessChange::OrgRole { role: OrgRole::Admin }));
        let project = ProjectId::new(1).unwrap();
        assert!(p.needs_approval(&AccessChange::ProjectRole { project, role: ProjectRole::Admin }));
        assert!(!p.needs_approval(&AccessChange::ProjectRole { project, role: ProjectRole::Viewer }));
    }

    #[test]
    fn the_tightest_cap_wins() {
        let p = Policy::default();
        let project = ProjectId::new(1).unwrap();
        let max = p.max_duration_for(&[
            AccessChange::ProjectRole { project, role: ProjectRole::Viewer },
            AccessChange::OrgRole { role: OrgRole::Admin },
        ]);
        assert_eq!(max.unwrap().minutes(), 24 * 60);
    }

    #[test]
    fn policies_are_validated_when_loaded() {
        let mut p = Policy::default();
        assert!(p.validate().is_ok());
        p.approvals_required = 0;
        assert!(p.validate().is_err());
        let bad: Result<Policy, _> = serde_json::from_str(r#"{"allow_self_approval": true}"#);
        assert!(bad.is_err(), "unknown fields are refused");
    }

    #[test]
    fn key_settings_out_of_range_are_refused_naming_the_field() {
        let with = |f: fn(&mut KeyPolicy)| {
            let mut p = Policy::default();
            f(&mut p.keys);
            p.validate().map_err(|e| e.to_string())
        };
        assert_eq!(with(|_| {}), Ok(()));
        assert_eq!(with(|k| k.secret_key_grace_minutes = 0), Ok(()), "no grace is allowed");
        let err = with(|k| k.secret_key_grace_minutes = -5).unwrap_err();
        assert!(err.contains("keys.secret_key_grace_minutes must be between 0 and 43200 (it is -5)"), "{err}");
        assert!(with(|k| k.personal_key_max_age_days = 0).unwrap_err().contains("keys.personal_key_max_age_days"));
        assert!(with(|k| k.personal_key_unused_days = 4000).unwrap_err().contains("keys.personal_key_unused_days"));
        assert!(with(|k| k.personal_key_reminder_days = 0).unwrap_err().contains("keys.personal_key_reminder_days"));
        assert!(with(|k| k.managed_secrets = vec!["a".into(), "a".into()]).unwrap_err().contains("'a' twice"));
        assert!(with(|k| k.managed_secrets = vec![" ".into()]).unwrap_err().contains("keys.managed_secrets"));
        let read: KeyPolicy = serde_json::from_str(r#"{"personal_key_reminder_days": 14}"#).unwrap();
        assert_eq!((read.personal_key_reminder_days, read.personal_key_max_age_days), (14, 90), "the rest keep their defaults");
    }
}

//! SSO attribute mapping, as data: rules that map identity-provider claims to PostHog
//! access. PostHog has no such mapping (shared/posthog-api.md §12), so Hogwarden
//! applies the rules itself: when a person signs in, and by an on-demand sync that
//! shows a plan first. The first rule that matches decides; a person no rule matches
//! is left alone.
//!
//! The guide's example, as rules (contractor first, so it wins over the department):
//! ```json
//! {"rules": [
//!   {"claim": "contractor", "equals": "true", "role": "member", "projects": {"Web App": "member"}, "limited": true},
//!   {"claim": "department", "equals": "Engineering", "role": "admin"},
//!   {"claim": "department", "equals": "Product", "role": "member"},
//!   {"claim": "department", "equals": "Executive", "role": "viewer"}
//! ]}
//! ```
//! `role` is the guide's PostHog role: `admin` is organization Admin (every project);
//! `member` and `viewer` are organization Member with that role on the projects named
//! in `projects` (a name, or `*` for every project; default `*`). `limited` takes
//! explicit access away in every project not listed (the guide's "limited project
//! access"); without it, unlisted projects are left alone.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::types::{OrgLevel, ProjectRole};

/// Every project.
pub const ALL_PROJECTS: &str = "*";

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SsoRules {
    #[serde(default)]
    pub rules: Vec<SsoRule>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SsoRule {
    /// The claim's name in the token, e.g. `department`, `contractor`, `groups`.
    pub claim: String,
    /// The value that selects this rule (compared without regard to case or spaces;
    /// for a list claim such as `groups`, any element).
    pub equals: String,
    /// `admin`, `member` or `viewer`.
    pub role: String,
    /// Project name (or `*`) → `viewer`, `member` or `admin`.
    #[serde(default)]
    pub projects: Option<BTreeMap<String, String>>,
    /// Take explicit access away in the projects not listed.
    #[serde(default)]
    pub limited: bool,
}

/// What a rule grants, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub org: OrgLevel,
    /// Project name or `*` → role; empty for admins.
    pub projects: BTreeMap<String, ProjectRole>,
    pub limited: bool,
}

impl Outcome {
    /// The role the rule wants in a project, `Some(None)` = no explicit access, `None`
    /// = the rule leaves this project alone.
    pub fn project(&self, name: &str) -> Option<Option<ProjectRole>> {
        if self.org == OrgLevel::Admin {
            return None;
        }
        if let Some(role) = self.projects.get(name).or_else(|| self.projects.get(ALL_PROJECTS)) {
            return Some(Some(*role));
        }
        self.limited.then_some(None)
    }
}

/// Why the rules cannot be used; names the rule and the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("sso.rules[{index}].{field}: {message}")]
pub struct RuleError {
    pub index: usize,
    pub field: &'static str,
    pub message: String,
}

impl SsoRule {
    /// `department = Engineering → admin`.
    pub fn describe(&self) -> String {
        let mut s = format!("{} = {} → {}", self.claim, self.equals, self.role);
        if let Some(p) = &self.projects {
            let list: Vec<String> = p.iter().map(|(k, v)| format!("{k}: {v}")).collect();
            s.push_str(&format!(" ({})", list.join(", ")));
        }
        if self.limited {
            s.push_str(", no access elsewhere");
        }
        s
    }

    pub fn outcome(&self, index: usize) -> Result<Outcome, RuleError> {
        let err = |field: &'static str, message: String| RuleError { index, field, message };
        let (org, default_role) = match self.role.trim().to_ascii_lowercase().as_str() {
            "admin" => (OrgLevel::Admin, None),
            "member" => (OrgLevel::Member, Some(ProjectRole::Member)),
            "viewer" => (OrgLevel::Member, Some(ProjectRole::Viewer)),
            "owner" => {
                return Err(err("role", "'owner' is never granted: only owners manage billing and ownership in PostHog".into()));
            }
            other => return Err(err("role", format!("'{other}' is not a role: use 'admin', 'member' or 'viewer'"))),
        };
        let mut projects = BTreeMap::new();
        match (&self.projects, default_role) {
            (Some(_), None) => return Err(err("projects", "an admin sees every project; leave 'projects' out".into())),
            (Some(list), Some(_)) => {
                if list.is_empty() {
                    return Err(err("projects", "name at least one project, or leave 'projects' out for every project".into()));
                }
                for (name, role) in list {
                    if name.trim().is_empty() {
                        return Err(err("projects", "a project name is empty".into()));
                    }
                    let role = ProjectRole::parse(role).map_err(|e| err("projects", format!("{name}: {e}")))?;
                    projects.insert(name.trim().to_owned(), role);
                }
            }
            (None, Some(role)) => {
                projects.insert(ALL_PROJECTS.to_owned(), role);
            }
            (None, None) => {}
        }
        if self.limited && (org == OrgLevel::Admin || projects.contains_key(ALL_PROJECTS)) {
            return Err(err("limited", "'limited' needs a list of named projects (not '*', not an admin)".into()));
        }
        Ok(Outcome { org, projects, limited: self.limited })
    }
}

fn normalise(v: &str) -> String {
    v.trim().to_ascii_lowercase()
}

/// A person's claims: name → values (a list claim has several).
pub type Claims = BTreeMap<String, Vec<String>>;

/// Claims from JSON values as tokens carry them: strings, booleans, numbers, lists, or
/// API Gateway's flattened strings (`"[a b]"` for a list).
pub fn claims_from_json<'a>(values: impl IntoIterator<Item = (&'a String, &'a serde_json::Value)>) -> Claims {
    let mut out = Claims::new();
    for (k, v) in values {
        let list: Vec<String> = match v {
            serde_json::Value::String(s) if s.starts_with('[') && s.ends_with(']') => {
                s.trim_matches(['[', ']']).split([' ', ',']).filter(|p| !p.is_empty()).map(str::to_owned).collect()
            }
            serde_json::Value::String(s) => vec![s.clone()],
            serde_json::Value::Bool(b) => vec![b.to_string()],
            serde_json::Value::Number(n) => vec![n.to_string()],
            serde_json::Value::Array(items) => items
                .iter()
                .filter_map(|i| match i {
                    serde_json::Value::String(s) => Some(s.clone()),
                    serde_json::Value::Bool(b) => Some(b.to_string()),
                    serde_json::Value::Number(n) => Some(n.to_string()),
                    _ => None,
                })
                .collect(),
            _ => continue,
        };
        out.insert(k.clone(), list);
    }
    out
}

impl SsoRules {
    pub fn validate(&self) -> Result<(), RuleError> {
        for (index, rule) in self.rules.iter().enumerate() {
            let err = |field: &'static str, message: &str| RuleError { index, field, message: message.into() };
            let claim = rule.claim.trim();
            if claim.is_empty() || claim.len() > 100 || !claim.chars().all(|c| c.is_ascii_alphanumeric() || "_-:.".contains(c)) {
                return Err(err("claim", "must be a claim name (letters, digits, '_', '-', ':' or '.')"));
            }
            if rule.equals.trim().is_empty() {
                return Err(err("equals", "must not be empty"));
            }
            rule.outcome(index)?;
        }
        Ok(())
    }

    /// The first rule that matches the claims, with its index.
    pub fn matching(&self, claims: &Claims) -> Option<(usize, &SsoRule)> {
        self.rules
            .iter()
            .enumerate()
            .find(|(_, r)| claims.get(r.claim.trim()).is_some_and(|values| values.iter().any(|v| normalise(v) == normalise(&r.equals))))
    }

    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn guide() -> SsoRules {
        serde_json::from_value(serde_json::json!({"rules": [
            {"claim": "contractor", "equals": "true", "role": "member", "projects": {"Web App": "member"}, "limited": true},
            {"claim": "department", "equals": "Engineering", "role": "admin"},
            {"claim": "department", "equals": "Product", "role": "member"},
            {"claim": "department", "equals": "Executive", "role": "viewer"},
        ]}))
        .unwrap()
    }

    fn claims(json: serde_json::Value) -> Claims {
        let map: serde_json::Map<String, serde_json::Value> = serde_json::from_value(json).unwrap();
        claims_from_json(map.iter())
    }

    #[test]
    fn the_guides_mapping_is_valid_and_the_first_match_decides() {
        let rules = guide();
        rules.validate().unwrap();
        let pick = |c| rules.matching(&claims(c)).map(|(i, _)| i);
        assert_eq!(pick(serde_json::json!({"department": "Engineering"})), Some(1));
        assert_eq!(pick(serde_json::json!({"department": " product "})), Some(2));
        assert_eq!(pick(serde_json::json!({"department": "Executive", "contractor": false})), Some(3));
        assert_eq!(pick(serde_json::json!({"department": "Engineering", "contractor": true})), Some(0), "contractor wins");
        assert_eq!(pick(serde_json::json!({"department": "Sales"})), None);
        assert_eq!(pick(serde_json::json!({"contractor": "true"})), Some(0), "API Gateway delivers strings");
    }

    #[test]
    fn outcomes_follow_the_guide() {
        let rules = guide();
        let exec = rules.rules[3].outcome(3).unwrap();
        assert_eq!((exec.org, exec.project("Production")), (OrgLevel::Member, Some(Some(ProjectRole::Viewer))));
        let eng = rules.rules[1].outcome(1).unwrap();
        assert_eq!((eng.org, eng.project("Production")), (OrgLevel::Admin, None));
        let contractor = rules.rules[0].outcome(0).unwrap();
        assert_eq!(contractor.project("Web App"), Some(Some(ProjectRole::Member)));
        assert_eq!(contractor.project("Production"), Some(None), "limited: no access elsewhere");
    }

    #[test]
    fn bad_rules_are_refused_with_the_rule_and_field_named() {
        let bad = |rule: serde_json::Value| {
            let rules: SsoRules = serde_json::from_value(serde_json::json!({"rules": [rule]})).unwrap();
            rules.validate().unwrap_err().to_string()
        };
        assert!(
            bad(serde_json::json!({"claim": "department", "equals": "X", "role": "owner"}))
                .contains("sso.rules[0].role: 'owner' is never granted")
        );
        assert!(
            bad(serde_json::json!({"claim": "department", "equals": "X", "role": "boss"})).contains("use 'admin', 'member' or 'viewer'")
        );
        assert!(bad(serde_json::json!({"claim": "", "equals": "X", "role": "admin"})).contains("sso.rules[0].claim"));
        assert!(bad(serde_json::json!({"claim": "d", "equals": " ", "role": "admin"})).contains("sso.rules[0].equals"));
        assert!(bad(serde_json::json!({"claim": "d", "equals": "X", "role": "admin", "projects": {"*": "member"}})).contains("projects"));
        assert!(bad(serde_json::json!({"claim": "d", "equals": "X", "role": "member", "projects": {"Web": "boss"}})).contains("Web"));
        assert!(bad(serde_json::json!({"claim": "d", "equals": "X", "role": "member", "limited": true})).contains("limited"));
        let unknown: Result<SsoRules, _> =
            serde_json::from_value(serde_json::json!({"rules": [{"claim": "d", "equals": "X", "role": "admin", "oops": 1}]}));
        assert!(unknown.is_err());
    }
}

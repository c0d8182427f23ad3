//! SSO attribute mapping: the rules, a sync plan and its result.

use serde::{Deserialize, Serialize};

#[cfg(feature = "openapi")]
use utoipa::ToSchema;

/// One rule as configured.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct SsoRuleDto {
    /// Position: the first rule that matches decides.
    pub index: usize,
    pub claim: String,
    pub equals: String,
    /// `admin`, `member` or `viewer`.
    pub role: String,
    /// Project name (or `*`) → role.
    pub projects: Option<std::collections::BTreeMap<String, String>>,
    pub limited: bool,
    /// The rule in a sentence.
    pub description: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct SsoRulesDto {
    pub rules: Vec<SsoRuleDto>,
}

/// One person and their identity-provider claims, e.g.
/// `{"email": "frank@example.com", "claims": {"department": "Product", "contractor": false}}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(deny_unknown_fields)]
pub struct SsoPersonDto {
    pub email: String,
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub claims: serde_json::Map<String, serde_json::Value>,
}

/// `POST /api/sso/plan`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(deny_unknown_fields)]
pub struct SsoPlanBody {
    pub people: Vec<SsoPersonDto>,
}

/// `POST /api/sso/apply`: the same people and the fingerprint of the plan shown.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(deny_unknown_fields)]
pub struct SsoApplyBody {
    pub people: Vec<SsoPersonDto>,
    pub fingerprint: String,
}

/// One line of a plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct SsoItemDto {
    pub email: String,
    /// `organization`, a project's name, or `-`.
    pub target: String,
    pub project_id: Option<i64>,
    pub current: Option<String>,
    pub desired: Option<String>,
    /// What the rule set last time, if it ever did.
    pub last_applied: Option<String>,
    /// `change`, `no_op`, `exception` (changed by hand in PostHog: left alone) or `error`.
    pub action: String,
    pub rule: Option<String>,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct SsoPlanDto {
    pub changes: usize,
    pub no_ops: usize,
    pub exceptions: usize,
    pub errors: usize,
    pub items: Vec<SsoItemDto>,
    /// Send it back to apply exactly this plan.
    pub fingerprint: String,
    /// After applying: the requests recorded (one per person with changes). One that
    /// makes someone an admin waits for an approver; the others are applied.
    pub applied_requests: Vec<String>,
}

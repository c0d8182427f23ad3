//! Quarterly access reviews and drift detection: the records (campaigns, their items,
//! the ledger of access Hogwarden knows about, drift findings), the review policy, the
//! storage port they live behind, and the pure rules (who reviews what, which
//! suggestions an item gets, how the evidence reads). The use cases that move them
//! live in `usecases/campaign.rs` and `usecases/drift.rs`.

use std::collections::BTreeMap;
use std::fmt;

use async_trait::async_trait;
use chrono::{DateTime, Datelike, Utc};
use serde::{Deserialize, Serialize};

use crate::audit::{AuditDraft, AuditEntry};
use crate::error::Result;
use crate::identity::Identity;
use crate::model::{AccessLevel, AccessTarget};
use crate::ports::Guarded;
use crate::types::{Actor, Email, OrgLevel, ParseError, ProjectId, ProjectRole, RequestId};

// ---------------------------------------------------------------- ids

/// A campaign's id: a short slug such as `2026-q1`. The scheduled campaign of a
/// quarter always gets that quarter's id, so opening it twice opens it once.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct CampaignId(String);

impl CampaignId {
    pub const MAX_LEN: usize = 40;

    pub fn parse(raw: &str) -> Result<Self, ParseError> {
        let id = raw.trim().to_ascii_lowercase();
        let ok = !id.is_empty()
            && id.len() <= Self::MAX_LEN
            && id.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
            && !id.starts_with('-')
            && !id.ends_with('-');
        if ok {
            Ok(Self(id))
        } else {
            Err(ParseError::Other(format!(
                "'{}' is not a campaign id: use 1 to {} lower-case letters, digits and inner dashes, like 2026-q1",
                raw.chars().take(60).collect::<String>(),
                Self::MAX_LEN
            )))
        }
    }

    /// The id of the quarter `at` falls in, e.g. `2026-q1`.
    pub fn for_quarter(at: DateTime<Utc>) -> Self {
        Self(format!("{}-q{}", at.year(), quarter(at)))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for CampaignId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for CampaignId {
    type Error = ParseError;
    fn try_from(value: String) -> Result<Self, ParseError> {
        Self::parse(&value)
    }
}

impl From<CampaignId> for String {
    fn from(value: CampaignId) -> Self {
        value.0
    }
}

/// The quarter (1 to 4) of a time.
pub fn quarter(at: DateTime<Utc>) -> u32 {
    (at.month() - 1) / 3 + 1
}

/// The last day of the quarter after the one `at` falls in (the guide's "Next review").
pub fn next_review_date(at: DateTime<Utc>) -> chrono::NaiveDate {
    let q = quarter(at);
    let (year, next_q) = if q == 4 { (at.year() + 1, 1) } else { (at.year(), q + 1) };
    let end_month = next_q * 3;
    let first_of_following = if end_month == 12 {
        chrono::NaiveDate::from_ymd_opt(year + 1, 1, 1)
    } else {
        chrono::NaiveDate::from_ymd_opt(year, end_month + 1, 1)
    };
    first_of_following.and_then(|d| d.pred_opt()).unwrap_or_else(|| at.date_naive())
}

/// One item of a campaign: a person's organization level, or their access to one project.
pub fn item_id(person: &Email, target: AccessTarget) -> String {
    match target {
        AccessTarget::Org => format!("{person}#org"),
        AccessTarget::Project(p) => format!("{person}#project-{p}"),
    }
}

// ---------------------------------------------------------------- policy

/// What to do with items nobody decided when a campaign closes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClosePolicy {
    /// Leave the access as it is and record the item as skipped.
    #[default]
    Skip,
    /// Revoke what nobody kept: project access is removed, a plain member is removed
    /// from the organization (an offboarding, see [`ReviewItem::removes_member`]), an
    /// admin is downgraded to member, and an owner is left alone (skipped).
    Revoke,
}

impl ClosePolicy {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Skip => "skip",
            Self::Revoke => "revoke",
        }
    }

    pub fn parse(raw: &str) -> Result<Self, ParseError> {
        match raw.trim() {
            "skip" => Ok(Self::Skip),
            "revoke" => Ok(Self::Revoke),
            other => Err(ParseError::Other(format!("'{other}' is not a close policy: use 'skip' or 'revoke'"))),
        }
    }
}

/// How reviewers are chosen, tried in order until one gives someone other than the
/// person under review.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReviewerRule {
    /// The project's admins review access to it (project items only).
    ProjectAdmins,
    /// The person's manager, from the identity provider's manager claim.
    Manager,
    /// The policy's named reviewers, spread evenly.
    Named,
}

/// The review part of the policy (data, like the rest of it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ReviewPolicy {
    /// The organization's name as the evidence prints it.
    pub organization_name: String,
    /// Days from opening to the due date.
    pub due_days: i64,
    /// Reviewers with open items are reminded this often until the due date.
    pub remind_every_days: i64,
    pub close_policy: ClosePolicy,
    /// Days without a login after which an item suggests revoking.
    pub inactive_days: i64,
    pub reviewer_rules: Vec<ReviewerRule>,
    pub named_reviewers: Vec<Email>,
    /// The manager claim of each person (person → manager).
    pub managers: BTreeMap<Email, Email>,
    /// Contractors and the end of their contract.
    pub contractors: BTreeMap<Email, DateTime<Utc>>,
    /// Everyone the identity provider knows, when it is known: anyone else is departed.
    pub directory: Option<Vec<Email>>,
    /// Accounts the review leaves out (Hogwarden's own service account).
    pub excluded: Vec<Email>,
    /// Who receives the dashboards, insights, feature flags and notebooks of a person an
    /// access review removes from the organization (manager access on each). Unset, or
    /// the person themselves: the reviewer who decided (the admin who closed the
    /// campaign, for an item left open under the `revoke` close policy).
    pub hand_over_to: Option<Email>,
}

impl Default for ReviewPolicy {
    fn default() -> Self {
        Self {
            organization_name: "PostHog organization".into(),
            due_days: 14,
            remind_every_days: 3,
            close_policy: ClosePolicy::Skip,
            inactive_days: 90,
            reviewer_rules: vec![ReviewerRule::ProjectAdmins, ReviewerRule::Manager, ReviewerRule::Named],
            named_reviewers: Vec::new(),
            managers: BTreeMap::new(),
            contractors: BTreeMap::new(),
            directory: None,
            excluded: Vec::new(),
            hand_over_to: None,
        }
    }
}

impl ReviewPolicy {
    pub fn validate(&self) -> Result<(), String> {
        if !(1..=365).contains(&self.due_days) {
            return Err("reviews.due_days must be between 1 and 365".into());
        }
        if !(1..=self.due_days.max(1)).contains(&self.remind_every_days) {
            return Err("reviews.remind_every_days must be between 1 and due_days".into());
        }
        if !(1..=3650).contains(&self.inactive_days) {
            return Err("reviews.inactive_days must be between 1 and 3650".into());
        }
        if self.reviewer_rules.is_empty() {
            return Err("reviews.reviewer_rules must name at least one rule".into());
        }
        Ok(())
    }
}

// ---------------------------------------------------------------- campaigns

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CampaignStatus {
    /// The campaign record exists and its items are being written.
    Opening,
    Open,
    Closed,
}

impl CampaignStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Opening => "opening",
            Self::Open => "open",
            Self::Closed => "closed",
        }
    }
}

/// The guide's "export current access" summary, taken when the campaign opened.
/// Viewers are members whose every project role is Viewer.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct AccessSummary {
    pub organization: String,
    pub total_members: usize,
    pub owners: Vec<Email>,
    pub admins: Vec<Email>,
    pub members: Vec<Email>,
    pub viewers: Vec<Email>,
    pub projects: Vec<ProjectRef>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProjectRef {
    pub id: ProjectId,
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Campaign {
    pub id: CampaignId,
    pub title: String,
    pub status: CampaignStatus,
    pub opened_by: Actor,
    pub opened_at: DateTime<Utc>,
    pub due_at: DateTime<Utc>,
    pub close_policy: ClosePolicy,
    pub summary: AccessSummary,
    pub item_count: usize,
    pub closed_at: Option<DateTime<Utc>>,
    pub closed_by: Option<Actor>,
    pub last_reminded_at: Option<DateTime<Utc>>,
    pub reminders_sent: u32,
    pub version: u64,
}

/// "Q1 2026 Access Review" for a campaign opened in the first quarter of 2026.
pub fn campaign_title(at: DateTime<Utc>) -> String {
    format!("Q{} {} Access Review", quarter(at), at.year())
}

// ---------------------------------------------------------------- items

/// What PostHog said about the person when the campaign opened.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Signals {
    pub last_login: Option<DateTime<Utc>>,
    pub is_2fa_enabled: bool,
    pub joined_at: Option<DateTime<Utc>>,
    /// Whether Hogwarden's ledger accounts for this access.
    pub through_hogwarden: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Suggestion {
    NoLoginIn90Days,
    AdminWithout2fa,
    GrantedOutsideHogwarden,
    ContractorPastEndDate,
    Departed,
}

impl Suggestion {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::NoLoginIn90Days => "no_login_in_90_days",
            Self::AdminWithout2fa => "admin_without_2fa",
            Self::GrantedOutsideHogwarden => "granted_outside_hogwarden",
            Self::ContractorPastEndDate => "contractor_past_end_date",
            Self::Departed => "departed",
        }
    }

    pub fn describe(self) -> &'static str {
        match self {
            Self::NoLoginIn90Days => "No login in the last 90 days",
            Self::AdminWithout2fa => "Admin without two-factor authentication",
            Self::GrantedOutsideHogwarden => "Access granted outside Hogwarden",
            Self::ContractorPastEndDate => "Contractor past their end date",
            Self::Departed => "Not in the identity provider any more (departed)",
        }
    }
}

/// A reviewer's verdict on one item.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "verdict", content = "to", rename_all = "snake_case")]
pub enum Verdict {
    Keep,
    Revoke,
    /// Down to a lower level at the same target.
    Downgrade(AccessLevel),
}

impl Verdict {
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Keep => "keep",
            Self::Revoke => "revoke",
            Self::Downgrade(_) => "downgrade",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ItemDecision {
    pub verdict: Verdict,
    pub reason: Option<String>,
    pub by: Actor,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RemediationStatus {
    /// The change request exists; applying it has not finished.
    Pending,
    Applied,
    Failed,
}

impl RemediationStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Applied => "applied",
            Self::Failed => "failed",
        }
    }
}

/// How a revoke or downgrade went through the grant machinery.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Remediation {
    /// The access request, or (for a removal from the organization) the offboarding.
    pub request_id: RequestId,
    pub status: RemediationStatus,
    pub applied_at: Option<DateTime<Utc>>,
    pub error: Option<String>,
    /// Whether `request_id` names an offboarding (a revoked organization membership).
    #[serde(default)]
    pub offboarding: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReviewItem {
    pub campaign: CampaignId,
    pub id: String,
    pub person: Email,
    pub name: String,
    pub target: AccessTarget,
    pub project_name: Option<String>,
    /// The access under review.
    pub access: AccessLevel,
    pub signals: Signals,
    pub suggestions: Vec<Suggestion>,
    pub reviewer: Option<Email>,
    pub assigned_by: Option<ReviewerRule>,
    pub decision: Option<ItemDecision>,
    /// Set when the campaign closed with this item undecided and the policy skipped it.
    pub skipped: bool,
    pub remediation: Option<Remediation>,
    pub version: u64,
}

impl ReviewItem {
    pub fn is_open(&self) -> bool {
        self.decision.is_none() && !self.skipped
    }

    /// Whether the verdict removes the person from the organization: a revoke of an
    /// organization membership, carried out as an offboarding (objects handed over,
    /// every project, then the organization), approved by the decision itself.
    pub fn removes_member(&self, verdict: &Verdict) -> bool {
        matches!((verdict, self.target), (Verdict::Revoke, AccessTarget::Org))
    }

    /// Whether the verdict needs anything done in PostHog.
    pub fn needs_remediation(&self, verdict: &Verdict) -> bool {
        self.removes_member(verdict) || self.change_for(verdict).is_some()
    }

    /// The verdict an item nobody decided gets when its campaign closes under the
    /// `revoke` policy: project access and a plain membership are revoked (the latter
    /// removes the person from the organization), an admin is downgraded to member, and
    /// an owner is left alone (`None`: the item is skipped).
    pub fn close_verdict(&self) -> Option<Verdict> {
        let verdict = match self.access {
            AccessLevel::Org(OrgLevel::Admin) => Verdict::Downgrade(AccessLevel::Org(OrgLevel::Member)),
            _ => Verdict::Revoke,
        };
        self.check_verdict(&verdict).is_ok().then_some(verdict)
    }

    /// The change that carries out a revoke or downgrade through the grant machinery,
    /// if the verdict needs one (a removal from the organization is an offboarding,
    /// see [`Self::removes_member`]).
    pub fn change_for(&self, verdict: &Verdict) -> Option<crate::model::AccessChange> {
        use crate::model::AccessChange;
        match (verdict, self.target) {
            (Verdict::Keep, _) => None,
            (Verdict::Revoke, AccessTarget::Project(project)) => Some(AccessChange::RemoveFromProject { project }),
            (Verdict::Revoke, AccessTarget::Org) => None,
            (Verdict::Downgrade(AccessLevel::Org(OrgLevel::Member)), AccessTarget::Org) => {
                Some(AccessChange::OrgRole { role: crate::types::OrgRole::Member })
            }
            (Verdict::Downgrade(AccessLevel::Project(Some(role))), AccessTarget::Project(project)) => {
                Some(AccessChange::ProjectRole { project, role: *role })
            }
            (Verdict::Downgrade(AccessLevel::Project(None)), AccessTarget::Project(project)) => {
                Some(AccessChange::RemoveFromProject { project })
            }
            _ => None,
        }
    }

    /// Checks a verdict against the item; the message says what would be valid.
    pub fn check_verdict(&self, verdict: &Verdict) -> Result<(), String> {
        match verdict {
            Verdict::Keep => Ok(()),
            // PostHog's rules (`OrganizationMembership.validate_update`, `User.leave`): only
            // an owner may change or remove an owner, and the last owner can never leave.
            // Hogwarden never demotes or removes owners.
            _ if self.access == AccessLevel::Org(OrgLevel::Owner) => Err(format!(
                "{} is an owner of the PostHog organization: PostHog lets only an owner change or remove an owner (and never the last one), and Hogwarden never demotes or removes owners. Keep this item, or transfer ownership in PostHog first.",
                self.person
            )),
            Verdict::Revoke => Ok(()),
            Verdict::Downgrade(to) => {
                let same_target = matches!(
                    (self.target, to),
                    (AccessTarget::Org, AccessLevel::Org(_)) | (AccessTarget::Project(_), AccessLevel::Project(_))
                );
                if !same_target {
                    return Err(format!("A downgrade of {} must name a level of the same kind", describe_target(self.target, None)));
                }
                if matches!(to, AccessLevel::Org(OrgLevel::Owner | OrgLevel::Admin)) || to.rank() >= self.access.rank() {
                    return Err(format!("A downgrade must be to a level below {}", self.access.describe()));
                }
                Ok(())
            }
        }
    }
}

/// "Organization" or "project Web App".
pub fn describe_target(target: AccessTarget, project_name: Option<&str>) -> String {
    match target {
        AccessTarget::Org => "organization".into(),
        AccessTarget::Project(p) => format!("project {}", project_name.map_or_else(|| p.to_string(), str::to_owned)),
    }
}

/// Parses a level word for a downgrade at `target`: `member` for the organization,
/// `member`, `viewer` or `none` for a project.
pub fn parse_level(target: AccessTarget, raw: &str) -> Result<AccessLevel, ParseError> {
    match target {
        AccessTarget::Org => match raw.trim() {
            "member" => Ok(AccessLevel::Org(OrgLevel::Member)),
            other => Err(ParseError::Other(format!("'{other}' is not a level an organization level can be downgraded to: use 'member'"))),
        },
        AccessTarget::Project(_) => match raw.trim() {
            "none" => Ok(AccessLevel::Project(None)),
            other => ProjectRole::parse(other).map(|r| AccessLevel::Project(Some(r))),
        },
    }
}

/// The suggestions an item gets from its signals, the review policy and what the
/// identity provider last said about the person (`identity`, when they ever signed in
/// or were synced).
pub fn suggestions(
    policy: &ReviewPolicy,
    person: &Email,
    access: AccessLevel,
    signals: &Signals,
    identity: Option<&Identity>,
    now: DateTime<Utc>,
) -> Vec<Suggestion> {
    let mut out = Vec::new();
    let inactive = chrono::Duration::days(policy.inactive_days);
    if signals.last_login.is_none_or(|t| now - t > inactive) {
        out.push(Suggestion::NoLoginIn90Days);
    }
    if matches!(access, AccessLevel::Org(OrgLevel::Admin | OrgLevel::Owner)) && !signals.is_2fa_enabled {
        out.push(Suggestion::AdminWithout2fa);
    }
    if !signals.through_hogwarden {
        out.push(Suggestion::GrantedOutsideHogwarden);
    }
    if policy.contractors.get(person).is_some_and(|end| *end < now) {
        out.push(Suggestion::ContractorPastEndDate);
    }
    if policy.directory.as_ref().is_some_and(|d| !d.contains(person)) || identity.is_some_and(|i| !i.active) {
        out.push(Suggestion::Departed);
    }
    out
}

/// Chooses the reviewer of an item by the policy's rules, never the person under
/// review. `project_admins` are the project's admins (for project items);
/// `claimed_manager` is the manager claim the person last signed in with (the
/// [`ReviewerRule::Manager`] rule uses it first, then the policy's `managers`);
/// `spread` picks among several candidates evenly.
pub fn choose_reviewer(
    policy: &ReviewPolicy,
    person: &Email,
    target: AccessTarget,
    project_admins: &[Email],
    claimed_manager: Option<&Email>,
    spread: usize,
) -> Option<(Email, ReviewerRule)> {
    for rule in &policy.reviewer_rules {
        let candidates: Vec<&Email> = match rule {
            ReviewerRule::ProjectAdmins if matches!(target, AccessTarget::Project(_)) => project_admins.iter().collect(),
            ReviewerRule::ProjectAdmins => Vec::new(),
            ReviewerRule::Manager => claimed_manager.filter(|m| *m != person).or_else(|| policy.managers.get(person)).into_iter().collect(),
            ReviewerRule::Named => policy.named_reviewers.iter().collect(),
        };
        let candidates: Vec<&Email> = candidates.into_iter().filter(|c| *c != person).collect();
        if !candidates.is_empty() {
            return Some((candidates[spread % candidates.len()].clone(), *rule));
        }
    }
    None
}

// ---------------------------------------------------------------- ledger and drift

/// Access Hogwarden knows about for one person at one target: the baseline taken by the
/// first drift check, then every change Hogwarden applied or reverted and every
/// adoption. `level: None` = no access.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LedgerEntry {
    pub person: Email,
    pub target: AccessTarget,
    pub level: Option<AccessLevel>,
    /// The audit entry that last set it (0 = the baseline).
    pub seq: u64,
    pub version: u64,
}

impl LedgerEntry {
    pub fn key(&self) -> String {
        item_id(&self.person, self.target)
    }
}

/// Where the ledger stands: the last audit entry folded into it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LedgerHead {
    pub seq: u64,
    pub baseline_at: DateTime<Utc>,
    pub checked_at: DateTime<Utc>,
    pub version: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DriftKind {
    GrantedOutside,
    RemovedOutside,
    LevelDiffers,
}

impl DriftKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::GrantedOutside => "granted_outside",
            Self::RemovedOutside => "removed_outside",
            Self::LevelDiffers => "level_differs",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FindingStatus {
    Open,
    /// A request to restore the ledger's level waits for approval or to be applied.
    Reverting,
}

/// Who changed it in PostHog and when, from PostHog's activity log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangedBy {
    pub actor: Option<Email>,
    pub at: DateTime<Utc>,
}

/// One difference between PostHog and the ledger.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DriftFinding {
    pub id: String,
    pub person: Email,
    pub target: AccessTarget,
    pub kind: DriftKind,
    pub expected: Option<AccessLevel>,
    pub found: Option<AccessLevel>,
    pub changed_by: Option<ChangedBy>,
    pub detected_at: DateTime<Utc>,
    pub status: FindingStatus,
    pub revert_request: Option<RequestId>,
    pub version: u64,
}

/// A change seen in PostHog's activity log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActivityRecord {
    pub at: DateTime<Utc>,
    /// Who made it (`None` for PostHog itself).
    pub actor: Option<Email>,
    /// `OrganizationMembership`, `AccessControl`, ...
    pub scope: String,
    pub item_id: String,
    pub project: Option<ProjectId>,
    /// PostHog's name for the changed thing (for memberships, the member's email).
    pub name: Option<String>,
}

// ---------------------------------------------------------------- storage

/// One atomic write of review records plus their audit entries, each record guarded
/// by the version it is expected to have (as [`crate::ports::Commit`]).
#[derive(Debug, Default, Clone)]
pub struct ReviewCommit {
    pub campaigns: Vec<Guarded<Campaign>>,
    pub items: Vec<Guarded<ReviewItem>>,
    pub ledger: Vec<Guarded<LedgerEntry>>,
    pub head: Option<Guarded<LedgerHead>>,
    pub findings: Vec<Guarded<DriftFinding>>,
    /// Findings to delete (resolved), each guarded by its version.
    pub resolved: Vec<(String, u64)>,
    /// What the identity provider said about people ([`Identity`]).
    pub identities: Vec<Guarded<Identity>>,
    pub audit: Vec<AuditDraft>,
}

/// Where campaigns, items, the ledger and drift findings live (DESIGN.md: reviews and
/// their items are partitioned by review).
#[async_trait]
pub trait ReviewStore: Send + Sync {
    /// Writes a [`ReviewCommit`] atomically; a guard that does not hold fails it
    /// with [`crate::Error::Conflict`].
    async fn commit_review(&self, commit: ReviewCommit) -> Result<Vec<AuditEntry>>;
    /// Creates the items that do not exist yet and leaves the others alone (the
    /// snapshot's pages, written before the campaign is marked open). Returns how
    /// many were created.
    async fn put_new_items(&self, items: &[ReviewItem]) -> Result<usize>;
    /// Writes ledger entries whole, unguarded (the baseline and the fold of the audit
    /// log, both deterministic, so a retry writes the same).
    async fn put_ledger(&self, entries: &[LedgerEntry]) -> Result<()>;

    async fn get_campaign(&self, id: &CampaignId) -> Result<Option<Campaign>>;
    /// Campaigns, newest first.
    async fn list_campaigns(&self, limit: usize) -> Result<Vec<Campaign>>;
    /// A campaign's items, by id.
    async fn list_items(&self, campaign: &CampaignId) -> Result<Vec<ReviewItem>>;
    async fn get_item(&self, campaign: &CampaignId, id: &str) -> Result<Option<ReviewItem>>;

    async fn ledger_head(&self) -> Result<Option<LedgerHead>>;
    async fn list_ledger(&self) -> Result<Vec<LedgerEntry>>;
    async fn list_findings(&self) -> Result<Vec<DriftFinding>>;
    async fn get_finding(&self, id: &str) -> Result<Option<DriftFinding>>;

    /// What the identity provider last said about a person.
    async fn get_identity(&self, email: &Email) -> Result<Option<Identity>>;
    /// Everyone the identity provider described, by email.
    async fn list_identities(&self) -> Result<Vec<Identity>>;
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn email(n: &str) -> Email {
        Email::parse(&format!("{n}@example.com")).unwrap()
    }

    #[test]
    fn quarters_name_campaigns_and_the_next_review_is_the_end_of_the_next_quarter() {
        let t = Utc.with_ymd_and_hms(2024, 3, 31, 12, 0, 0).unwrap();
        assert_eq!(CampaignId::for_quarter(t).as_str(), "2024-q1");
        assert_eq!(campaign_title(t), "Q1 2024 Access Review");
        assert_eq!(next_review_date(t).to_string(), "2024-06-30");
        let late = Utc.with_ymd_and_hms(2026, 11, 2, 0, 0, 0).unwrap();
        assert_eq!(next_review_date(late).to_string(), "2027-03-31");
    }

    #[test]
    fn campaign_ids_are_slugs() {
        assert!(CampaignId::parse("2026-Q1").is_ok());
        for bad in ["", "-a", "a b", "x/../y", &"a".repeat(41)] {
            assert!(CampaignId::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn nobody_reviews_their_own_access() {
        let policy = ReviewPolicy { named_reviewers: vec![email("alice")], ..ReviewPolicy::default() };
        assert_eq!(choose_reviewer(&policy, &email("alice"), AccessTarget::Org, &[], None, 0), None);
        let policy = ReviewPolicy { named_reviewers: vec![email("alice"), email("bob")], ..ReviewPolicy::default() };
        for spread in 0..4 {
            let (who, _) = choose_reviewer(&policy, &email("alice"), AccessTarget::Org, &[], None, spread).unwrap();
            assert_eq!(who, email("bob"));
        }
    }

    #[test]
    fn project_admins_review_their_project_before_named_reviewers() {
        let policy = ReviewPolicy { named_reviewers: vec![email("alice")], ..ReviewPolicy::default() };
        let project = AccessTarget::Project(ProjectId::new(7).unwrap());
        let (who, rule) = choose_reviewer(&policy, &email("frank"), project, &[email("judy")], None, 0).unwrap();
        assert_eq!((who, rule), (email("judy"), ReviewerRule::ProjectAdmins));
        let (who, rule) = choose_reviewer(&policy, &email("judy"), project, &[email("judy")], None, 0).unwrap();
        assert_eq!((who, rule), (email("alice"), ReviewerRule::Named));
    }

    #[test]
    fn suggestions_come_from_the_signals() {
        let now = Utc.with_ymd_and_hms(2026, 3, 1, 0, 0, 0).unwrap();
        let mut policy = ReviewPolicy::default();
        policy.contractors.insert(email("carl"), now - chrono::Duration::days(1));
        policy.directory = Some(vec![email("ann")]);
        let stale = Signals {
            last_login: Some(now - chrono::Duration::days(91)),
            is_2fa_enabled: false,
            joined_at: None,
            through_hogwarden: false,
        };
        let s = suggestions(&policy, &email("carl"), AccessLevel::Org(OrgLevel::Admin), &stale, None, now);
        assert_eq!(
            s,
            [
                Suggestion::NoLoginIn90Days,
                Suggestion::AdminWithout2fa,
                Suggestion::GrantedOutsideHogwarden,
                Suggestion::ContractorPastEndDate,
                Suggestion::Departed
            ]
        );
        let fresh = Signals { last_login: Some(now), is_2fa_enabled: true, joined_at: None, through_hogwarden: true };
        assert!(suggestions(&policy, &email("ann"), AccessLevel::Org(OrgLevel::Admin), &fresh, None, now).is_empty());
    }

    #[test]
    fn a_downgrade_must_go_down_at_the_same_target() {
        let item = ReviewItem {
            campaign: CampaignId::parse("x").unwrap(),
            id: "i".into(),
            person: email("ann"),
            name: String::new(),
            target: AccessTarget::Project(ProjectId::new(1).unwrap()),
            project_name: None,
            access: AccessLevel::Project(Some(ProjectRole::Member)),
            signals: Signals { last_login: None, is_2fa_enabled: false, joined_at: None, through_hogwarden: true },
            suggestions: vec![],
            reviewer: None,
            assigned_by: None,
            decision: None,
            skipped: false,
            remediation: None,
            version: 1,
        };
        assert!(item.check_verdict(&Verdict::Downgrade(AccessLevel::Project(Some(ProjectRole::Viewer)))).is_ok());
        assert!(item.check_verdict(&Verdict::Downgrade(AccessLevel::Project(Some(ProjectRole::Admin)))).is_err());
        assert!(item.check_verdict(&Verdict::Downgrade(AccessLevel::Org(OrgLevel::Member))).is_err());
        let org = ReviewItem { target: AccessTarget::Org, access: AccessLevel::Org(OrgLevel::Member), ..item };
        assert!(org.check_verdict(&Verdict::Revoke).is_ok(), "revoking a membership removes the person (an offboarding)");
        assert!(org.removes_member(&Verdict::Revoke) && org.needs_remediation(&Verdict::Revoke));
        assert_eq!(org.change_for(&Verdict::Revoke), None, "not through the grant machinery");
        assert_eq!(org.close_verdict(), Some(Verdict::Revoke));
        let admin = ReviewItem { access: AccessLevel::Org(OrgLevel::Admin), ..org.clone() };
        assert_eq!(admin.close_verdict(), Some(Verdict::Downgrade(AccessLevel::Org(OrgLevel::Member))), "left open: admin is dropped");
        let owner = ReviewItem { access: AccessLevel::Org(OrgLevel::Owner), ..org };
        let refused = owner.check_verdict(&Verdict::Revoke).unwrap_err();
        assert!(refused.contains("only an owner") && refused.contains("transfer ownership"), "{refused}");
        assert!(owner.check_verdict(&Verdict::Downgrade(AccessLevel::Org(OrgLevel::Member))).is_err());
        assert!(owner.check_verdict(&Verdict::Keep).is_ok());
        assert_eq!(owner.close_verdict(), None, "an owner left open is skipped");
    }

    #[test]
    fn the_manager_claim_assigns_before_the_policy_mapping_and_an_inactive_identity_is_departed() {
        let mut policy = ReviewPolicy { reviewer_rules: vec![ReviewerRule::Manager, ReviewerRule::Named], ..ReviewPolicy::default() };
        policy.managers.insert(email("grace"), email("bob"));
        policy.named_reviewers = vec![email("alice")];
        let claimed = email("frank");
        let by_claim = choose_reviewer(&policy, &email("grace"), AccessTarget::Org, &[], Some(&claimed), 0);
        assert_eq!(by_claim, Some((email("frank"), ReviewerRule::Manager)));
        let by_policy = choose_reviewer(&policy, &email("grace"), AccessTarget::Org, &[], None, 0);
        assert_eq!(by_policy, Some((email("bob"), ReviewerRule::Manager)));
        let nobody = choose_reviewer(&policy, &email("henry"), AccessTarget::Org, &[], None, 0);
        assert_eq!(nobody, Some((email("alice"), ReviewerRule::Named)));

        let now = Utc.with_ymd_and_hms(2026, 3, 1, 0, 0, 0).unwrap();
        let signals = Signals { last_login: Some(now), is_2fa_enabled: true, joined_at: None, through_hogwarden: true };
        let claims = [("status".to_owned(), vec!["disabled".to_owned()])].into_iter().collect();
        let gone = Identity::updated(None, &email("henry"), &claims, crate::identity::IdentitySource::Sync, now).unwrap();
        let member = AccessLevel::Org(OrgLevel::Member);
        assert_eq!(suggestions(&policy, &email("henry"), member, &signals, Some(&gone), now), [Suggestion::Departed]);
        assert!(suggestions(&policy, &email("henry"), member, &signals, None, now).is_empty(), "unknown to the provider: no claim");
    }
}

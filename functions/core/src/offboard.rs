//! Offboarding a departing member: one request, approved once, that hands each object
//! they created to a named new owner and then removes them from every project and from
//! the organization. Each step keeps its own status in the record, so a crash or a
//! PostHog outage resumes where it stopped and never repeats a finished step.
//!
//! PostHog cannot reassign `created_by`, so a hand-over is `manager` access for the new
//! owner on the object (PostHog's per-object access controls), recorded in the audit.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::model::Decision;
use crate::ports::OwnedObject;
use crate::types::{Email, Justification, ProjectId, RequestId, Ticket};

/// The access level that makes someone the steward of an object.
pub const HAND_OVER_LEVEL: &str = "manager";

/// Where an offboarding is: pending → approved (running) → done | failed; or denied.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OffboardStatus {
    Pending,
    /// Approved: its steps run (and resume after a crash) until all are done.
    Approved,
    Done,
    Failed,
    Denied,
}

impl OffboardStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Approved => "approved",
            Self::Done => "done",
            Self::Failed => "failed",
            Self::Denied => "denied",
        }
    }

    /// Pending or running: the person cannot get a second offboarding meanwhile.
    pub fn is_open(self) -> bool {
        matches!(self, Self::Pending | Self::Approved)
    }

    pub fn parse(raw: &str) -> Option<Self> {
        [Self::Pending, Self::Approved, Self::Done, Self::Failed, Self::Denied].into_iter().find(|s| s.as_str() == raw)
    }
}

/// What one step does.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum StepAction {
    /// Give the new owner `manager` on one object the member created.
    HandOver { object: OwnedObject },
    /// Take away the member's explicit role in one project.
    RemoveFromProject { project: ProjectId, project_name: String },
    /// Remove the member from the organization (always the last step).
    RemoveFromOrg,
}

impl StepAction {
    pub fn describe(&self, new_owner: &Email) -> String {
        match self {
            Self::HandOver { object } => format!("Hand {} to {new_owner} (manager)", object.describe()),
            Self::RemoveFromProject { project, project_name } => format!("Remove from project {project_name} ({project})"),
            Self::RemoveFromOrg => "Remove from the organization".to_owned(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StepStatus {
    Pending,
    Done,
    Failed,
}

impl StepStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Done => "done",
            Self::Failed => "failed",
        }
    }
}

/// One step and what became of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OffboardStep {
    pub action: StepAction,
    pub status: StepStatus,
    /// When it was done (or failed).
    pub at: Option<DateTime<Utc>>,
    /// What PostHog reported after the write.
    pub read_back: Option<String>,
    /// Whether PostHog already showed the step's outcome, so nothing was written.
    #[serde(default)]
    pub already_in_place: bool,
    pub error: Option<String>,
}

impl OffboardStep {
    pub fn new(action: StepAction) -> Self {
        Self { action, status: StepStatus::Pending, at: None, read_back: None, already_in_place: false, error: None }
    }
}

/// The record of one offboarding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Offboarding {
    /// Shares the request id space, so audit entries find it by `request_id`.
    pub id: RequestId,
    pub requester: Email,
    /// The departing member.
    pub subject: Email,
    /// Who gets `manager` on each of the member's objects.
    pub new_owner: Email,
    pub justification: Justification,
    pub ticket: Option<Ticket>,
    pub status: OffboardStatus,
    pub approvals_required: u8,
    pub approvals: Vec<Decision>,
    pub denial: Option<Decision>,
    pub steps: Vec<OffboardStep>,
    /// Things people must know before approving (private insights, admins, open projects).
    pub warnings: Vec<String>,
    pub failure: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Optimistic-concurrency version; every write is conditional on it.
    pub version: u64,
}

impl Offboarding {
    pub fn objects(&self) -> impl Iterator<Item = &OwnedObject> {
        self.steps.iter().filter_map(|s| match &s.action {
            StepAction::HandOver { object } => Some(object),
            _ => None,
        })
    }

    pub fn next_pending(&self) -> Option<usize> {
        self.steps.iter().position(|s| s.status == StepStatus::Pending)
    }
}

/// The warning shown for unsaved (private) insights, the guide's "Private insights
/// deleted when user removed".
pub fn private_insights_warning(private: &[&OwnedObject], new_owner: &Email) -> Option<String> {
    if private.is_empty() {
        return None;
    }
    let names: Vec<String> = private.iter().map(|o| format!("'{}' ({} in project {})", o.name, o.key, o.project)).collect();
    Some(format!(
        "{} private (unsaved) insight{} will be lost with the user: {}. The guide says PostHog deletes private insights when the user \
         is removed; they appear in no saved list for anyone else. They are handed to {new_owner} too: ask them to save the ones worth keeping \
         before the removal.",
        private.len(),
        if private.len() == 1 { "" } else { "s" },
        names.join(", ")
    ))
}

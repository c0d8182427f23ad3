//! A bulk change set as stored: one access request (approved once, as a whole) that
//! holds many items, each with its own status. The items are applied one by one
//! within PostHog's rate limit by [`crate::Hogwarden::bulk_run`], which can stop at
//! any point (a time budget, a crash, a killed process) and resume later without
//! applying a done item twice.
//!
//! An item's life: `pending` → `in_flight` (the baseline is recorded *before* the
//! PostHog write) → `done` | `failed`; or `pending` → `no_op` when PostHog already
//! shows what the item asks for. An item found `in_flight` after a crash is compared
//! with PostHog's current state first: if the write had landed it becomes `done`
//! without a second write.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::model::{AccessChange, AccessLevel};
use crate::types::{Email, GrantId, RequestId};

/// The header of a change set. Its id is the id of the access request that holds it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangeSet {
    pub request_id: RequestId,
    pub requester: Email,
    /// `sha256:<hex>` of the submitted text, so the same file submitted again finds
    /// this set instead of making a second one.
    pub digest: String,
    /// `csv` or `json`.
    pub format: String,
    /// How many items it holds (changes and no-ops; rows with errors are never stored).
    pub total: usize,
    /// While a run is under way, until when it holds the set. Another runner leaves a
    /// claimed set alone; a crashed run's claim lapses and the next run resumes.
    pub claimed_until: Option<DateTime<Utc>>,
    /// When the first run started and when the last item was settled.
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub version: u64,
}

/// Where one item is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ItemStatus {
    Pending,
    /// The PostHog write may have been sent; the baseline is recorded.
    InFlight,
    Done,
    Failed,
    NoOp,
}

impl ItemStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::InFlight => "in_flight",
            Self::Done => "done",
            Self::Failed => "failed",
            Self::NoOp => "no_op",
        }
    }

    /// Whether the item needs no more work.
    pub fn is_settled(self) -> bool {
        matches!(self, Self::Done | Self::Failed | Self::NoOp)
    }
}

/// One row of a change set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangeItem {
    pub request_id: RequestId,
    /// Position in the set, from 0: the order items are applied in.
    pub seq: u32,
    /// The row's line in the submitted file.
    pub line: usize,
    pub subject: Email,
    /// `organization` or the project's name, for people.
    pub target: String,
    pub change: AccessChange,
    pub ends_at: Option<DateTime<Utc>>,
    pub status: ItemStatus,
    /// The access before the write, recorded before it is sent.
    pub baseline: Option<AccessLevel>,
    /// What PostHog reported after the write.
    pub read_back: Option<AccessLevel>,
    /// Why the item failed, in words for people.
    pub error: Option<String>,
    /// The grant recorded when the item was done.
    pub grant_id: Option<GrantId>,
    /// PostHog writes sent for this item (a resumed in-flight item adds none when
    /// PostHog already shows it).
    pub attempts: u32,
    pub updated_at: DateTime<Utc>,
    pub version: u64,
}

/// Items per status.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ItemCounts {
    pub pending: usize,
    pub in_flight: usize,
    pub done: usize,
    pub failed: usize,
    pub no_op: usize,
}

impl ItemCounts {
    pub fn of(items: &[ChangeItem]) -> Self {
        let mut c = Self::default();
        for i in items {
            match i.status {
                ItemStatus::Pending => c.pending += 1,
                ItemStatus::InFlight => c.in_flight += 1,
                ItemStatus::Done => c.done += 1,
                ItemStatus::Failed => c.failed += 1,
                ItemStatus::NoOp => c.no_op += 1,
            }
        }
        c
    }

    pub fn settled(&self) -> usize {
        self.done + self.failed + self.no_op
    }

    pub fn unsettled(&self) -> usize {
        self.pending + self.in_flight
    }
}

/// Where a whole set is, for people.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SetPhase {
    /// The request waits for approval.
    AwaitingApproval,
    /// Approved; items are being (or will be) applied.
    Applying,
    /// Every item is settled.
    Finished,
    /// The request was denied or expired; nothing was applied.
    Cancelled,
}

impl SetPhase {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::AwaitingApproval => "awaiting_approval",
            Self::Applying => "applying",
            Self::Finished => "finished",
            Self::Cancelled => "cancelled",
        }
    }
}

/// A set with its items and where it is: the progress and, once finished, the report.
#[derive(Debug, Clone)]
pub struct SetProgress {
    pub set: ChangeSet,
    pub request: crate::model::AccessRequest,
    pub phase: SetPhase,
    pub counts: ItemCounts,
    pub items: Vec<ChangeItem>,
}

impl SetProgress {
    /// Settled items per second between the first run's start and the finish (or now).
    pub fn rate_per_second(&self, now: DateTime<Utc>) -> Option<f64> {
        let start = self.set.started_at?;
        let end = self.set.finished_at.unwrap_or(now);
        let secs = (end - start).num_milliseconds() as f64 / 1000.0;
        let done = (self.counts.done + self.counts.failed) as f64;
        (secs > 0.0).then(|| done / secs)
    }
}

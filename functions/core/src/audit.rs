//! The audit log: append-only entries, each carrying the hash of the one before it,
//! so that editing, removing or reordering any entry is detected by [`verify_chain`].
//!
//! Stores call [`AuditDraft::seal`] inside the same transaction that changes state,
//! with the current chain head, so the chain and the state never disagree.

use chrono::{DateTime, SecondsFormat, SubsecRound, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::types::{Actor, Email, GrantId, ProjectId, RequestId};

/// What happened. Stored as its snake_case name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuditKind {
    Requested,
    Approved,
    Denied,
    Expired,
    Applied,
    ApplyFailed,
    Reverted,
    RevertFailed,
    RevertConflict,
    /// Who had what in PostHog at a moment (scheduled or asked for), as counts.
    AccessSnapshot,
    /// PostHog stopped accepting Hogwarden's own API key.
    ServiceKeyRejected,
    /// A temporary grant now ends later (the guide's access-log entry).
    Extended,
    /// Someone was reminded: access ending soon, or a request waiting for approval.
    Reminded,
    /// Offboarding: a departing member's object was handed to a new owner (manager access).
    HandedOver,
    /// Offboarding: the member was removed from a project or from the organization.
    MemberRemoved,
    /// Offboarding finished: every step done and read back.
    Offboarded,
    /// An SSO rule set someone's access (on sign-in or by a sync).
    SsoApplied,
    /// An SSO rule would have overwritten a change made by hand in PostHog; left alone.
    SsoException,
    /// A step of a key rotation (created, promoted, old key deleted, a failed test).
    KeyRotation,
    /// A leaked-key alert or a rejected stored key, and what Hogwarden did about it.
    KeyAlert,
    /// A reviewer decided an access review item.
    ReviewDecided,
    /// An access review item went to another reviewer.
    ReviewReassigned,
    /// An access review campaign closed.
    ReviewClosed,
    /// The first drift check recorded PostHog's access as the ledger's baseline.
    DriftBaseline,
    /// A drift check found access that differs from the ledger.
    DriftDetected,
    /// An admin accepted drift into the ledger.
    DriftAdopted,
    /// A place where a key is used (a consumer) was added or removed.
    KeyConsumer,
    /// The identity provider changed what reviews use about a person: their manager, or
    /// whether they are active.
    IdentityChanged,
}

impl AuditKind {
    pub const ALL: [Self; 28] = [
        Self::Requested,
        Self::Approved,
        Self::Denied,
        Self::Expired,
        Self::Applied,
        Self::ApplyFailed,
        Self::Reverted,
        Self::RevertFailed,
        Self::RevertConflict,
        Self::AccessSnapshot,
        Self::ServiceKeyRejected,
        Self::Extended,
        Self::Reminded,
        Self::HandedOver,
        Self::MemberRemoved,
        Self::Offboarded,
        Self::SsoApplied,
        Self::SsoException,
        Self::KeyRotation,
        Self::KeyAlert,
        Self::ReviewDecided,
        Self::ReviewReassigned,
        Self::ReviewClosed,
        Self::DriftBaseline,
        Self::DriftDetected,
        Self::DriftAdopted,
        Self::KeyConsumer,
        Self::IdentityChanged,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Requested => "requested",
            Self::Approved => "approved",
            Self::Denied => "denied",
            Self::Expired => "expired",
            Self::Applied => "applied",
            Self::ApplyFailed => "apply_failed",
            Self::Reverted => "reverted",
            Self::RevertFailed => "revert_failed",
            Self::RevertConflict => "revert_conflict",
            Self::AccessSnapshot => "access_snapshot",
            Self::ServiceKeyRejected => "service_key_rejected",
            Self::Extended => "extended",
            Self::Reminded => "reminded",
            Self::HandedOver => "handed_over",
            Self::MemberRemoved => "member_removed",
            Self::Offboarded => "offboarded",
            Self::SsoApplied => "sso_applied",
            Self::SsoException => "sso_exception",
            Self::KeyRotation => "key_rotation",
            Self::KeyAlert => "key_alert",
            Self::ReviewDecided => "review_decided",
            Self::ReviewReassigned => "review_reassigned",
            Self::ReviewClosed => "review_closed",
            Self::DriftBaseline => "drift_baseline",
            Self::DriftDetected => "drift_detected",
            Self::DriftAdopted => "drift_adopted",
            Self::KeyConsumer => "key_consumer",
            Self::IdentityChanged => "identity_changed",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == raw)
    }
}

/// An entry before it has a place in the chain.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditDraft {
    pub at: DateTime<Utc>,
    pub actor: Actor,
    pub kind: AuditKind,
    pub subject: Option<Email>,
    pub request_id: Option<RequestId>,
    pub grant_id: Option<GrantId>,
    /// Structured facts (the change, the read-back, a reason). Never a secret.
    pub details: serde_json::Value,
}

/// An entry in the chain.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditEntry {
    /// Position in the chain, from 1, without gaps.
    pub seq: u64,
    pub at: DateTime<Utc>,
    pub actor: Actor,
    pub kind: AuditKind,
    pub subject: Option<Email>,
    pub request_id: Option<RequestId>,
    pub grant_id: Option<GrantId>,
    pub details: serde_json::Value,
    /// Hex SHA-256 of the previous entry (64 zeros for the first).
    pub prev_hash: String,
    /// Hex SHA-256 over this entry's fields and `prev_hash`.
    pub hash: String,
}

pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

impl AuditDraft {
    /// Gives the draft its place after `head` (the current last entry, if any).
    pub fn seal(self, head: Option<(u64, &str)>) -> AuditEntry {
        let (seq, prev_hash) = match head {
            Some((seq, hash)) => (seq + 1, hash.to_owned()),
            None => (1, GENESIS_HASH.to_owned()),
        };
        let mut entry = AuditEntry {
            seq,
            // Hashed at microseconds, so kept at microseconds: every store round-trips it.
            at: self.at.trunc_subsecs(6),
            actor: self.actor,
            kind: self.kind,
            subject: self.subject,
            request_id: self.request_id,
            grant_id: self.grant_id,
            details: self.details,
            prev_hash,
            hash: String::new(),
        };
        entry.hash = entry.compute_hash();
        entry
    }
}

impl AuditEntry {
    /// The hash this entry should carry, computed from its fields. Timestamps are
    /// hashed at microsecond precision, which every store keeps.
    pub fn compute_hash(&self) -> String {
        let canonical = serde_json::json!({
            "seq": self.seq,
            "at": self.at.to_rfc3339_opts(SecondsFormat::Micros, true),
            "actor": self.actor,
            "kind": self.kind.as_str(),
            "subject": self.subject,
            "request_id": self.request_id,
            "grant_id": self.grant_id,
            "details": self.details,
            "prev_hash": self.prev_hash,
        });
        // serde_json orders object keys, so this serialisation is canonical.
        let mut hasher = Sha256::new();
        hasher.update(canonical.to_string().as_bytes());
        hex::encode(hasher.finalize())
    }
}

/// The outcome of checking a chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChainVerification {
    pub valid: bool,
    pub entries: u64,
    /// The first entry that breaks the chain, and why.
    pub first_broken_seq: Option<u64>,
    pub problem: Option<String>,
    /// The last entry checked: an anchor to keep outside Hogwarden (the evidence of a
    /// review, a ticket) and to verify against later, since a chain cut short at its
    /// end still links up by itself.
    #[serde(default)]
    pub head: Option<ChainAnchor>,
}

/// An entry of the chain as seen at some moment: its position and hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChainAnchor {
    pub seq: u64,
    pub hash: String,
}

/// [`verify_chain`], and then that the chain still holds `anchor`, an entry seen
/// earlier: a chain whose last entries were removed links up by itself, and only an
/// anchor kept elsewhere shows that it is shorter than it was.
pub fn verify_chain_against<'a>(entries: impl IntoIterator<Item = &'a AuditEntry>, anchor: Option<&ChainAnchor>) -> ChainVerification {
    let entries: Vec<&AuditEntry> = entries.into_iter().collect();
    let verification = verify_chain(entries.iter().copied());
    let Some(anchor) = anchor else { return verification };
    if !verification.valid {
        return verification;
    }
    let at = anchor.seq.checked_sub(1).and_then(|i| usize::try_from(i).ok());
    let problem = match at.map(|i| entries.get(i)) {
        // Entries count from 1: there is nothing to hold.
        None => None,
        Some(None) => Some(format!(
            "the chain ends at entry {}, before the anchor's entry {}: entries were removed from its end",
            verification.entries, anchor.seq
        )),
        Some(Some(e)) if e.hash != anchor.hash => {
            Some(format!("entry {} is not the entry the anchor recorded: the chain was rewritten from there", anchor.seq))
        }
        Some(Some(_)) => None,
    };
    match problem {
        None => verification,
        Some(problem) => ChainVerification {
            valid: false,
            first_broken_seq: Some(anchor.seq.min(verification.entries + 1)),
            problem: Some(problem),
            ..verification
        },
    }
}

/// Checks that entries (in `seq` order, from 1) link up and that each hash matches
/// its fields. Detects an edited, removed, inserted or reordered entry.
/// Whether an entry's details name the PostHog project anywhere (a change is
/// `{"kind": "project_role", "project": 42, …}`; key and offboarding steps say
/// `project_id`).
pub fn names_project(details: &serde_json::Value, project: ProjectId) -> bool {
    match details {
        serde_json::Value::Object(o) => {
            o.iter().any(|(k, v)| (k == "project" || k == "project_id") && v.as_i64() == Some(project.get()) || names_project(v, project))
        }
        serde_json::Value::Array(a) => a.iter().any(|v| names_project(v, project)),
        _ => false,
    }
}

/// The entries about one project. Entries such as "approved" do not repeat the
/// changes, so an entry also counts when another entry of its request names the project.
pub fn about_project<'a>(entries: &[&'a AuditEntry], project: ProjectId) -> Vec<&'a AuditEntry> {
    let requests: std::collections::HashSet<RequestId> =
        entries.iter().filter(|e| names_project(&e.details, project)).filter_map(|e| e.request_id).collect();
    entries.iter().copied().filter(|e| names_project(&e.details, project) || e.request_id.is_some_and(|r| requests.contains(&r))).collect()
}

pub fn verify_chain<'a>(entries: impl IntoIterator<Item = &'a AuditEntry>) -> ChainVerification {
    let mut expected_prev = GENESIS_HASH.to_owned();
    let mut count = 0u64;
    for entry in entries {
        count += 1;
        let broken = |problem: String| ChainVerification {
            valid: false,
            entries: count,
            first_broken_seq: Some(entry.seq),
            problem: Some(problem),
            head: None,
        };
        if entry.seq != count {
            return broken(format!(
                "entry {} is out of place: expected entry {count} (an entry was removed, inserted or moved)",
                entry.seq
            ));
        }
        if entry.prev_hash != expected_prev {
            return broken(format!("entry {} does not link to the entry before it", entry.seq));
        }
        if entry.compute_hash() != entry.hash {
            return broken(format!("entry {} was modified after it was written", entry.seq));
        }
        expected_prev = entry.hash.clone();
    }
    let head = (count > 0).then_some(ChainAnchor { seq: count, hash: expected_prev });
    ChainVerification { valid: true, entries: count, first_broken_seq: None, problem: None, head }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chain(n: usize) -> Vec<AuditEntry> {
        let mut out: Vec<AuditEntry> = Vec::new();
        for i in 0..n {
            let draft = AuditDraft {
                at: DateTime::from_timestamp(1_700_000_000 + i as i64, 123_456_000).unwrap(),
                actor: Actor::System("test".into()),
                kind: AuditKind::Requested,
                subject: None,
                request_id: None,
                grant_id: None,
                details: serde_json::json!({ "i": i }),
            };
            let head = out.last().map(|e| (e.seq, e.hash.as_str()));
            let sealed = draft.seal(head);
            out.push(sealed);
        }
        out
    }

    #[test]
    fn an_untouched_chain_verifies() {
        let c = chain(5);
        let v = verify_chain(&c);
        assert!(v.valid, "{v:?}");
        assert_eq!(v.entries, 5);
    }

    #[test]
    fn an_edited_entry_is_detected() {
        let mut c = chain(5);
        c[2].details = serde_json::json!({ "i": 99 });
        let v = verify_chain(&c);
        assert!(!v.valid);
        assert_eq!(v.first_broken_seq, Some(3));
    }

    #[test]
    fn a_removed_entry_is_detected() {
        let mut c = chain(5);
        c.remove(1);
        assert_eq!(verify_chain(&c).first_broken_seq, Some(3));
    }

    #[test]
    fn a_reordered_pair_is_detected() {
        let mut c = chain(5);
        c.swap(1, 2);
        assert!(!verify_chain(&c).valid);
    }

    #[test]
    fn a_rehashed_edit_still_breaks_the_link() {
        let mut c = chain(4);
        c[1].details = serde_json::json!({ "forged": true });
        c[1].hash = c[1].compute_hash();
        let v = verify_chain(&c);
        assert_eq!(v.first_broken_seq, Some(3));
    }

    #[test]
    fn a_chain_cut_short_at_its_end_verifies_alone_but_not_against_an_anchor_taken_before() {
        let mut c = chain(6);
        let anchor = verify_chain(&c).head.expect("a head");
        c.truncate(4);

        let alone = verify_chain(&c);
        let against = verify_chain_against(&c, Some(&anchor));

        assert!(alone.valid, "the links that remain are intact: {alone:?}");
        assert_eq!(anchor.seq, 6);
        assert!(!against.valid);
        assert_eq!(against.first_broken_seq, Some(5));
        assert!(against.problem.unwrap().contains("removed from its end"));
    }

    #[test]
    fn a_chain_that_grew_since_the_anchor_verifies_against_it() {
        let c = chain(6);
        let anchor = verify_chain(&c[..3]).head.unwrap();

        let v = verify_chain_against(&c, Some(&anchor));

        assert!(v.valid, "{v:?}");
        assert_eq!(v.head.map(|h| h.seq), Some(6));
    }

    #[test]
    fn a_chain_rebuilt_from_the_anchors_entry_on_does_not_match_it() {
        // Someone re-seals the chain from entry 3 with other content: every link holds,
        // but entry 3 is not the one the anchor saw.
        let c = chain(5);
        let anchor = verify_chain(&c[..3]).head.unwrap();
        let mut forged: Vec<AuditEntry> = c[..2].to_vec();
        for i in 0..3 {
            let draft = AuditDraft {
                at: DateTime::from_timestamp(1_800_000_000 + i, 0).unwrap(),
                actor: Actor::System("forger".into()),
                kind: AuditKind::Requested,
                subject: None,
                request_id: None,
                grant_id: None,
                details: serde_json::json!({ "forged": i }),
            };
            let head = forged.last().map(|e| (e.seq, e.hash.as_str()));
            forged.push(draft.seal(head));
        }

        let v = verify_chain_against(&forged, Some(&anchor));

        assert!(verify_chain(&forged).valid);
        assert!(!v.valid);
        assert_eq!(v.first_broken_seq, Some(3));
    }
}

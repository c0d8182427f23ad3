//! Row ↔ record mapping: every string format this store writes (timestamps, targets,
//! actors, ids) is made and parsed here, and nowhere else.
//!
//! Requests and grants are stored whole as JSON (`body`), so they round-trip
//! exactly; their indexed columns are copies made by [`RequestColumns`] and
//! [`GrantColumns`]. Audit entries are stored one field per column and rebuilt from
//! those columns by [`AuditRow::into_entry`], so that editing any column of a row is
//! seen by `verify_chain`.

use chrono::{DateTime, SecondsFormat, SubsecRound, Utc};
use hogwarden_core::audit::{AuditEntry, AuditKind};
use hogwarden_core::model::{AccessRequest, AccessTarget, Grant};
use hogwarden_core::types::{Actor, Email, GrantId, RequestId};

use crate::error::StoreError;

/// The prefix that marks a system actor in the `actor` column (as `Actor` displays
/// it). An email cannot contain a colon, so the two never collide.
const SYSTEM_ACTOR_PREFIX: &str = "hogwarden:";

/// A timestamp as stored: RFC 3339, UTC, always six fractional digits and a `Z`, so
/// that text order is time order and microseconds (what the audit hash covers)
/// round-trip exactly.
pub(crate) fn timestamp(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Micros, true)
}

pub(crate) fn parse_timestamp(raw: &str) -> Result<DateTime<Utc>, String> {
    DateTime::parse_from_rfc3339(raw).map(|t| t.with_timezone(&Utc)).map_err(|e| format!("'{raw}' is not a timestamp ({e})"))
}

/// Drops what finer than a microsecond the store cannot keep, so an audit entry
/// returned by a commit equals the one read back later.
pub(crate) fn to_micros(t: DateTime<Utc>) -> DateTime<Utc> {
    t.trunc_subsecs(6)
}

/// The `target` column: `org`, or `project:<id>`.
pub(crate) fn target_key(target: AccessTarget) -> String {
    match target {
        AccessTarget::Org => "org".to_owned(),
        AccessTarget::Project(id) => format!("project:{id}"),
    }
}

/// The `actor` column: the actor as displayed.
pub(crate) fn actor_key(actor: &Actor) -> String {
    actor.to_string()
}

pub(crate) fn parse_actor(raw: &str) -> Result<Actor, String> {
    match raw.strip_prefix(SYSTEM_ACTOR_PREFIX) {
        Some(job) => Ok(Actor::System(job.to_owned())),
        None => Email::parse(raw).map(Actor::Person).map_err(|e| e.to_string()),
    }
}

/// A version as SQLite stores it (a signed 64-bit integer).
pub(crate) fn version(v: u64) -> Result<i64, StoreError> {
    i64::try_from(v).map_err(|_| StoreError::Contract(format!("version {v} is too large to store")))
}

/// A `LIMIT` value; anything beyond SQLite's range means "no limit".
pub(crate) fn limit(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// The columns of a `requests` row.
#[derive(Debug)]
pub(crate) struct RequestColumns {
    pub id: String,
    pub requester: String,
    pub subject: String,
    pub status: &'static str,
    pub created_at: String,
    pub updated_at: String,
    pub expires_at: String,
    pub version: i64,
    pub body: String,
}

impl RequestColumns {
    pub(crate) fn new(r: &AccessRequest) -> Result<Self, StoreError> {
        Ok(Self {
            id: r.id.to_string(),
            requester: r.requester.to_string(),
            subject: r.subject.to_string(),
            status: r.status.as_str(),
            created_at: timestamp(r.created_at),
            updated_at: timestamp(r.updated_at),
            expires_at: timestamp(r.expires_at),
            version: version(r.version)?,
            body: serde_json::to_string(r).map_err(|e| StoreError::Contract(format!("request {} cannot be serialised: {e}", r.id)))?,
        })
    }
}

pub(crate) fn request_from_body(body: &str) -> Result<AccessRequest, StoreError> {
    serde_json::from_str(body).map_err(|e| StoreError::corrupt("request", e))
}

/// The columns of a `grants` row.
#[derive(Debug)]
pub(crate) struct GrantColumns {
    pub id: String,
    pub request_id: String,
    pub subject: String,
    pub status: &'static str,
    pub target: String,
    pub expires_at: Option<String>,
    pub applied_at: String,
    pub version: i64,
    pub body: String,
}

impl GrantColumns {
    pub(crate) fn new(g: &Grant) -> Result<Self, StoreError> {
        Ok(Self {
            id: g.id.to_string(),
            request_id: g.request_id.to_string(),
            subject: g.subject.to_string(),
            status: g.status.as_str(),
            target: target_key(g.target()),
            expires_at: g.expires_at.map(timestamp),
            applied_at: timestamp(g.applied_at),
            version: version(g.version)?,
            body: serde_json::to_string(g).map_err(|e| StoreError::Contract(format!("grant {} cannot be serialised: {e}", g.id)))?,
        })
    }
}

pub(crate) fn grant_from_body(body: &str) -> Result<Grant, StoreError> {
    serde_json::from_str(body).map_err(|e| StoreError::corrupt("grant", e))
}

/// The columns every audit query selects, in this order.
pub(crate) const AUDIT_COLUMNS: &str = "seq, at, actor, kind, subject, request_id, grant_id, details, prev_hash, hash";

/// An `audit` row as stored, before it is parsed.
#[derive(Debug)]
pub(crate) struct AuditRow {
    pub seq: i64,
    pub at: String,
    pub actor: String,
    pub kind: String,
    pub subject: Option<String>,
    pub request_id: Option<String>,
    pub grant_id: Option<String>,
    pub details: String,
    pub prev_hash: String,
    pub hash: String,
}

impl AuditRow {
    /// Reads a row selected with [`AUDIT_COLUMNS`].
    pub(crate) fn read(row: &rusqlite::Row<'_>) -> rusqlite::Result<Self> {
        Ok(Self {
            seq: row.get(0)?,
            at: row.get(1)?,
            actor: row.get(2)?,
            kind: row.get(3)?,
            subject: row.get(4)?,
            request_id: row.get(5)?,
            grant_id: row.get(6)?,
            details: row.get(7)?,
            prev_hash: row.get(8)?,
            hash: row.get(9)?,
        })
    }

    pub(crate) fn from_entry(e: &AuditEntry) -> Result<Self, StoreError> {
        Ok(Self {
            seq: version(e.seq)?,
            at: timestamp(e.at),
            actor: actor_key(&e.actor),
            kind: e.kind.as_str().to_owned(),
            subject: e.subject.as_ref().map(Email::to_string),
            request_id: e.request_id.map(|id| id.to_string()),
            grant_id: e.grant_id.map(|id| id.to_string()),
            details: e.details.to_string(),
            prev_hash: e.prev_hash.clone(),
            hash: e.hash.clone(),
        })
    }

    /// Rebuilds the entry from the stored columns alone. The hash is not checked
    /// here: that is `verify_chain`'s job, and a row edited so that it no longer
    /// matches its hash must still be readable for verification to report it.
    pub(crate) fn into_entry(self) -> Result<AuditEntry, StoreError> {
        let what = || format!("audit entry {}", self.seq);
        let bad = |reason: String| StoreError::corrupt(what(), reason);
        Ok(AuditEntry {
            seq: u64::try_from(self.seq).map_err(|_| bad(format!("sequence number {} is negative", self.seq)))?,
            at: parse_timestamp(&self.at).map_err(bad)?,
            actor: parse_actor(&self.actor).map_err(bad)?,
            kind: AuditKind::parse(&self.kind).ok_or_else(|| bad(format!("'{}' is not an audit kind", self.kind)))?,
            subject: self.subject.as_deref().map(Email::parse).transpose().map_err(|e| bad(e.to_string()))?,
            request_id: self.request_id.as_deref().map(RequestId::parse).transpose().map_err(|e| bad(e.to_string()))?,
            grant_id: self.grant_id.as_deref().map(GrantId::parse).transpose().map_err(|e| bad(e.to_string()))?,
            details: serde_json::from_str(&self.details).map_err(|e| bad(format!("details are not JSON ({e})")))?,
            prev_hash: self.prev_hash,
            hash: self.hash,
        })
    }
}

#[cfg(test)]
mod tests {
    use hogwarden_core::audit::AuditDraft;
    use hogwarden_core::types::ProjectId;

    use super::*;

    #[test]
    fn timestamps_sort_as_text_and_keep_microseconds() {
        let early = DateTime::from_timestamp(1_700_000_000, 5_000).unwrap();
        let late = DateTime::from_timestamp(1_700_000_000, 120_000).unwrap();
        assert_eq!(timestamp(early), "2023-11-14T22:13:20.000005Z");
        assert!(timestamp(early) < timestamp(late));
        assert_eq!(parse_timestamp(&timestamp(late)).unwrap(), late);
    }

    #[test]
    fn sub_microsecond_precision_is_dropped_before_storing() {
        let t = DateTime::from_timestamp(1_700_000_000, 123_456_789).unwrap();
        assert_eq!(to_micros(t), DateTime::from_timestamp(1_700_000_000, 123_456_000).unwrap());
    }

    #[test]
    fn targets_have_stable_keys() {
        assert_eq!(target_key(AccessTarget::Org), "org");
        assert_eq!(target_key(AccessTarget::Project(ProjectId::new(1001).unwrap())), "project:1001");
    }

    #[test]
    fn actors_round_trip_through_their_column() {
        for actor in [Actor::Person(Email::parse("ana@example.com").unwrap()), Actor::System("sweep".into())] {
            assert_eq!(parse_actor(&actor_key(&actor)).unwrap(), actor);
        }
        assert!(parse_actor("not an actor").is_err());
    }

    #[test]
    fn an_audit_entry_round_trips_through_its_columns() {
        let entry = AuditDraft {
            at: to_micros(Utc::now()),
            actor: Actor::System("apply".into()),
            kind: AuditKind::ApplyFailed,
            subject: Some(Email::parse("bo@example.com").unwrap()),
            request_id: Some(RequestId::new()),
            grant_id: None,
            details: serde_json::json!({ "error": "refused", "n": [1, 2] }),
        }
        .seal(None);
        let back = AuditRow::from_entry(&entry).unwrap().into_entry().unwrap();
        assert_eq!(back, entry);
        assert_eq!(back.compute_hash(), entry.hash);
    }
}

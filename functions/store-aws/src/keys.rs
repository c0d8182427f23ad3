//! Every key string of the single DynamoDB table, and the layout they make. No other
//! module formats a key, so the layout below is the whole truth about the table.
//!
//! Access patterns first (DESIGN.md, "Data"), keys second. Base table `PK`/`SK`:
//!
//! | item | PK | SK |
//! |---|---|---|
//! | request | `REQ#<id>` | `REQ` |
//! | grant | `GRANT#<id>` | `GRANT` |
//! | audit entry | `AUDIT#<yyyy-mm of at>` | `<at>#<seq, 20 digits>` |
//! | audit chain locator | `AUDIT#CHAIN` | `<seq, 20 digits>` (names the entry's PK/SK) |
//! | audit chain head | `AUDIT` | `HEAD` (`seq`, `hash`) |
//! | audit month marker | `AUDIT` | `MONTH#<yyyy-mm>` (one per month that has entries) |
//! | bulk change set | `CSET#<request id>` | `SET` |
//! | bulk change item | `CSET#<request id>` | `ITEM#<seq, 10 digits>` (a set's items, in order, one `Query`) |
//! | webhook delivery (`hogwarden_core::webhooks::DeliveryLog`) | `WEBHOOK#<provider>#<replay key>` | `DELIVERY` (`state`: `claimed` or `done`, none on items written before claims = done; `claimed_at` in Unix seconds; `ttl` 30 days) |
//! | claim (one live record per key, `hogwarden_core::claims`) | `CLAIM#<key>` | `CLAIM` (`holder`: the record's id; written in the record's transaction, `attribute_not_exists(PK)` or `holder = <the one the writer saw>`) |
//!
//! Global secondary indexes, all projecting every attribute, overloaded by prefix so
//! that each pattern is one `Query`:
//!
//! | index | item | PK | SK | pattern |
//! |---|---|---|---|---|
//! | GSI1 | request | `STATUS#<status>` | `<created_at>#<id>` | approver inbox, oldest first |
//! | GSI1 | active grant | `ACTIVE` | `E#<expires_at>#<id>` or `P#<applied_at>#<id>` | active grants, soonest expiry first, permanent last |
//! | GSI2 | active temporary grant | `EXP#<yyyy-mm-ddThh>` | `<expires_at>#<id>` | expiry sweep (sparse) |
//! | GSI3 | request | `USER#<requester>#REQ` | `<created_at>#<id>` | a person's requests (as requester) |
//! | GSI3 | grant | `USER#<subject>#GRANT` | `<applied_at>#<id>` | a person's grants |
//! | GSI4 | request | `USER#<subject>#REQ` | `<created_at>#<id>` | a person's requests (as subject) |
//! | GSI4 | grant | `REQUEST#<request_id>#GRANTS` | `<applied_at>#<id>` | a request's grants |
//! | GSI5 | active grant | `TARGET#<subject>#<target>` | `<applied_at>#<id>` | overlap check |
//! | GSI3 | bulk change set | `USER#<requester>#CSET#<digest>` | `<created_at>#<id>` | the same file submitted again |
//!
//! Why the audit log has a chain locator: entries live in the month of their `at`
//! (audit by time), but writers' clocks are not ordered by `seq`, so the month of an
//! entry cannot be derived from its `seq`. The locator partition lists every `seq` in
//! order, strongly consistent, so chain pages are contiguous and a removed entry shows
//! up as a gap instead of being skipped. It takes one small write per entry; audit
//! writes are a few per minute, far below one partition's limit.
//!
//! The sweep never reads the whole table: GSI1's `ACTIVE` partition (one item, the
//! soonest expiry) tells which hour bucket to start from, GSI2 is read bucket by
//! bucket only up to `now`, and the next non-empty bucket is found the same way.
//!
//! Timestamps in keys are RFC 3339 UTC with exactly six fractional digits, so text
//! order is time order; ids are lower-case UUIDs of fixed width, so ties sort by id.

use chrono::{DateTime, SecondsFormat, Utc};
use hogwarden_core::model::{AccessTarget, RequestStatus};
use hogwarden_core::types::{Email, GrantId, RequestId};

/// Base table partition key attribute.
pub const PK: &str = "PK";
/// Base table sort key attribute.
pub const SK: &str = "SK";

/// The global secondary indexes, as (index name, partition attribute, sort attribute).
pub const INDEXES: [(&str, &str, &str); 5] = [
    (GSI1, "GSI1PK", "GSI1SK"),
    (GSI2, "GSI2PK", "GSI2SK"),
    (GSI3, "GSI3PK", "GSI3SK"),
    (GSI4, "GSI4PK", "GSI4SK"),
    (GSI5, "GSI5PK", "GSI5SK"),
];
pub const GSI1: &str = "GSI1";
pub const GSI2: &str = "GSI2";
pub const GSI3: &str = "GSI3";
pub const GSI4: &str = "GSI4";
pub const GSI5: &str = "GSI5";

/// A character above every character used in keys, to close a `BETWEEN` range.
const HIGH: char = '~';

/// A timestamp as keys hold it: RFC 3339, UTC, six fractional digits, `Z`.
pub fn timestamp(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// The smallest sort key `<time>#…` at or after `t`.
pub fn time_floor(t: DateTime<Utc>) -> String {
    timestamp(t)
}

/// The largest sort key `<time>#…` at or before `t` (inclusive of every id).
pub fn time_ceiling(t: DateTime<Utc>) -> String {
    format!("{}#{HIGH}", timestamp(t))
}

/// `<time>#<id>`: sorts by time, then by id.
pub fn time_id(t: DateTime<Utc>, id: &impl std::fmt::Display) -> String {
    format!("{}#{id}", timestamp(t))
}

// ---------------------------------------------------------------- requests

pub fn request_pk(id: RequestId) -> String {
    format!("REQ#{id}")
}

pub const REQUEST_SK: &str = "REQ";

pub fn status_pk(status: RequestStatus) -> String {
    format!("STATUS#{}", status.as_str())
}

/// A person's requests, as requester (GSI3) and as subject (GSI4).
pub fn user_requests_pk(email: &Email) -> String {
    format!("USER#{email}#REQ")
}

// ---------------------------------------------------------------- grants

pub fn grant_pk(id: GrantId) -> String {
    format!("GRANT#{id}")
}

pub const GRANT_SK: &str = "GRANT";

/// GSI1 partition of every active grant.
pub const ACTIVE_PK: &str = "ACTIVE";

/// GSI1 sort key of an active grant: expiring ones (`E#`) sort before permanent
/// ones (`P#`), each by time then id.
pub fn active_sk(expires_at: Option<DateTime<Utc>>, applied_at: DateTime<Utc>, id: GrantId) -> String {
    match expires_at {
        Some(t) => format!("{ACTIVE_EXPIRING}{}", time_id(t, &id)),
        None => format!("P#{}", time_id(applied_at, &id)),
    }
}

/// The prefix of expiring grants in the `ACTIVE` partition.
pub const ACTIVE_EXPIRING: &str = "E#";

/// The first `ACTIVE` sort key of a grant expiring at or after `t`.
pub fn active_expiring_from(t: DateTime<Utc>) -> String {
    format!("{ACTIVE_EXPIRING}{}", time_floor(t))
}

/// The hour bucket of an expiry: `EXP#yyyy-mm-ddThh`.
pub fn expiry_bucket_pk(t: DateTime<Utc>) -> String {
    format!("EXP#{}", t.format("%Y-%m-%dT%H"))
}

/// The start of the hour after the one `t` is in.
pub fn next_hour(t: DateTime<Utc>) -> DateTime<Utc> {
    use chrono::{Duration, DurationRound};
    t.duration_trunc(Duration::hours(1)).unwrap_or(t) + Duration::hours(1)
}

pub fn user_grants_pk(email: &Email) -> String {
    format!("USER#{email}#GRANT")
}

pub fn request_grants_pk(id: RequestId) -> String {
    format!("REQUEST#{id}#GRANTS")
}

/// `org`, or `project:<id>`.
pub fn target(target: AccessTarget) -> String {
    match target {
        AccessTarget::Org => "org".to_owned(),
        AccessTarget::Project(id) => format!("project:{id}"),
    }
}

pub fn target_pk(email: &Email, t: AccessTarget) -> String {
    format!("TARGET#{email}#{}", target(t))
}

// ---------------------------------------------------------------- audit

/// A webhook delivery's record, by provider and replay key.
pub fn delivery_pk(provider: &str, replay_key: &str) -> String {
    format!("WEBHOOK#{provider}#{replay_key}")
}

pub const DELIVERY_SK: &str = "DELIVERY";

/// The partition holding the chain head and the month markers.
pub const AUDIT_PK: &str = "AUDIT";
pub const HEAD_SK: &str = "HEAD";
pub const MONTH_PREFIX: &str = "MONTH#";

/// `yyyy-mm` of a time.
pub fn month(t: DateTime<Utc>) -> String {
    t.format("%Y-%m").to_string()
}

pub fn month_sk(month: &str) -> String {
    format!("{MONTH_PREFIX}{month}")
}

/// The month a marker's sort key names.
pub fn month_of_marker(sk: &str) -> Option<&str> {
    sk.strip_prefix(MONTH_PREFIX)
}

/// The month partition of audit entries.
pub fn audit_month_pk(month: &str) -> String {
    format!("AUDIT#{month}")
}

/// A sequence number padded so text order is number order.
pub fn seq(seq: u64) -> String {
    format!("{seq:020}")
}

/// An entry's sort key in its month: time, then seq.
pub fn audit_entry_sk(at: DateTime<Utc>, s: u64) -> String {
    format!("{}#{}", timestamp(at), seq(s))
}

/// The partition of chain locators.
pub const CHAIN_PK: &str = "AUDIT#CHAIN";

// ---------------------------------------------------------------- reviews and drift
//
// | item | PK | SK | GSI1PK / GSI1SK |
// |---|---|---|---|
// | campaign | `REVIEW#<id>` | `CAMPAIGN` | `REVIEWS` / `<opened_at>#<id>` (campaigns newest first) |
// | review item | `REVIEW#<id>` | `ITEM#<person>#<target>` | |
// | ledger entry | `LEDGER` | `<person>#<target>` | |
// | ledger head | `LEDGER-HEAD` | `HEAD` | |
// | drift finding | `DRIFT` | `<person>#<target>` | |

pub fn campaign_pk(id: &hogwarden_core::reviews::CampaignId) -> String {
    format!("REVIEW#{id}")
}

pub const CAMPAIGN_SK: &str = "CAMPAIGN";
pub const CAMPAIGNS_PK: &str = "REVIEWS";
pub const ITEM_PREFIX: &str = "ITEM#";

pub fn item_sk(id: &str) -> String {
    format!("{ITEM_PREFIX}{id}")
}

pub const LEDGER_PK: &str = "LEDGER";
pub const LEDGER_HEAD_PK: &str = "LEDGER-HEAD";
pub const DRIFT_PK: &str = "DRIFT";

#[cfg(test)]
mod tests {
    use super::*;
    use hogwarden_core::types::ProjectId;

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn timestamps_keep_six_digits_so_text_order_is_time_order() {
        assert_eq!(timestamp(t("2030-01-02T03:04:05.123456789Z")), "2030-01-02T03:04:05.123456Z");
        assert_eq!(timestamp(t("2030-01-02T03:04:05Z")), "2030-01-02T03:04:05.000000Z");
        assert!(timestamp(t("2030-01-02T03:04:05Z")) < timestamp(t("2030-01-02T03:04:05.000001Z")));
    }

    #[test]
    fn record_keys_name_their_kind_and_id() {
        let r = RequestId::parse("0190c6f0-0000-7000-8000-000000000001").unwrap();
        let g = GrantId::parse("0190c6f0-0000-7000-8000-000000000002").unwrap();
        assert_eq!(request_pk(r), "REQ#0190c6f0-0000-7000-8000-000000000001");
        assert_eq!(grant_pk(g), "GRANT#0190c6f0-0000-7000-8000-000000000002");
        assert_eq!(request_grants_pk(r), "REQUEST#0190c6f0-0000-7000-8000-000000000001#GRANTS");
        assert_eq!(status_pk(RequestStatus::Pending), "STATUS#pending");
    }

    #[test]
    fn user_and_target_keys_keep_requests_and_grants_apart() {
        let e = Email::parse("Ana@Example.com").unwrap();
        assert_eq!(user_requests_pk(&e), "USER#ana@example.com#REQ");
        assert_eq!(user_grants_pk(&e), "USER#ana@example.com#GRANT");
        assert_eq!(target_pk(&e, AccessTarget::Org), "TARGET#ana@example.com#org");
        assert_eq!(target_pk(&e, AccessTarget::Project(ProjectId::new(7).unwrap())), "TARGET#ana@example.com#project:7");
    }

    #[test]
    fn active_grants_sort_expiring_first_then_permanent() {
        let g = GrantId::new();
        let expiring = active_sk(Some(t("2099-01-01T00:00:00Z")), t("2030-01-01T00:00:00Z"), g);
        let permanent = active_sk(None, t("2000-01-01T00:00:00Z"), g);
        assert!(expiring < permanent);
        assert!(active_expiring_from(t("2030-01-01T00:00:00Z")) < expiring);
    }

    #[test]
    fn expiry_buckets_are_hours() {
        assert_eq!(expiry_bucket_pk(t("2030-05-06T07:59:59.999Z")), "EXP#2030-05-06T07");
        assert_eq!(next_hour(t("2030-05-06T07:59:59.999Z")), t("2030-05-06T08:00:00Z"));
        assert_eq!(next_hour(t("2030-12-31T23:00:00Z")), t("2031-01-01T00:00:00Z"));
    }

    #[test]
    fn time_bounds_include_every_id_at_the_bound() {
        let at = t("2030-01-01T00:00:00.5Z");
        let key = time_id(at, &GrantId::new());
        assert!(time_floor(at) <= key && key <= time_ceiling(at));
    }

    #[test]
    fn audit_keys_sort_by_time_then_seq_and_months_by_name() {
        assert_eq!(seq(42), "00000000000000000042");
        assert!(seq(9) < seq(10));
        let at = t("2030-02-03T04:05:06Z");
        assert_eq!(audit_month_pk(&month(at)), "AUDIT#2030-02");
        assert_eq!(audit_entry_sk(at, 3), "2030-02-03T04:05:06.000000Z#00000000000000000003");
        assert_eq!(month_of_marker(&month_sk("2030-02")), Some("2030-02"));
        assert!(audit_entry_sk(at, 3) <= time_ceiling(at));
    }
}

// ---------------------------------------------------------------- bulk change sets

/// The partition of a change set: its header and all its items.
pub fn change_set_pk(id: RequestId) -> String {
    format!("CSET#{id}")
}

pub const CHANGE_SET_SK: &str = "SET";

/// Items sort by position; ten digits hold any `u32`.
pub fn change_item_sk(seq: u32) -> String {
    format!("ITEM#{seq:010}")
}

/// The first and last possible item sort keys, for a `BETWEEN`.
pub fn change_items_range() -> (String, String) {
    ("ITEM#".to_owned(), format!("ITEM#{HIGH}"))
}

/// GSI3 partition of a requester's change sets made from one text.
pub fn change_set_digest_pk(requester: &Email, digest: &str) -> String {
    format!("USER#{requester}#CSET#{digest}")
}

#[cfg(test)]
mod change_set_key_tests {
    use super::*;

    #[test]
    fn item_keys_sort_by_position_and_stay_inside_the_range() {
        assert!(change_item_sk(9) < change_item_sk(10));
        assert!(change_item_sk(10) < change_item_sk(u32::MAX));
        let (lo, hi) = change_items_range();
        assert!(lo < change_item_sk(0) && change_item_sk(u32::MAX) < hi);
        assert!(!(lo.as_str() <= CHANGE_SET_SK && CHANGE_SET_SK <= hi.as_str()), "the header is not an item");
    }
}

// ---------------------------------------------------------------- claims

/// The item of one claim; its key is the domain's (`CSET#<requester>#<digest>`,
/// `OFFBOARD#<subject>`), so claims never share a partition with records.
pub fn claim_pk(key: &str) -> String {
    format!("CLAIM#{key}")
}

pub const CLAIM_SK: &str = "CLAIM";

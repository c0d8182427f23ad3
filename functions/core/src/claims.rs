//! Claims: at most one live record per key, taken in the same atomic write that
//! stores the record. A read ("is there a live one?") cannot stop two callers at the
//! same moment; a claim can, because both writes name what they saw and only one of
//! them finds it still there.
//!
//! A claim names its holder (the id of the record it was written with). The domain
//! decides when a holder is finished (its request denied, expired, failed…); a caller
//! that saw a finished holder replaces the claim by naming that holder, so a second
//! caller that saw the same finished holder loses, exactly like a stale version.

use crate::types::{Email, RequestId};

/// A claim to write with a record, guarded like a version: `replaces` is the holder
/// the caller read (`None` = no claim must exist yet). The write fails with
/// [`crate::Error::Conflict`], writing nothing, when the stored holder differs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claim {
    pub key: String,
    /// The record written with the claim.
    pub holder: RequestId,
    pub replaces: Option<RequestId>,
}

/// The claim of a requester's change set made from one text (one live set per
/// requester and digest).
pub fn change_set_key(requester: &Email, digest: &str) -> String {
    format!("CSET#{requester}#{digest}")
}

/// The claim of a person's offboarding (one open offboarding per person).
pub fn offboarding_key(subject: &Email) -> String {
    format!("OFFBOARD#{subject}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_differ_by_kind_requester_and_digest() {
        let ana = Email::parse("ana@example.com").unwrap();
        let bo = Email::parse("bo@example.com").unwrap();
        assert_ne!(change_set_key(&ana, "sha256:aa"), change_set_key(&bo, "sha256:aa"));
        assert_ne!(change_set_key(&ana, "sha256:aa"), change_set_key(&ana, "sha256:bb"));
        assert_ne!(offboarding_key(&ana), offboarding_key(&bo));
        assert!(!change_set_key(&ana, "x").starts_with(&offboarding_key(&ana)));
    }
}

//! Keeping what the identity provider says about people (`crate::identity`): the
//! claims of each sign-in and of an admin's SSO sync, written only when they changed,
//! each write conditional on the version read. A change to what reviews use (the
//! manager, whether the person is active) is audited in the same write.

use crate::audit::{AuditDraft, AuditKind};
use crate::error::{Error, Result};
use crate::identity::{Identity, IdentitySource, review_relevant_change};
use crate::ports::Guarded;
use crate::reviews::ReviewCommit;
use crate::sso::Claims;
use crate::types::{Actor, Email};

use super::Hogwarden;

/// Attempts at a write that meets a concurrent one (two sign-ins at once).
const ATTEMPTS: usize = 3;

impl Hogwarden {
    /// Stores the person's claims if they differ from the stored ones; returns the
    /// record as it now stands.
    pub(crate) async fn record_identity(&self, email: &Email, claims: &Claims, source: IdentitySource) -> Result<Option<Identity>> {
        let reviews = self.store.reviews();
        for _ in 0..ATTEMPTS {
            let previous = reviews.get_identity(email).await?;
            let Some(next) = Identity::updated(previous.as_ref(), email, claims, source, self.clock.now()) else {
                return Ok(previous);
            };
            let guarded = match &previous {
                Some(p) => Guarded::update(next.clone(), p.version),
                None => Guarded::create(next.clone()),
            };
            let audit = review_relevant_change(previous.as_ref(), &next)
                .map(|details| AuditDraft {
                    at: next.updated_at,
                    actor: match source {
                        IdentitySource::SignIn => Actor::Person(email.clone()),
                        IdentitySource::Sync => Actor::System("sso-sync".into()),
                    },
                    kind: AuditKind::IdentityChanged,
                    subject: Some(email.clone()),
                    request_id: None,
                    grant_id: None,
                    details,
                })
                .into_iter()
                .collect();
            match reviews.commit_review(ReviewCommit { identities: vec![guarded], audit, ..ReviewCommit::default() }).await {
                Ok(_) => return Ok(Some(next)),
                Err(Error::Conflict(_)) => continue,
                Err(e) => return Err(e),
            }
        }
        Err(Error::Conflict(format!("{email}'s identity record kept changing while it was written; sign in again.")))
    }

    /// Stores each person's claims, logging (never failing on) a person that cannot be stored.
    pub(crate) async fn record_identities(&self, people: &[(&Email, &Claims)], source: IdentitySource) {
        for (email, claims) in people {
            if let Err(e) = self.record_identity(email, claims, source).await {
                tracing::warn!(person = %email, error = %e, "identity-provider claims not stored");
            }
        }
    }
}

//! [`DeliveryLog`] on SQLite: one row per webhook delivery (table `webhook_deliveries`,
//! schema step 8), `claimed` until handled and `done` after. A claim is one
//! `INSERT … ON CONFLICT DO UPDATE … WHERE` (insert if absent, or take over a claim that
//! lapsed), so two copies arriving at once cannot both claim it; a release deletes the
//! row only while it is still `claimed`.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use hogwarden_core::error::Result;
use hogwarden_core::webhooks::{CLAIM_LEASE_SECONDS, DeliveryClaim, DeliveryLog, Provider};
use rusqlite::OptionalExtension;

use crate::store::SqliteStore;

#[async_trait]
impl DeliveryLog for SqliteStore {
    async fn claim_delivery(&self, provider: Provider, replay_key: &str, now: DateTime<Utc>) -> Result<DeliveryClaim> {
        let (provider, id, at) = (provider.as_str().to_owned(), replay_key.to_owned(), now.to_rfc3339());
        let (claimed_at, lapsed_before) = (now.timestamp(), now.timestamp() - CLAIM_LEASE_SECONDS);
        let claim = self
            .run(move |conn| {
                let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
                let changed = tx.execute(
                    "INSERT INTO webhook_deliveries (provider, delivery_id, at, state, claimed_at) VALUES (?1, ?2, ?3, 'claimed', ?4)
                     ON CONFLICT (provider, delivery_id) DO UPDATE SET at = excluded.at, claimed_at = excluded.claimed_at
                     WHERE webhook_deliveries.state = 'claimed' AND webhook_deliveries.claimed_at < ?5",
                    rusqlite::params![provider, id, at, claimed_at, lapsed_before],
                )?;
                let claim = if changed == 1 {
                    DeliveryClaim::Claimed
                } else {
                    let state: Option<String> = tx
                        .query_row(
                            "SELECT state FROM webhook_deliveries WHERE provider = ?1 AND delivery_id = ?2",
                            rusqlite::params![provider, id],
                            |row| row.get(0),
                        )
                        .optional()?;
                    if state.as_deref() == Some("claimed") { DeliveryClaim::InProgress } else { DeliveryClaim::Done }
                };
                tx.commit()?;
                Ok(claim)
            })
            .await?;
        Ok(claim)
    }

    async fn finish_delivery(&self, provider: Provider, replay_key: &str, at: DateTime<Utc>) -> Result<()> {
        let (provider, id, at) = (provider.as_str().to_owned(), replay_key.to_owned(), at.to_rfc3339());
        self.run(move |conn| {
            // An upsert, so a claim that lapsed and was released by another handler in
            // the meantime still ends done: this handler did handle it.
            conn.execute(
                "INSERT INTO webhook_deliveries (provider, delivery_id, at, state) VALUES (?1, ?2, ?3, 'done')
                 ON CONFLICT (provider, delivery_id) DO UPDATE SET at = excluded.at, state = 'done', claimed_at = NULL",
                rusqlite::params![provider, id, at],
            )?;
            Ok(())
        })
        .await?;
        Ok(())
    }

    async fn release_delivery(&self, provider: Provider, replay_key: &str) -> Result<()> {
        let (provider, id) = (provider.as_str().to_owned(), replay_key.to_owned());
        self.run(move |conn| {
            conn.execute(
                "DELETE FROM webhook_deliveries WHERE provider = ?1 AND delivery_id = ?2 AND state = 'claimed'",
                rusqlite::params![provider, id],
            )?;
            Ok(())
        })
        .await?;
        Ok(())
    }
}

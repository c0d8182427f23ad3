//! [`DeliveryLog`] on SQLite: one row per webhook delivery, inserted only if absent
//! (`INSERT … ON CONFLICT DO NOTHING`), so a replayed delivery is refused even when two
//! arrive at once.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use hogwarden_core::error::Result;
use hogwarden_core::webhooks::{DeliveryLog, Provider};

use crate::store::SqliteStore;

const CREATE: &str = "CREATE TABLE IF NOT EXISTS webhook_deliveries (
    provider TEXT NOT NULL,
    delivery_id TEXT NOT NULL,
    at TEXT NOT NULL,
    PRIMARY KEY (provider, delivery_id)
)";

#[async_trait]
impl DeliveryLog for SqliteStore {
    async fn record_delivery(&self, provider: Provider, delivery_id: &str, at: DateTime<Utc>) -> Result<bool> {
        let (provider, id, at) = (provider.as_str().to_owned(), delivery_id.to_owned(), at.to_rfc3339());
        let inserted = self
            .run(move |conn| {
                conn.execute(CREATE, [])?;
                let n = conn.execute(
                    "INSERT INTO webhook_deliveries (provider, delivery_id, at) VALUES (?1, ?2, ?3) ON CONFLICT DO NOTHING",
                    rusqlite::params![provider, id, at],
                )?;
                Ok(n == 1)
            })
            .await?;
        Ok(inserted)
    }
}

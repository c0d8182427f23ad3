//! [`DeliveryLog`] on DynamoDB: one item per webhook delivery (`keys::delivery_pk`,
//! `SK = DELIVERY`), `claimed` until handled and `done` after. A claim is one `PutItem`
//! on `attribute_not_exists(PK)` or a claim that lapsed, so two copies arriving at once
//! cannot both claim it; a release deletes the item only while it is still `claimed`.
//! Items written before claims existed have no `state` and count as done. A `ttl`
//! attribute lets the table's TTL drop a record after 30 days.

use async_trait::async_trait;
use aws_sdk_dynamodb::operation::delete_item::DeleteItemError;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Utc};
use hogwarden_core::error::Result;
use hogwarden_core::webhooks::{CLAIM_LEASE_SECONDS, DeliveryClaim, DeliveryLog, Provider};

use crate::error::StoreError;
use crate::items::Item;
use crate::keys::{self, PK, SK};
use crate::store::DynamoStore;

const CLAIMED: &str = "claimed";
const DONE: &str = "done";

fn key(provider: Provider, replay_key: &str) -> Item {
    Item::from([
        (PK.to_owned(), AttributeValue::S(keys::delivery_pk(provider.as_str(), replay_key))),
        (SK.to_owned(), AttributeValue::S(keys::DELIVERY_SK.into())),
    ])
}

fn record(provider: Provider, replay_key: &str, at: DateTime<Utc>, state: &str) -> Item {
    let mut item = key(provider, replay_key);
    item.insert("at".into(), AttributeValue::S(at.to_rfc3339()));
    item.insert("state".into(), AttributeValue::S(state.into()));
    item.insert("ttl".into(), AttributeValue::N((at + chrono::Duration::days(30)).timestamp().to_string()));
    item
}

#[async_trait]
impl DeliveryLog for DynamoStore {
    async fn claim_delivery(&self, provider: Provider, replay_key: &str, now: DateTime<Utc>) -> Result<DeliveryClaim> {
        let mut item = record(provider, replay_key, now, CLAIMED);
        item.insert("claimed_at".into(), AttributeValue::N(now.timestamp().to_string()));
        let put = self
            .client()
            .put_item()
            .table_name(self.table())
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(PK) OR (#state = :claimed AND claimed_at < :lapsed)")
            .expression_attribute_names("#state", "state")
            .expression_attribute_values(":claimed", AttributeValue::S(CLAIMED.into()))
            .expression_attribute_values(":lapsed", AttributeValue::N((now.timestamp() - CLAIM_LEASE_SECONDS).to_string()))
            .send()
            .await;
        match put {
            Ok(_) => Ok(DeliveryClaim::Claimed),
            Err(e) if matches!(e.as_service_error(), Some(PutItemError::ConditionalCheckFailedException(_))) => {
                // Who holds it only picks the refusal's wording; an item released since
                // reads as in progress, and the sender's retry claims it.
                let held = self.get(key(provider, replay_key)).await?;
                let state = held.as_ref().map(|i| match i.get("state") {
                    Some(AttributeValue::S(s)) => s.as_str(),
                    _ => DONE,
                });
                Ok(if state == Some(DONE) { DeliveryClaim::Done } else { DeliveryClaim::InProgress })
            }
            Err(e) => Err(StoreError::dynamo("PutItem", e).into()),
        }
    }

    async fn finish_delivery(&self, provider: Provider, replay_key: &str, at: DateTime<Utc>) -> Result<()> {
        // Unconditional: whatever happened to the claim meanwhile, this handler handled it.
        self.client()
            .put_item()
            .table_name(self.table())
            .set_item(Some(record(provider, replay_key, at, DONE)))
            .send()
            .await
            .map_err(|e| StoreError::dynamo("PutItem", e))?;
        Ok(())
    }

    async fn release_delivery(&self, provider: Provider, replay_key: &str) -> Result<()> {
        let delete = self
            .client()
            .delete_item()
            .table_name(self.table())
            .set_key(Some(key(provider, replay_key)))
            .condition_expression("#state = :claimed")
            .expression_attribute_names("#state", "state")
            .expression_attribute_values(":claimed", AttributeValue::S(CLAIMED.into()))
            .send()
            .await;
        match delete {
            Ok(_) => Ok(()),
            Err(e) if matches!(e.as_service_error(), Some(DeleteItemError::ConditionalCheckFailedException(_))) => Ok(()),
            Err(e) => Err(StoreError::dynamo("DeleteItem", e).into()),
        }
    }
}

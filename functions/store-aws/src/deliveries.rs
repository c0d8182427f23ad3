//! [`DeliveryLog`] on DynamoDB: one item per webhook delivery
//! (`PK = WEBHOOK#<provider>#<delivery id>`, `SK = DELIVERY`), put with
//! `attribute_not_exists(PK)`, so a replayed delivery fails the condition even when two
//! arrive at once. A `ttl` attribute lets the table's TTL drop it after 30 days.

use async_trait::async_trait;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Utc};
use hogwarden_core::error::Result;
use hogwarden_core::webhooks::{DeliveryLog, Provider};

use crate::error::StoreError;
use crate::keys::{PK, SK};
use crate::store::DynamoStore;

#[async_trait]
impl DeliveryLog for DynamoStore {
    async fn record_delivery(&self, provider: Provider, delivery_id: &str, at: DateTime<Utc>) -> Result<bool> {
        let expires = (at + chrono::Duration::days(30)).timestamp();
        let put = self
            .client()
            .put_item()
            .table_name(self.table())
            .item(PK, AttributeValue::S(format!("WEBHOOK#{}#{delivery_id}", provider.as_str())))
            .item(SK, AttributeValue::S("DELIVERY".into()))
            .item("at", AttributeValue::S(at.to_rfc3339()))
            .item("ttl", AttributeValue::N(expires.to_string()))
            .condition_expression("attribute_not_exists(PK)")
            .send()
            .await;
        match put {
            Ok(_) => Ok(true),
            Err(e) if matches!(e.as_service_error(), Some(PutItemError::ConditionalCheckFailedException(_))) => Ok(false),
            Err(e) => Err(StoreError::dynamo("PutItem", e).into()),
        }
    }
}

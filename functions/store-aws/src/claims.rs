//! Claims (`hogwarden_core::claims`) on the single table: one item per key
//! (`CLAIM#<key>` / `CLAIM`, see [`crate::keys`]) naming its holder, put in the
//! record's `TransactWriteItems` with a condition on the holder the writer saw.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem};
use hogwarden_core::claims::Claim;
use hogwarden_core::types::RequestId;

use crate::error::StoreError;
use crate::items;
use crate::keys;
use crate::store::{DynamoStore, RecordGuard};

const HOLDER: &str = "holder";

/// The conditional `Put` of `claim` and the guard that names it when it fails.
pub(crate) fn put(table: &str, claim: &Claim) -> Result<(TransactWriteItem, RecordGuard), StoreError> {
    let item = HashMap::from([
        (keys::PK.to_owned(), AttributeValue::S(keys::claim_pk(&claim.key))),
        (keys::SK.to_owned(), AttributeValue::S(keys::CLAIM_SK.to_owned())),
        (HOLDER.to_owned(), AttributeValue::S(claim.holder.to_string())),
    ]);
    let put = Put::builder().table_name(table).set_item(Some(item));
    let put = match claim.replaces {
        None => put.condition_expression("attribute_not_exists(PK)"),
        Some(seen) => put
            .condition_expression("#holder = :seen")
            .expression_attribute_names("#holder", HOLDER)
            .expression_attribute_values(":seen", AttributeValue::S(seen.to_string())),
    };
    let write = TransactWriteItem::builder().put(put.build().map_err(|e| StoreError::dynamo("TransactWriteItems", e))?).build();
    let guard = RecordGuard { what: "claim", id: claim.key.clone(), expected: None };
    Ok((write, guard))
}

impl DynamoStore {
    pub(crate) async fn get_claim_holder(&self, key: &str) -> Result<Option<RequestId>, StoreError> {
        let Some(item) = self.get(items::key(keys::claim_pk(key), keys::CLAIM_SK)).await? else {
            return Ok(None);
        };
        let holder = items::string(&item, HOLDER, "claim")?;
        RequestId::parse(holder).map(Some).map_err(|e| StoreError::corrupt("claim", e))
    }
}

//! The store-aws suite's fixtures: fresh DynamoDB tables and a Secrets Manager
//! vault on the one moto_server that `moto-harness` starts for this test binary.

use std::sync::Arc;

use hogwarden_core::ports::Store;
use hogwarden_store_aws::{DynamoStore, SecretsManagerVault, create_table};
pub use moto_harness::{endpoint, sdk_config};

pub async fn dynamo_client() -> aws_sdk_dynamodb::Client {
    aws_sdk_dynamodb::Client::new(&sdk_config().await)
}

/// A store on a new uuid-named table.
pub async fn dynamo_store() -> DynamoStore {
    let client = dynamo_client().await;
    let table = format!("hogwarden-{}", uuid::Uuid::new_v4());
    create_table(&client, &table).await.unwrap_or_else(|e| panic!("creating table {table} on moto at {} failed: {e}", endpoint()));
    DynamoStore::new(client, table)
}

/// The conformance suite's constructor: a fresh store, nothing else to keep alive.
pub async fn fresh_store() -> (Arc<dyn Store>, ()) {
    (Arc::new(dynamo_store().await), ())
}

pub async fn vault() -> SecretsManagerVault {
    SecretsManagerVault::new(aws_sdk_secretsmanager::Client::new(&sdk_config().await))
}

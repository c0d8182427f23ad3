//! Hogwarden's AWS adapters: [`DynamoStore`], the `Store` port on one DynamoDB table
//! (layout in [`keys`]), and [`SecretsManagerVault`], the `Vault` port on AWS Secrets
//! Manager. Both map every SDK error into [`hogwarden_core::Error`] through [`error`].

mod alerts;
mod claims;
pub mod deliveries;
mod error;
mod items;
mod key_records;
pub mod keys;
mod offboard;
mod reviews;
mod store;
pub mod vault;

pub use error::StoreError;
pub use store::{DynamoStore, MAX_TRANSACTION_ITEMS, TableDefinition, create_table, table_definition};
pub use vault::SecretsManagerVault;

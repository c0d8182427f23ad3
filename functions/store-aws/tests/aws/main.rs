//! Integration tests of the AWS adapters against a real moto_server (started by
//! [`harness`]): the shared `Store` conformance suite, DynamoDB-specific behaviour
//! (guards, the chain under contention, the sweep's read cost) and the Secrets
//! Manager vault.

mod conformance;
mod dynamo;
mod harness;
mod vault;

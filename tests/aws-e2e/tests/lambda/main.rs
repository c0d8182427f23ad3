//! The Lambdas end to end on the AWS composition: real API Gateway and EventBridge
//! Scheduler event JSON through `Handler::handle`, DynamoDB and Secrets Manager on
//! moto, the PostHog sandbox behind.

mod bulk;
mod errors;
mod idempotency;
mod notifications;
mod reviews_and_keys;
mod reviews_removal;
mod rotation;
mod temporary_elevation;
mod token_rotation;

//! The keys Hogwarden holds (API Gateway HTTP API) and the service-key check and the guided project-token rotation check (EventBridge Scheduler, `{"task":"key_check"|"token_rotation_check",...}`).
//! Wiring only: everything it runs lives in hogwarden-lambda and hogwarden-api.

use hogwarden_lambda::{AwsStack, Config, Handler};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    hogwarden_lambda::init_tracing();
    let config = Config::from_env()?;
    let stack = AwsStack::builder(config).build().await?;
    hogwarden_lambda::run(Handler::key_rotation(&stack)).await
}

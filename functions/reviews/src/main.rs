//! Who has what, access review campaigns and drift (API Gateway HTTP API); the quarterly review, reviewer reminders and the drift check (EventBridge Scheduler `{"task":"quarterly_review"|"review_reminders"|"drift_check",...}`).
//! Wiring only: everything it runs lives in hogwarden-lambda and hogwarden-api.

use hogwarden_lambda::{AwsStack, Config, Handler};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    hogwarden_lambda::init_tracing();
    let config = Config::from_env()?;
    let stack = AwsStack::builder(config).build().await?;
    hogwarden_lambda::run(Handler::reviews(&stack)).await
}

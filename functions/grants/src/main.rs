//! Requests, approvals, the inbox, grants and the audit log (API Gateway HTTP API).
//! Wiring only: everything it runs lives in hogwarden-lambda and hogwarden-api.

use hogwarden_lambda::{AwsStack, Config, Handler};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    hogwarden_lambda::init_tracing();
    let config = Config::from_env()?;
    let stack = AwsStack::builder(config).build().await?;
    hogwarden_lambda::run(Handler::grants(&stack)).await
}

//! Lambda entry point: init logging, config and clients once, then route batches.

use event_router::{Config, Router};
use lambda_runtime::Error;
use shared::batch_runtime::{Init, init, serve};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    let Init {
        config,
        metrics,
        sdk,
    } = init("event-router", Config::from_env).await?;
    let router = Router::new(
        aws_sdk_kinesis::Client::new(&sdk),
        aws_sdk_sqs::Client::new(&sdk),
        &config,
    );
    serve(metrics, |event, deadline| router.handle(event, deadline)).await
}

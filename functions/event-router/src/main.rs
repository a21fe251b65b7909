//! Lambda entry point: init logging, config and clients once, then route batches.

use event_router::{Config, Router};
use lambda_runtime::Error;
use shared::batch_runtime::serve;
use shared::clients::{self, ClientSettings};
use shared::init::{Init, init};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    let Init {
        config,
        metrics,
        sdk,
    } = init(
        "event-router",
        ClientSettings::batch_consumer(),
        Config::from_env,
    )
    .await?;
    let router = Router::new(clients::kinesis(&sdk), clients::sqs(&sdk), &config);
    serve(metrics, |event, deadline| router.handle(event, deadline)).await
}

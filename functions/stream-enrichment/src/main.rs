//! Lambda entry point: init logging, config and clients once, then enrich batches.

use shared::clients;
use stream_enrichment::{Config, enricher};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    shared::keyed_state::run("stream-enrichment", Config::from_env, |sdk, config| {
        enricher(
            clients::dynamodb(sdk),
            clients::kinesis(sdk),
            clients::sqs(sdk),
            config,
        )
    })
    .await
}

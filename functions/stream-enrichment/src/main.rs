//! Lambda entry point: init logging, config and clients once, then enrich batches.

use lambda_runtime::Error;
use shared::clients::{self, ClientSettings};
use shared::config::Env;
use stream_enrichment::{Config, Enricher};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    shared::telemetry::init();
    let env = Env::process();
    let config = Config::from_env(&env)?;
    let function_name: String =
        env.or_default("AWS_LAMBDA_FUNCTION_NAME", "stream-enrichment".to_owned())?;
    let metrics = shared::metrics::init(&function_name)?;
    let sdk = clients::load(ClientSettings::batch_consumer()).await;
    let enricher = Enricher::new(
        clients::dynamodb(&sdk),
        aws_sdk_kinesis::Client::new(&sdk),
        aws_sdk_sqs::Client::new(&sdk),
        &config,
    );
    shared::batch_runtime::serve(metrics, |event, deadline| enricher.handle(event, deadline)).await
}

//! Lambda entry point: init logging, config and clients once, then apply batches.

use feature_updates::{Config, FeatureUpdater};
use lambda_runtime::Error;
use shared::clients::{self, ClientSettings};
use shared::config::Env;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    shared::telemetry::init();
    let env = Env::process();
    let config = Config::from_env(&env)?;
    let function_name: String =
        env.or_default("AWS_LAMBDA_FUNCTION_NAME", "feature-updates".to_owned())?;
    let metrics = shared::metrics::init(&function_name)?;
    let sdk = clients::load(ClientSettings::batch_consumer()).await;
    let updater = FeatureUpdater::new(
        clients::dynamodb(&sdk),
        aws_sdk_sqs::Client::new(&sdk),
        &config,
    );
    shared::batch_runtime::serve(metrics, |event, deadline| updater.handle(event, deadline)).await
}

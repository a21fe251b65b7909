//! Lambda entry point: init logging, config and clients once, then apply batches.

use feature_updates::{Config, feature_updater};
use shared::clients;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    shared::keyed_state::run("feature-updates", Config::from_env, |sdk, config| {
        feature_updater(clients::dynamodb(sdk), clients::sqs(sdk), config)
    })
    .await
}

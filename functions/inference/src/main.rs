//! Lambda entry point: init logging, config, clients and metrics once, then serve requests.

use inference::endpoint::ModelEndpoint;
use inference::features::FeatureStore;
use inference::record::RecordSink;
use inference::{App, Config};
use lambda_http::{Error, service_fn};
use shared::clients::{self, ClientSettings};
use shared::init::{Init, init};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    let Init {
        config,
        metrics,
        sdk,
    } = init("inference", ClientSettings::http_api(), Config::from_env).await?;
    let app = App {
        features: FeatureStore::new(clients::dynamodb(&sdk), config.features_table.clone())
            .with_consistent_read(config.consistent_read),
        endpoint: ModelEndpoint::new(
            clients::sagemaker_runtime(&sdk, config.model_client_settings()),
            config.endpoint_name.clone(),
            config.row_format,
            config.spec_version,
        ),
        config,
        records: RecordSink::Stdout,
    };
    let app = &app;
    lambda_http::run(service_fn(move |request| async move {
        let response = shared::http::measured(Some(metrics), inference::handle(app, request)).await;
        Ok::<_, std::convert::Infallible>(response)
    }))
    .await
}

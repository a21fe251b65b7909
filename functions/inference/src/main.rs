//! Lambda entry point: init logging, config, clients and metrics once, then serve requests.

use inference::endpoint::ModelEndpoint;
use inference::features::FeatureStore;
use inference::record::RecordSink;
use inference::{App, Config};
use lambda_http::{Error, service_fn};
use shared::clients::{self, ClientSettings};
use shared::config::Env;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    shared::telemetry::init();
    let config = Config::from_env(&Env::process())?;
    let sdk = clients::load(ClientSettings::http_api()).await;
    let model_settings = config.model_client_settings();
    let sagemaker = aws_sdk_sagemakerruntime::Client::from_conf(
        aws_sdk_sagemakerruntime::config::Builder::from(&sdk)
            .timeout_config(model_settings.timeout_config())
            .retry_config(model_settings.retry_config())
            .build(),
    );
    let metrics = shared::metrics::init(&config.function_name)?;
    let app = App {
        features: FeatureStore::new(clients::dynamodb(&sdk), config.features_table.clone()),
        endpoint: ModelEndpoint::new(sagemaker, config.endpoint_name.clone(), config.row_format),
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

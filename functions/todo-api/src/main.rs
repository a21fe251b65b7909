//! Lambda entry point: init logging, config, clients and metrics once, then serve requests.

use lambda_http::{Error, service_fn};
use shared::clients::{self, ClientSettings};
use shared::config::Env;
use todo_api::{App, Config};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    shared::telemetry::init();
    let config = Config::from_env(&Env::process())?;
    let sdk = clients::load(ClientSettings::http_api()).await;
    let metrics = shared::metrics::init(&config.function_name)?;
    let app = App::new(clients::dynamodb(&sdk), &config);
    let app = &app;
    lambda_http::run(service_fn(move |request| async move {
        let response = shared::http::measured(Some(metrics), todo_api::handle(app, request)).await;
        Ok::<_, std::convert::Infallible>(response)
    }))
    .await
}

//! Lambda entry point: init logging, config, clients and metrics once, then serve requests.

use lambda_http::{Error, service_fn};
use shared::clients::{self, ClientSettings};
use shared::init::{Init, init};
use todo_api::{App, Config};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    let Init {
        config,
        metrics,
        sdk,
    } = init("todo-api", ClientSettings::http_api(), Config::from_env).await?;
    let app = App::new(clients::dynamodb(&sdk), &config);
    let app = &app;
    lambda_http::run(service_fn(move |request| async move {
        let response = shared::http::measured(Some(metrics), todo_api::handle(app, request)).await;
        Ok::<_, std::convert::Infallible>(response)
    }))
    .await
}

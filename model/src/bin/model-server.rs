//! The model server. SageMaker starts the container as `<image> serve`; locally it runs with
//! `MODEL_DIR=model/artifacts`.

use std::process::ExitCode;
use std::sync::Arc;

use model::Model;
use model::server::{self, ServerState};
use model::settings::ServerSettings;
use shared::config::Env;

fn main() -> ExitCode {
    shared::telemetry::init();
    let arguments: Vec<String> = std::env::args().skip(1).collect();
    if !(arguments.is_empty() || arguments == ["serve"]) {
        eprintln!("model-server: unexpected arguments {arguments:?}; the only one is `serve`");
        return ExitCode::from(2);
    }
    let settings = match ServerSettings::from_env(&Env::process()) {
        Ok(settings) => settings,
        Err(error) => {
            eprintln!("model-server: {error}");
            return ExitCode::from(2);
        }
    };
    // The model is loaded before the port opens, so a 200 from /ping means it can score.
    let model = match Model::load(&settings.model_dir) {
        Ok(model) => model,
        Err(error) => {
            eprintln!("model-server: {error}");
            return ExitCode::from(1);
        }
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    runtime.block_on(async move {
        let listener = match tokio::net::TcpListener::bind((settings.address, settings.port)).await
        {
            Ok(listener) => listener,
            Err(error) => {
                eprintln!(
                    "model-server: cannot listen on {}:{}: {error}",
                    settings.address, settings.port
                );
                return ExitCode::from(1);
            }
        };
        tracing::info!(
            model_version = %model.version,
            feature_spec_version = model.feature_spec_version,
            address = %listener.local_addr().map(|a| a.to_string()).unwrap_or_default(),
            "model server listening"
        );
        let state = Arc::new(ServerState {
            model: Arc::new(model),
            endpoint_name: settings.endpoint_name,
        });
        let mut terminate =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
                .expect("a SIGTERM handler");
        // SageMaker stops a container with SIGTERM.
        tokio::select! {
            () = server::serve(listener, state) => {}
            _ = terminate.recv() => {}
            _ = tokio::signal::ctrl_c() => {}
        }
        tracing::info!("model server stopping");
        ExitCode::SUCCESS
    })
}

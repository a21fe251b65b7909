//! The model endpoint: the model server binary (model/) on a free loopback port, serving the
//! checked-in model under the endpoint's deployed name, as SageMaker would host its image.
//! Functions reach it through `AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME`.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tokio::process::{Child, Command};

use crate::child::{ServiceError, start_service};
use crate::logs::LogSink;

/// The server loads a 5 KB model; it answers /ping well within this.
const START_TIMEOUT: Duration = Duration::from_secs(20);

#[derive(Debug, thiserror::Error)]
pub enum ModelEndpointError {
    #[error("the model server: {0} (tools/stack.sh builds it with `-p model`)")]
    Start(#[from] ServiceError),
    #[error("no free loopback port: {0}")]
    Port(std::io::Error),
    #[error(
        "the manifest defines {0} model endpoints; the local stack serves one (the SDK takes one AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME)"
    )]
    TooMany(usize),
}

/// Where the server binary and the model are.
#[derive(Debug, Clone)]
pub struct ModelServerSettings {
    pub binary: PathBuf,
    /// The folder holding `model.json`.
    pub model_dir: PathBuf,
}

pub struct ModelEndpoint {
    /// What `AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME` is set to.
    pub url: String,
    pub name: String,
    child: Child,
}

impl ModelEndpoint {
    /// Starts the server for the endpoint deployed as `name` and waits for its `/ping`.
    pub async fn start(
        settings: &ModelServerSettings,
        name: &str,
        logs: &Arc<LogSink>,
    ) -> Result<Self, ModelEndpointError> {
        let port = crate::moto::free_port().map_err(ModelEndpointError::Port)?;
        let mut command = Command::new(&settings.binary);
        command
            .arg("serve")
            .env("MODEL_DIR", absolute(&settings.model_dir))
            .env("BIND_ADDRESS", "127.0.0.1")
            .env("SAGEMAKER_BIND_TO_PORT", port.to_string())
            .env("ENDPOINT_NAME", name);
        let url = format!("http://127.0.0.1:{port}");
        let child = start_service(
            "model-server",
            command,
            &format!("{url}/ping"),
            START_TIMEOUT,
            logs,
        )
        .await?;
        logs.line("model-server", &format!("endpoint {name} served on {url}"));
        Ok(Self {
            url,
            name: name.to_owned(),
            child,
        })
    }

    pub async fn stop(mut self) {
        let _ = self.child.start_kill();
        let _ = self.child.wait().await;
    }
}

fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_owned())
}

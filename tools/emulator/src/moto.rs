//! The AWS emulator: a moto server the stack starts on a free loopback port (and stops), or an
//! emulator already running at a given endpoint. moto starts through [`LAUNCHER`], which corrects
//! its Kinesis resharding (see `tools/emulator/moto_server.py`).

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use hyper::Method;
use tokio::process::{Child, Command};

use crate::child::ServiceError;

use crate::http_client::HttpClient;
use crate::logs::LogSink;

/// `tools/emulator/moto_server.py`: moto's server with the project's emulator fixes, run with
/// `python -c` so that a built binary needs only the Python environment that holds moto.
pub const LAUNCHER: &str = include_str!("../moto_server.py");

/// moto starts in one to three seconds; a slow machine gets generous room.
const START_TIMEOUT: Duration = Duration::from_secs(60);

#[derive(Debug, thiserror::Error)]
pub enum EmulatorError {
    #[error("{0} (tools/stack.sh installs the emulator into .venv)")]
    Start(#[from] ServiceError),
    #[error("no free loopback port: {0}")]
    Port(std::io::Error),
    #[error("no emulator answers at {endpoint}: {message}")]
    Unreachable { endpoint: String, message: String },
}

pub struct Emulator {
    pub endpoint: String,
    child: Option<Child>,
}

impl Emulator {
    /// Starts moto's server through [`LAUNCHER`] with `python` (the one moto is installed in)
    /// on a free loopback port and waits until it answers.
    pub async fn start(python: &Path, logs: &Arc<LogSink>) -> Result<Self, EmulatorError> {
        let port = free_port().map_err(EmulatorError::Port)?;
        let mut command = Command::new(python);
        command.args(["-c", LAUNCHER, "-H", "127.0.0.1", "-p", &port.to_string()]);
        let endpoint = format!("http://127.0.0.1:{port}");
        let probe = format!("{endpoint}/moto-api/");
        let child =
            crate::child::start_service("emulator", command, &probe, START_TIMEOUT, logs).await?;
        logs.line("emulator", &format!("moto server ready on {endpoint}"));
        Ok(Self {
            endpoint,
            child: Some(child),
        })
    }

    /// An emulator someone else runs (and stops); it only has to accept connections.
    pub async fn existing(endpoint: &str) -> Result<Self, EmulatorError> {
        let client = HttpClient::new(Duration::from_secs(5));
        client
            .send(Method::GET, endpoint, &[], None)
            .await
            .map_err(|error| EmulatorError::Unreachable {
                endpoint: endpoint.to_owned(),
                message: error.to_string(),
            })?;
        Ok(Self {
            endpoint: endpoint.trim_end_matches('/').to_owned(),
            child: None,
        })
    }

    /// Stops the emulator if this stack started it.
    pub async fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.start_kill();
            let _ = child.wait().await;
        }
    }
}

/// A loopback port free right now (the OS picks it; the caller binds it next).
pub fn free_port() -> std::io::Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(listener.local_addr()?.port())
}

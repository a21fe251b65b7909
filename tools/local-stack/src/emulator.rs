//! The AWS emulator: a moto server the stack starts on a free loopback port (and stops), or an
//! emulator already running at a given endpoint.

use std::path::Path;
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use hyper::Method;
use tokio::process::{Child, Command};

use crate::http_client::HttpClient;
use crate::logs::LogSink;

/// moto starts in one to three seconds; a slow machine gets generous room.
const START_TIMEOUT: Duration = Duration::from_secs(60);

#[derive(Debug, thiserror::Error)]
pub enum EmulatorError {
    #[error("cannot start the emulator {path}: {source} (tools/stack.sh installs it into .venv)")]
    Spawn {
        path: String,
        source: std::io::Error,
    },
    #[error("no free loopback port: {0}")]
    Port(std::io::Error),
    #[error("the emulator exited during start-up ({status}); its log:\n{log}")]
    Exited { status: String, log: String },
    #[error("the emulator did not answer at {endpoint} within {waited:?}")]
    NotReady { endpoint: String, waited: Duration },
    #[error("no emulator answers at {endpoint}: {message}")]
    Unreachable { endpoint: String, message: String },
}

pub struct Emulator {
    pub endpoint: String,
    child: Option<Child>,
}

impl Emulator {
    /// Starts `moto_server` on a free loopback port and waits until it answers.
    pub async fn start(moto_server: &Path, logs: &Arc<LogSink>) -> Result<Self, EmulatorError> {
        let port = free_port().map_err(EmulatorError::Port)?;
        let mut command = Command::new(moto_server);
        crate::child::owned_by_stack(&mut command);
        let mut child = command
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|source| EmulatorError::Spawn {
                path: moto_server.display().to_string(),
                source,
            })?;
        if let Some(out) = child.stdout.take() {
            logs.follow("emulator".into(), out);
        }
        if let Some(err) = child.stderr.take() {
            logs.follow("emulator".into(), err);
        }
        let endpoint = format!("http://127.0.0.1:{port}");
        let client = HttpClient::new(Duration::from_secs(2));
        let started = tokio::time::Instant::now();
        loop {
            if let Some(status) = child.try_wait().ok().flatten() {
                tokio::time::sleep(Duration::from_millis(100)).await;
                return Err(EmulatorError::Exited {
                    status: status.to_string(),
                    log: logs.tail(20),
                });
            }
            let probe = client
                .send(Method::GET, &format!("{endpoint}/moto-api/"), &[], None)
                .await;
            if probe.is_ok_and(|response| response.status.is_success()) {
                break;
            }
            if started.elapsed() > START_TIMEOUT {
                return Err(EmulatorError::NotReady {
                    endpoint,
                    waited: started.elapsed(),
                });
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
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

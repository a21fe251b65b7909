//! How the stack starts its child processes (the emulator, the model server, the function
//! environments).

use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use hyper::Method;
use tokio::process::{Child, Command};

use crate::http_client::HttpClient;
use crate::logs::LogSink;

/// Why a service process did not come up.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error("cannot start {program}: {source}")]
    Spawn {
        program: String,
        source: std::io::Error,
    },
    #[error("{component} exited during start-up ({status}); its log:\n{log}")]
    Exited {
        component: String,
        status: String,
        log: String,
    },
    #[error("{component} did not answer at {probe} within {waited:?}")]
    NotReady {
        component: String,
        probe: String,
        waited: Duration,
    },
}

/// Starts `command` as `component` (its output into the stack's log) and waits until `GET
/// probe` answers 2xx, or the process exits, or `timeout` passes.
pub async fn start_service(
    component: &str,
    mut command: Command,
    probe: &str,
    timeout: Duration,
    logs: &Arc<LogSink>,
) -> Result<Child, ServiceError> {
    owned_by_stack(&mut command);
    let program = command
        .as_std()
        .get_program()
        .to_string_lossy()
        .into_owned();
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|source| ServiceError::Spawn { program, source })?;
    if let Some(out) = child.stdout.take() {
        logs.follow(component.into(), out);
    }
    if let Some(err) = child.stderr.take() {
        logs.follow(component.into(), err);
    }
    let client = HttpClient::new(Duration::from_secs(2));
    let started = tokio::time::Instant::now();
    loop {
        if let Some(status) = child.try_wait().ok().flatten() {
            tokio::time::sleep(Duration::from_millis(100)).await;
            return Err(ServiceError::Exited {
                component: component.into(),
                status: status.to_string(),
                log: logs.tail(20),
            });
        }
        let answer = client.send(Method::GET, probe, &[], None).await;
        if answer.is_ok_and(|response| response.status.is_success()) {
            return Ok(child);
        }
        if started.elapsed() > timeout {
            return Err(ServiceError::NotReady {
                component: component.into(),
                probe: probe.into(),
                waited: started.elapsed(),
            });
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Makes `command`'s process belong to the stack alone: in its own process group, so a Ctrl-C
/// at the terminal reaches only the stack, which then stops its children in order; and, on
/// Linux, killed by the kernel if the stack itself dies without cleaning up.
pub fn owned_by_stack(command: &mut Command) -> &mut Command {
    command.process_group(0).kill_on_drop(true);
    dies_with_parent_thread(command.as_std_mut());
    command
}

/// On Linux, has the kernel kill `command`'s process when the thread that spawns it ends (the
/// parent-death signal follows the spawning thread, not the process).
fn dies_with_parent_thread(command: &mut std::process::Command) {
    #[cfg(target_os = "linux")]
    // SAFETY: prctl is async-signal-safe and touches only the child's own state.
    unsafe {
        use std::os::unix::process::CommandExt;
        command.pre_exec(|| {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) == -1 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

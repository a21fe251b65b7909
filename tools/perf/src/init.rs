//! Init: from starting the function's process to its first poll for work, with every client
//! built (what Lambda bills as the init phase and a cold start's first cost), and the CPU the
//! process used to get there (user + system, from the kernel's accounting at exit).

use std::fs::File;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::stats::Summary;
use crate::stub_runtime::{StubError, StubRuntime};

/// Lambda's limit on init.
pub const INIT_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct InitSample {
    pub wall_ms: f64,
    pub cpu_ms: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct InitSummary {
    pub runs: usize,
    pub wall_ms: Summary,
    pub cpu_ms: Summary,
}

impl InitSummary {
    pub fn of(samples: &[InitSample]) -> Option<Self> {
        let wall: Vec<f64> = samples.iter().map(|s| s.wall_ms).collect();
        let cpu: Vec<f64> = samples.iter().map(|s| s.cpu_ms).collect();
        Some(Self {
            runs: samples.len(),
            wall_ms: Summary::of(&wall)?,
            cpu_ms: Summary::of(&cpu)?,
        })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum InitError {
    #[error("{binary}: cannot start: {source}")]
    Spawn {
        binary: String,
        source: std::io::Error,
    },
    #[error("{binary}: {source} (its output: {log})")]
    NoPoll {
        binary: String,
        source: StubError,
        log: String,
    },
    #[error("{binary}: waiting for the process: {source}")]
    Wait {
        binary: String,
        source: std::io::Error,
    },
}

/// Starts `binary` once with `environment` (and nothing else) against a fresh stub Runtime
/// API, waits for its first poll, stops it and reads its CPU time. Its output goes to `log`.
pub fn measure_once(
    binary: &Path,
    environment: impl Fn(&str) -> Vec<(String, String)>,
    log: &Path,
) -> Result<InitSample, InitError> {
    let name = binary.display().to_string();
    let stub = StubRuntime::bind().map_err(|source| InitError::NoPoll {
        binary: name.clone(),
        source,
        log: String::new(),
    })?;
    let output = File::create(log).map_err(|source| InitError::Spawn {
        binary: name.clone(),
        source,
    })?;
    let errors = output.try_clone().map_err(|source| InitError::Spawn {
        binary: name.clone(),
        source,
    })?;
    let mut command = Command::new(binary);
    command
        .env_clear()
        .envs(environment(&stub.address()))
        .stdin(Stdio::null())
        .stdout(output)
        .stderr(errors)
        // Its own process group, so stopping it cannot reach this process.
        .process_group(0);
    let started = Instant::now();
    let child = command.spawn().map_err(|source| InitError::Spawn {
        binary: name.clone(),
        source,
    })?;
    let pid = child.id() as libc::pid_t;
    let polled = stub.wait_for_first_poll(INIT_TIMEOUT);
    // SAFETY: signalling the child this function started and has not reaped yet.
    unsafe { libc::kill(pid, libc::SIGKILL) };
    let cpu = reap(pid).map_err(|source| InitError::Wait {
        binary: name.clone(),
        source,
    })?;
    let poll = polled.map_err(|source| InitError::NoPoll {
        binary: name.clone(),
        source,
        log: std::fs::read_to_string(log).unwrap_or_default(),
    })?;
    Ok(InitSample {
        wall_ms: poll.at.duration_since(started).as_secs_f64() * 1_000.0,
        cpu_ms: cpu.as_secs_f64() * 1_000.0,
    })
}

/// Waits for the child and returns the user + system CPU it used in all.
fn reap(pid: libc::pid_t) -> std::io::Result<Duration> {
    let mut status = 0;
    // SAFETY: rusage is plain data the kernel fills in; pid is our unreaped child.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let reaped = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    if reaped != pid {
        return Err(std::io::Error::last_os_error());
    }
    let time = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1_000);
    Ok(time(usage.ru_utime) + time(usage.ru_stime))
}

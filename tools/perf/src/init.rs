//! Init: from starting the function's process to its first poll for work, with every client
//! built (what Lambda bills as the init phase and a cold start's first cost), and the CPU the
//! process used to get there (user + system, from the kernel's accounting at exit).

use std::fs::File;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde::Serialize;

use emulator::functions::FunctionSettings;

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

/// A started function process, in its own process group, output to a log.
struct Started {
    pid: libc::pid_t,
    at: Instant,
}

fn start(settings: &FunctionSettings, runtime_api: &str, log: &Path) -> Result<Started, InitError> {
    let spawn_error = |source| InitError::Spawn {
        binary: settings.binary.display().to_string(),
        source,
    };
    let output = File::create(log).map_err(spawn_error)?;
    let errors = output.try_clone().map_err(spawn_error)?;
    let mut command = Command::new(&settings.binary);
    command
        .env_clear()
        .envs(settings.process_environment(runtime_api, 0, 0))
        .stdin(Stdio::null())
        .stdout(output)
        .stderr(errors)
        // Its own process group, so stopping it cannot reach this process.
        .process_group(0);
    let at = Instant::now();
    let child = command.spawn().map_err(spawn_error)?;
    Ok(Started {
        pid: child.id() as libc::pid_t,
        at,
    })
}

impl Started {
    /// Kills the process and returns the CPU it used in all.
    fn stop(self, binary: &Path) -> Result<Duration, InitError> {
        // SAFETY: signalling the child this module started and has not reaped yet.
        unsafe { libc::kill(self.pid, libc::SIGKILL) };
        reap(self.pid).map_err(|source| InitError::Wait {
            binary: binary.display().to_string(),
            source,
        })
    }
}

fn no_poll(binary: &Path, source: StubError, log: &Path) -> InitError {
    InitError::NoPoll {
        binary: binary.display().to_string(),
        source,
        log: std::fs::read_to_string(log).unwrap_or_default(),
    }
}

/// Starts the function once, with its environment and nothing else, against a fresh stub
/// Runtime API, waits for its first poll, stops it and reads its CPU time. Its output goes to
/// `log`.
pub fn measure_once(settings: &FunctionSettings, log: &Path) -> Result<InitSample, InitError> {
    let binary = &settings.binary;
    let stub = StubRuntime::bind().map_err(|source| no_poll(binary, source, log))?;
    let started = start(settings, &stub.address(), log)?;
    let began = started.at;
    let polled = stub.wait_for_first_poll(INIT_TIMEOUT);
    let cpu = started.stop(binary)?;
    let poll = polled.map_err(|source| no_poll(binary, source, log))?;
    Ok(InitSample {
        wall_ms: poll.at.duration_since(began).as_secs_f64() * 1_000.0,
        cpu_ms: cpu.as_secs_f64() * 1_000.0,
    })
}

/// Like [`measure_once`], then hands the function `payload` as its first invocation and
/// stops it once it has answered: init plus a first event, the cold path. An error answer
/// (`/invocation/<id>/error`), or one `accept` refuses (an HTTP 503, say), fails the
/// measurement, with the function's output.
pub fn measure_cold(
    settings: &FunctionSettings,
    log: &Path,
    payload: &[u8],
    accept: impl Fn(&[u8]) -> Result<(), String>,
) -> Result<InitSample, InitError> {
    let binary = &settings.binary;
    let function_arn = format!(
        "arn:aws:lambda:{}:000000000000:function:{}",
        settings.region, settings.deployed_name
    );
    let stub = StubRuntime::bind().map_err(|source| no_poll(binary, source, log))?;
    let started = start(settings, &stub.address(), log)?;
    let began = started.at;
    let answered = stub
        .wait_for_first_poll(INIT_TIMEOUT)
        .and_then(|poll| stub.invoke_once(poll, payload, &function_arn, INIT_TIMEOUT));
    let cpu = started.stop(binary)?;
    let (at, responded, body) = answered.map_err(|source| no_poll(binary, source, log))?;
    let verdict = if responded {
        accept(&body)
    } else {
        Err(format!(
            "the first invocation failed: {}",
            String::from_utf8_lossy(&body)
        ))
    };
    if let Err(reason) = verdict {
        return Err(no_poll(binary, StubError::Unexpected(reason), log));
    }
    Ok(InitSample {
        wall_ms: at.duration_since(began).as_secs_f64() * 1_000.0,
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

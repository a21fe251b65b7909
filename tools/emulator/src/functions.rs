//! Runs each function as its real Lambda binary: a pool of execution environments (processes)
//! per function, each with its own Runtime API, fed from one queue of invocations.
//!
//! As in Lambda: an environment handles one invocation at a time; the process gets a clean
//! environment with only Lambda's variables and the function's configured ones; an invocation
//! that outlives the function's timeout fails and its process is replaced; a crashed process is
//! replaced too. Init must finish (the first poll for work) within Lambda's 10 s init limit.
//!
//! Which environment takes an invocation is Lambda's choice, and it promises none. Here the
//! free environments take the queue in turn, so a stream shard's batches (one at a time) go to
//! each environment alternately; [`FunctionPool::pin`] makes one instance take every
//! invocation instead, as Lambda mostly does for one shard at concurrency 1, and moving the pin
//! moves the shard to another environment.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tokio::process::Command;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;

use stack::FunctionSpec;

use crate::logs::LogSink;
use crate::resources::Resources;
use crate::runtime_api::{self, Environment, Invocation, Outcome, Placement, Queue};

/// Lambda's limit on the init phase.
pub const INIT_TIMEOUT: Duration = Duration::from_secs(10);

/// Everything needed to run one function.
#[derive(Debug, Clone)]
pub struct FunctionSettings {
    /// The manifest key, e.g. `todo-api` (also the binary's name).
    pub key: String,
    /// The function name as deployed, e.g. `local-todo-api`.
    pub deployed_name: String,
    pub binary: PathBuf,
    /// The function's configured variables plus the SDK's endpoint, region and credentials.
    pub environment: Vec<(String, String)>,
    pub memory_mb: u32,
    pub timeout: Duration,
    pub log_format: &'static str,
    pub region: String,
    pub instances: usize,
}

impl FunctionSettings {
    /// Function `key` of the manifest as deployed under `resources`' prefix, with its binary in
    /// `functions_dir` and `environment` (its configured variables plus any SDK settings).
    pub fn from_manifest(
        key: &str,
        spec: &FunctionSpec,
        resources: &Resources,
        functions_dir: &Path,
        environment: Vec<(String, String)>,
        region: &str,
        instances: usize,
    ) -> Self {
        Self {
            key: key.to_owned(),
            deployed_name: resources.functions[key].clone(),
            binary: functions_dir.join(key),
            environment,
            memory_mb: spec.memory_mb,
            timeout: Duration::from_secs(spec.timeout_seconds.into()),
            log_format: spec.log_format.as_env_value(),
            region: region.to_owned(),
            instances,
        }
    }

    /// Everything a process of this function gets, and nothing else: Lambda's variables for
    /// a custom runtime and the function's own.
    pub fn process_environment(
        &self,
        runtime_api: &str,
        instance: usize,
        generation: u64,
    ) -> Vec<(String, String)> {
        let mut variables = lambda_variables(self, runtime_api, instance, generation);
        variables.extend(self.environment.iter().cloned());
        variables
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("{function}: no binary at {path}; build it with `cargo build -p {function}`")]
    MissingBinary { function: String, path: String },
    #[error("{function}: init failed: {reason}\nlast log lines:\n{log}")]
    InitFailed {
        function: String,
        reason: String,
        log: String,
    },
    #[error("{function}: init did not finish within {INIT_TIMEOUT:?}\nlast log lines:\n{log}")]
    InitTimedOut { function: String, log: String },
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvokeError {
    #[error("the function is not running")]
    Stopped,
    #[error("the function failed ({error_type}): {body}")]
    FunctionError { error_type: String, body: String },
    #[error("the function timed out after {0:?}")]
    TimedOut(Duration),
    #[error("the function's process ended during the invocation: {0}")]
    Crashed(String),
}

/// The current environment of each instance, by instance number.
type Environments = Arc<std::sync::Mutex<BTreeMap<usize, Arc<Environment>>>>;

pub struct FunctionPool {
    key: String,
    instances: usize,
    /// What each environment is started with; changed by [`FunctionPool::update_environment`].
    settings: watch::Sender<Arc<FunctionSettings>>,
    queue: mpsc::Sender<Invocation>,
    environments: Environments,
    /// Which instance may take invocations (`None`: any).
    placement: watch::Sender<Option<usize>>,
    shutdown: watch::Sender<bool>,
    supervisors: std::sync::Mutex<Vec<JoinHandle<()>>>,
}

impl FunctionPool {
    /// Starts `settings.instances` environments and waits until each has finished init.
    pub async fn start(settings: FunctionSettings, logs: Arc<LogSink>) -> Result<Self, StartError> {
        if !settings.binary.is_file() {
            return Err(StartError::MissingBinary {
                function: settings.key.clone(),
                path: settings.binary.display().to_string(),
            });
        }
        let (sender, receiver) = mpsc::channel(1024);
        let queue: Queue = Arc::new(tokio::sync::Mutex::new(receiver));
        let (shutdown, shutdown_signal) = watch::channel(false);
        let placement = watch::Sender::new(None);
        let settings = Arc::new(settings);
        let (configuration, configured) = watch::channel(Arc::clone(&settings));
        let environments = Environments::default();
        let mut supervisors = Vec::new();
        let mut readiness = Vec::new();
        for instance in 1..=settings.instances.max(1) {
            let (ready, ready_signal) = oneshot::channel();
            readiness.push(ready_signal);
            supervisors.push(tokio::spawn(supervise(
                configured.clone(),
                instance,
                Arc::clone(&queue),
                placement.subscribe(),
                Arc::clone(&environments),
                Arc::clone(&logs),
                shutdown_signal.clone(),
                ready,
            )));
        }
        let pool = Self {
            key: settings.key.clone(),
            instances: settings.instances.max(1),
            settings: configuration,
            queue: sender,
            environments,
            placement,
            shutdown,
            supervisors: std::sync::Mutex::new(supervisors),
        };
        // One init limit for all environments, which start side by side.
        let init_deadline = tokio::time::Instant::now() + INIT_TIMEOUT;
        for ready in readiness {
            let failure = match tokio::time::timeout_at(init_deadline, ready).await {
                Ok(Ok(Ok(()))) => continue,
                Ok(Ok(Err(reason))) => StartError::InitFailed {
                    function: settings.key.clone(),
                    reason,
                    log: logs.tail(15),
                },
                Ok(Err(_)) => StartError::InitFailed {
                    function: settings.key.clone(),
                    reason: "the supervisor stopped".into(),
                    log: logs.tail(15),
                },
                Err(_) => StartError::InitTimedOut {
                    function: settings.key.clone(),
                    log: logs.tail(15),
                },
            };
            pool.stop().await;
            return Err(failure);
        }
        logs.line(
            "stack",
            &format!(
                "{}: {} environment(s) ready ({})",
                settings.key,
                settings.instances.max(1),
                settings.binary.display()
            ),
        );
        Ok(pool)
    }

    pub fn key(&self) -> &str {
        &self.key
    }

    /// Execution environments (instances `1..=instances`).
    pub fn instances(&self) -> usize {
        self.instances
    }

    /// Places every invocation from now on: `Some(n)`, only on instance `n` (the others stay
    /// warm and idle; an invocation waits while `n` is busy or being replaced); `None`, on
    /// whichever is free, in turn. An invocation already taken runs where it is.
    pub fn pin(&self, instance: Option<usize>) {
        self.placement.send_replace(instance);
    }

    /// The instance every invocation goes to, if pinned.
    pub fn pinned(&self) -> Option<usize> {
        *self.placement.borrow()
    }

    /// Invokes the function synchronously (RequestResponse) with `payload`.
    pub async fn invoke(&self, payload: Bytes) -> Result<Bytes, InvokeError> {
        let (reply, outcome) = oneshot::channel();
        let invocation = Invocation {
            request_id: request_id(),
            payload,
            reply,
        };
        self.queue
            .send(invocation)
            .await
            .map_err(|_| InvokeError::Stopped)?;
        match outcome.await.map_err(|_| InvokeError::Stopped)? {
            Outcome::Response(body) => Ok(body),
            Outcome::FunctionError { error_type, body } => {
                Err(InvokeError::FunctionError { error_type, body })
            }
            Outcome::TimedOut(after) => Err(InvokeError::TimedOut(after)),
            Outcome::Crashed(reason) => Err(InvokeError::Crashed(reason)),
        }
    }

    /// Kills, as a crash would, every process of this function that holds an invocation right
    /// now; each invocation fails with [`InvokeError::Crashed`] and the process is replaced.
    /// Returns how many were killed: a process already being stopped is not killed again.
    pub fn crash_busy(&self, reason: &str) -> usize {
        let environments = self.environments.lock().unwrap();
        let busy: Vec<&Arc<Environment>> = environments
            .values()
            .filter(|e| e.is_busy() && e.kill_reason().is_none())
            .collect();
        for environment in &busy {
            environment.stop_process(reason);
        }
        busy.len()
    }

    /// Lambda's UpdateFunctionConfiguration of the environment: sets `variables` (replacing
    /// those of the same name), then replaces the environments one at a time: invocations are
    /// placed on another instance meanwhile, the one being replaced is stopped once it is idle,
    /// and its replacement has finished init before the next is replaced. So every invocation
    /// runs wholly under the old configuration or the new one, and none fails for the update
    /// (with a single instance, one taken at the very moment it is stopped would). A
    /// replacement that does not finish init within [`INIT_TIMEOUT`] stops the update there,
    /// with the reason: a configuration the function refuses takes down one environment, not
    /// all of them.
    pub async fn update_environment(&self, variables: &[(String, String)]) -> Result<(), String> {
        self.settings.send_modify(|settings| {
            let mut updated = FunctionSettings::clone(settings);
            for (name, value) in variables {
                updated.environment.retain(|(existing, _)| existing != name);
                updated.environment.push((name.clone(), value.clone()));
            }
            *settings = Arc::new(updated);
        });
        let placement = self.pinned();
        for instance in 1..=self.instances {
            if self.instances > 1 {
                self.pin(Some(if instance == 1 { 2 } else { 1 }));
                // An invocation taken just before the pin moved is marked busy within this.
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            let replaced = loop {
                let current = self.environments.lock().unwrap().get(&instance).cloned();
                match current {
                    Some(environment) if environment.is_busy() => {
                        tokio::time::sleep(Duration::from_millis(10)).await;
                    }
                    Some(environment) => {
                        environment.stop_process("configuration updated");
                        break Some(environment);
                    }
                    None => break None,
                }
            };
            let Some(replaced) = replaced else { continue };
            let deadline = tokio::time::Instant::now() + INIT_TIMEOUT;
            let ready = loop {
                let current = self.environments.lock().unwrap().get(&instance).cloned();
                if let Some(environment) = current.filter(|e| !Arc::ptr_eq(e, &replaced))
                    && tokio::time::timeout(Duration::from_millis(50), environment.initialized())
                        .await
                        .is_ok()
                {
                    break true;
                }
                if tokio::time::Instant::now() >= deadline {
                    break false;
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            };
            if !ready {
                self.pin(placement);
                return Err(format!(
                    "{}: environment {instance} did not finish init under the new configuration within {INIT_TIMEOUT:?}; the others were left as they were",
                    self.key
                ));
            }
        }
        self.pin(placement);
        Ok(())
    }

    /// Stops every environment; waiting invocations fail with [`InvokeError::Stopped`].
    pub async fn stop(&self) {
        self.shutdown.send_replace(true);
        let supervisors = std::mem::take(&mut *self.supervisors.lock().unwrap());
        for supervisor in supervisors {
            let _ = supervisor.await;
        }
        // The environments hold the invocation queue: with them gone, later invocations
        // fail as stopped instead of waiting forever.
        self.environments.lock().unwrap().clear();
    }
}

/// A request id in Lambda's UUID form.
fn request_id() -> String {
    let hex = format!("{:032x}", u128::from(ulid::Ulid::new()));
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}

/// Keeps one environment running: starts the process, replaces it when it crashes or times
/// out, and stops it on shutdown. The first start's outcome goes to `ready`.
#[allow(clippy::too_many_arguments)]
async fn supervise(
    configured: watch::Receiver<Arc<FunctionSettings>>,
    instance: usize,
    queue: Queue,
    placement: Placement,
    environments: Environments,
    logs: Arc<LogSink>,
    mut shutdown: watch::Receiver<bool>,
    ready: oneshot::Sender<Result<(), String>>,
) {
    let settings = Arc::clone(&configured.borrow());
    let component = format!("{}#{instance}", settings.key);
    let arn = format!(
        "arn:aws:lambda:{}:000000000000:function:{}",
        settings.region, settings.deployed_name
    );
    let mut ready = Some(ready);
    let mut restarts = 0u32;
    for generation in 1.. {
        if *shutdown.borrow() {
            return;
        }
        // Each process starts with the configuration of the moment.
        let settings = Arc::clone(&configured.borrow());
        let environment = Environment::new(
            arn.clone(),
            settings.timeout,
            Arc::clone(&queue),
            instance,
            placement.clone(),
        );
        let (address, server) = match runtime_api::serve(Arc::clone(&environment)).await {
            Ok(served) => served,
            Err(error) => {
                let reason = format!("cannot serve the Runtime API: {error}");
                logs.line(&component, &reason);
                if let Some(ready) = ready.take() {
                    let _ = ready.send(Err(reason));
                }
                return;
            }
        };
        let mut command = Command::new(&settings.binary);
        crate::child::owned_by_stack(&mut command)
            .env_clear()
            .envs(settings.process_environment(&address.to_string(), instance, generation))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = match command.spawn() {
            Ok(child) => child,
            Err(error) => {
                let reason = format!("cannot start {}: {error}", settings.binary.display());
                logs.line(&component, &reason);
                server.abort();
                if let Some(ready) = ready.take() {
                    let _ = ready.send(Err(reason));
                }
                return;
            }
        };
        let mut followers = Vec::new();
        if let Some(out) = child.stdout.take() {
            followers.push(logs.follow(component.clone(), out));
        }
        if let Some(err) = child.stderr.take() {
            followers.push(logs.follow(component.clone(), err));
        }
        environments
            .lock()
            .unwrap()
            .insert(instance, Arc::clone(&environment));
        let mut initialized = false;
        let ended = loop {
            tokio::select! {
                status = child.wait() => {
                    break match status {
                        Ok(status) => format!("the process exited ({status})"),
                        Err(error) => format!("the process was lost: {error}"),
                    };
                }
                () = environment.kill.notified() => {
                    let _ = child.start_kill();
                    let _ = child.wait().await;
                    break environment.kill_reason().unwrap_or_else(|| "stopped".to_owned());
                }
                _ = shutdown.changed() => {
                    let _ = child.start_kill();
                    let _ = child.wait().await;
                    server.abort();
                    environment.fail_in_flight(Outcome::Crashed("the stack stopped".into()));
                    return;
                }
                () = environment.initialized(), if !initialized => {
                    // A process that finished init is not crash-looping: its replacement, if
                    // it needs one, starts without delay.
                    initialized = true;
                    restarts = 0;
                    if let Some(ready) = ready.take() {
                        let _ = ready.send(Ok(()));
                    }
                }
            }
        };
        server.abort();
        let _ = server.await;
        // The process's last words (often the reason it ended) reach the log before anyone
        // is told it ended.
        for follower in followers {
            let _ = tokio::time::timeout(Duration::from_secs(1), follower).await;
        }
        environment.fail_in_flight(Outcome::Crashed(ended.clone()));
        let reason = match environment.init_error() {
            Some(init_error) => format!("{ended}; init error: {init_error}"),
            None => ended,
        };
        if let Some(ready) = ready.take() {
            // The first start failed: the binary or its configuration is wrong; retrying
            // would only repeat it.
            let _ = ready.send(Err(reason));
            return;
        }
        let backoff = match restarts {
            0 => Duration::ZERO,
            n => Duration::from_millis(100 * 2u64.pow(n.min(6))),
        };
        restarts += 1;
        logs.line(
            &component,
            &format!("{reason}; replacing it in {backoff:?}"),
        );
        tokio::select! {
            () = tokio::time::sleep(backoff) => {}
            _ = shutdown.changed() => return,
        }
    }
}

/// The variables Lambda sets for a custom runtime (what `lambda_runtime` and the SDK read).
fn lambda_variables(
    settings: &FunctionSettings,
    runtime_api: &str,
    instance: usize,
    generation: u64,
) -> Vec<(String, String)> {
    let path = std::env::var("PATH").unwrap_or_else(|_| "/usr/bin:/bin".into());
    let mut variables: Vec<(String, String)> = [
        ("PATH", path),
        ("AWS_LAMBDA_RUNTIME_API", runtime_api.to_owned()),
        ("AWS_LAMBDA_FUNCTION_NAME", settings.deployed_name.clone()),
        (
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
            settings.memory_mb.to_string(),
        ),
        ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST".into()),
        (
            "AWS_LAMBDA_LOG_GROUP_NAME",
            format!("/aws/lambda/{}", settings.deployed_name),
        ),
        (
            "AWS_LAMBDA_LOG_STREAM_NAME",
            format!("local/{instance}/{generation}"),
        ),
        ("AWS_LAMBDA_LOG_FORMAT", settings.log_format.to_owned()),
        ("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand".into()),
        ("AWS_REGION", settings.region.clone()),
        ("AWS_DEFAULT_REGION", settings.region.clone()),
        ("_HANDLER", "bootstrap".into()),
    ]
    .into_iter()
    .map(|(name, value)| (name.to_owned(), value))
    .collect();
    // Log level choices of the person running the stack reach the functions.
    for name in ["RUST_LOG", "AWS_LAMBDA_LOG_LEVEL"] {
        if let Ok(value) = std::env::var(name) {
            variables.push((name.to_owned(), value));
        }
    }
    variables
}

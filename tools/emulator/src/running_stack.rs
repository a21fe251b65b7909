//! Bringing the stack up and down, in order: emulator, resources, functions, HTTP API.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use aws_sdk_dynamodb::config::{Credentials, Region, SharedInterceptor};
use stack::{Stack, ThrottleSpec};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use crate::archive_delivery::{ArchiveDelivery, ArchiveSettings};
use crate::fault_proxy::FaultProxy;
use crate::functions::{self, FunctionPool, FunctionSettings};
use crate::gateway::{self, AuthorizerSettings, Gateway};
use crate::kinesis_source::{self, StreamSource};
use crate::logs::LogSink;
use crate::model_endpoint::{ModelEndpoint, ModelEndpointError, ModelServerSettings};
use crate::moto::{Emulator, EmulatorError};
use crate::resources::{Clients, Resources};
use crate::routes::{RouteError, RouteTable};
use crate::sqs_source::{self, EventSourceStats, QueueSource};
use crate::token;

/// The emulator the stack talks to.
#[derive(Debug, Clone)]
pub enum EmulatorChoice {
    /// Start moto with this Python (the one it is installed in) on a free loopback port, and
    /// stop it with the stack.
    Start { python: PathBuf },
    /// Use an emulator that is already running.
    Existing { endpoint: String },
}

#[derive(Debug, Clone)]
pub struct StackOptions {
    pub manifest: Stack,
    /// Resource names are `<prefix>-<key>`, as in a deployed stack of that name.
    pub prefix: String,
    /// Loopback port of the HTTP API; 0 picks a free one.
    pub port: u16,
    /// Where the function binaries and the model server are (`target/debug` or `target/release`).
    pub functions_dir: PathBuf,
    /// The folder holding the model the model endpoint serves (`model/artifacts`).
    pub model_dir: PathBuf,
    /// Execution environments per function: how many invocations run at once.
    pub instances: usize,
    pub emulator: EmulatorChoice,
    pub log_file: PathBuf,
    pub echo_logs: bool,
    pub region: String,
    /// Put a fault-injecting proxy between each function and the emulator, its faults drawn
    /// from this seed; it forwards everything until its plan says otherwise.
    pub fault_seed: Option<u64>,
    /// Concurrent batches per shard of every stream source, instead of the manifest's
    /// `parallelization_factor` (1 to 10).
    pub parallelization_factor: Option<u32>,
    /// How long an archive buffers a date's records before writing them, instead of the
    /// manifest's `buffer_interval_seconds`.
    pub archive_buffer_interval: Option<Duration>,
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("cannot write the log {path}: {source}")]
    Log {
        path: String,
        source: std::io::Error,
    },
    #[error(transparent)]
    Emulator(#[from] EmulatorError),
    #[error("creating resources: {0}")]
    Resources(#[from] crate::resources::ResourceError),
    #[error(transparent)]
    Function(#[from] functions::StartError),
    #[error("starting an event source: {0}")]
    EventSource(String),
    #[error("the manifest's HTTP API: {0}")]
    Routes(#[from] RouteError),
    #[error(transparent)]
    ModelEndpoint(#[from] ModelEndpointError),
    #[error("cannot start the fault proxy of {function}: {source}")]
    FaultProxy {
        function: String,
        source: std::io::Error,
    },
    #[error("cannot listen on 127.0.0.1:{port}: {source}")]
    Listen { port: u16, source: std::io::Error },
}

pub struct RunningStack {
    pub api_url: String,
    pub endpoint: String,
    pub resources: Resources,
    pub logs: Arc<LogSink>,
    /// Clients for every emulated service, for checks made from outside the functions.
    pub clients: Clients,
    /// Per function and queue or stream (`<function><-<key>`), what its event source did.
    pub event_sources: BTreeMap<String, Arc<EventSourceStats>>,
    /// The model server standing in for the SageMaker endpoint, if the manifest has one.
    pub model_endpoint: Option<ModelEndpoint>,
    /// Per function, the proxy between it and the emulator, with fault injection on.
    pub fault_proxies: BTreeMap<String, FaultProxy>,
    /// Per archive (manifest key), its emulated Firehose delivery stream.
    pub archives: BTreeMap<String, ArchiveDelivery>,
    /// Endpoints started after the stack came up ([`RunningStack::start_model_endpoint`]).
    pub added_model_endpoints: Vec<ModelEndpoint>,
    model_server: PathBuf,
    emulator: Emulator,
    pools: Vec<Arc<FunctionPool>>,
    pollers: Vec<JoinHandle<()>>,
    gateway: Option<JoinHandle<()>>,
}

/// The credentials emulators accept; nothing here can reach AWS.
const EMULATOR_KEY_ID: &str = "test";
const EMULATOR_SECRET: &str = "test";

impl RunningStack {
    pub async fn start(options: StackOptions) -> Result<Self, StartError> {
        let logs = LogSink::create(&options.log_file, options.echo_logs).map_err(|source| {
            StartError::Log {
                path: options.log_file.display().to_string(),
                source,
            }
        })?;
        let emulator = match &options.emulator {
            EmulatorChoice::Start { python } => Emulator::start(python, &logs).await?,
            EmulatorChoice::Existing { endpoint } => Emulator::existing(endpoint).await?,
        };
        let clients = emulator_clients(&emulator.endpoint, &options.region);
        let mut stack = Self {
            api_url: String::new(),
            endpoint: emulator.endpoint.clone(),
            resources: Resources::name(&options.manifest, &options.prefix),
            clients,
            event_sources: BTreeMap::new(),
            pollers: Vec::new(),
            logs,
            emulator,
            model_endpoint: None,
            fault_proxies: BTreeMap::new(),
            archives: BTreeMap::new(),
            added_model_endpoints: Vec::new(),
            model_server: options.functions_dir.join("model-server"),
            pools: Vec::new(),
            gateway: None,
        };
        // From here on a failure stops whatever was started.
        match stack.bring_up(&options).await {
            Ok(()) => Ok(stack),
            Err(error) => {
                stack.stop().await;
                Err(error)
            }
        }
    }

    async fn bring_up(&mut self, options: &StackOptions) -> Result<(), StartError> {
        let manifest = &options.manifest;
        self.resources
            .create(manifest, &self.clients, &self.logs)
            .await?;

        // Before any function runs, so every record the stack writes is archived.
        for (key, spec) in &manifest.archives {
            let settings = ArchiveSettings {
                name: self.resources.archives[key].clone(),
                stream_name: self.resources.streams[&spec.stream].clone(),
                bucket: self
                    .resources
                    .archive_bucket
                    .clone()
                    .expect("a bucket when there are archives"),
                spec: spec.clone(),
                buffer_interval: options
                    .archive_buffer_interval
                    .unwrap_or(Duration::from_secs(spec.buffer_interval_seconds.into())),
            };
            self.logs.line(
                "stack",
                &format!(
                    "archive {}: stream {} -> s3://{}/{} every {} s",
                    settings.name,
                    settings.stream_name,
                    settings.bucket,
                    spec.object_prefix(),
                    settings.buffer_interval.as_secs()
                ),
            );
            let delivery = ArchiveDelivery::start(
                settings,
                self.clients.kinesis.clone(),
                self.clients.s3.clone(),
                Arc::clone(&self.logs),
            )
            .await
            .map_err(|error| StartError::EventSource(format!("archive {key}: {error}")))?;
            self.archives.insert(key.clone(), delivery);
        }

        match manifest.model_endpoints.len() {
            0 => {}
            1 => {
                let key = manifest
                    .model_endpoints
                    .keys()
                    .next()
                    .expect("one endpoint");
                let settings = ModelServerSettings {
                    binary: options.functions_dir.join("model-server"),
                    model_dir: options.model_dir.clone(),
                };
                let name = &self.resources.model_endpoints[key];
                self.model_endpoint =
                    Some(ModelEndpoint::start(&settings, name, &self.logs).await?);
            }
            many => return Err(ModelEndpointError::TooMany(many).into()),
        }

        let mut pools = HashMap::new();
        for (key, spec) in &manifest.functions {
            let mut environment = self.resources.function_environment(spec);
            let mut endpoint = self.endpoint.clone();
            if let Some(seed) = options.fault_seed {
                let proxy = FaultProxy::start(key, &self.endpoint, seed ^ seed_of(key))
                    .await
                    .map_err(|source| StartError::FaultProxy {
                        function: key.clone(),
                        source,
                    })?;
                self.logs.line(
                    "stack",
                    &format!(
                        "{key}: AWS requests through the fault proxy on {}",
                        proxy.url
                    ),
                );
                endpoint = proxy.url.clone();
                self.fault_proxies.insert(key.clone(), proxy);
            }
            environment.extend(
                [
                    ("AWS_ENDPOINT_URL", endpoint.as_str()),
                    ("AWS_ACCESS_KEY_ID", EMULATOR_KEY_ID),
                    ("AWS_SECRET_ACCESS_KEY", EMULATOR_SECRET),
                ]
                .map(|(name, value)| (name.to_owned(), value.to_owned())),
            );
            if let Some(model) = &self.model_endpoint {
                // The SDK's own per-service endpoint variable, as for any emulated service.
                environment.push((
                    "AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME".into(),
                    model.url.clone(),
                ));
            }
            let settings = FunctionSettings::from_manifest(
                key,
                spec,
                &self.resources,
                &options.functions_dir,
                environment,
                &options.region,
                options.instances,
            );
            let pool = Arc::new(FunctionPool::start(settings, Arc::clone(&self.logs)).await?);
            if let Some(proxy) = self.fault_proxies.get(key) {
                proxy.attach(Arc::clone(&pool));
            }
            self.pools.push(Arc::clone(&pool));
            for source in &spec.event_sources {
                let stats = Arc::new(EventSourceStats::default());
                self.event_sources.insert(
                    format!("{key}<-{}", source.source_key()),
                    Arc::clone(&stats),
                );
                if let Some(mut settings) = source.stream_settings() {
                    if let Some(factor) = options.parallelization_factor {
                        settings.parallelization_factor = factor;
                    }
                    let stream_source = StreamSource {
                        function: key.clone(),
                        pool: Arc::clone(&pool),
                        stream_name: self.resources.streams[source.source_key()].clone(),
                        batch_size: source.batch_size as usize,
                        batching_window: Duration::from_secs(
                            source.maximum_batching_window_seconds.into(),
                        ),
                        report_batch_item_failures: source.report_batch_item_failures,
                        on_failure: settings
                            .on_failure_queue
                            .as_ref()
                            .map(|queue| self.resources.queues[queue].clone()),
                        settings,
                        region: options.region.clone(),
                        kinesis: self.clients.kinesis.clone(),
                        sqs: self.clients.sqs.clone(),
                        logs: Arc::clone(&self.logs),
                        stats,
                    };
                    let pollers = kinesis_source::start(Arc::new(stream_source))
                        .await
                        .map_err(StartError::EventSource)?;
                    self.pollers.extend(pollers);
                    continue;
                }
                let queue_source = QueueSource {
                    function: key.clone(),
                    pool: Arc::clone(&pool),
                    queue: self.resources.queues[source.source_key()].clone(),
                    spec: source.clone(),
                    region: options.region.clone(),
                    sqs: self.clients.sqs.clone(),
                    logs: Arc::clone(&self.logs),
                    stats,
                };
                // Lambda scales pollers up to the maximum concurrency; locally the execution
                // environments are the limit.
                let pollers = source.maximum_concurrency.map_or(options.instances, |max| {
                    (max as usize).min(options.instances)
                });
                self.pollers
                    .extend(sqs_source::start(Arc::new(queue_source), pollers));
            }
            pools.insert(key.clone(), pool);
        }

        let (routes, throttle) = match &manifest.http_api {
            Some(api) => (RouteTable::from_manifest(api)?, api.throttle),
            None => (
                RouteTable::default(),
                ThrottleSpec {
                    burst_limit: 1,
                    rate_limit: 1,
                },
            ),
        };
        let listener = TcpListener::bind(("127.0.0.1", options.port))
            .await
            .map_err(|source| StartError::Listen {
                port: options.port,
                source,
            })?;
        let address = listener.local_addr().map_err(|source| StartError::Listen {
            port: options.port,
            source,
        })?;
        let gateway = Gateway::new(
            routes,
            pools,
            AuthorizerSettings {
                issuer: token::LOCAL_ISSUER.into(),
                audience: token::LOCAL_AUDIENCE.into(),
            },
            throttle,
            Arc::clone(&self.logs),
        );
        self.gateway = Some(gateway::serve(Arc::new(gateway), listener));
        self.api_url = format!("http://{address}");
        self.logs
            .line("stack", &format!("HTTP API on {}", self.api_url));
        Ok(())
    }

    /// The running pool of function `key` (its key in the manifest).
    pub fn function(&self, key: &str) -> Option<&Arc<FunctionPool>> {
        self.pools.iter().find(|pool| pool.key() == key)
    }

    /// Starts another model endpoint, `name`, serving the model in `model_dir` (SageMaker's
    /// CreateEndpoint for a new model, beside the one in service); its URL.
    pub async fn start_model_endpoint(
        &mut self,
        name: &str,
        model_dir: PathBuf,
    ) -> Result<String, ModelEndpointError> {
        let settings = ModelServerSettings {
            binary: self.model_server.clone(),
            model_dir,
        };
        let endpoint = ModelEndpoint::start(&settings, name, &self.logs).await?;
        let url = endpoint.url.clone();
        self.added_model_endpoints.push(endpoint);
        Ok(url)
    }

    /// Lambda's UpdateFunctionConfiguration of function `key`'s environment: `variables` set,
    /// its environments replaced one at a time ([`FunctionPool::update_environment`]).
    pub async fn update_function_environment(
        &self,
        key: &str,
        variables: &[(String, String)],
    ) -> Result<(), String> {
        let pool = self
            .function(key)
            .ok_or_else(|| format!("no function {key} in the stack"))?;
        self.logs.line(
            "stack",
            &format!(
                "{key}: configuration updated ({})",
                variables
                    .iter()
                    .map(|(name, value)| format!("{name}={value}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        );
        pool.update_environment(variables).await
    }

    /// Writes every record the archives' streams hold now to the archive bucket.
    pub async fn flush_archives(&self) -> Result<(), String> {
        for (key, archive) in &self.archives {
            archive
                .flush()
                .await
                .map_err(|error| format!("archive {key}: {error}"))?;
        }
        Ok(())
    }

    /// Stops the HTTP API, every function process and the emulator this stack started; the
    /// archives write what they hold first.
    pub async fn stop(mut self) {
        for poller in self.pollers.drain(..) {
            poller.abort();
            let _ = poller.await;
        }
        if let Some(gateway) = self.gateway.take() {
            gateway.abort();
            let _ = gateway.await;
        }
        for pool in self.pools.drain(..) {
            pool.stop().await;
        }
        for (_, proxy) in std::mem::take(&mut self.fault_proxies) {
            proxy.stop();
        }
        for (_, archive) in std::mem::take(&mut self.archives) {
            archive.stop(&self.logs).await;
        }
        if let Some(model) = self.model_endpoint.take() {
            model.stop().await;
        }
        for model in std::mem::take(&mut self.added_model_endpoints) {
            model.stop().await;
        }
        self.emulator.stop().await;
        self.logs.line("stack", "stopped");
    }
}

/// A per-function seed, so functions draw different faults from one run seed (FNV-1a).
fn seed_of(key: &str) -> u64 {
    key.bytes().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// SDK clients for every emulated service at `endpoint`, with the emulator's credentials.
pub fn emulator_clients(endpoint: &str, region: &str) -> Clients {
    emulator_clients_with(endpoint, region, |_| None)
}

/// [`emulator_clients`], each client with the interceptor `interceptor` gives for its service
/// (`dynamodb`, `sqs`, `kinesis`, `eventbridge`, `s3`), if any: to count what they send, say.
pub fn emulator_clients_with(
    endpoint: &str,
    region: &str,
    interceptor: impl Fn(&str) -> Option<SharedInterceptor>,
) -> Clients {
    let credentials = Credentials::new(EMULATOR_KEY_ID, EMULATOR_SECRET, None, None, "local-stack");
    let region = Region::new(region.to_owned());
    macro_rules! client {
        ($sdk:ident, $service:literal) => {{
            let mut config = $sdk::Config::builder()
                .behavior_version_latest()
                .endpoint_url(endpoint)
                .region(region.clone())
                .credentials_provider(credentials.clone());
            if let Some(interceptor) = interceptor($service) {
                config.push_interceptor(interceptor);
            }
            $sdk::Client::from_conf(config.build())
        }};
    }
    let s3 = {
        let mut config = aws_sdk_s3::Config::builder()
            .behavior_version_latest()
            .endpoint_url(endpoint)
            .region(region.clone())
            .credentials_provider(credentials.clone())
            .force_path_style(true);
        if let Some(interceptor) = interceptor("s3") {
            config.push_interceptor(interceptor);
        }
        aws_sdk_s3::Client::from_conf(config.build())
    };
    Clients {
        dynamodb: client!(aws_sdk_dynamodb, "dynamodb"),
        sqs: client!(aws_sdk_sqs, "sqs"),
        kinesis: client!(aws_sdk_kinesis, "kinesis"),
        eventbridge: client!(aws_sdk_eventbridge, "eventbridge"),
        s3,
    }
}

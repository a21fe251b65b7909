//! The deployment manifest, `infra/stack.json`: the one definition of the stack's resource names
//! and per-function settings.
//!
//! The Terraform module reads the same file, the SAM template is checked against it, and the
//! local stack and the integration tests create their resources from these types, so a table
//! or a setting cannot differ between a laptop and a deployment.
//!
//! Deployed names are `<prefix>-<key>` ([`resource_name`]): the SAM stack name or Terraform's
//! `name_prefix` in AWS, `local` in the local stack.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

pub mod archive;
pub mod monitoring;
pub use archive::{ArchiveSpec, archive_bucket_name};
use monitoring::MonitoringSpec;

/// The manifest as checked into the repository.
const WORKSPACE_MANIFEST: &str = include_str!("../../../infra/stack.json");

#[derive(Debug, thiserror::Error)]
pub enum StackError {
    #[error("cannot read the stack manifest {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("the stack manifest is not valid: {0}")]
    Parse(#[from] serde_json::Error),
    #[error("the stack manifest is inconsistent: {0}")]
    Invalid(String),
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Stack {
    /// Free text for readers of the file.
    #[serde(default)]
    pub notes: Option<String>,
    /// Tag keys every taggable resource carries, with values from one deployment input.
    pub cost_allocation_tags: Vec<String>,
    pub tables: BTreeMap<String, TableSpec>,
    #[serde(default)]
    pub queues: BTreeMap<String, QueueSpec>,
    #[serde(default)]
    pub streams: BTreeMap<String, StreamSpec>,
    #[serde(default)]
    pub event_buses: BTreeMap<String, EventBusSpec>,
    /// SageMaker endpoints serving a model image (deployed as model, endpoint config, endpoint).
    #[serde(default)]
    pub model_endpoints: BTreeMap<String, ModelEndpointSpec>,
    /// Why settings outside the functions have their values, keyed by their path.
    #[serde(default)]
    pub reasons: BTreeMap<String, String>,
    pub functions: BTreeMap<String, FunctionSpec>,
    #[serde(default)]
    pub http_api: Option<HttpApiSpec>,
    /// Alarms, their topic, the dashboard and the budget (deployed only, not run locally).
    #[serde(default)]
    pub monitoring: Option<MonitoringSpec>,
    /// Streams copied to S3 by Firehose, by key: deployed as the delivery stream
    /// `<prefix>-<key>`, all into one bucket ([`archive_bucket_name`]).
    #[serde(default)]
    pub archives: BTreeMap<String, ArchiveSpec>,
    /// Named sets of settings that replace the manifest's when deployed with that profile
    /// ([`Stack::with_profile`]).
    #[serde(default)]
    pub profiles: BTreeMap<String, ProfileSpec>,
}

/// A deployment profile: what it changes, by event source and by function.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProfileSpec {
    pub description: String,
    /// By the key of the queue or stream the event source reads.
    #[serde(default)]
    pub event_sources: BTreeMap<String, SourceOverrides>,
    /// By function: literal values of environment variables the function already has.
    #[serde(default)]
    pub environment: BTreeMap<String, BTreeMap<String, String>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceOverrides {
    #[serde(default)]
    pub batch_size: Option<u32>,
    #[serde(default)]
    pub maximum_batching_window_seconds: Option<u32>,
    #[serde(default)]
    pub enhanced_fan_out: Option<bool>,
}

/// A SageMaker serverless endpoint for a bring-your-own-container model image.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelEndpointSpec {
    pub description: String,
    /// The deploy-time parameter holding the image URI.
    pub image_parameter: String,
    pub serverless: ServerlessSpec,
    /// No network for the container.
    pub network_isolation: bool,
    #[serde(default)]
    pub reasons: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerlessSpec {
    pub memory_size_mb: u32,
    pub max_concurrency: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QueueSpec {
    pub fifo: bool,
    pub visibility_timeout_seconds: u32,
    pub message_retention_seconds: u32,
    #[serde(default)]
    pub dead_letter: Option<DeadLetterSpec>,
}

impl QueueSpec {
    /// The queue's name as deployed: FIFO queue names must end in `.fifo`.
    pub fn deployed_name(&self, prefix: &str, key: &str) -> String {
        let name = resource_name(prefix, key);
        if self.fifo {
            format!("{name}.fifo")
        } else {
            name
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeadLetterSpec {
    pub queue: String,
    pub max_receive_count: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StreamSpec {
    /// `provisioned` (billed per shard-hour, `shard_count` shards) or `on_demand` (billed per
    /// stream-hour and per GB in and out; Kinesis scales the shards).
    pub capacity_mode: CapacityMode,
    /// Provisioned streams only.
    #[serde(default)]
    pub shard_count: Option<u32>,
    pub retention_hours: u32,
    pub encryption: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CapacityMode {
    Provisioned,
    OnDemand,
}

impl CapacityMode {
    /// As Kinesis names it (`StreamModeDetails.StreamMode`).
    pub fn stream_mode(self) -> &'static str {
        match self {
            Self::Provisioned => "PROVISIONED",
            Self::OnDemand => "ON_DEMAND",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventBusSpec {
    pub rules: BTreeMap<String, RuleSpec>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleSpec {
    /// The EventBridge event pattern, as EventBridge takes it.
    pub pattern: serde_json::Value,
    pub target: RuleTarget,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleTarget {
    pub queue: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TableSpec {
    pub partition_key: KeyAttribute,
    #[serde(default)]
    pub sort_key: Option<KeyAttribute>,
    #[serde(default)]
    pub global_secondary_indexes: BTreeMap<String, IndexSpec>,
    pub billing_mode: BillingMode,
    pub point_in_time_recovery: bool,
    pub server_side_encryption: bool,
    /// The attribute holding each item's expiry (epoch seconds), when DynamoDB TTL is on.
    #[serde(default)]
    pub time_to_live_attribute: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyAttribute {
    pub name: String,
    #[serde(rename = "type")]
    pub attribute_type: AttributeType,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
pub enum AttributeType {
    S,
    N,
    B,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum BillingMode {
    PayPerRequest,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IndexSpec {
    pub partition_key: KeyAttribute,
    #[serde(default)]
    pub sort_key: Option<KeyAttribute>,
    pub projection: ProjectionType,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ProjectionType {
    All,
    KeysOnly,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FunctionSpec {
    pub description: String,
    pub runtime: String,
    pub architecture: Architecture,
    pub memory_mb: u32,
    pub timeout_seconds: u32,
    pub log_retention_days: u32,
    pub log_format: LogFormat,
    #[serde(default)]
    pub environment: BTreeMap<String, EnvValue>,
    #[serde(default)]
    pub permissions: Vec<Permission>,
    /// Queues the function is triggered by (Lambda event source mappings).
    #[serde(default)]
    pub event_sources: Vec<EventSourceSpec>,
    /// Why each setting has its value, keyed by setting name.
    #[serde(default)]
    pub reasons: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Architecture {
    Arm64,
    X86_64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
pub enum LogFormat {
    #[serde(rename = "JSON")]
    Json,
    Text,
}

impl LogFormat {
    /// The value Lambda puts in `AWS_LAMBDA_LOG_FORMAT`.
    pub fn as_env_value(self) -> &'static str {
        match self {
            LogFormat::Json => "JSON",
            LogFormat::Text => "Text",
        }
    }
}

/// An environment variable's value: literal, or a manifest resource as deployed (a table's or
/// a stream's name, a queue's URL).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(untagged, deny_unknown_fields)]
pub enum EnvValue {
    Table {
        table: String,
    },
    Queue {
        queue: String,
    },
    Stream {
        stream: String,
    },
    /// A model endpoint's deployed name.
    Endpoint {
        endpoint: String,
    },
    Literal {
        value: String,
    },
}

/// Actions a function may take on one manifest resource: exactly one of `table` (with
/// `indexes`), `queue` or `stream`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Permission {
    #[serde(default)]
    pub table: Option<String>,
    #[serde(default)]
    pub indexes: Vec<String>,
    #[serde(default)]
    pub queue: Option<String>,
    #[serde(default)]
    pub stream: Option<String>,
    #[serde(default)]
    pub endpoint: Option<String>,
    pub actions: Vec<String>,
}

/// A Lambda event source mapping: an SQS queue (`queue`) or a Kinesis stream (`stream`, with
/// the stream-only settings, all required for a stream and refused for a queue).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventSourceSpec {
    #[serde(default)]
    pub queue: Option<String>,
    #[serde(default)]
    pub stream: Option<String>,
    pub batch_size: u32,
    pub maximum_batching_window_seconds: u32,
    pub report_batch_item_failures: bool,
    /// SQS only: the most concurrent invocations the mapping starts.
    #[serde(default)]
    pub maximum_concurrency: Option<u32>,
    #[serde(default)]
    pub starting_position: Option<StartingPosition>,
    #[serde(default)]
    pub bisect_batch_on_function_error: Option<bool>,
    /// -1: retry until the record expires.
    #[serde(default)]
    pub maximum_retry_attempts: Option<i32>,
    /// -1: no age limit (the stream's retention).
    #[serde(default)]
    pub maximum_record_age_seconds: Option<i32>,
    /// Queue that receives a pointer to each batch given up on.
    #[serde(default)]
    pub on_failure_queue: Option<String>,
    #[serde(default)]
    pub parallelization_factor: Option<u32>,
    /// Read through an enhanced fan-out consumer of its own (pushed records, a dedicated 2 MB/s
    /// per shard) instead of polling; stream sources only, false when absent.
    #[serde(default)]
    pub enhanced_fan_out: Option<bool>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum StartingPosition {
    TrimHorizon,
    Latest,
}

/// The settings of a Kinesis event source, present once the manifest is validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamSourceSettings {
    pub starting_position: StartingPosition,
    pub bisect_batch_on_function_error: bool,
    pub maximum_retry_attempts: Option<u32>,
    pub maximum_record_age_seconds: Option<u32>,
    pub on_failure_queue: Option<String>,
    pub parallelization_factor: u32,
    pub enhanced_fan_out: bool,
}

impl EventSourceSpec {
    /// The stream-only settings, when this is a stream source with all of them.
    pub fn stream_settings(&self) -> Option<StreamSourceSettings> {
        self.stream.as_ref()?;
        Some(StreamSourceSettings {
            starting_position: self.starting_position?,
            bisect_batch_on_function_error: self.bisect_batch_on_function_error?,
            maximum_retry_attempts: u32::try_from(self.maximum_retry_attempts?).ok(),
            maximum_record_age_seconds: u32::try_from(self.maximum_record_age_seconds?).ok(),
            on_failure_queue: self.on_failure_queue.clone(),
            parallelization_factor: self.parallelization_factor?,
            enhanced_fan_out: self.enhanced_fan_out.unwrap_or(false),
        })
    }

    /// `<function>` and the key of the queue or stream it reads, as the local stack names it.
    pub fn source_key(&self) -> &str {
        self.queue
            .as_deref()
            .or(self.stream.as_deref())
            .unwrap_or_default()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpApiSpec {
    pub routes: Vec<RouteSpec>,
    pub authorizer: AuthorizerSpec,
    pub throttle: ThrottleSpec,
    pub access_log_retention_days: u32,
    #[serde(default)]
    pub reasons: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteSpec {
    /// API Gateway route key: `<METHOD|ANY> <path>`, path segments may be `{name}` or `{name+}`.
    pub route: String,
    pub function: String,
}

impl RouteSpec {
    /// The method (`ANY` included) and the path of the route key.
    pub fn method_and_path(&self) -> (&str, &str) {
        self.route.split_once(' ').unwrap_or(("", &self.route))
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthorizerSpec {
    #[serde(rename = "type")]
    pub authorizer_type: AuthorizerType,
    pub identity_source: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum AuthorizerType {
    #[serde(rename = "JWT")]
    Jwt,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ThrottleSpec {
    pub burst_limit: u32,
    pub rate_limit: u32,
}

/// The deployed name of manifest resource `key` in the stack named `prefix`.
pub fn resource_name(prefix: &str, key: &str) -> String {
    format!("{prefix}-{key}")
}

const ROUTE_METHODS: [&str; 8] = [
    "ANY", "GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS",
];

impl Stack {
    /// The repository's `infra/stack.json`, compiled in.
    pub fn workspace() -> Self {
        Self::from_json(WORKSPACE_MANIFEST).expect("infra/stack.json is valid: checked by tests")
    }

    pub fn load(path: &Path) -> Result<Self, StackError> {
        let text = std::fs::read_to_string(path).map_err(|source| StackError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Self::from_json(&text)
    }

    /// Parses and checks that every reference inside the manifest resolves, and that every
    /// profile makes a manifest that does too.
    pub fn from_json(text: &str) -> Result<Self, StackError> {
        let stack: Stack = serde_json::from_str(text)?;
        stack.validate()?;
        check_reasons(&serde_json::from_str(text)?)?;
        for name in stack.profiles.keys() {
            stack.with_profile(name)?;
        }
        Ok(stack)
    }

    /// The manifest as deployed with profile `name`: its event source settings and
    /// environment values in place of the manifest's, the result checked as the manifest is.
    pub fn with_profile(&self, name: &str) -> Result<Self, StackError> {
        let invalid = |message: String| StackError::Invalid(format!("profile {name}: {message}"));
        let profile = self.profiles.get(name).ok_or_else(|| {
            let known: Vec<&str> = self.profiles.keys().map(String::as_str).collect();
            StackError::Invalid(format!(
                "there is no profile {name} (the manifest has: {})",
                if known.is_empty() {
                    "none".to_owned()
                } else {
                    known.join(", ")
                }
            ))
        })?;
        let mut stack = self.clone();
        for (source_key, overrides) in &profile.event_sources {
            let mut found = false;
            for source in stack
                .functions
                .values_mut()
                .flat_map(|function| function.event_sources.iter_mut())
                .filter(|source| source.source_key() == source_key)
            {
                found = true;
                if let Some(batch_size) = overrides.batch_size {
                    source.batch_size = batch_size;
                }
                if let Some(window) = overrides.maximum_batching_window_seconds {
                    source.maximum_batching_window_seconds = window;
                }
                if let Some(fan_out) = overrides.enhanced_fan_out {
                    source.enhanced_fan_out = Some(fan_out);
                }
            }
            if !found {
                return Err(invalid(format!("no event source reads {source_key}")));
            }
        }
        for (function, variables) in &profile.environment {
            let spec = stack
                .functions
                .get_mut(function)
                .ok_or_else(|| invalid(format!("there is no function {function}")))?;
            for (variable, value) in variables {
                match spec.environment.get_mut(variable) {
                    Some(EnvValue::Literal { value: current }) => current.clone_from(value),
                    Some(_) => {
                        return Err(invalid(format!(
                            "{function}'s {variable} names a resource; a profile sets values only"
                        )));
                    }
                    None => {
                        return Err(invalid(format!(
                            "{function} has no variable {variable} to set"
                        )));
                    }
                }
            }
        }
        stack.validate().map_err(|error| match error {
            StackError::Invalid(message) => invalid(message),
            other => other,
        })?;
        Ok(stack)
    }

    pub fn table(&self, key: &str) -> Option<&TableSpec> {
        self.tables.get(key)
    }

    fn validate(&self) -> Result<(), StackError> {
        let invalid = |message: String| Err(StackError::Invalid(message));
        if self.cost_allocation_tags.is_empty() {
            return invalid("cost_allocation_tags is empty".into());
        }
        for (key, table) in &self.tables {
            check_resource_key(key)?;
            table.check_attribute_types(key)?;
        }
        for (key, function) in &self.functions {
            check_resource_key(key)?;
            if function.memory_mb < 128 || function.memory_mb > 10_240 {
                return invalid(format!(
                    "function {key}: memory_mb {} is outside Lambda's 128..=10240",
                    function.memory_mb
                ));
            }
            if function.timeout_seconds == 0 || function.timeout_seconds > 900 {
                return invalid(format!(
                    "function {key}: timeout_seconds {} is outside Lambda's 1..=900",
                    function.timeout_seconds
                ));
            }
            for (name, value) in &function.environment {
                let (kind, target, known) = match value {
                    EnvValue::Table { table } => ("table", table, self.tables.contains_key(table)),
                    EnvValue::Queue { queue } => ("queue", queue, self.queues.contains_key(queue)),
                    EnvValue::Stream { stream } => {
                        ("stream", stream, self.streams.contains_key(stream))
                    }
                    EnvValue::Endpoint { endpoint } => (
                        "endpoint",
                        endpoint,
                        self.model_endpoints.contains_key(endpoint),
                    ),
                    EnvValue::Literal { .. } => continue,
                };
                if !known {
                    return invalid(format!(
                        "function {key}: environment {name} names {kind} {target}, which the manifest does not define"
                    ));
                }
            }
            for permission in &function.permissions {
                self.check_permission(key, permission)?;
            }
            // A function told to call an endpoint must be allowed to: switching inference to a
            // new endpoint without its permission would fail every call with AccessDenied.
            for (name, value) in &function.environment {
                if let EnvValue::Endpoint { endpoint } = value
                    && !function.permissions.iter().any(|permission| {
                        permission.endpoint.as_ref() == Some(endpoint)
                            && permission
                                .actions
                                .iter()
                                .any(|action| action == "sagemaker:InvokeEndpoint")
                    })
                {
                    return invalid(format!(
                        "function {key}: environment {name} names endpoint {endpoint}, but no permission of the function allows sagemaker:InvokeEndpoint on it"
                    ));
                }
            }
            for source in &function.event_sources {
                self.check_event_source(key, function, source)?;
            }
        }
        for (key, queue) in &self.queues {
            check_resource_key(key)?;
            if let Some(dead_letter) = &queue.dead_letter {
                match self.queues.get(&dead_letter.queue) {
                    None => {
                        return invalid(format!(
                            "queue {key}: dead-letter queue {} is not defined",
                            dead_letter.queue
                        ));
                    }
                    Some(dlq) if dlq.fifo != queue.fifo => {
                        return invalid(format!(
                            "queue {key}: its dead-letter queue {} must be FIFO exactly when it is",
                            dead_letter.queue
                        ));
                    }
                    Some(_) if !(1..=1000).contains(&dead_letter.max_receive_count) => {
                        return invalid(format!(
                            "queue {key}: max_receive_count {} is outside SQS's 1..=1000",
                            dead_letter.max_receive_count
                        ));
                    }
                    Some(_) => {}
                }
            }
            if queue.visibility_timeout_seconds > 43_200 {
                return invalid(format!(
                    "queue {key}: visibility timeout over SQS's 12 hours"
                ));
            }
            if !(60..=1_209_600).contains(&queue.message_retention_seconds) {
                return invalid(format!(
                    "queue {key}: message retention outside SQS's 60 s..=14 days"
                ));
            }
        }
        for (key, endpoint) in &self.model_endpoints {
            check_resource_key(key)?;
            let ServerlessSpec {
                memory_size_mb,
                max_concurrency,
            } = endpoint.serverless;
            if !(1024..=6144).contains(&memory_size_mb) || memory_size_mb % 1024 != 0 {
                return invalid(format!(
                    "model endpoint {key}: serverless memory_size_mb {memory_size_mb} is not one of SageMaker's 1024, 2048, …, 6144"
                ));
            }
            if !(1..=200).contains(&max_concurrency) {
                return invalid(format!(
                    "model endpoint {key}: serverless max_concurrency {max_concurrency} is outside SageMaker's 1..=200"
                ));
            }
            if endpoint.network_isolation {
                return invalid(format!(
                    "model endpoint {key}: serverless endpoints do not support network isolation"
                ));
            }
            check_parameter_name(
                &format!("model endpoint {key}: image_parameter"),
                &endpoint.image_parameter,
            )?;
        }
        for (key, stream) in &self.streams {
            check_resource_key(key)?;
            if !(24..=8760).contains(&stream.retention_hours) {
                return invalid(format!("stream {key}: retention_hours must be 24..=8760"));
            }
            match (stream.capacity_mode, stream.shard_count) {
                (CapacityMode::Provisioned, Some(1..)) | (CapacityMode::OnDemand, None) => {}
                (CapacityMode::Provisioned, _) => {
                    return invalid(format!(
                        "stream {key}: a provisioned stream needs a shard_count of at least 1"
                    ));
                }
                (CapacityMode::OnDemand, Some(_)) => {
                    return invalid(format!(
                        "stream {key}: shard_count is for provisioned streams; an on_demand stream's shards are Kinesis's to scale"
                    ));
                }
            }
        }
        let mut rule_keys = std::collections::BTreeSet::new();
        for (bus, spec) in &self.event_buses {
            check_resource_key(bus)?;
            for (rule, rule_spec) in &spec.rules {
                check_resource_key(rule)?;
                if !rule_keys.insert(rule) {
                    return invalid(format!(
                        "rule {rule} is defined on two buses; rule keys name deployed rules and must be unique"
                    ));
                }
                let Some(target) = self.queues.get(&rule_spec.target.queue) else {
                    return invalid(format!(
                        "event bus {bus}, rule {rule}: target queue {} is not defined",
                        rule_spec.target.queue
                    ));
                };
                if target.fifo {
                    return invalid(format!(
                        "event bus {bus}, rule {rule}: a FIFO queue needs a message group, which rule targets here do not set"
                    ));
                }
                if !rule_spec.pattern.is_object() {
                    return invalid(format!(
                        "event bus {bus}, rule {rule}: the pattern must be a JSON object"
                    ));
                }
            }
        }
        if let Some(api) = &self.http_api {
            for route in &api.routes {
                let (method, path) = route.method_and_path();
                if !ROUTE_METHODS.contains(&method) || !path.starts_with('/') {
                    return invalid(format!(
                        "route {:?} is not `<METHOD|ANY> /path`",
                        route.route
                    ));
                }
                if !self.functions.contains_key(&route.function) {
                    return invalid(format!(
                        "route {} targets function {}, which the manifest does not define",
                        route.route, route.function
                    ));
                }
            }
        }
        if let Some(monitoring) = &self.monitoring {
            self.check_monitoring(monitoring)?;
        }
        self.check_archives()?;
        Ok(())
    }
}

impl Stack {
    fn check_permission(&self, function: &str, permission: &Permission) -> Result<(), StackError> {
        let invalid = |message: String| Err(StackError::Invalid(message));
        let named = (
            &permission.table,
            &permission.queue,
            &permission.stream,
            &permission.endpoint,
        );
        let (service, resource) = match named {
            (Some(table), None, None, None) => {
                let Some(spec) = self.tables.get(table) else {
                    return invalid(format!(
                        "function {function}: a permission names table {table}, which the manifest does not define"
                    ));
                };
                if let Some(index) = permission
                    .indexes
                    .iter()
                    .find(|index| !spec.global_secondary_indexes.contains_key(*index))
                {
                    return invalid(format!(
                        "function {function}: a permission names index {index} of table {table}, which has no such index"
                    ));
                }
                ("dynamodb", format!("table {table}"))
            }
            (None, Some(queue), None, None) if self.queues.contains_key(queue) => {
                ("sqs", format!("queue {queue}"))
            }
            (None, None, Some(stream), None) if self.streams.contains_key(stream) => {
                ("kinesis", format!("stream {stream}"))
            }
            (None, None, None, Some(endpoint)) if self.model_endpoints.contains_key(endpoint) => {
                ("sagemaker", format!("endpoint {endpoint}"))
            }
            (None, Some(name), None, None)
            | (None, None, Some(name), None)
            | (None, None, None, Some(name)) => {
                return invalid(format!(
                    "function {function}: a permission names {name}, which the manifest does not define"
                ));
            }
            _ => {
                return invalid(format!(
                    "function {function}: a permission must name exactly one table, queue, stream or endpoint"
                ));
            }
        };
        if permission.table.is_none() && !permission.indexes.is_empty() {
            return invalid(format!(
                "function {function}: indexes belong to a table permission, not to {resource}"
            ));
        }
        let exact = |action: &&String| {
            !action.contains('*')
                && action
                    .strip_prefix(service)
                    .and_then(|rest| rest.strip_prefix(':'))
                    .is_some_and(|name| !name.is_empty())
        };
        if let Some(action) = permission.actions.iter().find(|action| !exact(action)) {
            return invalid(format!(
                "function {function}: action {action:?} on {resource} is not one exact {service} action"
            ));
        }
        Ok(())
    }

    fn check_event_source(
        &self,
        function: &str,
        spec: &FunctionSpec,
        source: &EventSourceSpec,
    ) -> Result<(), StackError> {
        let invalid = |message: String| Err(StackError::Invalid(message));
        if source.maximum_batching_window_seconds > 300 {
            return invalid(format!(
                "function {function}: maximum_batching_window_seconds is over Lambda's 300"
            ));
        }
        match (&source.queue, &source.stream) {
            (Some(queue), None) => self.check_queue_source(function, spec, queue, source),
            (None, Some(stream)) => self.check_stream_source(function, stream, source),
            _ => invalid(format!(
                "function {function}: an event source names exactly one queue or stream"
            )),
        }
    }

    fn check_queue_source(
        &self,
        function: &str,
        spec: &FunctionSpec,
        queue_key: &str,
        source: &EventSourceSpec,
    ) -> Result<(), StackError> {
        let invalid = |message: String| Err(StackError::Invalid(message));
        let Some(queue) = self.queues.get(queue_key) else {
            return invalid(format!(
                "function {function}: event source queue {queue_key} is not defined"
            ));
        };
        let stream_only = [
            ("starting_position", source.starting_position.is_some()),
            (
                "bisect_batch_on_function_error",
                source.bisect_batch_on_function_error.is_some(),
            ),
            (
                "maximum_retry_attempts",
                source.maximum_retry_attempts.is_some(),
            ),
            (
                "maximum_record_age_seconds",
                source.maximum_record_age_seconds.is_some(),
            ),
            ("on_failure_queue", source.on_failure_queue.is_some()),
            (
                "parallelization_factor",
                source.parallelization_factor.is_some(),
            ),
            ("enhanced_fan_out", source.enhanced_fan_out.is_some()),
        ];
        if let Some((field, _)) = stream_only.iter().find(|(_, set)| *set) {
            return invalid(format!(
                "function {function}: {field} is a stream setting; queue {queue_key} cannot take it (SQS failures go to the queue's dead-letter queue)"
            ));
        }
        let max_batch = if queue.fifo { 10 } else { 10_000 };
        if !(1..=max_batch).contains(&source.batch_size) {
            return invalid(format!(
                "function {function}: batch_size {} is outside 1..={max_batch} for queue {queue_key}",
                source.batch_size
            ));
        }
        if source.batch_size > 10 && source.maximum_batching_window_seconds == 0 {
            return invalid(format!(
                "function {function}: a batch_size over 10 needs a batching window of at least 1 s"
            ));
        }
        if source
            .maximum_concurrency
            .is_some_and(|concurrency| !(2..=1000).contains(&concurrency))
        {
            return invalid(format!(
                "function {function}: maximum_concurrency must be 2..=1000"
            ));
        }
        if queue.visibility_timeout_seconds < spec.timeout_seconds {
            return invalid(format!(
                "function {function}: queue {queue_key}'s visibility timeout ({} s) is shorter than the function's timeout ({} s); Lambda refuses such a mapping",
                queue.visibility_timeout_seconds, spec.timeout_seconds
            ));
        }
        Ok(())
    }

    fn check_stream_source(
        &self,
        function: &str,
        stream_key: &str,
        source: &EventSourceSpec,
    ) -> Result<(), StackError> {
        let invalid = |message: String| Err(StackError::Invalid(message));
        let Some(stream) = self.streams.get(stream_key) else {
            return invalid(format!(
                "function {function}: event source stream {stream_key} is not defined"
            ));
        };
        if source.maximum_concurrency.is_some() {
            return invalid(format!(
                "function {function}: maximum_concurrency is an SQS setting; a stream source scales with shards and parallelization_factor"
            ));
        }
        let Some(settings) = source.stream_settings() else {
            return invalid(format!(
                "function {function}: stream source {stream_key} needs starting_position, bisect_batch_on_function_error, maximum_retry_attempts, maximum_record_age_seconds and parallelization_factor"
            ));
        };
        if !(1..=10_000).contains(&source.batch_size) {
            return invalid(format!(
                "function {function}: batch_size {} is outside Kinesis's 1..=10000",
                source.batch_size
            ));
        }
        if !(1..=10).contains(&settings.parallelization_factor) {
            return invalid(format!(
                "function {function}: parallelization_factor must be 1..=10"
            ));
        }
        let retries = source.maximum_retry_attempts.unwrap_or_default();
        if !(-1..=10_000).contains(&retries) {
            return invalid(format!(
                "function {function}: maximum_retry_attempts must be -1 (no limit) or 0..=10000"
            ));
        }
        let age = source.maximum_record_age_seconds.unwrap_or_default();
        let retention = i64::from(stream.retention_hours) * 3600;
        if !(age == -1 || (60..=604_800).contains(&age)) {
            return invalid(format!(
                "function {function}: maximum_record_age_seconds must be -1 (no limit) or 60..=604800"
            ));
        }
        if i64::from(age) > retention {
            return invalid(format!(
                "function {function}: maximum_record_age_seconds ({age} s) is longer than stream {stream_key}'s retention ({retention} s): records would expire first"
            ));
        }
        if let Some(queue) = &settings.on_failure_queue {
            match self.queues.get(queue) {
                None => {
                    return invalid(format!(
                        "function {function}: on_failure_queue {queue} is not defined"
                    ));
                }
                Some(spec) if spec.fifo => {
                    return invalid(format!(
                        "function {function}: on_failure_queue {queue} is FIFO; Lambda sends failure records to standard queues only"
                    ));
                }
                Some(_) => {}
            }
        }
        Ok(())
    }
}

impl TableSpec {
    /// Every key attribute named by the table and its indexes, with one type per name, as
    /// DynamoDB's `AttributeDefinitions` needs them.
    pub fn attribute_definitions(&self) -> BTreeMap<&str, AttributeType> {
        let mut attributes = BTreeMap::new();
        for key in self.key_attributes() {
            attributes.insert(key.name.as_str(), key.attribute_type);
        }
        attributes
    }

    fn key_attributes(&self) -> impl Iterator<Item = &KeyAttribute> {
        std::iter::once(&self.partition_key)
            .chain(&self.sort_key)
            .chain(
                self.global_secondary_indexes
                    .values()
                    .flat_map(|index| std::iter::once(&index.partition_key).chain(&index.sort_key)),
            )
    }

    fn check_attribute_types(&self, table: &str) -> Result<(), StackError> {
        let mut seen: BTreeMap<&str, AttributeType> = BTreeMap::new();
        for key in self.key_attributes() {
            match seen.insert(&key.name, key.attribute_type) {
                Some(other) if other != key.attribute_type => {
                    return Err(StackError::Invalid(format!(
                        "table {table}: key attribute {} has two types, {other:?} and {:?}",
                        key.name, key.attribute_type
                    )));
                }
                _ => {}
            }
        }
        Ok(())
    }
}

fn check_resource_key(key: &str) -> Result<(), StackError> {
    let valid = !key.is_empty()
        && key
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !key.starts_with('-')
        && !key.ends_with('-');
    if valid {
        Ok(())
    } else {
        Err(StackError::Invalid(format!(
            "resource key {key:?} must be lowercase letters, digits and inner hyphens"
        )))
    }
}

/// A deploy-time input's name, as the SAM template's parameter (Terraform's variable is it in
/// snake case): letters and digits.
fn check_parameter_name(what: &str, name: &str) -> Result<(), StackError> {
    if !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric()) {
        Ok(())
    } else {
        Err(StackError::Invalid(format!(
            "{what} {name:?} is not a template parameter name (letters and digits)"
        )))
    }
}

/// Every reason names a setting the manifest has, so a renamed or removed setting cannot leave
/// its reason behind: top-level `reasons` by a dotted path from the root; the reasons of a
/// function, model endpoint, the HTTP API and monitoring by a dotted path inside their owner.
fn check_reasons(manifest: &serde_json::Value) -> Result<(), StackError> {
    let setting = |owner: &serde_json::Value, path: &str| {
        path.split('.')
            .try_fold(owner, |node, part| node.get(part))
            .is_some()
            && path.split('.').next() != Some("reasons")
    };
    let mut owners = vec![("".to_owned(), manifest)];
    for section in ["functions", "model_endpoints"] {
        for (key, spec) in manifest[section].as_object().into_iter().flatten() {
            owners.push((format!("{section}.{key}."), spec));
        }
    }
    for section in ["http_api", "monitoring"] {
        if manifest.get(section).is_some_and(|spec| !spec.is_null()) {
            owners.push((format!("{section}."), &manifest[section]));
        }
    }
    for (owner, spec) in owners {
        for path in spec["reasons"]
            .as_object()
            .into_iter()
            .flatten()
            .map(|(path, _)| path)
        {
            if !setting(spec, path) {
                return Err(StackError::Invalid(format!(
                    "{owner}reasons.{path}: {} has no setting {path}",
                    if owner.is_empty() {
                        "the manifest"
                    } else {
                        owner.trim_end_matches('.')
                    }
                )));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// The workspace manifest with `edit` made to it, read and checked.
    pub(crate) fn manifest_with(
        edit: impl FnOnce(&mut serde_json::Value),
    ) -> Result<Stack, StackError> {
        let mut value: serde_json::Value = serde_json::from_str(WORKSPACE_MANIFEST).unwrap();
        edit(&mut value);
        Stack::from_json(&value.to_string())
    }

    /// Why the workspace manifest with `edit` made to it is refused.
    pub(crate) fn refused(edit: impl FnOnce(&mut serde_json::Value)) -> String {
        manifest_with(edit).unwrap_err().to_string()
    }

    #[test]
    fn an_endpoint_a_function_is_told_to_call_must_be_permitted() {
        let message = refused(|m| {
            m["model_endpoints"]["model-v2"] = m["model_endpoints"]["model"].clone();
            m["model_endpoints"]["model-v2"]["image_parameter"] = "ModelV2ImageUri".into();
            m["functions"]["inference"]["environment"]["MODEL_ENDPOINT_NAME"] =
                serde_json::json!({"endpoint": "model-v2"});
        });
        assert!(
            message.contains("names endpoint model-v2, but no permission of the function allows sagemaker:InvokeEndpoint on it"),
            "{message}"
        );
    }

    #[test]
    fn the_workspace_manifest_is_valid() {
        let stack = Stack::workspace();
        assert!(stack.functions.contains_key("todo-api"));
        assert!(stack.tables.contains_key("tasks"));
        assert_eq!(
            stack.cost_allocation_tags,
            ["cost_center", "project", "environment"]
        );
    }

    #[test]
    fn a_reason_must_name_a_setting_of_its_owner() {
        let problem =
            |edit: fn(&mut serde_json::Value)| manifest_with(edit).unwrap_err().to_string();
        assert!(
            problem(|m| m["functions"]["todo-api"]["reasons"]["memory"] = "why".into()).contains(
                "functions.todo-api.reasons.memory: functions.todo-api has no setting memory"
            )
        );
        assert!(
            problem(|m| m["model_endpoints"]["model"]["reasons"]["serverless.max"] = "why".into())
                .contains("has no setting serverless.max")
        );
        assert!(
            problem(|m| m["reasons"]["queues.gone.fifo"] = "why".into())
                .contains("reasons.queues.gone.fifo: the manifest has no setting")
        );
        assert!(
            problem(|m| m["http_api"]["reasons"]["reasons"] = "why".into())
                .contains("http_api has no setting reasons")
        );
        manifest_with(|m| m["reasons"]["queues.ingest.fifo"] = "why".into())
            .expect("a dotted path to a real setting");
    }

    #[test]
    fn attribute_definitions_cover_table_and_index_keys_once() {
        let stack = Stack::workspace();
        let names: Vec<&str> = stack.tables["tasks"]
            .attribute_definitions()
            .into_keys()
            .collect();
        assert_eq!(names, ["id", "owner", "status_id"]);
    }

    #[test]
    fn an_unknown_field_is_refused_with_its_name() {
        let error = manifest_with(|m| m["functions"]["todo-api"]["memory"] = 512.into())
            .unwrap_err()
            .to_string();
        assert!(error.contains("unknown field `memory`"), "{error}");
    }

    #[test]
    fn dangling_references_are_refused() {
        let error = manifest_with(|m| {
            m["functions"]["todo-api"]["environment"]["TASKS_TABLE"]["table"] = "nope".into()
        })
        .unwrap_err()
        .to_string();
        assert!(error.contains("names table nope"), "{error}");

        let error = manifest_with(|m| {
            m["functions"]["todo-api"]["permissions"][0]["indexes"][0] = "by_owner".into()
        })
        .unwrap_err()
        .to_string();
        assert!(error.contains("no such index"), "{error}");

        let error = manifest_with(|m| m["http_api"]["routes"][0]["function"] = "other".into())
            .unwrap_err()
            .to_string();
        assert!(error.contains("targets function other"), "{error}");
    }

    #[test]
    fn wildcard_actions_and_bad_settings_are_refused() {
        let error = manifest_with(|m| {
            m["functions"]["todo-api"]["permissions"][0]["actions"][0] = "dynamodb:*".into()
        })
        .unwrap_err()
        .to_string();
        assert!(error.contains("not one exact dynamodb action"), "{error}");

        let error = manifest_with(|m| m["functions"]["todo-api"]["memory_mb"] = 64.into())
            .unwrap_err()
            .to_string();
        assert!(error.contains("memory_mb 64"), "{error}");

        let error = manifest_with(|m| m["http_api"]["routes"][0]["route"] = "FETCH /x".into())
            .unwrap_err()
            .to_string();
        assert!(error.contains("FETCH /x"), "{error}");

        let error = manifest_with(|m| {
            m["tables"]["tasks"]["global_secondary_indexes"]["by_status"]["sort_key"]["type"] =
                "S".into();
            m["tables"]["tasks"]["global_secondary_indexes"]["by_status"]["partition_key"]["type"] =
                "N".into();
        })
        .unwrap_err()
        .to_string();
        assert!(error.contains("owner has two types"), "{error}");
    }

    #[test]
    fn model_endpoints_are_checked_and_referenced_by_name() {
        let stack = Stack::workspace();
        let model = &stack.model_endpoints["model"];
        assert_eq!(model.image_parameter, "ModelImageUri");
        assert!(!model.network_isolation);
        let inference = &stack.functions["inference"];
        assert_eq!(
            inference.environment["MODEL_ENDPOINT_NAME"],
            EnvValue::Endpoint {
                endpoint: "model".into()
            }
        );

        let error = |edit: fn(&mut serde_json::Value)| manifest_with(edit).unwrap_err().to_string();
        let message =
            error(|m| m["model_endpoints"]["model"]["serverless"]["memory_size_mb"] = 1500.into());
        assert!(message.contains("memory_size_mb 1500"), "{message}");
        let message =
            error(|m| m["model_endpoints"]["model"]["serverless"]["max_concurrency"] = 0.into());
        assert!(message.contains("max_concurrency 0"), "{message}");
        let message = error(|m| m["model_endpoints"]["model"]["network_isolation"] = true.into());
        assert!(
            message.contains("do not support network isolation"),
            "{message}"
        );
        let message =
            error(|m| m["model_endpoints"]["model"]["image_parameter"] = "image-uri".into());
        assert!(
            message.contains("not a template parameter name"),
            "{message}"
        );
        let message = error(|m| {
            m["functions"]["inference"]["environment"]["MODEL_ENDPOINT_NAME"]["endpoint"] =
                "other".into()
        });
        assert!(message.contains("names endpoint other"), "{message}");
        let message = error(|m| {
            m["functions"]["inference"]["permissions"][1]["actions"][0] = "sagemaker:*".into()
        });
        assert!(
            message.contains("not one exact sagemaker action"),
            "{message}"
        );
        let message =
            error(|m| m["functions"]["inference"]["permissions"][1]["endpoint"] = "other".into());
        assert!(message.contains("names other"), "{message}");
    }

    #[test]
    fn queue_stream_and_event_source_references_are_checked() {
        let stack = Stack::workspace();
        assert!(stack.queues["orders"].fifo);
        assert_eq!(
            stack.queues["orders"].deployed_name("prod", "orders"),
            "prod-orders.fifo"
        );
        assert_eq!(
            stack.queues["ingest"].deployed_name("prod", "ingest"),
            "prod-ingest"
        );

        let error = |edit: fn(&mut serde_json::Value)| manifest_with(edit).unwrap_err().to_string();
        let message = error(|m| m["queues"]["ingest"]["dead_letter"]["queue"] = "nope".into());
        assert!(message.contains("dead-letter queue nope"), "{message}");
        let message = error(|m| m["queues"]["ingest-dlq"]["fifo"] = true.into());
        assert!(message.contains("FIFO exactly when"), "{message}");
        let message = error(|m| {
            m["functions"]["event-router"]["permissions"][1]["actions"][0] =
                "sqs:SendMessage".into()
        });
        assert!(
            message.contains("not one exact kinesis action"),
            "{message}"
        );
        let message = error(|m| {
            m["functions"]["event-router"]["permissions"][0]["stream"] = "activity".into()
        });
        assert!(
            message.contains("exactly one table, queue, stream or endpoint"),
            "{message}"
        );
        let message = error(|m| {
            m["functions"]["event-router"]["environment"]["ORDERS_QUEUE_URL"]["queue"] = "x".into()
        });
        assert!(message.contains("names queue x"), "{message}");
        let message = error(|m| m["queues"]["ingest"]["visibility_timeout_seconds"] = 10.into());
        assert!(
            message.contains("shorter than the function's timeout"),
            "{message}"
        );
        let message = error(|m| {
            m["functions"]["event-router"]["event_sources"][0]["maximum_batching_window_seconds"] =
                0.into()
        });
        assert!(message.contains("batching window"), "{message}");
        let message = error(|m| {
            m["event_buses"]["events"]["rules"]["to-ingest"]["target"]["queue"] = "gone".into()
        });
        assert!(message.contains("target queue gone"), "{message}");
    }

    #[test]
    fn the_ingest_queue_gives_six_function_timeouts() {
        // Lambda's advice for SQS event sources; the manifest's reason says so.
        let stack = Stack::workspace();
        let router = &stack.functions["event-router"];
        let source = &router.event_sources[0];
        assert_eq!(
            stack.queues[source.queue.as_deref().unwrap()].visibility_timeout_seconds,
            6 * router.timeout_seconds
        );
    }

    #[test]
    fn a_profile_replaces_source_settings_and_values_and_must_make_a_valid_manifest() {
        let stack = Stack::workspace();
        let low = stack.with_profile("low-latency").unwrap();
        let source =
            |stack: &Stack, function: &str| stack.functions[function].event_sources[0].clone();
        assert_eq!(source(&stack, "event-router").batch_size, 100);
        assert_eq!(source(&low, "event-router").batch_size, 10);
        assert_eq!(
            source(&low, "event-router").maximum_batching_window_seconds,
            0
        );
        for function in ["stream-enrichment", "feature-updates"] {
            let settings = source(&low, function).stream_settings().unwrap();
            assert!(settings.enhanced_fan_out, "{function}");
            assert!(
                !source(&stack, function)
                    .stream_settings()
                    .unwrap()
                    .enhanced_fan_out
            );
        }
        assert_eq!(
            low.functions["inference"].environment["FEATURES_CONSISTENT_READ"],
            EnvValue::Literal {
                value: "true".into()
            }
        );
        assert!(
            low.profiles.contains_key("low-latency"),
            "the profiles stay listed"
        );

        let error = stack.with_profile("fastest").unwrap_err().to_string();
        assert!(
            error.contains("no profile fastest (the manifest has: low-latency)"),
            "{error}"
        );
        let message = refused(|m| {
            m["profiles"]["low-latency"]["event_sources"]["ingest"]["batch_size"] = 100.into()
        });
        assert!(
            message.contains("profile low-latency: function event-router: a batch_size over 10 needs a batching window"),
            "{message}"
        );
        let message = refused(|m| {
            m["profiles"]["low-latency"]["event_sources"]["nowhere"] =
                serde_json::json!({"batch_size": 5})
        });
        assert!(
            message.contains("profile low-latency: no event source reads nowhere"),
            "{message}"
        );
        let message = refused(|m| {
            m["profiles"]["low-latency"]["environment"]["inference"]["FEATURES_TABLE"] =
                "other".into()
        });
        assert!(
            message.contains("names a resource; a profile sets values only"),
            "{message}"
        );
        let message = refused(|m| {
            m["profiles"]["low-latency"]["environment"]["inference"]["NEW_VARIABLE"] = "1".into()
        });
        assert!(
            message.contains("inference has no variable NEW_VARIABLE"),
            "{message}"
        );
        let message = refused(|m| {
            m["profiles"]["low-latency"]["event_sources"]["ingest"]["enhanced_fan_out"] =
                true.into()
        });
        assert!(
            message.contains("enhanced_fan_out is a stream setting"),
            "{message}"
        );
    }

    #[test]
    fn a_streams_capacity_mode_and_shard_count_agree() {
        let stack = Stack::workspace();
        assert_eq!(
            stack.streams["activity"].capacity_mode,
            CapacityMode::Provisioned
        );
        let on_demand = manifest_with(|m| {
            m["streams"]["enriched"]["capacity_mode"] = "on_demand".into();
            m["streams"]["enriched"]
                .as_object_mut()
                .unwrap()
                .remove("shard_count");
            // The reason for a setting that is gone goes with it.
            m["reasons"]
                .as_object_mut()
                .unwrap()
                .remove("streams.enriched.shard_count");
        })
        .expect("an on-demand stream without a shard count");
        assert_eq!(on_demand.streams["enriched"].shard_count, None);
        assert_eq!(
            on_demand.streams["enriched"].capacity_mode.stream_mode(),
            "ON_DEMAND"
        );

        let error = |edit: fn(&mut serde_json::Value)| manifest_with(edit).unwrap_err().to_string();
        let message = error(|m| m["streams"]["activity"]["capacity_mode"] = "on_demand".into());
        assert!(
            message.contains("stream activity: shard_count is for provisioned streams"),
            "{message}"
        );
        let message = error(|m| {
            m["streams"]["activity"]
                .as_object_mut()
                .unwrap()
                .remove("shard_count");
        });
        assert!(
            message.contains("a provisioned stream needs a shard_count of at least 1"),
            "{message}"
        );
        let message = error(|m| m["streams"]["activity"]["shard_count"] = 0.into());
        assert!(message.contains("at least 1"), "{message}");
        let message = error(|m| m["streams"]["activity"]["capacity_mode"] = "serverless".into());
        assert!(
            message.contains("unknown variant `serverless`"),
            "{message}"
        );
    }

    #[test]
    fn stream_sources_carry_every_stream_setting_and_queues_none() {
        let stack = Stack::workspace();
        let source = &stack.functions["stream-enrichment"].event_sources[0];
        let settings = source.stream_settings().expect("a complete stream source");
        assert_eq!(settings.starting_position, StartingPosition::TrimHorizon);
        assert_eq!(settings.maximum_retry_attempts, Some(10));
        assert_eq!(source.source_key(), "activity");

        let error = |edit: fn(&mut serde_json::Value)| manifest_with(edit).unwrap_err().to_string();
        let message = error(|m| {
            m["functions"]["stream-enrichment"]["event_sources"][0]
                .as_object_mut()
                .unwrap()
                .remove("starting_position");
        });
        assert!(message.contains("needs starting_position"), "{message}");
        let message = error(|m| {
            m["functions"]["event-router"]["event_sources"][0]["parallelization_factor"] = 2.into()
        });
        assert!(
            message.contains("parallelization_factor is a stream setting"),
            "{message}"
        );
        let message = error(|m| {
            m["functions"]["stream-enrichment"]["event_sources"][0]["queue"] = "ingest".into()
        });
        assert!(message.contains("exactly one queue or stream"), "{message}");
        let message = error(|m| {
            m["functions"]["stream-enrichment"]["event_sources"][0]["maximum_record_age_seconds"] =
                (25 * 3600).into()
        });
        assert!(message.contains("records would expire first"), "{message}");
        let message = error(|m| {
            m["functions"]["stream-enrichment"]["event_sources"][0]["on_failure_queue"] =
                "orders".into()
        });
        assert!(message.contains("is FIFO"), "{message}");
        let message = error(|m| {
            m["functions"]["stream-enrichment"]["event_sources"][0]["parallelization_factor"] =
                11.into()
        });
        assert!(message.contains("1..=10"), "{message}");
    }

    #[test]
    fn resource_names_carry_the_prefix() {
        assert_eq!(resource_name("prod", "tasks"), "prod-tasks");
    }
}

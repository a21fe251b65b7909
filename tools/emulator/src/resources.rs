//! The stack's AWS resources, named and created from the manifest: tables, queues (dead-letter
//! queues first, then the queues that redrive to them), streams, event buses with their rules
//! and targets, the archive bucket.

use std::collections::BTreeMap;
use std::time::Duration;

use aws_sdk_sqs::types::QueueAttributeName;
use stack::tables::{self, CreateTableError, Creation};
use stack::{EnvValue, FunctionSpec, Stack};

use crate::logs::LogSink;

/// The SDK clients the stack uses against the emulator.
#[derive(Clone)]
pub struct Clients {
    pub dynamodb: aws_sdk_dynamodb::Client,
    pub sqs: aws_sdk_sqs::Client,
    pub kinesis: aws_sdk_kinesis::Client,
    pub eventbridge: aws_sdk_eventbridge::Client,
    /// Path-style addressing: `bucket.127.0.0.1` does not resolve.
    pub s3: aws_sdk_s3::Client,
}

/// A created queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Queue {
    pub name: String,
    pub url: String,
    pub arn: String,
}

/// Deployed names of the manifest's resources under one prefix (and, once created, the queues'
/// URLs and ARNs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resources {
    pub prefix: String,
    /// Manifest key -> table name.
    pub tables: BTreeMap<String, String>,
    /// Manifest key -> function name.
    pub functions: BTreeMap<String, String>,
    /// Manifest key -> stream name.
    pub streams: BTreeMap<String, String>,
    /// Manifest key -> event bus name.
    pub event_buses: BTreeMap<String, String>,
    /// Manifest key -> the queue as created.
    pub queues: BTreeMap<String, Queue>,
    /// Manifest key -> model endpoint name (served by the local model server).
    pub model_endpoints: BTreeMap<String, String>,
    /// Manifest key -> archive delivery stream name.
    pub archives: BTreeMap<String, String>,
    /// The bucket every archive writes to (`<prefix>-archive`), if the manifest has archives.
    pub archive_bucket: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ResourceError {
    #[error(transparent)]
    Table(#[from] CreateTableError),
    #[error("creating {what}: {message}")]
    Create { what: String, message: String },
}

fn failed<E>(what: impl Into<String>) -> impl FnOnce(E) -> ResourceError
where
    E: std::error::Error,
{
    let what = what.into();
    move |error| ResourceError::Create {
        what,
        message: aws_sdk_sqs::error::DisplayErrorContext(error).to_string(),
    }
}

/// The ARN of the queue at `url` (event sources, redrive policies and rules name queues by ARN).
pub async fn queue_arn(
    sqs: &aws_sdk_sqs::Client,
    url: &str,
) -> Result<
    String,
    aws_sdk_sqs::error::SdkError<
        aws_sdk_sqs::operation::get_queue_attributes::GetQueueAttributesError,
    >,
> {
    Ok(sqs
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await?
        .attributes
        .and_then(|mut attributes| attributes.remove(&QueueAttributeName::QueueArn))
        .unwrap_or_default())
}

impl Resources {
    pub fn name(stack: &Stack, prefix: &str) -> Self {
        let names = |keys: Vec<&String>| {
            keys.into_iter()
                .map(|key| (key.clone(), stack::resource_name(prefix, key)))
                .collect()
        };
        Self {
            prefix: prefix.to_owned(),
            tables: names(stack.tables.keys().collect()),
            functions: names(stack.functions.keys().collect()),
            streams: names(stack.streams.keys().collect()),
            event_buses: names(stack.event_buses.keys().collect()),
            queues: BTreeMap::new(),
            model_endpoints: names(stack.model_endpoints.keys().collect()),
            archives: names(stack.archives.keys().collect()),
            archive_bucket: (!stack.archives.is_empty())
                .then(|| stack::archive_bucket_name(prefix, None)),
        }
    }

    /// The function's configured variables with resource references resolved: table and
    /// stream names, queue URLs. Queues must have been created.
    pub fn function_environment(&self, function: &FunctionSpec) -> Vec<(String, String)> {
        function
            .environment
            .iter()
            .map(|(name, value)| {
                let value = match value {
                    EnvValue::Table { table } => self.tables[table].clone(),
                    EnvValue::Stream { stream } => self.streams[stream].clone(),
                    EnvValue::Queue { queue } => self.queues[queue].url.clone(),
                    EnvValue::Endpoint { endpoint } => self.model_endpoints[endpoint].clone(),
                    EnvValue::Literal { value } => value.clone(),
                };
                (name.clone(), value)
            })
            .collect()
    }

    /// Creates every resource of the manifest (leaving tables that already exist).
    pub async fn create(
        &mut self,
        stack: &Stack,
        clients: &Clients,
        logs: &LogSink,
    ) -> Result<(), ResourceError> {
        for (key, spec) in &stack.tables {
            let name = &self.tables[key];
            let creation = tables::create_table(&clients.dynamodb, name, spec).await?;
            let verb = match creation {
                Creation::Created => "created",
                Creation::AlreadyExisted => "already exists",
            };
            logs.line("stack", &format!("table {name} {verb}"));
        }

        // Dead-letter queues before the queues that name them.
        let mut ordered: Vec<(&String, &stack::QueueSpec)> = stack.queues.iter().collect();
        ordered.sort_by_key(|(_, spec)| spec.dead_letter.is_some());
        for (key, spec) in ordered {
            let name = spec.deployed_name(&self.prefix, key);
            let mut request = clients
                .sqs
                .create_queue()
                .queue_name(&name)
                .attributes(
                    QueueAttributeName::VisibilityTimeout,
                    spec.visibility_timeout_seconds.to_string(),
                )
                .attributes(
                    QueueAttributeName::MessageRetentionPeriod,
                    spec.message_retention_seconds.to_string(),
                );
            if spec.fifo {
                request = request.attributes(QueueAttributeName::FifoQueue, "true");
            }
            if let Some(dead_letter) = &spec.dead_letter {
                let policy = serde_json::json!({
                    "deadLetterTargetArn": self.queues[&dead_letter.queue].arn,
                    "maxReceiveCount": dead_letter.max_receive_count,
                });
                request = request.attributes(QueueAttributeName::RedrivePolicy, policy.to_string());
            }
            let url = request
                .send()
                .await
                .map_err(failed(format!("queue {name}")))?
                .queue_url
                .unwrap_or_default();
            let arn = queue_arn(&clients.sqs, &url)
                .await
                .map_err(failed(format!("queue {name}")))?;
            logs.line("stack", &format!("queue {name} created"));
            self.queues.insert(key.clone(), Queue { name, url, arn });
        }

        for (key, spec) in &stack.streams {
            let name = &self.streams[key];
            let mut request = clients
                .kinesis
                .create_stream()
                .stream_name(name)
                .stream_mode_details(
                    aws_sdk_kinesis::types::StreamModeDetails::builder()
                        .stream_mode(spec.capacity_mode.stream_mode().into())
                        .build()
                        .expect("the stream mode is set"),
                );
            if let Some(shards) = spec.shard_count {
                request = request.shard_count(i32::try_from(shards).unwrap_or(i32::MAX));
            }
            let created = request.send().await;
            match created {
                Ok(_) => {}
                // A re-run against a long-lived emulator: the stream is there already.
                Err(error)
                    if error
                        .as_service_error()
                        .is_some_and(|e| e.is_resource_in_use_exception()) => {}
                Err(error) => return Err(failed(format!("stream {name}"))(error)),
            }
            wait_for_stream(&clients.kinesis, name).await?;
            logs.line(
                "stack",
                &match spec.shard_count {
                    Some(shards) => {
                        format!("stream {name} created ({shards} provisioned shard(s))")
                    }
                    None => format!("stream {name} created (on demand)"),
                },
            );
        }

        for (key, bus) in &stack.event_buses {
            let bus_name = &self.event_buses[key];
            let created = clients
                .eventbridge
                .create_event_bus()
                .name(bus_name)
                .send()
                .await;
            match created {
                Ok(_) => {}
                Err(error)
                    if error
                        .as_service_error()
                        .is_some_and(|e| e.is_resource_already_exists_exception()) => {}
                Err(error) => return Err(failed(format!("event bus {bus_name}"))(error)),
            }
            for (rule_key, rule) in &bus.rules {
                let rule_name = stack::resource_name(&self.prefix, rule_key);
                clients
                    .eventbridge
                    .put_rule()
                    .name(&rule_name)
                    .event_bus_name(bus_name)
                    .event_pattern(rule.pattern.to_string())
                    .send()
                    .await
                    .map_err(failed(format!("rule {rule_name}")))?;
                let target = aws_sdk_eventbridge::types::Target::builder()
                    .id(&rule.target.queue)
                    .arn(&self.queues[&rule.target.queue].arn)
                    .build()
                    .expect("id and arn set");
                clients
                    .eventbridge
                    .put_targets()
                    .rule(&rule_name)
                    .event_bus_name(bus_name)
                    .targets(target)
                    .send()
                    .await
                    .map_err(failed(format!("targets of rule {rule_name}")))?;
                logs.line(
                    "stack",
                    &format!(
                        "event bus {bus_name}: rule {rule_name} -> queue {}",
                        rule.target.queue
                    ),
                );
            }
        }

        if let Some(bucket) = &self.archive_bucket {
            let created = clients.s3.create_bucket().bucket(bucket).send().await;
            match created {
                Ok(_) => {}
                Err(error)
                    if error.as_service_error().is_some_and(|e| {
                        e.is_bucket_already_owned_by_you() || e.is_bucket_already_exists()
                    }) => {}
                Err(error) => return Err(failed(format!("bucket {bucket}"))(error)),
            }
            logs.line("stack", &format!("bucket {bucket} created"));
        }
        Ok(())
    }
}

/// Waits until the stream is ACTIVE (instant on the emulator, seconds on AWS).
async fn wait_for_stream(
    kinesis: &aws_sdk_kinesis::Client,
    name: &str,
) -> Result<(), ResourceError> {
    for _ in 0..600 {
        let summary = kinesis
            .describe_stream_summary()
            .stream_name(name)
            .send()
            .await
            .map_err(failed(format!("stream {name}")))?;
        let status = summary
            .stream_description_summary()
            .map(|s| s.stream_status().clone());
        if status == Some(aws_sdk_kinesis::types::StreamStatus::Active) {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Err(ResourceError::Create {
        what: format!("stream {name}"),
        message: "not ACTIVE after 60 s".into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_environment_come_from_the_manifest() {
        let stack = Stack::workspace();
        let mut resources = Resources::name(&stack, "local");
        assert_eq!(resources.tables["tasks"], "local-tasks");
        assert_eq!(resources.functions["todo-api"], "local-todo-api");
        assert_eq!(resources.streams["activity"], "local-activity");
        let environment = resources.function_environment(&stack.functions["todo-api"]);
        assert_eq!(
            environment,
            [("TASKS_TABLE".to_owned(), "local-tasks".to_owned())]
        );
        for key in stack.queues.keys() {
            resources.queues.insert(
                key.clone(),
                Queue {
                    name: key.clone(),
                    url: format!("http://sqs/{key}"),
                    arn: format!("arn:{key}"),
                },
            );
        }
        let environment: BTreeMap<String, String> = resources
            .function_environment(&stack.functions["event-router"])
            .into_iter()
            .collect();
        assert_eq!(environment["ACTIVITY_STREAM"], "local-activity");
        assert_eq!(environment["ORDERS_QUEUE_URL"], "http://sqs/orders");
        assert_eq!(environment["REJECTS_QUEUE_URL"], "http://sqs/rejects");
    }
}

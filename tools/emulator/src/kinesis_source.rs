//! Lambda's Kinesis event source mapping, emulated with the manifest's settings: one poller per
//! shard reads from the starting position, gathers up to `batch_size` records or whatever
//! arrived within `maximum_batching_window_seconds`, and invokes the function with a Kinesis
//! event. The shard's checkpoint advances past a batch only when it is done:
//!
//! - a partial batch response (`ReportBatchItemFailures`) naming a sequence number checkpoints
//!   the records before it and retries from it;
//! - an invocation that fails (or answers something Lambda reads as a complete failure) retries
//!   the whole batch, split in two first with `bisect_batch_on_function_error`;
//! - after `maximum_retry_attempts` retries, or once the oldest record is older than
//!   `maximum_record_age_seconds`, the batch is given up: a pointer to it (shard, sequence
//!   range) goes to the on-failure queue and the shard moves on.
//!
//! Resharding and parallelization factors above 1 are not emulated (the manifest uses 1).

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use aws_lambda_events::streams::KinesisEventResponse;
use aws_sdk_kinesis::types::{Record, ShardIteratorType};
use base64::Engine;
use serde_json::{Value, json};
use stack::{StartingPosition, StreamSourceSettings};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::functions::FunctionPool;
use crate::logs::LogSink;
use crate::resources::Queue;
use crate::sqs_source::EventSourceStats;

/// First pause before retrying a failed batch; doubled per attempt up to [`MAX_RETRY_PAUSE`].
const FIRST_RETRY_PAUSE: Duration = Duration::from_millis(100);
const MAX_RETRY_PAUSE: Duration = Duration::from_secs(5);
/// Pause between polls of a shard with nothing new (Lambda polls each shard about once a second).
const IDLE_POLL: Duration = Duration::from_millis(250);

pub struct StreamSource {
    pub function: String,
    pub pool: Arc<FunctionPool>,
    pub stream_name: String,
    pub batch_size: usize,
    pub batching_window: Duration,
    pub report_batch_item_failures: bool,
    pub settings: StreamSourceSettings,
    pub on_failure: Option<Queue>,
    pub region: String,
    pub kinesis: aws_sdk_kinesis::Client,
    pub sqs: aws_sdk_sqs::Client,
    pub logs: Arc<LogSink>,
    pub stats: Arc<EventSourceStats>,
}

/// Starts one poller per shard of the stream.
pub async fn start(source: Arc<StreamSource>) -> Result<Vec<JoinHandle<()>>, String> {
    let summary = source
        .kinesis
        .describe_stream_summary()
        .stream_name(&source.stream_name)
        .send()
        .await
        .map_err(|error| {
            format!(
                "DescribeStreamSummary {}: {}",
                source.stream_name,
                aws_sdk_kinesis::error::DisplayErrorContext(error)
            )
        })?;
    let arn = summary
        .stream_description_summary()
        .map(|summary| summary.stream_arn().to_owned())
        .unwrap_or_default();
    let shards = source
        .kinesis
        .list_shards()
        .stream_name(&source.stream_name)
        .send()
        .await
        .map_err(|error| {
            format!(
                "ListShards {}: {}",
                source.stream_name,
                aws_sdk_kinesis::error::DisplayErrorContext(error)
            )
        })?;
    Ok(shards
        .shards()
        .iter()
        .map(|shard| {
            let poller = ShardPoller {
                source: Arc::clone(&source),
                shard_id: shard.shard_id().to_owned(),
                stream_arn: arn.clone(),
                component: format!("{}<-{}", source.function, source.stream_name),
            };
            tokio::spawn(poller.run())
        })
        .collect())
}

struct ShardPoller {
    source: Arc<StreamSource>,
    shard_id: String,
    stream_arn: String,
    component: String,
}

/// How one invocation of a batch ended.
enum Outcome {
    Done,
    /// Records from this index on failed; those before it are done.
    FailedFrom(usize),
    /// The invocation failed: the whole batch.
    FunctionError(String),
}

impl ShardPoller {
    async fn run(self) {
        let source = &self.source;
        let iterator_type = match source.settings.starting_position {
            StartingPosition::TrimHorizon => ShardIteratorType::TrimHorizon,
            StartingPosition::Latest => ShardIteratorType::Latest,
        };
        let mut iterator = loop {
            match source
                .kinesis
                .get_shard_iterator()
                .stream_name(&source.stream_name)
                .shard_id(&self.shard_id)
                .shard_iterator_type(iterator_type.clone())
                .send()
                .await
            {
                Ok(output) => break output.shard_iterator,
                Err(error) => {
                    self.log(format!(
                        "GetShardIterator failed: {}",
                        aws_sdk_kinesis::error::DisplayErrorContext(error)
                    ));
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        };
        let mut buffer: VecDeque<Record> = VecDeque::new();
        loop {
            let mut first_at: Option<Instant> = (!buffer.is_empty()).then(Instant::now);
            while buffer.len() < source.batch_size {
                if first_at.is_some_and(|at| at.elapsed() >= source.batching_window) {
                    break;
                }
                let Some(current) = iterator.clone() else {
                    break; // a closed shard
                };
                match source
                    .kinesis
                    .get_records()
                    .shard_iterator(current)
                    .limit(source.batch_size.min(10_000) as i32)
                    .send()
                    .await
                {
                    Ok(page) => {
                        iterator = page.next_shard_iterator.clone();
                        if page.records().is_empty() {
                            tokio::time::sleep(if first_at.is_some() {
                                Duration::from_millis(50)
                            } else {
                                IDLE_POLL
                            })
                            .await;
                            continue;
                        }
                        first_at.get_or_insert_with(Instant::now);
                        buffer.extend(page.records().iter().cloned());
                    }
                    Err(error) => {
                        self.log(format!(
                            "GetRecords failed: {}",
                            aws_sdk_kinesis::error::DisplayErrorContext(error)
                        ));
                        tokio::time::sleep(Duration::from_secs(1)).await;
                    }
                }
            }
            if buffer.is_empty() {
                if iterator.is_none() {
                    self.log("the shard is closed; its poller stops".into());
                    return;
                }
                continue;
            }
            let take = buffer.len().min(source.batch_size);
            let batch: Vec<Record> = buffer.drain(..take).collect();
            self.process(batch).await;
        }
    }

    /// Invokes `batch` until every record is done or given up; the checkpoint then passes it.
    async fn process(&self, batch: Vec<Record>) {
        let source = &self.source;
        let _busy = source.stats.busy_guard();
        // Batches still to run, in order; bisecting splits the front one.
        let mut pending: VecDeque<(Vec<Record>, u32)> = VecDeque::from([(batch, 0)]);
        let mut pause = FIRST_RETRY_PAUSE;
        while let Some((records, retries)) = pending.pop_front() {
            source.stats.batches.fetch_add(1, Ordering::Relaxed);
            source
                .stats
                .messages
                .fetch_add(records.len(), Ordering::Relaxed);
            let outcome = self.invoke(&records).await;
            let (failed, reason, split) = match outcome {
                Outcome::Done => {
                    pause = FIRST_RETRY_PAUSE;
                    continue;
                }
                Outcome::FailedFrom(index) => (
                    records[index..].to_vec(),
                    format!(
                        "the function reported {} record(s) from sequence number {} as failed",
                        records.len() - index,
                        records[index].sequence_number()
                    ),
                    false,
                ),
                Outcome::FunctionError(error) => (
                    records,
                    error,
                    source.settings.bisect_batch_on_function_error,
                ),
            };
            source
                .stats
                .failed
                .fetch_add(failed.len(), Ordering::Relaxed);
            if let Some(condition) = self.give_up(&failed, retries) {
                self.discard(&failed, condition, retries + 1).await;
                continue;
            }
            self.log(format!(
                "batch of {} failed ({reason}); retrying",
                failed.len()
            ));
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(MAX_RETRY_PAUSE);
            if split && failed.len() > 1 {
                let mut first = failed;
                let second = first.split_off(first.len() / 2);
                pending.push_front((second, retries + 1));
                pending.push_front((first, retries + 1));
            } else {
                pending.push_front((failed, retries + 1));
            }
        }
    }

    /// Why `records`, after `retries` retries, are given up, if they are.
    fn give_up(&self, records: &[Record], retries: u32) -> Option<&'static str> {
        let settings = &self.source.settings;
        if settings
            .maximum_retry_attempts
            .is_some_and(|max| retries >= max)
        {
            return Some("RetryAttemptsExhausted");
        }
        let oldest = records
            .first()
            .and_then(|record| record.approximate_arrival_timestamp())
            .map(|at| at.secs());
        let now = OffsetDateTime::now_utc().unix_timestamp();
        match (settings.maximum_record_age_seconds, oldest) {
            (Some(max_age), Some(arrival)) if now - arrival > i64::from(max_age) => {
                Some("RecordAgeExceeded")
            }
            _ => None,
        }
    }

    async fn invoke(&self, records: &[Record]) -> Outcome {
        let source = &self.source;
        let payload = kinesis_event(records, &self.shard_id, &self.stream_arn, &source.region);
        let response = match source
            .pool
            .invoke(
                serde_json::to_vec(&payload)
                    .expect("events serialize")
                    .into(),
            )
            .await
        {
            Ok(response) => response,
            Err(error) => return Outcome::FunctionError(format!("the invocation failed: {error}")),
        };
        if !source.report_batch_item_failures {
            return Outcome::Done;
        }
        let sequences: Vec<&str> = records.iter().map(Record::sequence_number).collect();
        match failed_from(&response, &sequences) {
            Ok(None) => Outcome::Done,
            Ok(Some(index)) => Outcome::FailedFrom(index),
            Err(reason) => Outcome::FunctionError(reason),
        }
    }

    /// Sends a pointer to `records` to the on-failure queue (the records stay in the stream
    /// for its retention), as Lambda does.
    async fn discard(&self, records: &[Record], condition: &str, invocations: u32) {
        let source = &self.source;
        source
            .stats
            .discarded
            .fetch_add(records.len(), Ordering::Relaxed);
        let (Some(first), Some(last)) = (records.first(), records.last()) else {
            return;
        };
        let arrival = |record: &Record| {
            record
                .approximate_arrival_timestamp()
                .and_then(|at| OffsetDateTime::from_unix_timestamp(at.secs()).ok())
                .and_then(|at| at.format(&Rfc3339).ok())
        };
        let pointer = json!({
            "requestContext": {
                "requestId": ulid::Ulid::new().to_string(),
                "functionArn": format!("arn:aws:lambda:{}:123456789012:function:{}", source.region, source.function),
                "condition": condition,
                "approximateInvokeCount": invocations,
            },
            "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
            "version": "1.0",
            "timestamp": OffsetDateTime::now_utc().format(&Rfc3339).unwrap_or_default(),
            "KinesisBatchInfo": {
                "shardId": self.shard_id,
                "startSequenceNumber": first.sequence_number(),
                "endSequenceNumber": last.sequence_number(),
                "approximateArrivalOfFirstRecord": arrival(first),
                "approximateArrivalOfLastRecord": arrival(last),
                "batchSize": records.len(),
                "streamArn": self.stream_arn,
            },
        });
        let Some(queue) = &source.on_failure else {
            self.log(format!(
                "gave up {} record(s) ({condition}) with no on-failure destination: {pointer}",
                records.len()
            ));
            return;
        };
        match source
            .sqs
            .send_message()
            .queue_url(&queue.url)
            .message_body(pointer.to_string())
            .send()
            .await
        {
            Ok(_) => self.log(format!(
                "gave up {} record(s) from sequence number {} ({condition}); their pointer is on {}",
                records.len(),
                first.sequence_number(),
                queue.name
            )),
            Err(error) => self.log(format!(
                "gave up {} record(s) ({condition}); sending their pointer to {} failed: {}",
                records.len(),
                queue.name,
                aws_sdk_sqs::error::DisplayErrorContext(error)
            )),
        }
    }

    fn log(&self, line: String) {
        self.source.logs.line(&self.component, &line);
    }
}

/// The position of the first failed record in a function's answer, as Lambda reads it: an
/// empty or null answer, `{}` or a null or empty list is success; the lowest sequence number
/// named is the failure; a missing or empty identifier, one not in the batch, or an answer that
/// is not a batch response fails the whole batch.
fn failed_from(response: &[u8], sequences: &[&str]) -> Result<Option<usize>, String> {
    let value: Value = if response.iter().all(u8::is_ascii_whitespace) {
        Value::Null
    } else {
        serde_json::from_slice(response)
            .map_err(|_| "the answer is not a batch response".to_owned())?
    };
    let list = match &value {
        Value::Null => return Ok(None),
        Value::Object(object) => match object.get("batchItemFailures") {
            None | Some(Value::Null) => return Ok(None),
            Some(list) => list.clone(),
        },
        _ => return Err("the answer is not a batch response".into()),
    };
    let parsed: KinesisEventResponse = serde_json::from_value(json!({ "batchItemFailures": list }))
        .map_err(|error| format!("batchItemFailures does not parse: {error}"))?;
    let mut first: Option<usize> = None;
    for failure in parsed.batch_item_failures {
        let identifier = failure.item_identifier.unwrap_or_default();
        let Some(index) = sequences.iter().position(|s| *s == identifier) else {
            return Err(format!(
                "itemIdentifier {identifier:?} is not a sequence number of the batch"
            ));
        };
        first = Some(first.map_or(index, |known| known.min(index)));
    }
    Ok(first)
}

/// The event Lambda builds from a shard's records.
fn kinesis_event(records: &[Record], shard_id: &str, stream_arn: &str, region: &str) -> Value {
    let records: Vec<Value> = records
        .iter()
        .map(|record| {
            let arrival = record
                .approximate_arrival_timestamp()
                .map(|at| at.secs() as f64 + f64::from(at.subsec_nanos()) / 1e9)
                .unwrap_or_default();
            json!({
                "kinesis": {
                    "kinesisSchemaVersion": "1.0",
                    "partitionKey": record.partition_key(),
                    "sequenceNumber": record.sequence_number(),
                    "data": base64::engine::general_purpose::STANDARD.encode(record.data().as_ref()),
                    "approximateArrivalTimestamp": arrival,
                },
                "eventSource": "aws:kinesis",
                "eventVersion": "1.0",
                "eventID": format!("{shard_id}:{}", record.sequence_number()),
                "eventName": "aws:kinesis:record",
                "invokeIdentityArn": "arn:aws:iam::123456789012:role/local-stack",
                "awsRegion": region,
                "eventSourceARN": stream_arn,
            })
        })
        .collect();
    json!({ "Records": records })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_read_as_lambda_reads_them() {
        let sequences = ["7", "9", "11"];
        let read = |answer: &str| failed_from(answer.as_bytes(), &sequences);
        assert_eq!(read(""), Ok(None));
        assert_eq!(read("null"), Ok(None));
        assert_eq!(read("{}"), Ok(None));
        assert_eq!(read(r#"{"batchItemFailures": []}"#), Ok(None));
        assert_eq!(
            read(r#"{"batchItemFailures": [{"itemIdentifier": "11"}, {"itemIdentifier": "9"}]}"#),
            Ok(Some(1)),
            "the lowest sequence number named"
        );
        assert!(read(r#"{"batchItemFailures": [{"itemIdentifier": "8"}]}"#).is_err());
        assert!(read(r#"{"batchItemFailures": [{"itemIdentifier": ""}]}"#).is_err());
        assert!(read(r#"{"batchItemFailures": [{}]}"#).is_err());
        assert!(read("[1]").is_err());
        assert!(read("not json").is_err());
    }
}

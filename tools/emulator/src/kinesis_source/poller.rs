//! One shard's poller and its lanes: what Lambda does for one shard of a Kinesis event source
//! mapping (see the module above for the whole).

use std::collections::VecDeque;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::atomic::Ordering;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use aws_sdk_kinesis::types::{Record, ShardIteratorType};
use serde_json::json;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio::time::Instant;

use crate::kinesis_source::StreamSource;
use crate::kinesis_source::event::{failed_from, kinesis_event};
use crate::kinesis_source::lineage::Lineage;

/// First pause before retrying a failed batch; doubled per attempt up to [`MAX_RETRY_PAUSE`].
const FIRST_RETRY_PAUSE: Duration = Duration::from_millis(100);
const MAX_RETRY_PAUSE: Duration = Duration::from_secs(5);
/// Pause between polls of a shard with nothing new (Lambda polls each shard about once a second).
const IDLE_POLL: Duration = Duration::from_millis(250);

pub(super) struct ShardPoller {
    pub source: Arc<StreamSource>,
    pub shard_id: String,
    pub position: ShardIteratorType,
    pub stream_arn: String,
    pub lineage: Arc<RwLock<Lineage>>,
    pub component: String,
}

/// How one invocation of a batch ended.
enum Outcome {
    Done,
    /// Records from this index on failed; those before it are done.
    FailedFrom(usize),
    /// The invocation failed: the whole batch.
    FunctionError(String),
}

/// The lane of a partition key: a key always goes to the same lane, so its records stay in order.
fn lane_of(partition_key: &str, lanes: usize) -> usize {
    let mut hasher = DefaultHasher::new();
    partition_key.hash(&mut hasher);
    (hasher.finish() % lanes as u64) as usize
}

impl ShardPoller {
    /// Reads the shard into its lanes until it is closed and everything in it is processed;
    /// the shard's id.
    pub async fn run(self) -> String {
        let poller = Arc::new(self);
        let source = &poller.source;
        let factor = source.settings.parallelization_factor.clamp(1, 10) as usize;
        let mut lanes = JoinSet::new();
        let senders: Vec<mpsc::Sender<Record>> = (0..factor)
            .map(|_| {
                let (sender, receiver) = mpsc::channel(source.batch_size.max(1));
                lanes.spawn(Arc::clone(&poller).lane(receiver));
                sender
            })
            .collect();
        let mut iterator = poller.iterator().await;
        // Real Kinesis ends a closed shard's iterators once it is read to the end.
        while let Some(current) = iterator.clone() {
            // Closed before this read: an empty answer then means nothing more will come.
            let closed = poller
                .lineage
                .read()
                .expect("never poisoned")
                .is_closed(&poller.shard_id);
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
                        if closed {
                            break;
                        }
                        tokio::time::sleep(IDLE_POLL).await;
                        continue;
                    }
                    for record in page.records() {
                        let lane = lane_of(record.partition_key().unwrap_or_default(), factor);
                        if senders[lane].send(record.clone()).await.is_err() {
                            // A lane that ended early (it panicked) left records unprocessed:
                            // the shard is not drained, and its children must keep waiting.
                            panic!(
                                "a batch lane of shard {} ended before the shard was read",
                                poller.shard_id
                            );
                        }
                    }
                }
                Err(error) => {
                    poller.log(format!(
                        "GetRecords failed: {}",
                        aws_sdk_kinesis::error::DisplayErrorContext(error)
                    ));
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        }
        // The lanes process what they hold, then end.
        drop(senders);
        while lanes.join_next().await.is_some() {}
        poller.log(format!(
            "shard {} is closed and processed; its poller ends",
            poller.shard_id
        ));
        poller.shard_id.clone()
    }

    async fn iterator(&self) -> Option<String> {
        let source = &self.source;
        loop {
            match source
                .kinesis
                .get_shard_iterator()
                .stream_name(&source.stream_name)
                .shard_id(&self.shard_id)
                .shard_iterator_type(self.position.clone())
                .send()
                .await
            {
                Ok(output) => return output.shard_iterator,
                Err(error) => {
                    self.log(format!(
                        "GetShardIterator failed: {}",
                        aws_sdk_kinesis::error::DisplayErrorContext(error)
                    ));
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        }
    }

    /// One lane: gathers a batch (up to `batch_size` records, or what came within the batching
    /// window of its first) and processes it, one batch at a time, until the shard is read.
    async fn lane(self: Arc<Self>, mut records: mpsc::Receiver<Record>) {
        let source = &self.source;
        while let Some(first) = records.recv().await {
            let mut batch = vec![first];
            let window_ends = Instant::now() + source.batching_window;
            while batch.len() < source.batch_size {
                match tokio::time::timeout_at(window_ends, records.recv()).await {
                    Ok(Some(record)) => batch.push(record),
                    // The window is over, or the shard is read: run what there is.
                    Ok(None) | Err(_) => break,
                }
            }
            self.process(batch).await;
        }
    }

    /// Notes `records` as done (processed or given up) with the order check.
    fn done(&self, records: &[Record]) {
        let lineage = self.lineage.read().expect("never poisoned");
        for record in records {
            self.source.stats.order.done(
                &lineage,
                &self.shard_id,
                record.partition_key().unwrap_or_default(),
                record.sequence_number(),
            );
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
                    self.done(&records);
                    pause = FIRST_RETRY_PAUSE;
                    continue;
                }
                Outcome::FailedFrom(index) => {
                    self.done(&records[..index]);
                    (
                        records[index..].to_vec(),
                        format!(
                            "the function reported {} record(s) from sequence number {} as failed",
                            records.len() - index,
                            records[index].sequence_number()
                        ),
                        false,
                    )
                }
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
                self.done(&failed);
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

//! Amazon Data Firehose reading a Kinesis stream into the archive bucket, emulated with the
//! manifest's settings (moto accepts a delivery stream with a Kinesis source but never reads it).
//!
//! - **Reading**: the stream's shards are listed every second; shards there at the start are
//!   read from their latest record on, as Firehose starts ([`ArchiveDelivery::start`] returns
//!   once it holds their iterators), and shards that appear later (children of a reshard) from
//!   their first. Closed shards are read to their end. A failed read takes a new iterator after
//!   the last record read (an iterator expires after 5 minutes).
//! - **Dynamic partitioning**: each record's date is the first 10 characters of its
//!   `partition_date_field` (the metadata extraction query `{date: .<field>[0:10]}`), and each
//!   date has its own buffer. A record without one goes, as Firehose sends it, to the error
//!   prefix (`processing-failed`), wrapped with its error and its data in base64.
//! - **Buffering and delivery**: a date's buffer is written as one object once its first record
//!   is `buffer_interval` old or it holds `buffer_size` bytes: the records each followed by a
//!   newline (AppendDelimiterToRecord), gzipped, under
//!   `<prefix>/date=<date>/<delivery stream>-1-<YYYY-MM-DD-HH-MM-SS>-<id>.gz`. A failed write is
//!   retried on the next tick with the buffer kept, so delivery is at least once, like
//!   Firehose's.
//! - **On demand**: [`ArchiveDelivery::flush`] reads everything the stream holds and writes
//!   every buffer now, so a test or the demo need not wait out the interval.

use std::collections::BTreeMap;
use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use aws_sdk_kinesis::types::ShardIteratorType;
use base64::Engine;
use stack::ArchiveSpec;
use time::OffsetDateTime;
use time::macros::format_description;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::logs::LogSink;

/// How often the shards are listed and read.
const TICK: Duration = Duration::from_secs(1);

/// What one delivery stream did.
#[derive(Debug, Default)]
pub struct DeliveryStats {
    pub records_read: AtomicU64,
    pub objects_written: AtomicU64,
    pub records_written: AtomicU64,
    /// Records written under the error prefix: no date to partition them by.
    pub records_failed: AtomicU64,
}

/// One delivery stream's settings.
#[derive(Debug, Clone)]
pub struct ArchiveSettings {
    /// The delivery stream's name (`<prefix>-<key>`): the start of its object names.
    pub name: String,
    pub stream_name: String,
    pub bucket: String,
    pub spec: ArchiveSpec,
    /// The manifest's `buffer_interval_seconds` unless the local stack shortens it.
    pub buffer_interval: Duration,
}

/// A running delivery stream.
pub struct ArchiveDelivery {
    pub settings: ArchiveSettings,
    pub stats: Arc<DeliveryStats>,
    flushes: mpsc::Sender<oneshot::Sender<Result<(), String>>>,
    task: JoinHandle<()>,
}

impl ArchiveDelivery {
    /// Starts the delivery stream; returns once it has listed the shards and holds their
    /// iterators, so every record written after it returns is archived.
    pub async fn start(
        settings: ArchiveSettings,
        kinesis: aws_sdk_kinesis::Client,
        s3: aws_sdk_s3::Client,
        logs: Arc<LogSink>,
    ) -> Result<Self, String> {
        let stats = Arc::new(DeliveryStats::default());
        let (flushes, requests) = mpsc::channel(4);
        let delivery = Delivery {
            buffer_bytes: settings.spec.buffer_size_mib as usize * 1024 * 1024,
            settings: settings.clone(),
            kinesis,
            s3,
            logs,
            stats: Arc::clone(&stats),
            shards: BTreeMap::new(),
            buffers: BTreeMap::new(),
            listed_once: false,
        };
        let (ready, started) = oneshot::channel();
        let task = tokio::spawn(delivery.run(requests, ready));
        let delivery = Self {
            settings,
            stats,
            flushes,
            task,
        };
        match started.await {
            Ok(Ok(())) => Ok(delivery),
            Ok(Err(error)) => {
                delivery.task.abort();
                Err(error)
            }
            Err(_) => Err("the delivery stream stopped while starting".into()),
        }
    }

    /// Reads everything the stream holds now and writes every buffer.
    pub async fn flush(&self) -> Result<(), String> {
        let (reply, answer) = oneshot::channel();
        self.flushes
            .send(reply)
            .await
            .map_err(|_| "the delivery stream is not running".to_owned())?;
        answer
            .await
            .map_err(|_| "the delivery stream stopped while flushing".to_owned())?
    }

    /// Flushes what it holds, then stops; says so in the log if what it held could not be
    /// written.
    pub async fn stop(self, logs: &LogSink) {
        let failure = match tokio::time::timeout(Duration::from_secs(10), self.flush()).await {
            Ok(Ok(())) => None,
            Ok(Err(error)) => Some(error),
            Err(_) => Some("no answer within 10 s".to_owned()),
        };
        if let Some(failure) = failure {
            logs.line(
                "archive",
                &format!(
                    "{}: stopped without writing what it held: {failure}",
                    self.settings.name
                ),
            );
        }
        let stats = &self.stats;
        logs.line(
            "archive",
            &format!(
                "{}: stopped; {} records read, {} written in {} objects, {} to the error prefix",
                self.settings.name,
                stats.records_read.load(Ordering::Relaxed),
                stats.records_written.load(Ordering::Relaxed),
                stats.objects_written.load(Ordering::Relaxed),
                stats.records_failed.load(Ordering::Relaxed)
            ),
        );
        self.task.abort();
        let _ = self.task.await;
    }
}

struct ShardReader {
    /// `None` when a new one is needed (at first, and after a failed read: an iterator
    /// expires 5 minutes after it was handed out).
    iterator: Option<String>,
    finished: bool,
    /// The last record read: a new iterator starts after it.
    last_sequence: Option<String>,
    /// Where a new iterator starts before any record was read.
    start: ShardIteratorType,
}

#[derive(Default)]
struct Buffer {
    records: Vec<u8>,
    count: u64,
    since: Option<Instant>,
}

struct Delivery {
    settings: ArchiveSettings,
    buffer_bytes: usize,
    kinesis: aws_sdk_kinesis::Client,
    s3: aws_sdk_s3::Client,
    logs: Arc<LogSink>,
    stats: Arc<DeliveryStats>,
    shards: BTreeMap<String, ShardReader>,
    /// By date partition; the error prefix's records under `None`.
    buffers: BTreeMap<Option<String>, Buffer>,
    listed_once: bool,
}

impl Delivery {
    async fn run(
        mut self,
        mut requests: mpsc::Receiver<oneshot::Sender<Result<(), String>>>,
        ready: oneshot::Sender<Result<(), String>>,
    ) {
        // The first listing takes the iterators the archive starts from.
        let mut first = self.read_all().await;
        for _ in 0..10 {
            if first.is_ok() {
                break;
            }
            tokio::time::sleep(TICK).await;
            first = self.read_all().await;
        }
        let started = first.is_ok();
        let _ = ready.send(first);
        if !started {
            return;
        }
        loop {
            let flush = tokio::select! {
                request = requests.recv() => request,
                () = tokio::time::sleep(TICK) => None,
            };
            let read = self.read_all().await;
            let written = self.write_buffers(flush.is_some()).await;
            if let Err(error) = read.as_ref().and(written.as_ref()) {
                self.logs.line(
                    "archive",
                    &format!("{}: {error}; retrying", self.settings.name),
                );
            }
            if let Some(reply) = flush {
                let _ = reply.send(read.and(written));
            }
        }
    }

    /// Lists the shards and reads each to its current end.
    async fn read_all(&mut self) -> Result<(), String> {
        let stream = self.settings.stream_name.clone();
        let mut next = None;
        let mut listed = Vec::new();
        loop {
            let mut request = self.kinesis.list_shards();
            request = match &next {
                Some(token) => request.next_token(token),
                None => request.stream_name(&stream),
            };
            let page = request.send().await.map_err(|e| {
                format!(
                    "ListShards: {}",
                    aws_sdk_kinesis::error::DisplayErrorContext(e)
                )
            })?;
            listed.extend(page.shards().iter().map(|s| s.shard_id().to_owned()));
            next = page.next_token().map(str::to_owned);
            if next.is_none() {
                break;
            }
        }
        let first_listing = !self.listed_once;
        self.listed_once = true;
        for shard in listed {
            // Firehose starts at the stream's newest record; children from their first.
            let start = if first_listing {
                ShardIteratorType::Latest
            } else {
                ShardIteratorType::TrimHorizon
            };
            self.shards.entry(shard.clone()).or_insert(ShardReader {
                iterator: None,
                finished: false,
                last_sequence: None,
                start,
            });
            self.read_shard(&shard).await?;
        }
        Ok(())
    }

    /// A new iterator for `shard`: after its last record read, else at its start.
    async fn renew_iterator(&mut self, shard: &str) -> Result<(), String> {
        let reader = &self.shards[shard];
        let request = self
            .kinesis
            .get_shard_iterator()
            .stream_name(&self.settings.stream_name)
            .shard_id(shard);
        let request = match &reader.last_sequence {
            Some(sequence) => request
                .shard_iterator_type(ShardIteratorType::AfterSequenceNumber)
                .starting_sequence_number(sequence),
            None => request.shard_iterator_type(reader.start.clone()),
        };
        let iterator = request
            .send()
            .await
            .map_err(|e| {
                format!(
                    "GetShardIterator {shard}: {}",
                    aws_sdk_kinesis::error::DisplayErrorContext(e)
                )
            })?
            .shard_iterator;
        let reader = self.shards.get_mut(shard).expect("listed");
        reader.finished = iterator.is_none();
        reader.iterator = iterator;
        Ok(())
    }

    async fn read_shard(&mut self, shard: &str) -> Result<(), String> {
        loop {
            let reader = &self.shards[shard];
            if reader.finished {
                return Ok(());
            }
            if reader.iterator.is_none() {
                self.renew_iterator(shard).await?;
            }
            let reader = &self.shards[shard];
            let Some(iterator) = reader.iterator.clone().filter(|_| !reader.finished) else {
                return Ok(());
            };
            let output = match self
                .kinesis
                .get_records()
                .shard_iterator(iterator)
                .limit(10_000)
                .send()
                .await
            {
                Ok(output) => output,
                Err(error) => {
                    // The next read takes a new iterator after the last record read.
                    self.shards.get_mut(shard).expect("listed").iterator = None;
                    return Err(format!(
                        "GetRecords {shard}: {}",
                        aws_sdk_kinesis::error::DisplayErrorContext(error)
                    ));
                }
            };
            let reader = self.shards.get_mut(shard).expect("listed");
            reader.finished = output.next_shard_iterator().is_none();
            reader.iterator = output.next_shard_iterator().map(str::to_owned);
            if let Some(last) = output.records().last() {
                reader.last_sequence = Some(last.sequence_number().to_owned());
            }
            let records = output.records();
            if records.is_empty() {
                return Ok(());
            }
            for record in records {
                self.stats.records_read.fetch_add(1, Ordering::Relaxed);
                self.buffer(record.data().as_ref());
            }
        }
    }

    /// Places one record in its date's buffer, or the error buffer.
    fn buffer(&mut self, data: &[u8]) {
        let (partition, line) = match partition_of(data, &self.settings.spec.partition_date_field) {
            Ok(date) => (Some(date), data.to_vec()),
            Err(reason) => {
                self.stats.records_failed.fetch_add(1, Ordering::Relaxed);
                let wrapped = serde_json::json!({
                    "attemptsMade": 1,
                    "arrivalTimestamp": OffsetDateTime::now_utc().unix_timestamp() * 1_000,
                    "errorCode": "DynamicPartitioning.MetadataExtractionFailed",
                    "errorMessage": reason,
                    "rawData": base64::engine::general_purpose::STANDARD.encode(data),
                });
                (None, wrapped.to_string().into_bytes())
            }
        };
        let buffer = self.buffers.entry(partition).or_default();
        buffer.since.get_or_insert_with(Instant::now);
        buffer.records.extend_from_slice(&line);
        buffer.records.push(b'\n');
        buffer.count += 1;
    }

    /// Writes the buffers that are due (all of them when `all`).
    async fn write_buffers(&mut self, all: bool) -> Result<(), String> {
        let due: Vec<Option<String>> = self
            .buffers
            .iter()
            .filter(|(_, buffer)| {
                buffer.count > 0
                    && (all
                        || buffer.records.len() >= self.buffer_bytes
                        || buffer
                            .since
                            .is_some_and(|since| since.elapsed() >= self.settings.buffer_interval))
            })
            .map(|(partition, _)| partition.clone())
            .collect();
        for partition in due {
            let buffer = &self.buffers[&partition];
            let key = self.object_key(partition.as_deref());
            let body = gzip(&buffer.records);
            self.s3
                .put_object()
                .bucket(&self.settings.bucket)
                .key(&key)
                .content_encoding("gzip")
                .body(body.into())
                .send()
                .await
                .map_err(|e| {
                    format!(
                        "PutObject {key}: {}",
                        aws_sdk_s3::error::DisplayErrorContext(e)
                    )
                })?;
            let buffer = self.buffers.remove(&partition).expect("due");
            self.stats.objects_written.fetch_add(1, Ordering::Relaxed);
            if partition.is_some() {
                self.stats
                    .records_written
                    .fetch_add(buffer.count, Ordering::Relaxed);
            }
        }
        Ok(())
    }

    /// `activity/date=2026-11-23/local-activity-1-2026-11-23-10-05-00-<id>.gz`, or under
    /// `activity-errors/processing-failed/date=<today>/` for records without a date.
    fn object_key(&self, partition: Option<&str>) -> String {
        let now = OffsetDateTime::now_utc();
        let stamp = now
            .format(format_description!(
                "[year]-[month]-[day]-[hour]-[minute]-[second]"
            ))
            .unwrap_or_default();
        let name = format!("{}-1-{stamp}-{}.gz", self.settings.name, ulid::Ulid::new());
        let spec = &self.settings.spec;
        match partition {
            Some(date) => format!("{}{date}/{name}", spec.object_prefix()),
            None => format!(
                "{}processing-failed/date={}/{name}",
                spec.errors_prefix(),
                &stamp[..10]
            ),
        }
    }
}

/// The date partition of a record: the first 10 characters of its `field`, which must be a
/// string starting with a date (`YYYY-MM-DD`).
pub fn partition_of(data: &[u8], field: &str) -> Result<String, String> {
    let record: serde_json::Value =
        serde_json::from_slice(data).map_err(|error| format!("not JSON: {error}"))?;
    let value = record
        .get(field)
        .and_then(serde_json::Value::as_str)
        .ok_or_else(|| format!("no string field {field}"))?;
    let date = value.get(..10).unwrap_or(value);
    let well_formed = date.len() == 10
        && date.bytes().enumerate().all(|(index, byte)| match index {
            4 | 7 => byte == b'-',
            _ => byte.is_ascii_digit(),
        });
    if well_formed {
        Ok(date.to_owned())
    } else {
        Err(format!("{field} {value:?} does not start with a date"))
    }
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder
        .write_all(bytes)
        .expect("writing to memory does not fail");
    encoder.finish().expect("writing to memory does not fail")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_are_partitioned_by_the_date_their_field_starts_with() {
        let record = br#"{"userId":"u","timestamp":"2026-11-23T23:59:59.999Z"}"#;
        assert_eq!(partition_of(record, "timestamp").unwrap(), "2026-11-23");
        for (bad, reason) in [
            (
                &br#"{"timestamp":"soon"}"#[..],
                "does not start with a date",
            ),
            (
                br#"{"timestamp":"2026/11/23T00:00:00Z"}"#,
                "does not start with a date",
            ),
            (br#"{"timestamp":20261123}"#, "no string field"),
            (br#"{"at":"2026-11-23"}"#, "no string field timestamp"),
            (b"not json", "not JSON"),
        ] {
            let error = partition_of(bad, "timestamp").unwrap_err();
            assert!(error.contains(reason), "{error}");
        }
    }
}

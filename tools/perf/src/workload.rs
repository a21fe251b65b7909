//! The reference workload: events of Zipf-distributed users (fixed seed) through the three
//! batch functions' handlers, in batches as deployed, against the emulator. What each batch
//! asked of DynamoDB, Kinesis and SQS comes from the handlers' own batch reports and the SDK's
//! request counts; DynamoDB's units are the stream consumers' own count of what DynamoDB bills
//! (computed from the items' sizes by its documented rules: the emulator reports 1 unit per call
//! whatever it holds); handler time per batch is the billed duration's stand-in.
//!
//! Beside the reference run, where each consumer keeps one execution environment for the whole
//! workload (warm: states and profiles cached between batches), the same activity goes through
//! the two consumers again with a new environment for every batch (cold: the bound when Lambda
//! keeps no affinity), and two hot-user workloads measure units per event and the largest item:
//! one user with a share of the events, and one user at a fixed rate. Those runs put their
//! records on a stand-in Kinesis endpoint that keeps them (the emulator takes about 1.5 s per
//! 100 records), and read no stream.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_lambda_events::kinesis::KinesisEvent;
use aws_lambda_events::sqs::SqsEvent;
use base64::Engine;
use serde::Serialize;
use serde_json::json;
use shared::config::Env;
use shared::keyed_state::{self, Consumer, StreamCore};
use stack::Stack;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use aws_sdk_kinesis::config::SharedInterceptor;
use emulator::resources::Resources;
use testkit::request_count::RequestCounter;

#[derive(Debug, Clone, Serialize)]
pub struct WorkloadOptions {
    pub events: usize,
    pub users: usize,
    pub zipf_exponent: f64,
    pub seed: u64,
    pub order_share: f64,
    /// Share of the events given to one user (`user-0`) before the Zipf draw (0: none).
    #[serde(default)]
    pub hot_user_share: f64,
}

/// The hot-user workloads besides the reference: a share of the reference workload's events
/// to one user, and one user's events at a rate for a time (0 in either turns it off).
#[derive(Debug, Clone, Serialize)]
pub struct HotUserOptions {
    pub share: f64,
    pub events_per_second: u64,
    pub seconds: u64,
}

/// What one function did over the whole workload.
#[derive(Debug, Clone, Default, Serialize)]
pub struct FunctionWork {
    pub memory_mb: u32,
    pub batch_size: u32,
    pub invocations: usize,
    pub records: usize,
    /// Median handler time per invocation, in ms.
    pub billed_ms_per_invocation: f64,
    /// The 99th percentile of handler time per invocation, in ms.
    pub p99_ms_per_invocation: f64,
    /// Requests by `service:Operation`, as the SDK sent them (retries included).
    pub requests: BTreeMap<String, usize>,
    pub read_request_units: f64,
    /// Every write unit: the items written, and where the design records applied event ids,
    /// those.
    pub write_request_units: f64,
    /// DynamoDB items written (one per user per batch where the design coalesces).
    pub items_written: usize,
    /// The write units of those items alone.
    pub item_write_units: f64,
    pub kinesis_put_payload_units: usize,
    /// Distinct users summed over the batches: a write unit each is the floor of a design that
    /// writes once per user per batch (the stream consumers).
    pub distinct_users: usize,
    /// What the keyed-state core did (the stream consumers): states from the warm cache and
    /// read, lookups of spilled ids (Query pages), spills and the ids in them, conditional
    /// writes that lost a race, the write units of spills and shards' marks, the largest item.
    pub states_cached: usize,
    pub states_read: usize,
    pub lookups: usize,
    pub spills: usize,
    pub spilled_ids: usize,
    pub conflicts: usize,
    pub bookkeeping_write_units: f64,
    pub largest_item_bytes: usize,
    /// Records delivered again after their batch answered with failed records (from the first
    /// failed one: a lost race of stream-enrichment).
    pub retried_records: usize,
}

/// A workload of the two stream consumers besides the reference.
#[derive(Debug, Clone, Serialize)]
pub struct ConsumerWorkload {
    pub description: String,
    pub events: usize,
    pub functions: BTreeMap<String, FunctionWork>,
}

#[derive(Debug, Clone, Serialize)]
pub struct WorkloadReport {
    #[serde(flatten)]
    pub options: WorkloadOptions,
    pub batch_size: u32,
    pub functions: BTreeMap<String, FunctionWork>,
    /// The ingest queue's event source mapping's requests, modelled rather than measured (no
    /// emulator runs Lambda's pollers): ReceiveMessage and DeleteMessageBatch of ten messages
    /// each. (EventBridge's SendMessage per event into the queue is the cost model's.)
    pub event_source_requests: BTreeMap<String, usize>,
    pub naive: NaiveDesign,
    /// The naive design made to absorb resends as the pipeline does: one item per applied event
    /// id, read (strongly consistent, under 4 KB: 1 unit) and written (under 1 KB: 1 unit) per
    /// event in each consumer on top of the naive design's.
    pub naive_with_memory: NaiveDesign,
    /// The reference's activity through the two consumers with a new execution environment for
    /// every batch: nothing cached.
    pub cold: ConsumerWorkload,
    /// The reference's activity through the two consumers with two environments taking the
    /// batches in turn (affinity lost): `alternating` as built (the shard's mark tells each its
    /// cache is a batch behind), `alternating_trusting_cache` with each trusting its cache (what
    /// the core would cost without the mark).
    pub affinity_lost: BTreeMap<String, ConsumerWorkload>,
    /// Hot users: `share` of the reference events to one user; one user at a rate.
    pub hot_users: BTreeMap<String, ConsumerWorkload>,
    /// Per stream, the reference's mean record size in bytes, data and partition key: what an
    /// on-demand stream bills by.
    pub stream_record_bytes: BTreeMap<String, f64>,
    /// The reference's activity through the two consumers with AWS's latency in a region
    /// modelled in front of the emulator: what one shard's consumers sustain.
    pub throughput: crate::throughput::ThroughputReport,
}

/// The design this one is measured against: every event read and written on its own (one
/// GetItem, strongly consistent, and one PutItem per event) where the pipeline coalesces per
/// user per batch; everything else as built.
#[derive(Debug, Clone, Serialize)]
pub struct NaiveDesign {
    pub description: String,
    pub functions: BTreeMap<String, FunctionWork>,
}

/// SDK clients against the emulator, counting what they send, one counter per service.
pub(crate) struct CountedClients {
    endpoint: String,
    dynamodb: aws_sdk_dynamodb::Client,
    pub(crate) kinesis: aws_sdk_kinesis::Client,
    sqs: aws_sdk_sqs::Client,
    counters: [(&'static str, RequestCounter); 3],
}

impl CountedClients {
    pub(crate) fn new(endpoint: &str) -> Self {
        let counters =
            ["dynamodb", "kinesis", "sqs"].map(|service| (service, RequestCounter::default()));
        let clients = emulator::running_stack::emulator_clients_with(
            endpoint,
            crate::environment::REGION,
            |service| {
                counters
                    .iter()
                    .find(|(name, _)| *name == service)
                    .map(|(_, counter)| SharedInterceptor::new(counter.clone()))
            },
        );
        Self {
            endpoint: endpoint.to_owned(),
            dynamodb: clients.dynamodb,
            kinesis: clients.kinesis,
            sqs: clients.sqs,
            counters,
        }
    }

    /// What was sent since the last call, by `service:Operation`; the counts start again.
    fn take(&self) -> BTreeMap<String, usize> {
        let mut requests = BTreeMap::new();
        for (service, counter) in &self.counters {
            for (operation, count) in counter.counts() {
                requests.insert(format!("{service}:{operation}"), count);
            }
            counter.reset();
        }
        requests
    }
}

#[derive(Debug, thiserror::Error)]
pub enum WorkloadError {
    #[error("{0}")]
    Setup(String),
    #[error("reading stream {stream}: {message}")]
    Read { stream: String, message: String },
    #[error("{function}: {failed} records failed in a batch; the workload must run clean")]
    Failed { function: String, failed: usize },
}

/// splitmix64: a small, fixed, well-mixed generator, so a seed gives the same events on every
/// machine and version (no dependency whose algorithm may change).
struct Generator(u64);

impl Generator {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Users drawn with probability proportional to 1 / rank^exponent.
struct Zipf {
    cumulative: Vec<f64>,
}

impl Zipf {
    fn new(users: usize, exponent: f64) -> Self {
        let mut total = 0.0;
        let cumulative = (1..=users)
            .map(|rank| {
                total += 1.0 / (rank as f64).powf(exponent);
                total
            })
            .collect::<Vec<_>>();
        Self {
            cumulative: cumulative.iter().map(|c| c / total).collect(),
        }
    }

    fn draw(&self, generator: &mut Generator) -> usize {
        let u = generator.unit();
        self.cumulative
            .partition_point(|&c| c < u)
            .min(self.cumulative.len() - 1)
    }
}

const ACTIVITY_TYPES: [&str; 6] = [
    "view",
    "click",
    "search",
    "add_to_cart",
    "login",
    "purchase",
];

/// The workload's events as EventBridge delivers them to the ingest queue.
pub fn events(options: &WorkloadOptions, now: OffsetDateTime) -> Vec<String> {
    let mut generator = Generator(options.seed);
    let zipf = Zipf::new(options.users, options.zipf_exponent);
    (0..options.events)
        .map(|n| {
            // Drawn only when asked for: the reference's events stay the same.
            let hot = options.hot_user_share > 0.0 && generator.unit() < options.hot_user_share;
            let user = if hot {
                "user-0".to_owned()
            } else {
                format!("user-{}", zipf.draw(&mut generator))
            };
            // Spread over the last minute, in order, as a live stream would be.
            let at = now - time::Duration::milliseconds((options.events - n) as i64 * 60_000 / options.events.max(1) as i64);
            let timestamp = at.format(&Rfc3339).expect("a formattable time");
            if generator.unit() < options.order_share {
                let amount = (generator.unit() * 200.0 * 100.0).round() / 100.0 + 1.0;
                json!({"version": "0", "id": format!("perf-{n}"), "detail-type": "order_placed",
                       "source": "shop.checkout", "time": timestamp, "region": "us-east-1", "resources": [],
                       "detail": {"orderId": format!("order-{n}"), "userId": user, "amount": amount,
                                  "currency": "EUR", "timestamp": timestamp,
                                  "items": [{"itemId": "sku-1", "quantity": 1, "price": amount}]}})
            } else {
                let kind = ACTIVITY_TYPES[(generator.next() % 5) as usize];
                json!({"version": "0", "id": format!("perf-{n}"), "detail-type": "user_activity",
                       "source": "shop.web", "time": timestamp, "region": "us-east-1", "resources": [],
                       "detail": {"userId": user, "type": kind, "timestamp": timestamp,
                                  "itemId": format!("sku-{}", generator.next() % 500)}})
            }
            .to_string()
        })
        .collect()
}

pub fn sqs_batch(bodies: &[String], first: usize, queue_arn: &str) -> SqsEvent {
    let now_ms = OffsetDateTime::now_utc().unix_timestamp() * 1000;
    let records: Vec<serde_json::Value> = bodies
        .iter()
        .enumerate()
        .map(|(i, body)| {
            json!({"messageId": format!("m-{}", first + i), "receiptHandle": "rh", "body": body,
                   "attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": now_ms.to_string(),
                                  "SenderId": "events", "ApproximateFirstReceiveTimestamp": now_ms.to_string()},
                   "messageAttributes": {}, "md5OfBody": "", "eventSource": "aws:sqs",
                   "eventSourceARN": queue_arn, "awsRegion": "us-east-1"})
        })
        .collect();
    serde_json::from_value(json!({ "Records": records })).expect("an SQS event")
}

/// The Kinesis event of a stream batch whose first record is the stream's `first`th (from 0):
/// sequence numbers count from 1 on one shard, so a batch made again from the same records
/// (the stream functions' cold paths) carries the same sequence numbers as in the workload.
pub fn kinesis_batch(first: usize, records: &[Vec<u8>]) -> KinesisEvent {
    testkit::kinesis_events::batch("shardId-000000000000", 1 + first as u64, records)
}

/// Every record's data on the stream, oldest first, and the records' mean size with their
/// partition keys (what Kinesis meters).
pub async fn read_stream(
    kinesis: &aws_sdk_kinesis::Client,
    stream: &str,
) -> Result<(Vec<Vec<u8>>, f64), WorkloadError> {
    let records = testkit::stream_reader::read_all(kinesis, stream)
        .await
        .map_err(|message| WorkloadError::Read {
            stream: stream.to_owned(),
            message,
        })?;
    let bytes: usize = records
        .iter()
        .map(|record| {
            record.data().as_ref().len() + record.partition_key().unwrap_or_default().len()
        })
        .sum();
    let mean = bytes as f64 / records.len().max(1) as f64;
    Ok((
        records
            .iter()
            .map(|record| record.data().as_ref().to_vec())
            .collect(),
        mean,
    ))
}

/// The `share` percentile (nearest rank) of sorted `durations`, in ms; 0 for none.
fn percentile_ms(sorted: &[Duration], share: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((sorted.len() as f64 * share).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1].as_secs_f64() * 1000.0
}

fn median_ms(durations: &mut [Duration]) -> f64 {
    durations.sort();
    durations
        .get(durations.len() / 2)
        .map_or(0.0, |d| d.as_secs_f64() * 1_000.0)
}

pub fn batch_size(stack: &Stack, function: &str) -> u32 {
    stack.functions[function]
        .event_sources
        .first()
        .map_or(1, |source| source.batch_size)
}

/// What one handled batch adds to its function's work.
#[derive(Debug, Default)]
struct BatchCounts {
    records: usize,
    failed: usize,
    /// Kinesis records put (one PUT payload unit each).
    records_put: usize,
    read_units: f64,
    write_units: f64,
    items_written: usize,
    item_write_units: f64,
    users: usize,
    states_cached: usize,
    states_read: usize,
    lookups: usize,
    spills: usize,
    spilled_ids: usize,
    conflicts: usize,
    bookkeeping_write_units: f64,
    largest_item_bytes: usize,
}

/// A stream consumer's batch, with the units as DynamoDB bills them (the core's count from the
/// items' sizes; the emulator's reported units are 1 per call whatever the call holds).
fn consumer_counts<S>(
    report: &shared::keyed_state::BatchReport<S>,
    records_put: usize,
) -> BatchCounts {
    BatchCounts {
        records: report.records,
        failed: report.failed,
        records_put,
        read_units: report.billed_read_units,
        write_units: report.billed_write_units,
        items_written: report.states_written,
        item_write_units: report.billed_write_units - report.billed_bookkeeping_write_units,
        users: report.users,
        states_cached: report.states_cached,
        states_read: report.states_read,
        lookups: report.lookups,
        spills: report.spills,
        spilled_ids: report.spilled_ids,
        conflicts: report.conflicts,
        bookkeeping_write_units: report.billed_bookkeeping_write_units,
        largest_item_bytes: report.largest_item_bytes,
    }
}

/// Hands `inputs` to `function`'s handler in batches of its event source's size (`event` makes
/// a batch's trigger event from its first input's index and its inputs) and sums what the
/// batches did, with the requests its clients sent meanwhile. A batch answered with failed
/// records is delivered again from its first failed record, as Kinesis does, up to `retries`
/// times; then, or with `retries` 0, it ends the workload: its figures are only meaningful for a
/// run that applies every record.
#[allow(clippy::too_many_arguments)]
async fn run_stage<I, E, Answer, Handled>(
    stack: &Stack,
    function: &str,
    clients: &CountedClients,
    inputs: &[I],
    retries: usize,
    event: impl Fn(usize, &[I]) -> E,
    handle: impl Fn(E) -> Handled,
    counts: impl Fn(&Answer) -> BatchCounts,
) -> Result<FunctionWork, WorkloadError>
where
    Handled: std::future::Future<Output = Answer>,
{
    let size = batch_size(stack, function);
    let mut work = FunctionWork {
        memory_mb: stack.functions[function].memory_mb,
        batch_size: size,
        ..FunctionWork::default()
    };
    // Whatever was sent before (reading the stream this stage works on) is not its own.
    clients.take();
    let mut times = Vec::new();
    for (index, chunk) in inputs.chunks(size as usize).enumerate() {
        let mut from = 0;
        for attempt in 0..=retries {
            let event = event(index * size as usize + from, &chunk[from..]);
            let started = Instant::now();
            let answer = handle(event).await;
            times.push(started.elapsed());
            let batch = counts(&answer);
            work.invocations += 1;
            if attempt == 0 {
                work.records += batch.records;
                work.distinct_users += batch.users;
            } else {
                work.retried_records += batch.records;
            }
            work.kinesis_put_payload_units += batch.records_put;
            work.read_request_units += batch.read_units;
            work.write_request_units += batch.write_units;
            work.items_written += batch.items_written;
            work.item_write_units += batch.item_write_units;
            work.states_cached += batch.states_cached;
            work.states_read += batch.states_read;
            work.lookups += batch.lookups;
            work.spills += batch.spills;
            work.spilled_ids += batch.spilled_ids;
            work.conflicts += batch.conflicts;
            work.bookkeeping_write_units += batch.bookkeeping_write_units;
            work.largest_item_bytes = work.largest_item_bytes.max(batch.largest_item_bytes);
            if batch.failed == 0 {
                break;
            }
            if attempt == retries {
                return Err(WorkloadError::Failed {
                    function: function.to_owned(),
                    failed: batch.failed,
                });
            }
            from += batch.records - batch.failed;
        }
    }
    work.requests = clients.take();
    work.billed_ms_per_invocation = median_ms(&mut times);
    work.p99_ms_per_invocation = percentile_ms(&times, 0.99);
    Ok(work)
}

/// The resources each run of the workload works on: the reference's, and fresh ones for the
/// cold run and each hot-user workload (their tables start empty).
pub struct WorkloadResources<'a> {
    pub reference: &'a Resources,
    /// The throughput run's ([`crate::throughput`]).
    pub throughput: &'a Resources,
    pub cold: &'a Resources,
    pub alternating: &'a Resources,
    pub alternating_trusting_cache: &'a Resources,
    pub hot_share: &'a Resources,
    pub hot_rate: &'a Resources,
}

/// How a consumer's batches meet execution environments.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Environments {
    /// One environment takes every batch: what it keeps warm is current.
    One,
    /// A new environment for every batch: nothing is warm.
    NewPerBatch,
    /// Two environments take the batches in turn, as Lambda may with no affinity: what each
    /// keeps warm is a batch behind. With `trust_cache`, each batch's shard mark is set to name
    /// the environment that takes it (by the workload, not counted), so each trusts its stale
    /// cache: what the core would cost without the mark.
    Alternating { trust_cache: bool },
}

/// The shard the workload's batches come from ([`kinesis_batch`]).
const SHARD: &str = "shardId-000000000000";

/// A stand-in Kinesis endpoint that takes every PutRecords and keeps the records' data.
pub(crate) struct CapturedStream {
    pub(crate) endpoint: String,
    records: Arc<Mutex<Vec<Vec<u8>>>>,
}

impl CapturedStream {
    pub(crate) async fn start() -> Self {
        let records: Arc<Mutex<Vec<Vec<u8>>>> = Arc::default();
        let kept = Arc::clone(&records);
        let endpoint = testkit::fake_endpoint::serve(move |request| {
            let body: serde_json::Value = serde_json::from_slice(&request.body).unwrap_or_default();
            let mut kept = kept.lock().expect("captured records lock");
            let mut answers = Vec::new();
            for entry in body["Records"].as_array().into_iter().flatten() {
                let data = base64::engine::general_purpose::STANDARD
                    .decode(entry["Data"].as_str().unwrap_or_default())
                    .unwrap_or_default();
                kept.push(data);
                answers.push(json!({"SequenceNumber": kept.len().to_string(),
                                    "ShardId": "shardId-000000000000"}));
            }
            testkit::fake_endpoint::FakeResponse {
                status: 200,
                headers: vec![("Content-Type", "application/x-amz-json-1.1".into())],
                body: json!({"FailedRecordCount": 0, "Records": answers}).to_string(),
                delay: Duration::ZERO,
            }
        })
        .await;
        Self { endpoint, records }
    }

    /// A client of `clients`' Kinesis (its request counter too) that puts here.
    pub(crate) fn client(&self, clients: &CountedClients) -> aws_sdk_kinesis::Client {
        aws_sdk_kinesis::Client::from_conf(
            clients
                .kinesis
                .config()
                .to_builder()
                .endpoint_url(&self.endpoint)
                .build(),
        )
    }

    /// The records put since the last call.
    pub(crate) fn take(&self) -> Vec<Vec<u8>> {
        std::mem::take(&mut *self.records.lock().expect("captured records lock"))
    }
}

/// The settings of `function` as deployed on `resources`.
fn env_of(stack: &Stack, resources: &Resources, function: &str) -> Env<HashMap<String, String>> {
    let variables: HashMap<String, String> = resources
        .function_environment(&stack.functions[function])
        .into_iter()
        .collect();
    Env::from_source(variables)
}

fn deadline() -> tokio::time::Instant {
    tokio::time::Instant::now() + Duration::from_secs(60)
}

fn setup(error: &dyn std::fmt::Display) -> WorkloadError {
    WorkloadError::Setup(error.to_string())
}

/// event-router on `bodies` as the ingest queue delivers them, putting on `kinesis`.
async fn router_stage(
    stack: &Stack,
    clients: &CountedClients,
    kinesis: aws_sdk_kinesis::Client,
    resources: &Resources,
    bodies: &[String],
) -> Result<FunctionWork, WorkloadError> {
    let config = event_router::config::Config::from_env(&env_of(stack, resources, "event-router"))
        .map_err(|e| setup(&e))?;
    let router = event_router::handler::Router::new(kinesis, clients.sqs.clone(), &config);
    let ingest_arn = &resources.queues["ingest"].arn;
    run_stage(
        stack,
        "event-router",
        clients,
        bodies,
        0,
        |first, chunk| sqs_batch(chunk, first, ingest_arn),
        |event| router.handle(event, deadline()),
        |(_, report)| BatchCounts {
            records: report.messages,
            failed: report.failed,
            records_put: report.routed,
            ..BatchCounts::default()
        },
    )
    .await
}

/// A stream consumer on `records` (of its stream, in order); `environment` makes an execution
/// environment of it, `records_put` says how many records a batch put on a stream. Batches
/// answered with failed records (a lost race) are delivered again from the first of them.
#[allow(clippy::too_many_arguments)]
async fn consumer_stage<C: Consumer>(
    stack: &Stack,
    clients: &CountedClients,
    function: &str,
    applied_ids_table: &str,
    records: &[Vec<u8>],
    environments: Environments,
    environment: impl Fn() -> StreamCore<C>,
    records_put: fn(&keyed_state::BatchReport<C::Stats>) -> usize,
) -> Result<FunctionWork, WorkloadError> {
    let warm = [environment(), environment()];
    let turn = std::sync::atomic::AtomicUsize::new(0);
    // Not the function's: uncounted.
    let marker =
        emulator::running_stack::emulator_clients(&clients.endpoint, crate::environment::REGION)
            .dynamodb;
    run_stage(
        stack,
        function,
        clients,
        records,
        10,
        kinesis_batch,
        |event| {
            let turn = turn.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let fresh = (environments == Environments::NewPerBatch).then(&environment);
            let (warm, marker) = (&warm, &marker);
            async move {
                let core = match (&fresh, environments) {
                    (Some(fresh), _) => fresh,
                    (None, Environments::Alternating { .. }) => &warm[turn % 2],
                    (None, _) => &warm[0],
                };
                if environments == (Environments::Alternating { trust_cache: true }) {
                    keyed_state::applied_ids::put_mark(
                        marker,
                        applied_ids_table,
                        SHARD,
                        core.environment(),
                    )
                    .await
                    .expect("the shard's mark set");
                }
                core.handle(event, deadline()).await
            }
        },
        |(_, report)| consumer_counts(report, records_put(report)),
    )
    .await
}

/// stream-enrichment on `activity`, putting its enriched records on `kinesis`.
async fn enrichment_stage(
    stack: &Stack,
    clients: &CountedClients,
    kinesis: aws_sdk_kinesis::Client,
    resources: &Resources,
    activity: &[Vec<u8>],
    environments: Environments,
) -> Result<FunctionWork, WorkloadError> {
    let function = "stream-enrichment";
    let config = stream_enrichment::config::Config::from_env(&env_of(stack, resources, function))
        .map_err(|e| setup(&e))?;
    let environment = || {
        stream_enrichment::enricher(
            clients.dynamodb.clone(),
            kinesis.clone(),
            clients.sqs.clone(),
            &config,
        )
    };
    let enriched = |report: &stream_enrichment::BatchReport| report.applied;
    consumer_stage(
        stack,
        clients,
        function,
        &config.core.applied_ids_table,
        activity,
        environments,
        environment,
        enriched,
    )
    .await
}

/// feature-updates on `enriched`.
async fn features_stage(
    stack: &Stack,
    clients: &CountedClients,
    resources: &Resources,
    enriched: &[Vec<u8>],
    environments: Environments,
) -> Result<FunctionWork, WorkloadError> {
    let function = "feature-updates";
    let config = feature_updates::config::Config::from_env(&env_of(stack, resources, function))
        .map_err(|e| setup(&e))?;
    let environment =
        || feature_updates::feature_updater(clients.dynamodb.clone(), clients.sqs.clone(), &config);
    let none = |_: &feature_updates::BatchReport| 0;
    consumer_stage(
        stack,
        clients,
        function,
        &config.core.applied_ids_table,
        enriched,
        environments,
        environment,
        none,
    )
    .await
}

/// The two consumers on `activity`, the enriched records kept by a stand-in stream.
async fn consumers(
    stack: &Stack,
    clients: &CountedClients,
    resources: &Resources,
    activity: &[Vec<u8>],
    environments: Environments,
    description: String,
) -> Result<ConsumerWorkload, WorkloadError> {
    let captured = CapturedStream::start().await;
    let kinesis = captured.client(clients);
    Ok(ConsumerWorkload {
        description,
        events: activity.len(),
        functions: consumers_through(
            stack,
            clients,
            resources,
            activity,
            environments,
            &captured,
            kinesis,
        )
        .await?,
    })
}

/// stream-enrichment on `activity`, putting its records through `kinesis` on `captured`, then
/// feature-updates on what `captured` kept: each one's work, by function.
pub(crate) async fn consumers_through(
    stack: &Stack,
    clients: &CountedClients,
    resources: &Resources,
    activity: &[Vec<u8>],
    environments: Environments,
    captured: &CapturedStream,
    kinesis: aws_sdk_kinesis::Client,
) -> Result<BTreeMap<String, FunctionWork>, WorkloadError> {
    let enrichment =
        enrichment_stage(stack, clients, kinesis, resources, activity, environments).await?;
    let enriched = captured.take();
    let features = features_stage(stack, clients, resources, &enriched, environments).await?;
    Ok(BTreeMap::from([
        ("stream-enrichment".to_owned(), enrichment),
        ("feature-updates".to_owned(), features),
    ]))
}

/// One user's activity records at `events_per_second` for `seconds`, ending now, in order.
pub fn hot_user_activity(options: &HotUserOptions, now: OffsetDateTime) -> Vec<Vec<u8>> {
    let count = options.events_per_second * options.seconds;
    let start = now - time::Duration::seconds(options.seconds as i64);
    (0..count)
        .map(|n| {
            let at = start
                + time::Duration::nanoseconds(
                    (n * 1_000_000_000 / options.events_per_second.max(1)) as i64,
                );
            json!({"eventId": format!("hot-{n}"), "userId": "user-hot",
                   "type": ACTIVITY_TYPES[(n % 5) as usize],
                   "timestamp": at.format(&Rfc3339).expect("a formattable time"),
                   "itemId": format!("sku-{}", n % 500)})
            .to_string()
            .into_bytes()
        })
        .collect()
}

/// Runs the workloads against the emulator at `endpoint`, on resources created there.
pub async fn run(
    stack: &Stack,
    endpoint: &str,
    resources: &WorkloadResources<'_>,
    options: &WorkloadOptions,
    hot: &HotUserOptions,
) -> Result<WorkloadReport, WorkloadError> {
    let clients = CountedClients::new(endpoint);
    let mut functions = BTreeMap::new();
    let reference = resources.reference;

    // The reference, through the emulator's streams: event-router on the ingest queue's
    // messages, stream-enrichment on the activity stream as event-router left it,
    // feature-updates on the enriched stream; one environment each.
    let bodies = events(options, OffsetDateTime::now_utc());
    let work = router_stage(stack, &clients, clients.kinesis.clone(), reference, &bodies).await?;
    functions.insert("event-router".to_owned(), work);
    let (activity, activity_bytes) =
        read_stream(&clients.kinesis, &reference.streams["activity"]).await?;
    let work = enrichment_stage(
        stack,
        &clients,
        clients.kinesis.clone(),
        reference,
        &activity,
        Environments::One,
    )
    .await?;
    functions.insert("stream-enrichment".to_owned(), work);
    let (enriched, enriched_bytes) =
        read_stream(&clients.kinesis, &reference.streams["enriched"]).await?;
    let work = features_stage(stack, &clients, reference, &enriched, Environments::One).await?;
    functions.insert("feature-updates".to_owned(), work);

    // The same activity, a new environment for every batch.
    let cold = consumers(
        stack,
        &clients,
        resources.cold,
        &activity,
        Environments::NewPerBatch,
        "the reference workload's activity with a new execution environment for every batch: nothing cached between batches".into(),
    )
    .await?;

    let mut affinity_lost = BTreeMap::new();
    for (name, resources, trust_cache, description) in [
        (
            "alternating",
            resources.alternating,
            false,
            "the reference workload's activity with two environments taking the batches in turn (affinity lost): the shard's mark tells each that its cache is a batch behind",
        ),
        (
            "alternating_trusting_cache",
            resources.alternating_trusting_cache,
            true,
            "the same, with each environment trusting its cache (the mark set to name it before each batch): what the core would cost without the mark",
        ),
    ] {
        let work = consumers(
            stack,
            &clients,
            resources,
            &activity,
            Environments::Alternating { trust_cache },
            description.into(),
        )
        .await?;
        affinity_lost.insert(name.to_owned(), work);
    }

    let mut hot_users = BTreeMap::new();
    if hot.share > 0.0 {
        let shared_options = WorkloadOptions {
            hot_user_share: hot.share,
            ..options.clone()
        };
        let bodies = events(&shared_options, OffsetDateTime::now_utc());
        let captured = CapturedStream::start().await;
        router_stage(
            stack,
            &clients,
            captured.client(&clients),
            resources.hot_share,
            &bodies,
        )
        .await?;
        let activity = captured.take();
        let description = format!(
            "the reference workload with {:.0} % of its events given to one user, one environment",
            hot.share * 100.0
        );
        let work = consumers(
            stack,
            &clients,
            resources.hot_share,
            &activity,
            Environments::One,
            description,
        )
        .await?;
        hot_users.insert("share".to_owned(), work);
    }
    if hot.events_per_second > 0 && hot.seconds > 0 {
        let activity = hot_user_activity(hot, OffsetDateTime::now_utc());
        let description = format!(
            "one user at {} events/s for {} s of event time, one environment",
            hot.events_per_second, hot.seconds
        );
        let work = consumers(
            stack,
            &clients,
            resources.hot_rate,
            &activity,
            Environments::One,
            description,
        )
        .await?;
        hot_users.insert("rate".to_owned(), work);
    }

    let throughput = crate::throughput::measure(
        stack,
        &clients.endpoint,
        resources.throughput,
        &activity,
        emulator::latency::LatencyModel::region(),
    )
    .await?;

    let size = batch_size(stack, "event-router") as usize;
    let naive = NaiveDesign {
        description: "one GetItem (strongly consistent) and one PutItem per event in stream-enrichment and feature-updates instead of one read and one write per user per batch, and no memory of event ids applied; batches, Kinesis and SQS as built".into(),
        functions: ["stream-enrichment", "feature-updates"]
            .into_iter()
            .map(|function| (function.to_owned(), naive(&functions[function])))
            .collect(),
    };
    let naive_with_memory = NaiveDesign {
        description: "the naive design absorbing resends for 24 hours as the pipeline does: an item per applied event id, read (strongly consistent) and written per event in each consumer".into(),
        functions: naive
            .functions
            .iter()
            .map(|(function, work)| (function.clone(), with_memory(work)))
            .collect(),
    };
    Ok(WorkloadReport {
        options: options.clone(),
        batch_size: size as u32,
        event_source_requests: BTreeMap::from([
            ("sqs:ReceiveMessage".to_owned(), options.events.div_ceil(10)),
            (
                "sqs:DeleteMessageBatch".to_owned(),
                options.events.div_ceil(10),
            ),
        ]),
        naive,
        naive_with_memory,
        cold,
        affinity_lost,
        hot_users,
        functions,
        throughput,
        stream_record_bytes: BTreeMap::from([
            ("activity".to_owned(), activity_bytes),
            ("enriched".to_owned(), enriched_bytes),
        ]),
    })
}

/// The same function doing one GetItem and one PutItem per record. A read of an item under
/// 4 KB costs one read unit strongly consistent; a write costs what the pipeline's writes of
/// the same items cost per item. Handler time is kept as measured, which flatters the naive
/// design (it would wait on many more calls).
fn naive(built: &FunctionWork) -> FunctionWork {
    let mut requests: BTreeMap<String, usize> = built
        .requests
        .iter()
        .filter(|(operation, _)| !operation.starts_with("dynamodb:"))
        .map(|(operation, count)| (operation.clone(), *count))
        .collect();
    requests.insert("dynamodb:GetItem".into(), built.records);
    requests.insert("dynamodb:PutItem".into(), built.records);
    let units_per_write = if built.items_written == 0 {
        1.0
    } else {
        built.item_write_units / built.items_written as f64
    };
    FunctionWork {
        requests,
        read_request_units: built.records as f64,
        write_request_units: built.records as f64 * units_per_write,
        items_written: built.records,
        item_write_units: built.records as f64 * units_per_write,
        memory_mb: built.memory_mb,
        batch_size: built.batch_size,
        invocations: built.invocations,
        records: built.records,
        billed_ms_per_invocation: built.billed_ms_per_invocation,
        kinesis_put_payload_units: built.kinesis_put_payload_units,
        distinct_users: built.distinct_users,
        ..FunctionWork::default()
    }
}

/// The naive design plus an item per applied event id: one GetItem (strongly consistent, under
/// 4 KB: 1 read unit) and one PutItem (under 1 KB: 1 write unit) per event.
fn with_memory(naive: &FunctionWork) -> FunctionWork {
    let mut requests = naive.requests.clone();
    *requests.entry("dynamodb:GetItem".into()).or_default() += naive.records;
    *requests.entry("dynamodb:PutItem".into()).or_default() += naive.records;
    FunctionWork {
        requests,
        read_request_units: naive.read_request_units + naive.records as f64,
        write_request_units: naive.write_request_units + naive.records as f64,
        bookkeeping_write_units: naive.records as f64,
        ..naive.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_gives_the_same_events_and_users_are_skewed() {
        let options = WorkloadOptions {
            events: 2_000,
            users: 100,
            zipf_exponent: 1.1,
            seed: 7,
            order_share: 0.1,
            hot_user_share: 0.0,
        };
        let now = OffsetDateTime::now_utc();
        let first = events(&options, now);
        assert_eq!(first, events(&options, now));
        assert_ne!(
            first,
            events(
                &WorkloadOptions {
                    seed: 8,
                    ..options.clone()
                },
                now
            )
        );
        let mut per_user: BTreeMap<String, usize> = BTreeMap::new();
        let mut orders = 0;
        for body in &first {
            let event: serde_json::Value = serde_json::from_str(body).unwrap();
            *per_user
                .entry(event["detail"]["userId"].as_str().unwrap().to_owned())
                .or_default() += 1;
            orders += usize::from(event["detail-type"] == "order_placed");
        }
        // Rank 1 of 100 at exponent 1.1 draws about 23% of the events; rank 100 about 0.15%.
        let top = per_user["user-0"];
        assert!((350..600).contains(&top), "{top}");
        assert!(per_user.get("user-99").copied().unwrap_or_default() < 20);
        assert!((120..280).contains(&orders), "{orders}");
    }
}

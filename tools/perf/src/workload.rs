//! The reference workload: events of Zipf-distributed users (fixed seed) through the three
//! batch functions' handlers, in batches as deployed, against the emulator. What each batch
//! asked of DynamoDB, Kinesis and SQS, and the capacity DynamoDB reported, come from the
//! handlers' own batch reports; handler time per batch is the billed duration's stand-in.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use aws_lambda_events::kinesis::KinesisEvent;
use aws_lambda_events::sqs::SqsEvent;
use serde::Serialize;
use serde_json::json;
use shared::config::Env;
use shared::stack::Stack;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use aws_sdk_kinesis::config::SharedInterceptor;
use local_stack::resources::Resources;
use shared::request_count::RequestCounter;

#[derive(Debug, Clone, Serialize)]
pub struct WorkloadOptions {
    pub events: usize,
    pub users: usize,
    pub zipf_exponent: f64,
    pub seed: u64,
    pub order_share: f64,
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
struct CountedClients {
    dynamodb: aws_sdk_dynamodb::Client,
    kinesis: aws_sdk_kinesis::Client,
    sqs: aws_sdk_sqs::Client,
    counters: [(&'static str, RequestCounter); 3],
}

impl CountedClients {
    fn new(endpoint: &str) -> Self {
        let counters =
            ["dynamodb", "kinesis", "sqs"].map(|service| (service, RequestCounter::default()));
        let clients = local_stack::stack::emulator_clients_with(
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
            let user = format!("user-{}", zipf.draw(&mut generator));
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
    shared::kinesis_events::batch("shardId-000000000000", 1 + first as u64, records)
}

/// Every record's data on the stream, oldest first.
pub async fn read_stream(
    kinesis: &aws_sdk_kinesis::Client,
    stream: &str,
) -> Result<Vec<Vec<u8>>, WorkloadError> {
    let records = shared::stream_reader::read_all(kinesis, stream)
        .await
        .map_err(|message| WorkloadError::Read {
            stream: stream.to_owned(),
            message,
        })?;
    Ok(records
        .iter()
        .map(|record| record.data().as_ref().to_vec())
        .collect())
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
}

/// The write units of a stream consumer's batch as DynamoDB bills them: its items' units as
/// reported, and one unit per applied event id recorded (an item of under 100 bytes, and a
/// BatchWriteItem is billed per item). moto reports 1.0 per BatchWriteItem call whatever it
/// holds, so its figure for those is not used.
fn billed_write_units(total: f64, event_id_units: f64, event_ids_recorded: usize) -> (f64, f64) {
    let items = total - event_id_units;
    (items + event_ids_recorded as f64, items)
}

/// Hands `inputs` to `function`'s handler in batches of its event source's size (`event` makes
/// a batch's trigger event from its first input's index and its inputs) and sums what the
/// batches did, with the requests its clients sent meanwhile. Any failed record ends the
/// workload: its figures are only meaningful for a clean run.
async fn run_stage<I, E, Answer, Handled>(
    stack: &Stack,
    function: &str,
    clients: &CountedClients,
    inputs: &[I],
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
        let event = event(index * size as usize, chunk);
        let started = Instant::now();
        let answer = handle(event).await;
        times.push(started.elapsed());
        let batch = counts(&answer);
        if batch.failed > 0 {
            return Err(WorkloadError::Failed {
                function: function.to_owned(),
                failed: batch.failed,
            });
        }
        work.invocations += 1;
        work.records += batch.records;
        work.kinesis_put_payload_units += batch.records_put;
        work.read_request_units += batch.read_units;
        work.write_request_units += batch.write_units;
        work.items_written += batch.items_written;
        work.item_write_units += batch.item_write_units;
    }
    work.requests = clients.take();
    work.billed_ms_per_invocation = median_ms(&mut times);
    Ok(work)
}

/// Runs the workload against the emulator at `endpoint`, on resources created there.
pub async fn run(
    stack: &Stack,
    endpoint: &str,
    resources: &Resources,
    options: &WorkloadOptions,
) -> Result<WorkloadReport, WorkloadError> {
    let clients = CountedClients::new(endpoint);
    let env_of = |function: &str| {
        let variables: std::collections::HashMap<String, String> = resources
            .function_environment(&stack.functions[function])
            .into_iter()
            .collect();
        Env::from_source(variables)
    };
    let setup = |e: &dyn std::fmt::Display| WorkloadError::Setup(e.to_string());
    let deadline = || tokio::time::Instant::now() + Duration::from_secs(60);
    let mut functions = BTreeMap::new();

    // event-router, on the ingest queue's messages.
    let router_config =
        event_router::config::Config::from_env(&env_of("event-router")).map_err(|e| setup(&e))?;
    let router = event_router::handler::Router::new(
        clients.kinesis.clone(),
        clients.sqs.clone(),
        &router_config,
    );
    let bodies = events(options, OffsetDateTime::now_utc());
    let ingest_arn = &resources.queues["ingest"].arn;
    let work = run_stage(
        stack,
        "event-router",
        &clients,
        &bodies,
        |first, chunk| sqs_batch(chunk, first, ingest_arn),
        |event| router.handle(event, deadline()),
        |(_, report)| BatchCounts {
            records: report.messages,
            failed: report.failed,
            records_put: report.routed,
            ..BatchCounts::default()
        },
    )
    .await?;
    functions.insert("event-router".to_owned(), work);

    // stream-enrichment, on the activity stream as event-router left it.
    let enrichment_config =
        stream_enrichment::config::Config::from_env(&env_of("stream-enrichment"))
            .map_err(|e| setup(&e))?;
    let enricher = stream_enrichment::handler::Enricher::new(
        clients.dynamodb.clone(),
        clients.kinesis.clone(),
        clients.sqs.clone(),
        &enrichment_config,
    );
    let activity = read_stream(&clients.kinesis, &resources.streams["activity"]).await?;
    let work = run_stage(
        stack,
        "stream-enrichment",
        &clients,
        &activity,
        kinesis_batch,
        |event| enricher.handle(event, deadline()),
        |(_, report)| {
            let (write_units, item_write_units) = billed_write_units(
                report.write_capacity_units,
                report.event_id_write_units,
                report.event_ids_recorded,
            );
            BatchCounts {
                records: report.records,
                failed: report.failed,
                records_put: report.enriched,
                read_units: report.read_capacity_units,
                write_units,
                items_written: report.dynamodb_writes,
                item_write_units,
            }
        },
    )
    .await?;
    functions.insert("stream-enrichment".to_owned(), work);

    // feature-updates, on the enriched stream.
    let features_config = feature_updates::config::Config::from_env(&env_of("feature-updates"))
        .map_err(|e| setup(&e))?;
    let updater = feature_updates::handler::FeatureUpdater::new(
        clients.dynamodb.clone(),
        clients.sqs.clone(),
        &features_config,
    );
    let enriched = read_stream(&clients.kinesis, &resources.streams["enriched"]).await?;
    let work = run_stage(
        stack,
        "feature-updates",
        &clients,
        &enriched,
        kinesis_batch,
        |event| updater.handle(event, deadline()),
        |(_, report)| {
            let (write_units, item_write_units) = billed_write_units(
                report.write_capacity_units,
                report.event_id_write_units,
                report.event_ids_recorded,
            );
            BatchCounts {
                records: report.records,
                failed: report.failed,
                read_units: report.read_capacity_units,
                write_units,
                items_written: report.dynamodb_writes,
                item_write_units,
                ..BatchCounts::default()
            }
        },
    )
    .await?;
    functions.insert("feature-updates".to_owned(), work);

    let size = batch_size(stack, "event-router") as usize;
    let naive = NaiveDesign {
        description: "one GetItem (strongly consistent) and one PutItem per event in stream-enrichment and feature-updates instead of one read and one write per user per batch; batches, Kinesis and SQS as built".into(),
        functions: ["stream-enrichment", "feature-updates"]
            .into_iter()
            .map(|function| (function.to_owned(), naive(&functions[function])))
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
        functions,
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
        ..built.clone()
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

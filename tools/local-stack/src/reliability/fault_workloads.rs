//! The pipeline under faults, crashes and duplicates. Two fixed workloads of user activity
//! (Zipf-distributed users, every type, purchases with amounts, event times over the last two
//! hours, published out of order) go through the whole stack while the fault proxies
//! ([`emulator::fault_proxy`]) fault a share of the functions' AWS requests and kill the
//! processes of every function an event source feeds mid-batch: one workload publishes each
//! event once, the other each event twice (a producer's resend, with the same `eventId`). Once
//! the pipeline is quiet, the DynamoDB state must be what the events alone determine:
//!
//! - every user's features item, evaluated at one read time, equal to the brute-force
//!   reference of [`crate::demo::features`] (so events counted once: the windows' totals are
//!   the events, to the one);
//! - every user's aggregates item with the lifetime counts per type, total, first and last
//!   event time of its events;
//! - no message on the dead-letter, failure or rejects queues;
//! - every stream record processed in its key's order, across concurrent batches of a shard and
//!   across reshards (the event sources check each record done; see
//!   [`emulator::kinesis_source::order`]).
//!
//! With resharding on, the workloads publish in parts, and between parts every stream is
//! resharded one step of [`reshards::PLAN`] ([`crate::reliability::reshards`]).
//!
//! Then, with faults off, the workloads of [`crate::reliability::memory_workloads`]: resends an hour and a
//! day after their originals, a hot user, the stream functions' environments swapped under a
//! shard, and kills between a spill and the state write, which a weaker memory of the events
//! applied would fail.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_eventbridge::types::PutEventsRequestEntry;
use aws_sdk_sqs::types::QueueAttributeName;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};
use shared::events::ActivityType;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::demo::events::queue_messages;
use crate::demo::features::{self, GeneratedEvent, users_of};
use crate::reliability::memory_workloads::{self, MemoryOptions, MemoryReport};
use crate::reliability::reshards::{self, Reshard};
use crate::report::render_verdict;
use emulator::fault_proxy::{FaultCounts, FaultPlan};
use emulator::resources::{Clients, Queue};
use emulator::running_stack::RunningStack;
use emulator::sqs_source;

/// Users' shares follow Zipf's law with this exponent: a few hot users, a long tail.
const ZIPF_EXPONENT: f64 = 1.2;
/// Event times spread over this many seconds before the run.
const EVENT_SPREAD_SECONDS: i64 = 7_200;
/// The pipeline is quiet once no batch has run or waited for this long: longer than the
/// stream sources' longest retry pause (5 s) plus a batching window.
const QUIET_FOR: Duration = Duration::from_secs(7);
/// The queues a lost event would end up on, and the rejects queue.
const LOSS_QUEUES: [&str; 4] = [
    "ingest-dlq",
    "enrichment-failures",
    "feature-failures",
    "rejects",
];

#[derive(Debug, Clone)]
pub struct ExactlyOnceOptions {
    /// Users and events of each workload.
    pub users: usize,
    pub events: usize,
    /// The workloads' seed: the same seed, the same events.
    pub seed: u64,
    pub faults: FaultPlan,
    /// The process of each function an event source feeds is killed right after its 1st,
    /// 2nd, ... up to this many-th request since the last kill.
    pub crash_points: u64,
    /// A killed invocation's SQS batch comes back this long after it was received: the
    /// visibility timeout of the queues feeding functions, for the run (the deployed one, six
    /// times the function's timeout, would hold each killed batch for minutes).
    pub queue_redelivery: Duration,
    /// How long the pipeline may take to apply every event and fall quiet (each run: the
    /// faulted workloads, then the memory workloads).
    pub timeout: Duration,
    /// The memory workloads that follow, if any.
    pub memory: Option<MemoryOptions>,
    /// Reshard every stream between parts of the workloads, after this pause (records of the
    /// part before reach the streams meanwhile); none without.
    pub reshard_pause: Option<Duration>,
    /// Concurrent batches per shard the stack's stream sources run, for the report.
    pub parallelization_factor: u32,
}

/// A fixed workload: its events, and how many times each is published.
#[derive(Debug, Clone)]
pub struct Workload {
    pub name: String,
    pub deliveries: usize,
    pub events: Vec<GeneratedEvent>,
    pub details: Vec<Value>,
}

/// `events` events of `users` users (Zipf-distributed), drawn from `seed`, under ids
/// starting with `name`; with a `hot_share` above 0, each event is the hot user's
/// (`<name>-hot`) with that probability (0 draws the same events as before there was a hot
/// user).
pub fn workload(
    name: &str,
    users: usize,
    events: usize,
    seed: u64,
    deliveries: usize,
    hot_share: f64,
    now: OffsetDateTime,
) -> Workload {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut cumulative = Vec::with_capacity(users);
    let mut total = 0.0;
    for rank in 1..=users.max(1) {
        total += 1.0 / (rank as f64).powf(ZIPF_EXPONENT);
        cumulative.push(total);
    }
    let mut generated = Workload {
        name: name.to_owned(),
        deliveries,
        events: Vec::with_capacity(events),
        details: Vec::with_capacity(events),
    };
    for n in 0..events {
        let user_id = if hot_share > 0.0 && rng.random_bool(hot_share.min(1.0)) {
            hot_user(name)
        } else {
            let draw = rng.random_range(0.0..total);
            let user = cumulative
                .partition_point(|c| *c <= draw)
                .min(cumulative.len() - 1);
            format!("{name}-u{user:03}")
        };
        let activity_type = ActivityType::ALL[rng.random_range(0..ActivityType::ALL.len())];
        let at = now - time::Duration::seconds(rng.random_range(0..EVENT_SPREAD_SECONDS));
        let amount = (activity_type == ActivityType::Purchase)
            .then(|| f64::from(rng.random_range(100..=50_000u32)) / 100.0);
        let event = GeneratedEvent {
            user_id,
            activity_type,
            at,
            amount,
        };
        generated
            .details
            .push(detail_of(&format!("{name}-{n}"), &event, n));
        generated.events.push(event);
    }
    generated
}

/// The hot user of workload `name`.
pub fn hot_user(name: &str) -> String {
    format!("{name}-hot")
}

/// The `user_activity` detail of `event` under id `event_id` (the `n`th of its workload).
pub(crate) fn detail_of(event_id: &str, event: &GeneratedEvent, n: usize) -> Value {
    let mut detail = json!({"eventId": event_id, "userId": event.user_id,
        "type": event.activity_type, "timestamp": event.at.format(&Rfc3339).expect("formats"),
        "itemId": format!("sku-{}", n % 50)});
    if let Some(amount) = event.amount {
        detail["amount"] = json!(amount);
    }
    detail
}

/// One workload's outcome.
#[derive(Debug, Default)]
pub struct WorkloadReport {
    pub name: String,
    pub users: usize,
    pub events: usize,
    pub deliveries: usize,
    pub published: usize,
    /// Users whose features equal the reference; events the items count against the events.
    pub features_equal: usize,
    pub features_lost: u64,
    pub features_double: u64,
    /// Users whose aggregates hold their events' counts and times; events counted against the
    /// events.
    pub aggregates_equal: usize,
    pub aggregates_lost: u64,
    pub aggregates_double: u64,
}

impl WorkloadReport {
    pub fn drift(&self) -> u64 {
        self.features_lost + self.features_double + self.aggregates_lost + self.aggregates_double
    }

    /// The features and aggregates lines, each starting with `indent`.
    pub fn render_outcome(&self, indent: &str) -> String {
        format!(
            "{indent}features: {} of {} users equal to the reference; {} lost, {} double-counted\n\
             {indent}aggregates: {} of {} users hold their events' counts and times; {} lost, {} double-counted\n",
            self.features_equal,
            self.users,
            self.features_lost,
            self.features_double,
            self.aggregates_equal,
            self.users,
            self.aggregates_lost,
            self.aggregates_double,
        )
    }
}

#[derive(Debug, Default)]
pub struct ExactlyOnceReport {
    pub seed: u64,
    pub rate: f64,
    /// Per function, what its proxy did during the run.
    pub faults: BTreeMap<String, FaultCounts>,
    pub workloads: Vec<WorkloadReport>,
    /// Messages that arrived on the dead-letter, failure and rejects queues during the run.
    pub set_aside: usize,
    pub elapsed: Duration,
    /// What the memory workloads did, if they ran.
    pub memory: Option<MemoryReport>,
    pub reshards: Vec<Reshard>,
    pub streams: StreamOrder,
    pub failures: Vec<String>,
}

/// What the stream sources saw during the run: every record done, checked in its key's order.
#[derive(Debug, Default, Clone)]
pub struct StreamOrder {
    pub parallelization_factor: u32,
    pub records: usize,
    pub out_of_order: usize,
    /// Closed shards read to their end.
    pub shards_drained: usize,
}

impl StreamOrder {
    /// The sources' counts now, summed over every stream source of `stack`.
    fn of(stack: &RunningStack, parallelization_factor: u32) -> (Self, Vec<String>) {
        use std::sync::atomic::Ordering;
        let mut order = Self {
            parallelization_factor,
            ..Self::default()
        };
        let mut examples = Vec::new();
        for stats in stack.event_sources.values() {
            order.records += stats.order.records.load(Ordering::Relaxed);
            order.out_of_order += stats.order.out_of_order.load(Ordering::Relaxed);
            order.shards_drained += stats.shards_drained.load(Ordering::Relaxed);
            examples.extend(stats.order.examples());
        }
        (order, examples)
    }

    /// "12,345 stream records at parallelization factor 3, 0 out of their key's order; 12
    /// closed shards read to their end".
    pub fn render(&self) -> String {
        format!(
            "{} stream records at parallelization factor {}, {} out of their key's order; {} closed shards read to their end",
            self.records, self.parallelization_factor, self.out_of_order, self.shards_drained
        )
    }

    fn minus(&self, before: &Self) -> Self {
        Self {
            parallelization_factor: self.parallelization_factor,
            records: self.records - before.records,
            out_of_order: self.out_of_order - before.out_of_order,
            shards_drained: self.shards_drained - before.shards_drained,
        }
    }
}

impl ExactlyOnceReport {
    pub fn passed(&self) -> bool {
        self.failures.is_empty() && !self.workloads.is_empty()
    }

    pub fn injected(&self) -> FaultCounts {
        let mut total = FaultCounts::default();
        for counts in self.faults.values() {
            total.add(counts);
        }
        total
    }

    pub fn render(&self) -> String {
        let mut out = format!(
            "exactly once under faults (seed {}; {:.0}% of the functions' AWS requests faulted), settled in {:.1} s\n",
            self.seed,
            self.rate * 100.0,
            self.elapsed.as_secs_f64()
        );
        for (function, counts) in &self.faults {
            if counts.requests > 0 {
                out.push_str(&format!("  {function}: {}\n", counts.render()));
            }
        }
        out.push_str(&format!("  all told: {}\n", self.injected().render()));
        for workload in &self.workloads {
            out.push_str(&format!(
                "  {} events of {} users, each published {} ({} deliveries):\n",
                workload.events,
                workload.users,
                if workload.deliveries > 1 {
                    "twice"
                } else {
                    "once"
                },
                workload.published,
            ));
            out.push_str(&workload.render_outcome("    "));
        }
        if !self.reshards.is_empty() {
            out.push_str(&format!(
                "  {} reshards between parts of the workloads ({}):\n",
                self.reshards.len(),
                reshards::tally(&self.reshards)
            ));
            for reshard in &self.reshards {
                out.push_str(&format!(
                    "    {}: {}, {} -> {} open shards\n",
                    reshard.stream, reshard.kind, reshard.open_before, reshard.open_after
                ));
            }
        }
        out.push_str(&format!("  {}\n", self.streams.render()));
        if let Some(memory) = &self.memory {
            out.push_str(&memory.render());
        }
        out.push_str(&format!(
            "  {} messages set aside (dead-letter, failure and rejects queues)\n",
            self.set_aside
        ));
        // A broken invariant breaks it for most users: the first few say how.
        const SHOWN: usize = 8;
        for failure in self.failures.iter().take(SHOWN) {
            out.push_str(&format!("    FAILED {failure}\n"));
        }
        if self.failures.len() > SHOWN {
            out.push_str(&format!(
                "    FAILED ... and {} more\n",
                self.failures.len() - SHOWN
            ));
        }
        render_verdict(&mut out, "exactly once", self.passed());
        out
    }
}

/// Runs both workloads through `stack` (started with fault proxies) under `options`' faults
/// and crashes, then compares the state with the reference. Faults are off again afterwards.
pub async fn run(
    stack: &RunningStack,
    run_id: &str,
    options: &ExactlyOnceOptions,
) -> ExactlyOnceReport {
    let started = Instant::now();
    let mut report = ExactlyOnceReport {
        seed: options.seed,
        rate: options.faults.rate,
        ..ExactlyOnceReport::default()
    };
    let resources = &stack.resources;
    let (Some(bus), Some(features), Some(aggregates), Some(ingest)) = (
        resources.event_buses.values().next(),
        resources.tables.get("features"),
        resources.tables.get("aggregates"),
        resources.queues.get("ingest"),
    ) else {
        report.failures.push(
            "the stack has no event bus, features or aggregates table, or ingest queue".into(),
        );
        return report;
    };
    if stack.fault_proxies.is_empty() {
        report
            .failures
            .push("the stack runs without fault proxies (StackOptions::fault_seed)".into());
        return report;
    }
    let set_aside_before = set_aside(stack, &LOSS_QUEUES).await;
    let before: BTreeMap<String, FaultCounts> = stack
        .fault_proxies
        .iter()
        .map(|(function, proxy)| (function.clone(), proxy.counts()))
        .collect();

    let now = OffsetDateTime::now_utc();
    let workloads = [
        workload(
            &format!("once-{run_id}"),
            options.users,
            options.events,
            options.seed,
            1,
            0.0,
            now,
        ),
        workload(
            &format!("twice-{run_id}"),
            options.users,
            options.events,
            options.seed ^ 0x5eed,
            2,
            0.0,
            now,
        ),
    ];
    let mut visibility_restores = Vec::new();
    for queue in fed_queues(stack) {
        match shorten_visibility(&stack.clients, &queue.url, options.queue_redelivery).await {
            Ok(deployed) => visibility_restores.push((queue, deployed)),
            Err(error) => report.failures.push(error),
        }
    }
    if !visibility_restores.is_empty() {
        // A long poll already waiting receives with the visibility timeout it began with.
        let long_poll = sqs_source::LONG_POLL_SECONDS.unsigned_abs();
        tokio::time::sleep(Duration::from_secs((long_poll + 1).into())).await;
    }
    for (function, proxy) in &stack.fault_proxies {
        proxy.set_plan(options.faults);
        if sources_of(stack, function).next().is_some() {
            proxy.schedule_crashes(1..=options.crash_points);
        }
    }

    let (streams_before, _) = StreamOrder::of(stack, options.parallelization_factor);
    let published = publish_resharding(stack, bus, &workloads, options, &mut report).await;
    let deadline = Instant::now() + options.timeout;
    let all_events: Vec<GeneratedEvent> = workloads
        .iter()
        .flat_map(|w| w.events.iter().cloned())
        .collect();
    if let Err(error) =
        wait_until_applied(&stack.clients, features, aggregates, &all_events, deadline).await
    {
        report.failures.push(error);
    }
    if !wait_until_quiet(stack, &ingest.url, deadline).await {
        report.failures.push(format!(
            "the pipeline was not quiet within {:?}",
            options.timeout
        ));
    }
    report.elapsed = started.elapsed();
    for (function, proxy) in &stack.fault_proxies {
        proxy.set_plan(FaultPlan::NONE);
        let pending = proxy.crashes_pending();
        proxy.schedule_crashes([]);
        let mut counts = proxy.counts();
        counts.subtract(&before[function]);
        if pending > 0 {
            report.failures.push(format!(
                "{function}: {pending} of its {} kills never came (too few requests)",
                options.crash_points
            ));
        }
        report.faults.insert(function.clone(), counts);
    }
    for (queue, deployed) in visibility_restores {
        if let Err(error) = set_visibility(&stack.clients, &queue.url, &deployed).await {
            report.failures.push(error);
        }
    }

    for (workload, published) in workloads.iter().zip(published) {
        let mut outcome = WorkloadReport {
            name: workload.name.clone(),
            users: users_of(&workload.events).len(),
            events: workload.events.len(),
            deliveries: workload.deliveries,
            published,
            ..WorkloadReport::default()
        };
        compare_features(
            &stack.clients,
            features,
            workload,
            &mut outcome,
            &mut report.failures,
        )
        .await;
        compare_aggregates(
            &stack.clients,
            aggregates,
            workload,
            &mut outcome,
            &mut report.failures,
        )
        .await;
        report.workloads.push(outcome);
    }
    if let Some(memory) = &options.memory {
        report.memory = Some(
            memory_workloads::run(
                stack,
                run_id,
                memory,
                options.seed,
                options.timeout,
                &mut report.failures,
            )
            .await,
        );
        // The run's counts, the memory workloads' kills included.
        for (function, proxy) in &stack.fault_proxies {
            let mut counts = proxy.counts();
            counts.subtract(&before[function]);
            report.faults.insert(function.clone(), counts);
        }
    }
    let (streams_after, examples) = StreamOrder::of(stack, options.parallelization_factor);
    report.streams = streams_after.minus(&streams_before);
    if report.streams.out_of_order > 0 {
        report.failures.push(format!(
            "{} stream records processed out of their key's order, e.g. {}",
            report.streams.out_of_order,
            examples.join("; ")
        ));
    }
    report.set_aside = set_aside(stack, &LOSS_QUEUES)
        .await
        .saturating_sub(set_aside_before);
    if report.set_aside > 0 {
        report.failures.push(format!(
            "{} messages reached the dead-letter, failure or rejects queues",
            report.set_aside
        ));
    }
    report
}

/// The manifest keys of the queues and streams feeding `function`.
fn sources_of<'a>(stack: &'a RunningStack, function: &'a str) -> impl Iterator<Item = &'a str> {
    stack.event_sources.keys().filter_map(move |key| {
        key.split_once("<-")
            .filter(|(fed, _)| *fed == function)
            .map(|(_, source)| source)
    })
}

/// The queues that feed a function with a fault proxy, each once (a second shortening would
/// read the short timeout back as the one to restore).
fn fed_queues(stack: &RunningStack) -> Vec<&Queue> {
    let sources: BTreeSet<&str> = stack
        .fault_proxies
        .keys()
        .flat_map(|function| sources_of(stack, function))
        .collect();
    sources
        .into_iter()
        .filter_map(|source| stack.resources.queues.get(source))
        .collect()
}

/// The queue's visibility timeout, in seconds as SQS gives it.
pub async fn visibility_timeout(clients: &Clients, url: &str) -> Result<String, String> {
    let attributes = clients
        .sqs
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(QueueAttributeName::VisibilityTimeout)
        .send()
        .await
        .map_err(|error| format!("reading the visibility timeout of {url}: {error:?}"))?;
    attributes
        .attributes()
        .and_then(|a| a.get(&QueueAttributeName::VisibilityTimeout))
        .cloned()
        .ok_or_else(|| format!("{url} has no visibility timeout"))
}

/// Sets the queue's visibility timeout to `redelivery`; the one it had.
async fn shorten_visibility(
    clients: &Clients,
    url: &str,
    redelivery: Duration,
) -> Result<String, String> {
    let deployed = visibility_timeout(clients, url).await?;
    set_visibility(clients, url, &redelivery.as_secs().max(1).to_string()).await?;
    Ok(deployed)
}

async fn set_visibility(clients: &Clients, url: &str, seconds: &str) -> Result<(), String> {
    clients
        .sqs
        .set_queue_attributes()
        .queue_url(url)
        .attributes(QueueAttributeName::VisibilityTimeout, seconds)
        .send()
        .await
        .map(|_| ())
        .map_err(|error| {
            format!("setting the visibility timeout of {url} to {seconds} s: {error:?}")
        })
}

/// Publishes each workload's events, each `deliveries` times in a row (a producer's resends
/// carry the same eventId), in one part, or, with `reshard_pause`, in one part more than
/// [`reshards::PLAN`] has steps, resharding every stream between two parts; the entries of each
/// workload that went through.
async fn publish_resharding(
    stack: &RunningStack,
    bus: &str,
    workloads: &[Workload],
    options: &ExactlyOnceOptions,
    report: &mut ExactlyOnceReport,
) -> Vec<usize> {
    let entries: Vec<Vec<&Value>> = workloads
        .iter()
        .map(|workload| {
            workload
                .details
                .iter()
                .flat_map(|detail| std::iter::repeat_n(detail, workload.deliveries))
                .collect()
        })
        .collect();
    let steps = if options.reshard_pause.is_some() {
        reshards::PLAN.len()
    } else {
        0
    };
    // Each provisioned stream goes back to the shard count it had; Kinesis alone reshards an
    // on-demand one.
    let mut deployed = BTreeMap::new();
    for (key, stream) in &stack.resources.streams {
        match reshards::provisioned_shards(&stack.clients, stream).await {
            Ok(Some(shards)) => {
                deployed.insert(key.clone(), shards);
            }
            Ok(None) => {}
            Err(error) => report.failures.push(error),
        }
    }
    let mut published = vec![0; workloads.len()];
    for part in 0..=steps {
        for (count, entries) in published.iter_mut().zip(&entries) {
            let range = part_of(entries.len(), part, steps + 1);
            match publish_details(&stack.clients, bus, &entries[range]).await {
                Ok(sent) => *count += sent,
                Err(error) => report.failures.push(error),
            }
        }
        let (Some(pause), Some(kind)) = (options.reshard_pause, reshards::PLAN.get(part)) else {
            continue;
        };
        tokio::time::sleep(pause).await;
        for (key, stream) in &stack.resources.streams {
            let Some(shards) = deployed.get(key) else {
                continue;
            };
            match reshards::reshard(&stack.clients, stream, *kind, *shards).await {
                Ok(made) => report.reshards.push(Reshard {
                    stream: key.clone(),
                    ..made
                }),
                Err(error) => report.failures.push(error),
            }
        }
    }
    published
}

/// The `part`th of `parts` near-equal consecutive ranges of `0..len`.
fn part_of(len: usize, part: usize, parts: usize) -> std::ops::Range<usize> {
    len * part / parts..len * (part + 1) / parts
}

/// Publishes `entries` (`user_activity` details) in order; the entries that went through.
pub(crate) async fn publish_details(
    clients: &Clients,
    bus: &str,
    entries: &[&Value],
) -> Result<usize, String> {
    let mut published = 0;
    // PutEvents takes at most 10 entries per call.
    for chunk in entries.chunks(10) {
        let mut request = clients.eventbridge.put_events();
        for detail in chunk {
            request = request.entries(
                PutEventsRequestEntry::builder()
                    .event_bus_name(bus)
                    .source("reliability.shop")
                    .detail_type("user_activity")
                    .detail(detail.to_string())
                    .build(),
            );
        }
        let output = request.send().await.map_err(|error| {
            format!(
                "PutEvents: {}",
                aws_sdk_eventbridge::error::DisplayErrorContext(error)
            )
        })?;
        if output.failed_entry_count() > 0 {
            return Err(format!(
                "PutEvents refused {} entries",
                output.failed_entry_count()
            ));
        }
        published += chunk.len();
    }
    Ok(published)
}

/// Waits until every user's features and aggregates count at least their events.
pub(crate) async fn wait_until_applied(
    clients: &Clients,
    features: &str,
    aggregates: &str,
    events: &[GeneratedEvent],
    deadline: Instant,
) -> Result<(), String> {
    let users = users_of(events);
    let expected: Vec<u64> = users
        .iter()
        .map(|user| events.iter().filter(|e| e.user_id == *user).count() as u64)
        .collect();
    let mut behind = users.len();
    while Instant::now() < deadline {
        behind = 0;
        for (user, expected) in users.iter().zip(&expected) {
            let item = features::read_item(clients, features, user).await?;
            let totals = read_aggregates(clients, aggregates, user).await?;
            if features::stored_events(item.as_ref()) < *expected
                || totals.map_or(0, |t| t.total) < *expected
            {
                behind += 1;
            }
        }
        if behind == 0 {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    Err(format!(
        "{behind} of {} users' items did not count all their events in time",
        users.len()
    ))
}

/// Waits until no event source has run or held a batch for [`QUIET_FOR`] and the ingest
/// queue is empty (nothing in flight either); false if that did not happen by `deadline`.
pub(crate) async fn wait_until_quiet(
    stack: &RunningStack,
    ingest: &str,
    deadline: Instant,
) -> bool {
    use std::sync::atomic::Ordering;
    let activity = || {
        stack
            .event_sources
            .values()
            .fold((0, 0), |(busy, batches), stats| {
                (
                    busy + stats.busy.load(Ordering::Relaxed),
                    batches + stats.batches.load(Ordering::Relaxed),
                )
            })
    };
    let mut quiet_since: Option<(Instant, usize)> = None;
    while Instant::now() < deadline {
        let (busy, batches) = activity();
        let queued = queue_messages(
            &stack.clients,
            ingest,
            &[
                QueueAttributeName::ApproximateNumberOfMessages,
                QueueAttributeName::ApproximateNumberOfMessagesNotVisible,
                QueueAttributeName::ApproximateNumberOfMessagesDelayed,
            ],
        )
        .await;
        match quiet_since {
            Some((since, seen)) if busy == 0 && queued == 0 && seen == batches => {
                if since.elapsed() >= QUIET_FOR {
                    return true;
                }
            }
            _ if busy == 0 && queued == 0 => quiet_since = Some((Instant::now(), batches)),
            _ => quiet_since = None,
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    false
}

/// Messages waiting or in flight on the stack's queues `keys` (those it has).
pub(crate) async fn set_aside(stack: &RunningStack, keys: &[&str]) -> usize {
    let mut total = 0;
    for queue in keys
        .iter()
        .filter_map(|key| stack.resources.queues.get(*key))
    {
        total += queue_messages(
            &stack.clients,
            &queue.url,
            &[
                QueueAttributeName::ApproximateNumberOfMessages,
                QueueAttributeName::ApproximateNumberOfMessagesNotVisible,
            ],
        )
        .await;
    }
    total
}

pub(crate) async fn compare_features(
    clients: &Clients,
    table: &str,
    workload: &Workload,
    outcome: &mut WorkloadReport,
    failures: &mut Vec<String>,
) {
    match features::compare(clients, table, &workload.events).await {
        Ok(checks) => {
            for check in checks {
                outcome.features_lost += check.expected_events.saturating_sub(check.stored_events);
                outcome.features_double +=
                    check.stored_events.saturating_sub(check.expected_events);
                let mismatches = check.mismatches();
                if mismatches.is_empty() {
                    outcome.features_equal += 1;
                } else {
                    failures.push(format!(
                        "features of {}: {}",
                        check.user_id,
                        mismatches.join(", ")
                    ));
                }
            }
        }
        Err(error) => failures.push(format!("features of {}: {error}", workload.name)),
    }
}

/// The order-independent part of a user's aggregates item (sessions depend on the order
/// records were processed in, which faults change).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AggregateTotals {
    pub total: u64,
    pub counts: BTreeMap<String, u64>,
    pub first_seen: Option<OffsetDateTime>,
    pub last_seen: Option<OffsetDateTime>,
}

impl AggregateTotals {
    /// What `events` (one user's) add up to.
    pub fn of(events: &[&GeneratedEvent]) -> Self {
        let mut counts = BTreeMap::new();
        for event in events {
            *counts
                .entry(event.activity_type.as_str().to_owned())
                .or_insert(0) += 1;
        }
        Self {
            total: events.len() as u64,
            counts,
            first_seen: events.iter().map(|e| e.at).min(),
            last_seen: events.iter().map(|e| e.at).max(),
        }
    }
}

async fn read_aggregates(
    clients: &Clients,
    table: &str,
    user_id: &str,
) -> Result<Option<AggregateTotals>, String> {
    let item = features::read_user_item(clients, table, user_id, "aggregates").await?;
    let Some(item) = item else {
        return Ok(None);
    };
    let number = |value: &AttributeValue| value.as_n().ok().and_then(|n| n.parse::<u64>().ok());
    let time = |name: &str| {
        item.get(name)
            .and_then(|value| value.as_s().ok())
            .and_then(|value| OffsetDateTime::parse(value, &Rfc3339).ok())
    };
    let malformed = || format!("the aggregates item of {user_id} lacks totalEvents or counts");
    let total = item
        .get("totalEvents")
        .and_then(number)
        .ok_or_else(malformed)?;
    let counts = item
        .get("counts")
        .and_then(|value| value.as_m().ok())
        .ok_or_else(malformed)?
        .iter()
        .filter_map(|(name, value)| Some((name.clone(), number(value)?)))
        .filter(|(_, count)| *count > 0)
        .collect();
    Ok(Some(AggregateTotals {
        total,
        counts,
        first_seen: time("firstSeen"),
        last_seen: time("lastSeen"),
    }))
}

pub(crate) async fn compare_aggregates(
    clients: &Clients,
    table: &str,
    workload: &Workload,
    outcome: &mut WorkloadReport,
    failures: &mut Vec<String>,
) {
    for user in users_of(&workload.events) {
        let own: Vec<&GeneratedEvent> = workload
            .events
            .iter()
            .filter(|e| e.user_id == user)
            .collect();
        let reference = AggregateTotals::of(&own);
        match read_aggregates(clients, table, user).await {
            Ok(stored) => {
                let stored_total = stored.as_ref().map_or(0, |s| s.total);
                outcome.aggregates_lost += reference.total.saturating_sub(stored_total);
                outcome.aggregates_double += stored_total.saturating_sub(reference.total);
                if stored.as_ref() == Some(&reference) {
                    outcome.aggregates_equal += 1;
                } else {
                    failures.push(format!(
                        "aggregates of {user}: {stored:?}, reference {reference:?}"
                    ));
                }
            }
            Err(error) => failures.push(error),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(1_795_427_200).unwrap()
    }

    #[test]
    fn a_workload_is_fixed_by_its_seed_and_skewed_towards_a_few_users() {
        let first = workload("w", 40, 2_000, 11, 1, 0.0, now());
        let again = workload("w", 40, 2_000, 11, 1, 0.0, now());
        assert_eq!(first.details, again.details);
        assert_ne!(
            first.details,
            workload("w", 40, 2_000, 12, 1, 0.0, now()).details
        );
        let users = users_of(&first.events);
        assert!(users.len() > 30, "{} users", users.len());
        let hottest = first
            .events
            .iter()
            .filter(|e| e.user_id == "w-u000")
            .count();
        let coldest = first
            .events
            .iter()
            .filter(|e| e.user_id == "w-u039")
            .count();
        // Zipf 1.2 over 40 users: the top user has about 28% of the events, the last 0.3%.
        assert!((400..=750).contains(&hottest), "{hottest}");
        assert!(coldest < 30, "{coldest}");
    }

    #[test]
    fn a_hot_user_takes_its_share_and_no_share_draws_no_hot_user() {
        let hot = workload("w", 40, 2_000, 11, 1, 0.3, now());
        let hottest = hot.events.iter().filter(|e| e.user_id == "w-hot").count();
        assert!((540..=660).contains(&hottest), "{hottest}");
        assert_eq!(hot.details.len(), 2_000);
        let cold = workload("w", 40, 2_000, 11, 1, 0.0, now());
        assert!(cold.events.iter().all(|e| e.user_id != "w-hot"));
        assert_ne!(hot.details, cold.details);
    }

    #[test]
    fn events_are_valid_activity_spread_over_two_hours_with_amounts_on_purchases() {
        let generated = workload("w", 10, 500, 3, 2, 0.0, now());
        for (event, detail) in generated.events.iter().zip(&generated.details) {
            let age = now() - event.at;
            assert!(age >= time::Duration::ZERO && age < time::Duration::hours(2));
            assert_eq!(detail["userId"], event.user_id.as_str());
            assert_eq!(
                event.amount.is_some(),
                event.activity_type == ActivityType::Purchase
            );
            assert_eq!(detail.get("amount").and_then(Value::as_f64), event.amount);
        }
        let types: std::collections::BTreeSet<_> =
            generated.events.iter().map(|e| e.activity_type).collect();
        assert_eq!(types.len(), ActivityType::ALL.len());
    }

    #[test]
    fn aggregate_totals_count_per_type_and_keep_the_earliest_and_latest_time() {
        let generated = workload("w", 1, 50, 5, 1, 0.0, now());
        let own: Vec<&GeneratedEvent> = generated.events.iter().collect();
        let totals = AggregateTotals::of(&own);
        assert_eq!(totals.total, 50);
        assert_eq!(totals.counts.values().sum::<u64>(), 50);
        assert_eq!(
            totals.first_seen,
            generated.events.iter().map(|e| e.at).min()
        );
        assert!(totals.first_seen < totals.last_seen);
    }
}

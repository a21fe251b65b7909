//! Workloads that a weaker memory of the events applied would fail, run after the faulted
//! workloads of [`crate::reliability::fault_workloads`] with faults off. The stream functions
//! (stream-enrichment, feature-updates) keep what they applied in the keyed-state core
//! ([`shared::keyed_state`]): recent event ids in the user's item, older ones spilled to the
//! applied-ids table and looked up by event time, and states kept warm per execution
//! environment, trusted only while the shard's mark names the environment. Four phases, each
//! with the stream functions' invocations placed on chosen environments
//! ([`emulator::functions::FunctionPool::pin`]), and each waited for until its events are applied:
//!
//! 1. **environment 1** (sticky, as Lambda mostly places a shard): the originals of two
//!    resends, and the first quarter of a workload with a hot user (a large share of its
//!    events);
//! 2. **environment 2** takes the shards over while environment 1 holds its warm states: each
//!    resend user's followers (enough newer events that its original's id is spilled out of
//!    the item, event times up to 1 hour and 23 hours after the original), the second quarter;
//!    each stream function is killed right after its first spill (`BatchWriteItem`) took
//!    effect, before the state writes that drop the spilled ids from the items;
//! 3. **environment 1 again**: the originals published again (stream-enrichment drops them,
//!    so their enriched records are put on the enriched stream again too, for
//!    feature-updates), the third quarter. Environment 1's warm states are stale: its first
//!    batch must not trust them;
//! 4. **unpinned**: the environments take batches in turn (affinity lost each batch), the last
//!    quarter.
//!
//! Then, once the pipeline is quiet, the state must be what the events alone determine (the
//! resends counted once, in the aggregates and in the features' 24-hour window), and the
//! functions' own "batch done" lines must show what was exercised: duplicates found by lookup
//! of spilled ids in both consumers, spills, a first batch back on environment 1 whose cache
//! was not current, and no state write that lost to a stale state. The lines also give the
//! warm cache's hit rate under sticky and alternating placement.

use std::collections::BTreeMap;
use std::io::{Read, Seek, SeekFrom};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::Value;
use shared::events::ActivityType;
use time::OffsetDateTime;

use crate::demo::features::{GeneratedEvent, users_of};
use crate::reliability::fault_workloads::{
    Workload, WorkloadReport, compare_aggregates, compare_features, detail_of, hot_user,
    publish_details, wait_until_applied, wait_until_quiet, workload,
};
use emulator::fault_proxy::KillPoint;
use emulator::functions::FunctionPool;
use emulator::resources::Clients;
use emulator::running_stack::RunningStack;

/// How long after its original (event time) each resend comes, in hours. The longer is inside
/// feature-updates' 24-hour window: a resend counted again there would show.
pub const RESEND_GAPS_HOURS: [i64; 2] = [1, 23];
/// The request a stream function spills applied ids with, before its state writes.
pub const SPILL_OPERATION: &str = "BatchWriteItem";
/// The newest follower's event time, before the workload's start.
const NEWEST_BEFORE_NOW: time::Duration = time::Duration::seconds(5);
/// How far apart a paced phase publishes its parts: longer than the stream event sources'
/// batching window (1 s), so each part makes a batch or two of its own and the cache is used
/// across batches.
const PACE: Duration = Duration::from_millis(1_200);

#[derive(Debug, Clone)]
pub struct MemoryOptions {
    /// Users (Zipf-distributed, beside the hot one) and events of the hot workload.
    pub users: usize,
    pub events: usize,
    /// The hot user's share of the hot workload's events.
    pub hot_share: f64,
    /// Events of each resend's user after its original. 300 or more make sure the original's
    /// id is spilled: a spill takes every id committed, the original's among them, and the last
    /// of the batches of up to 100 records that carry them finds at least 201 committed, past
    /// the 120 that are always spilled.
    pub followers: usize,
    /// Kills of each stream function right after a spill took effect (one per spill, counted
    /// from the previous kill), while environment 2 holds the shards.
    pub spill_kills: u64,
    /// Parts phases 1, 3 and 4 publish their events in, [`PACE`] apart: about as many batches
    /// per stream function, for the warm cache to be measured over.
    pub paced_parts: usize,
}

/// What one stream function's "batch done" lines said.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BatchLine {
    pub function: String,
    /// The environment (instance) that ran the batch.
    pub instance: usize,
    pub records: u64,
    pub applied: u64,
    pub duplicates: u64,
    pub conflicts: u64,
    pub cache_current: bool,
    pub states_cached: u64,
    pub states_read: u64,
    pub states_written: u64,
    pub lookups: u64,
    pub found_spilled: u64,
    pub spills: u64,
    pub spilled_ids: u64,
}

impl BatchLine {
    /// A line of the stack's log (`HH:MM:SS.mmm <function>#<instance> <JSON>`) if it is a
    /// function's "batch done".
    pub fn parse(line: &str) -> Option<Self> {
        let (_, rest) = line.split_once(' ')?;
        let (component, text) = rest.trim_start().split_once(' ')?;
        let (function, instance) = component.rsplit_once('#')?;
        let instance = instance.parse().ok()?;
        let text = text.trim_start();
        if !text.starts_with('{') {
            return None;
        }
        let value: Value = serde_json::from_str(text).ok()?;
        if value["message"] != "batch done" {
            return None;
        }
        let count = |name: &str| value[name].as_u64().unwrap_or(0);
        Some(Self {
            function: function.to_owned(),
            instance,
            records: count("records"),
            applied: count("applied"),
            duplicates: count("duplicates"),
            conflicts: count("conflicts"),
            cache_current: value["cache_current"].as_bool()?,
            states_cached: count("states_cached"),
            states_read: count("states_read"),
            states_written: count("states_written"),
            lookups: count("lookups"),
            found_spilled: count("found_spilled"),
            spills: count("spills"),
            spilled_ids: count("spilled_ids"),
        })
    }
}

/// The warm cache under one placement: batches, those whose cache was current, states taken
/// from the cache and states read, and writes that lost to another.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CacheStats {
    pub batches: u64,
    pub cache_current: u64,
    pub states_cached: u64,
    pub states_read: u64,
    pub conflicts: u64,
}

impl CacheStats {
    pub fn of<'a>(lines: impl IntoIterator<Item = &'a BatchLine>) -> Self {
        let mut stats = Self::default();
        for line in lines {
            stats.batches += 1;
            stats.cache_current += u64::from(line.cache_current);
            stats.states_cached += line.states_cached;
            stats.states_read += line.states_read;
            stats.conflicts += line.conflicts;
        }
        stats
    }

    pub fn add(&mut self, other: &CacheStats) {
        self.batches += other.batches;
        self.cache_current += other.cache_current;
        self.states_cached += other.states_cached;
        self.states_read += other.states_read;
        self.conflicts += other.conflicts;
    }

    /// Share of the states the batches needed that came from the cache, in percent.
    pub fn cached_percent(&self) -> Option<f64> {
        let states = self.states_cached + self.states_read;
        (states > 0).then(|| 100.0 * self.states_cached as f64 / states as f64)
    }

    /// Share of the batches whose cache was current, in percent.
    pub fn current_percent(&self) -> Option<f64> {
        (self.batches > 0).then(|| 100.0 * self.cache_current as f64 / self.batches as f64)
    }

    /// `12 batches, 92 % with the cache current, 95 % of states cached (230 of 242), 0 conflicts`
    pub fn render(&self) -> String {
        format!(
            "{} batches, {} with the cache current, {} of states cached ({} of {}), {} conflicts",
            self.batches,
            percent(self.current_percent()),
            percent(self.cached_percent()),
            self.states_cached,
            self.states_cached + self.states_read,
            self.conflicts
        )
    }
}

fn percent(share: Option<f64>) -> String {
    share.map_or_else(|| "n/a".to_owned(), |share| format!("{share:.0} %"))
}

/// What one stream function did in the memory workloads.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConsumerMemory {
    /// Duplicates found by a lookup of spilled ids, and the Query pages read.
    pub found_spilled: u64,
    pub lookups: u64,
    pub spills: u64,
    pub spilled_ids: u64,
    /// Whether the cache was current on environment 2's first batch (taking the shard over),
    /// and on environment 1's first batch back.
    pub takeover_current: Option<bool>,
    pub back_current: Option<bool>,
    /// Conflicts of environment 1's batches back, the first one's and all told.
    pub back_first_conflicts: u64,
    pub back_conflicts: u64,
    /// The warm cache with every batch on environment 1 (phase 1), and with the environments
    /// taking batches in turn (phase 4).
    pub sticky: CacheStats,
    pub alternating: CacheStats,
}

/// What the memory workloads did.
#[derive(Debug, Default)]
pub struct MemoryReport {
    /// The resend workload (its users' originals and followers), then the hot workload.
    pub workloads: Vec<WorkloadReport>,
    /// Originals published again.
    pub resends: usize,
    pub hot_user_events: usize,
    /// Per stream function.
    pub consumers: BTreeMap<String, ConsumerMemory>,
    /// Times the stream functions' shards moved to another pinned environment.
    pub swaps: usize,
    /// Processes killed right after a spill took effect.
    pub spill_kills: u64,
    pub elapsed: Duration,
}

impl MemoryReport {
    pub fn drift(&self) -> u64 {
        self.workloads.iter().map(WorkloadReport::drift).sum()
    }

    pub fn events(&self) -> usize {
        self.workloads.iter().map(|w| w.events).sum()
    }

    pub fn published(&self) -> usize {
        self.workloads.iter().map(|w| w.published).sum()
    }

    /// Both consumers' counts added up.
    fn total(&self, count: impl Fn(&ConsumerMemory) -> u64) -> u64 {
        self.consumers.values().map(count).sum()
    }

    fn placement(&self, stats: impl Fn(&ConsumerMemory) -> CacheStats) -> CacheStats {
        let mut total = CacheStats::default();
        for consumer in self.consumers.values() {
            total.add(&stats(consumer));
        }
        total
    }

    /// Whether the resends were counted once.
    fn resends_absorbed(&self) -> bool {
        self.workloads
            .first()
            .is_some_and(|resend| resend.features_double + resend.aggregates_double == 0)
    }

    /// The summary's detail: `resends 1 h and 23 h absorbed (4 found spilled), hot user ...`
    pub fn summary(&self) -> String {
        let gaps: Vec<String> = RESEND_GAPS_HOURS.iter().map(|h| format!("{h} h")).collect();
        format!(
            "resends {} {} ({} found spilled), hot user {} events ({} spills), environment swaps {} \
             ({} conflicts after), spill-crash kills {}, drift {}; warm cache: sticky {} of states \
             cached, alternating {}",
            gaps.join(" and "),
            if self.resends_absorbed() {
                "absorbed"
            } else {
                "counted again"
            },
            self.total(|c| c.found_spilled),
            self.hot_user_events,
            self.total(|c| c.spills),
            self.swaps,
            self.total(|c| c.back_conflicts),
            self.spill_kills,
            self.drift(),
            percent(self.placement(|c| c.sticky).cached_percent()),
            percent(self.placement(|c| c.alternating).cached_percent()),
        )
    }

    /// Its part of the exactly-once report.
    pub fn render(&self) -> String {
        let mut out = format!(
            "  memory workloads (faults off; the stream functions on environment 1, then 2, 1, \
             then either), settled in {:.1} s:\n",
            self.elapsed.as_secs_f64()
        );
        let gaps: Vec<String> = RESEND_GAPS_HOURS.iter().map(|h| format!("{h} h")).collect();
        let mut workloads = self.workloads.iter();
        if let Some(resend) = workloads.next() {
            out.push_str(&format!(
                "  {} events of {} users, each's original published again {} later \
                 (and its enriched record put again) ({} deliveries):\n",
                resend.events,
                resend.users,
                gaps.join(" and "),
                resend.published,
            ));
            out.push_str(&resend.render_outcome("    "));
        }
        if let Some(hot) = workloads.next() {
            out.push_str(&format!(
                "  {} events of {} users, {} of them one hot user's, published once across the \
                 four placements:\n",
                hot.events, hot.users, self.hot_user_events,
            ));
            out.push_str(&hot.render_outcome("    "));
        }
        for (function, consumer) in &self.consumers {
            let current = |current: Option<bool>| match current {
                Some(true) => "current",
                Some(false) => "not current",
                None => "no batch",
            };
            out.push_str(&format!(
                "  {function}: {} duplicates found spilled ({} lookups), {} spills ({} ids); \
                 taking over: cache {}; back on environment 1: cache {} on its first batch \
                 ({} conflicts), {} conflicts all told\n    \
                 sticky: {}\n    alternating: {}\n",
                consumer.found_spilled,
                consumer.lookups,
                consumer.spills,
                consumer.spilled_ids,
                current(consumer.takeover_current),
                current(consumer.back_current),
                consumer.back_first_conflicts,
                consumer.back_conflicts,
                consumer.sticky.render(),
                consumer.alternating.render(),
            ));
        }
        out.push_str(&format!(
            "  {} environment swaps; {} processes killed right after a spill took effect\n",
            self.swaps, self.spill_kills
        ));
        out
    }
}

/// Two users whose original event is followed by `followers` newer ones, event times spread
/// evenly up to [`RESEND_GAPS_HOURS`] after it (the newest a moment before `now`): the
/// originals first, then the followers, under ids starting with `name`.
pub fn resend_workload(name: &str, followers: usize, seed: u64, now: OffsetDateTime) -> Workload {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut users: Vec<(String, OffsetDateTime, time::Duration)> = Vec::new();
    let mut generated = Workload {
        name: name.to_owned(),
        deliveries: 1,
        events: Vec::new(),
        details: Vec::new(),
    };
    let newest = now - NEWEST_BEFORE_NOW;
    for hours in RESEND_GAPS_HOURS {
        let gap = time::Duration::hours(hours);
        users.push((format!("{name}-{hours}h"), newest - gap, gap));
    }
    let mut event = |user_id: &str, at: OffsetDateTime, rng: &mut StdRng| {
        let activity_type = ActivityType::ALL[rng.random_range(0..ActivityType::ALL.len())];
        let amount = (activity_type == ActivityType::Purchase)
            .then(|| f64::from(rng.random_range(100..=50_000u32)) / 100.0);
        let event = GeneratedEvent {
            user_id: user_id.to_owned(),
            activity_type,
            at,
            amount,
        };
        let n = generated.events.len();
        generated
            .details
            .push(detail_of(&format!("{user_id}-{n}"), &event, n));
        generated.events.push(event);
    };
    for (user_id, original, _) in &users {
        event(user_id, *original, &mut rng);
    }
    for (user_id, original, gap) in &users {
        for n in 1..=followers {
            let at = *original + *gap * (n as f64 / followers as f64);
            event(user_id, at, &mut rng);
        }
    }
    generated
}

/// The stream functions' log lines from byte `from` of the stack's log on.
fn batch_lines_since(stack: &RunningStack, from: u64) -> Vec<BatchLine> {
    let mut text = Vec::new();
    if let Ok(mut file) = std::fs::File::open(stack.logs.path())
        && file.seek(SeekFrom::Start(from)).is_ok()
    {
        let _ = file.read_to_end(&mut text);
    }
    String::from_utf8_lossy(&text)
        .lines()
        .filter_map(BatchLine::parse)
        .collect()
}

fn log_length(stack: &RunningStack) -> u64 {
    std::fs::metadata(stack.logs.path()).map_or(0, |meta| meta.len())
}

/// The functions fed by a stream, with their pools.
fn stream_functions(stack: &RunningStack) -> Vec<(String, Arc<FunctionPool>)> {
    let mut functions: Vec<(String, Arc<FunctionPool>)> = Vec::new();
    for key in stack.event_sources.keys() {
        let Some((function, source)) = key.split_once("<-") else {
            continue;
        };
        if !stack.resources.streams.contains_key(source)
            || functions.iter().any(|(known, _)| known == function)
        {
            continue;
        }
        if let Some(pool) = stack.function(function) {
            functions.push((function.to_owned(), Arc::clone(pool)));
        }
    }
    functions
}

/// Puts the stream functions' invocations where a phase wants them; unpinned when dropped.
struct Placement<'a> {
    functions: &'a [(String, Arc<FunctionPool>)],
}

impl Placement<'_> {
    fn pin(&self, instance: Option<usize>) {
        for (_, pool) in self.functions {
            pool.pin(instance);
        }
    }
}

impl Drop for Placement<'_> {
    fn drop(&mut self) {
        self.pin(None);
    }
}

/// What the stack is asked to do in the phases.
struct Phases<'a> {
    stack: &'a RunningStack,
    bus: &'a str,
    features: &'a str,
    aggregates: &'a str,
    deadline: Instant,
    /// Every event published so far, originals once.
    applied: Vec<GeneratedEvent>,
}

impl Phases<'_> {
    fn clients(&self) -> &Clients {
        &self.stack.clients
    }

    /// Publishes `details` in `parts` parts [`PACE`] apart, their new events being `events`,
    /// and waits until every event so far is applied and the stream functions are idle; `from`
    /// is the log offset the phase started at, and its batches' lines are returned.
    async fn run(
        &mut self,
        phase: &str,
        from: u64,
        details: &[&Value],
        events: &[GeneratedEvent],
        parts: usize,
    ) -> Result<Vec<BatchLine>, String> {
        self.stack.logs.line(
            "memory-workloads",
            &format!("{phase}: {} events in {parts} part(s)", details.len()),
        );
        let part = details.len().div_ceil(parts.max(1)).max(1);
        for (n, chunk) in details.chunks(part).enumerate() {
            if n > 0 {
                tokio::time::sleep(PACE).await;
            }
            publish_details(self.clients(), self.bus, chunk).await?;
        }
        self.applied.extend(events.iter().cloned());
        wait_until_applied(
            self.clients(),
            self.features,
            self.aggregates,
            &self.applied,
            self.deadline,
        )
        .await?;
        self.settle().await;
        Ok(batch_lines_since(self.stack, from))
    }

    /// Waits until no stream batch is running, then a moment for the last batch's line to
    /// reach the log (its state was written just before).
    async fn settle(&self) {
        let streams: Vec<_> = self
            .stack
            .event_sources
            .iter()
            .filter(|(key, _)| {
                key.split_once("<-")
                    .is_some_and(|(_, source)| self.stack.resources.streams.contains_key(source))
            })
            .map(|(_, stats)| stats)
            .collect();
        let until = Instant::now() + Duration::from_secs(10);
        while Instant::now() < until
            && streams
                .iter()
                .any(|stats| stats.busy.load(Ordering::Relaxed) > 0)
        {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// Puts each of `event_ids`' enriched records on the enriched stream again, as read from it.
async fn put_enriched_again(
    clients: &Clients,
    stream: &str,
    event_ids: &[&str],
) -> Result<usize, String> {
    let records = testkit::stream_reader::read_all(&clients.kinesis, stream).await?;
    let mut put = 0;
    for event_id in event_ids {
        let (record, user_id) = records
            .iter()
            .find_map(|record| {
                let value: Value = serde_json::from_slice(record.data().as_ref()).ok()?;
                (value["eventId"] == *event_id).then(|| {
                    (
                        record,
                        value["userId"].as_str().unwrap_or_default().to_owned(),
                    )
                })
            })
            .ok_or_else(|| format!("the enriched record of {event_id} is not on {stream}"))?;
        clients
            .kinesis
            .put_record()
            .stream_name(stream)
            .partition_key(user_id)
            .data(aws_sdk_kinesis::primitives::Blob::new(
                record.data().as_ref().to_vec(),
            ))
            .send()
            .await
            .map_err(|error| {
                format!(
                    "PutRecord: {}",
                    aws_sdk_kinesis::error::DisplayErrorContext(error)
                )
            })?;
        put += 1;
    }
    Ok(put)
}

/// The lines of `function` in `lines`.
fn of<'a>(lines: &'a [BatchLine], function: &'a str) -> impl Iterator<Item = &'a BatchLine> {
    lines.iter().filter(move |line| line.function == function)
}

/// Runs the memory workloads through `stack` (faults off, its stream functions on two or more
/// environments each), then compares the state with the reference and reads the functions'
/// lines; every broken expectation goes to `failures`.
pub async fn run(
    stack: &RunningStack,
    run_id: &str,
    options: &MemoryOptions,
    seed: u64,
    timeout: Duration,
    failures: &mut Vec<String>,
) -> MemoryReport {
    let started = Instant::now();
    let mut report = MemoryReport::default();
    let resources = &stack.resources;
    let (Some(bus), Some(features), Some(aggregates), Some(ingest), Some(enriched)) = (
        resources.event_buses.values().next(),
        resources.tables.get("features"),
        resources.tables.get("aggregates"),
        resources.queues.get("ingest"),
        resources.streams.get("enriched"),
    ) else {
        failures.push(
            "the stack has no event bus, features or aggregates table, ingest queue or enriched stream"
                .into(),
        );
        return report;
    };
    let functions = stream_functions(stack);
    if functions.is_empty() || functions.iter().any(|(_, pool)| pool.instances() < 2) {
        failures.push("the stream functions need two execution environments each".into());
        return report;
    }
    let now = OffsetDateTime::now_utc();
    let resend = resend_workload(
        &format!("resend-{run_id}"),
        options.followers,
        seed ^ 0x2e5e,
        now,
    );
    let hot_name = format!("hot-{run_id}");
    let hot = workload(
        &hot_name,
        options.users,
        options.events,
        seed ^ 0x407,
        1,
        options.hot_share,
        now,
    );
    report.hot_user_events = hot
        .events
        .iter()
        .filter(|event| event.user_id == hot_user(&hot_name))
        .count();
    let originals = RESEND_GAPS_HOURS.len();
    let quarter = hot.events.len().div_ceil(4).max(1);
    let hot_part = |n: usize| {
        let range = (n * quarter).min(hot.events.len())..((n + 1) * quarter).min(hot.events.len());
        (hot.details[range.clone()].iter(), &hot.events[range])
    };
    let original_ids: Vec<&str> = resend.details[..originals]
        .iter()
        .filter_map(|detail| detail["eventId"].as_str())
        .collect();

    let placement = Placement {
        functions: &functions,
    };
    let mut phases = Phases {
        stack,
        bus,
        features,
        aggregates,
        deadline: started + timeout,
        applied: Vec::new(),
    };
    let first_offset = log_length(stack);
    let mut lines: [Vec<BatchLine>; 4] = Default::default();
    let mut kills_before = 0;
    let driven: Result<(), String> = async {
        // 1. Environment 1: the originals and the first quarter.
        placement.pin(Some(1));
        let from = log_length(stack);
        let (details, events) = hot_part(0);
        let mut published: Vec<&Value> = resend.details[..originals].iter().collect();
        published.extend(details);
        let mut new_events = resend.events[..originals].to_vec();
        new_events.extend_from_slice(events);
        lines[0] = phases
            .run(
                "phase 1, environment 1",
                from,
                &published,
                &new_events,
                options.paced_parts,
            )
            .await?;

        // 2. Environment 2 takes over; the followers spill the originals; kills after spills.
        placement.pin(Some(2));
        report.swaps += 1;
        for (function, _) in &functions {
            if let Some(proxy) = stack.fault_proxies.get(function) {
                kills_before += proxy.counts().crashes;
                proxy.schedule_kills(
                    (0..options.spill_kills).map(|_| KillPoint::after(SPILL_OPERATION, 1)),
                );
            }
        }
        let from = log_length(stack);
        let (details, events) = hot_part(1);
        let mut published: Vec<&Value> = resend.details[originals..].iter().collect();
        published.extend(details);
        let mut new_events = resend.events[originals..].to_vec();
        new_events.extend_from_slice(events);
        let ran = phases
            .run(
                "phase 2, environment 2, kills after spills",
                from,
                &published,
                &new_events,
                1,
            )
            .await;
        for (function, _) in &functions {
            if let Some(proxy) = stack.fault_proxies.get(function) {
                let pending = proxy.crashes_pending();
                proxy.schedule_kills([]);
                report.spill_kills += proxy.counts().crashes;
                if pending > 0 {
                    failures.push(format!(
                        "{function}: {pending} of its {} kills after a spill never came (no spill?)",
                        options.spill_kills
                    ));
                }
            }
        }
        report.spill_kills -= kills_before;
        lines[1] = ran?;

        // 3. Environment 1 again, its warm states stale: the resends.
        placement.pin(Some(1));
        report.swaps += 1;
        let from = log_length(stack);
        report.resends = put_enriched_again(phases.clients(), enriched, &original_ids).await?;
        let (details, events) = hot_part(2);
        let mut published: Vec<&Value> = resend.details[..originals].iter().collect();
        published.extend(details);
        lines[2] = phases
            .run(
                "phase 3, environment 1 again, resends",
                from,
                &published,
                events,
                options.paced_parts,
            )
            .await?;

        // 4. Unpinned: the environments take the batches in turn.
        placement.pin(None);
        let from = log_length(stack);
        let (details, events) = hot_part(3);
        let published: Vec<&Value> = details.collect();
        lines[3] = phases
            .run(
                "phase 4, either environment",
                from,
                &published,
                events,
                options.paced_parts,
            )
            .await?;
        Ok(())
    }
    .await;
    drop(placement);
    if let Err(error) = driven {
        failures.push(error);
    }
    if !wait_until_quiet(stack, &ingest.url, phases.deadline).await {
        failures.push(format!("the pipeline was not quiet within {timeout:?}"));
    }
    report.elapsed = started.elapsed();
    let all = batch_lines_since(stack, first_offset);

    for (workload, published) in [
        (&resend, resend.events.len() + report.resends),
        (&hot, hot.events.len()),
    ] {
        let mut outcome = WorkloadReport {
            name: workload.name.clone(),
            users: users_of(&workload.events).len(),
            events: workload.events.len(),
            deliveries: 1,
            published,
            ..WorkloadReport::default()
        };
        compare_features(&stack.clients, features, workload, &mut outcome, failures).await;
        compare_aggregates(&stack.clients, aggregates, workload, &mut outcome, failures).await;
        report.workloads.push(outcome);
    }

    for (function, _) in &functions {
        let consumer = judge(function, &lines, &all, report.resends, failures);
        report.consumers.insert(function.clone(), consumer);
    }
    report
}

/// What `function`'s lines say of the phases (`phases[0..4]`) and of the whole run (`all`);
/// what they must say but do not goes to `failures`.
fn judge(
    function: &str,
    phases: &[Vec<BatchLine>; 4],
    all: &[BatchLine],
    resends: usize,
    failures: &mut Vec<String>,
) -> ConsumerMemory {
    let mut consumer = ConsumerMemory::default();
    for line in of(all, function) {
        consumer.found_spilled += line.found_spilled;
        consumer.lookups += line.lookups;
        consumer.spills += line.spills;
        consumer.spilled_ids += line.spilled_ids;
        if !line.cache_current && line.states_cached > 0 {
            failures.push(format!(
                "{function}#{}: {} states taken from a cache that was not current",
                line.instance, line.states_cached
            ));
        }
    }
    if consumer.found_spilled < resends as u64 {
        failures.push(format!(
            "{function}: {} duplicates found by a lookup of spilled ids, {resends} resends of \
             spilled ids sent",
            consumer.found_spilled
        ));
    }
    if consumer.spills == 0 {
        failures.push(format!("{function}: no spill"));
    }
    // Pinned phases: every batch on the pinned environment.
    for (phase, instance) in [(0, 1), (1, 2), (2, 1)] {
        let elsewhere = of(&phases[phase], function)
            .filter(|line| line.instance != instance)
            .count();
        if elsewhere > 0 {
            failures.push(format!(
                "{function}: {elsewhere} batches of phase {} ran elsewhere than on environment {instance}",
                phase + 1
            ));
        }
    }
    // Sticky: once the environment wrote (and so named itself on the mark), its cache is
    // current on every batch.
    consumer.sticky = CacheStats::of(of(&phases[0], function));
    let stale_after_write = of(&phases[0], function)
        .skip_while(|line| line.states_written == 0)
        .skip(1)
        .filter(|line| !line.cache_current)
        .count();
    if stale_after_write > 0 {
        failures.push(format!(
            "{function}: {stale_after_write} batches on environment 1 alone found its cache not \
             current after it had written"
        ));
    }
    consumer.takeover_current = of(&phases[1], function)
        .next()
        .map(|line| line.cache_current);
    if consumer.takeover_current == Some(true) {
        failures.push(format!(
            "{function}: environment 2 trusted its cache taking over from environment 1"
        ));
    }
    let back = of(&phases[2], function);
    let mut back = back.peekable();
    if let Some(first) = back.peek() {
        consumer.back_current = Some(first.cache_current);
        consumer.back_first_conflicts = first.conflicts;
    }
    consumer.back_conflicts = back.map(|line| line.conflicts).sum();
    match consumer.back_current {
        None => failures.push(format!(
            "{function}: no batch on environment 1 after environment 2 held the shard"
        )),
        Some(true) => failures.push(format!(
            "{function}: environment 1, back after environment 2 wrote, trusted its warm cache"
        )),
        Some(false) if consumer.back_first_conflicts > 0 => failures.push(format!(
            "{function}: environment 1's first batch back lost {} writes to newer states",
            consumer.back_first_conflicts
        )),
        Some(false) => {}
    }
    // Back on environment 1, the states it held from before environment 2 wrote are dropped
    // with its first batch: none of its later batches may trust one and lose its write.
    if consumer.back_conflicts > 0 {
        failures.push(format!(
            "{function}: environment 1, back, lost {} writes to newer states: it kept states \
             from before environment 2 wrote",
            consumer.back_conflicts
        ));
    }
    consumer.alternating = CacheStats::of(of(&phases[3], function));
    consumer
}

#[cfg(test)]
mod tests {
    use super::*;

    const LINE: &str = r#"11:16:58.618 stream-enrichment#1 {"level":"INFO","message":"batch done","consumer":"stream-enrichment","records":25,"users":6,"applied":25,"dropped":0,"already_applied":0,"duplicates":1,"rejected":0,"failed":0,"conflicts":0,"cache_current":true,"states_cached":5,"states_read":1,"lookups":2,"found_spilled":1,"spills":1,"spilled_ids":130,"dynamodb_reads":1,"dynamodb_writes":6,"states_written":6,"emit_calls":1,"span":{"requestId":"01a2"}}"#;

    fn line(instance: usize, current: bool, cached: u64, read: u64, written: u64) -> BatchLine {
        BatchLine {
            function: "f".into(),
            instance,
            cache_current: current,
            states_cached: cached,
            states_read: read,
            states_written: written,
            ..BatchLine::default()
        }
    }

    #[test]
    fn a_batch_done_line_is_read_with_its_environment_and_other_lines_are_not() {
        let parsed = BatchLine::parse(LINE).unwrap();
        assert_eq!(
            parsed,
            BatchLine {
                function: "stream-enrichment".into(),
                instance: 1,
                records: 25,
                applied: 25,
                duplicates: 1,
                conflicts: 0,
                cache_current: true,
                states_cached: 5,
                states_read: 1,
                states_written: 6,
                lookups: 2,
                found_spilled: 1,
                spills: 1,
                spilled_ids: 130,
            }
        );
        let short = LINE.replace("stream-enrichment#1 ", "feature-updates#2  ");
        assert_eq!(BatchLine::parse(&short).unwrap().instance, 2);
        for other in [
            r#"11:16:58.618 stream-enrichment#1 {"level":"INFO","message":"enrichment done"}"#,
            "11:16:58.618 stack              stream-enrichment: 2 environment(s) ready",
            "11:16:58.618 stream-enrichment#2 killed by the fault proxy right after its request 1",
            "",
        ] {
            assert_eq!(BatchLine::parse(other), None, "{other}");
        }
    }

    #[test]
    fn cache_stats_add_up_the_batches_and_give_shares() {
        let lines = [
            line(1, false, 0, 4, 4),
            line(1, true, 3, 1, 4),
            line(1, true, 4, 0, 4),
        ];
        let stats = CacheStats::of(&lines);
        assert_eq!(
            (stats.batches, stats.cache_current, stats.states_cached),
            (3, 2, 7)
        );
        assert_eq!(stats.cached_percent().map(f64::round), Some(58.0));
        assert_eq!(
            stats.render(),
            "3 batches, 67 % with the cache current, 58 % of states cached (7 of 12), 0 conflicts"
        );
        assert_eq!(CacheStats::default().cached_percent(), None);
        assert!(CacheStats::default().render().contains("n/a"));
    }

    fn judged(phases: [Vec<BatchLine>; 4]) -> (ConsumerMemory, Vec<String>) {
        let mut all: Vec<BatchLine> = phases.iter().flatten().cloned().collect();
        all[0].found_spilled = 2;
        all[0].spills = 1;
        let mut failures = Vec::new();
        let consumer = judge("f", &phases, &all, 2, &mut failures);
        (consumer, failures)
    }

    fn sound() -> [Vec<BatchLine>; 4] {
        [
            vec![line(1, false, 0, 5, 5), line(1, true, 4, 1, 5)],
            vec![line(2, false, 0, 5, 5), line(2, true, 5, 0, 5)],
            vec![line(1, false, 0, 5, 5), line(1, true, 5, 0, 5)],
            vec![line(2, false, 0, 5, 5), line(1, false, 0, 5, 5)],
        ]
    }

    #[test]
    fn sound_placements_pass_and_give_the_hit_rates() {
        let (consumer, failures) = judged(sound());
        assert_eq!(failures, Vec::<String>::new());
        assert_eq!(consumer.sticky.cached_percent(), Some(40.0));
        assert_eq!(consumer.alternating.cached_percent(), Some(0.0));
        assert_eq!(
            (consumer.takeover_current, consumer.back_current),
            (Some(false), Some(false))
        );
    }

    #[test]
    fn a_trusted_stale_cache_a_missing_lookup_or_a_stray_batch_each_fail() {
        let mut trusted = sound();
        trusted[2][0].cache_current = true;
        trusted[2][0].conflicts = 3;
        let (_, failures) = judged(trusted);
        assert!(
            failures
                .iter()
                .any(|f| f.contains("trusted its warm cache"))
        );

        let mut lost = sound();
        lost[2][0].conflicts = 1;
        let (_, failures) = judged(lost);
        assert!(failures.iter().any(|f| f.contains("lost 1 writes")));

        let mut kept = sound();
        if let Some(later) = kept[2].get_mut(1) {
            later.conflicts = 2;
        } else {
            let mut later = kept[2][0].clone();
            later.conflicts = 2;
            kept[2].push(later);
        }
        let (_, failures) = judged(kept);
        assert!(
            failures.iter().any(|f| f.contains("kept states")),
            "{failures:?}"
        );

        let mut stray = sound();
        stray[1].push(line(1, false, 0, 1, 1));
        let (_, failures) = judged(stray);
        assert!(failures.iter().any(|f| f.contains("ran elsewhere")));

        let mut forgetful = sound();
        forgetful[0][1].cache_current = false;
        forgetful[0][1].states_cached = 0;
        let (_, failures) = judged(forgetful);
        assert!(failures.iter().any(|f| f.contains("after it had written")));

        let mut stale = sound();
        stale[3][0].states_cached = 2;
        let (_, failures) = judged(stale);
        assert!(failures.iter().any(|f| f.contains("not current")));

        let phases = sound();
        let all: Vec<BatchLine> = phases.iter().flatten().cloned().collect();
        let mut failures = Vec::new();
        judge("f", &phases, &all, 2, &mut failures);
        assert!(failures.iter().any(|f| f.contains("found by a lookup")));
        assert!(failures.iter().any(|f| f.contains("no spill")));
    }

    #[test]
    fn resend_users_reach_their_gap_with_the_originals_first() {
        let now = OffsetDateTime::from_unix_timestamp(1_795_427_200).unwrap();
        let generated = resend_workload("r", 300, 7, now);
        assert_eq!(generated.events.len(), 602);
        for (n, hours) in RESEND_GAPS_HOURS.iter().enumerate() {
            let original = &generated.events[n];
            assert_eq!(original.user_id, format!("r-{hours}h"));
            let newest = generated
                .events
                .iter()
                .filter(|e| e.user_id == original.user_id)
                .map(|e| e.at)
                .max()
                .unwrap();
            assert_eq!(newest - original.at, time::Duration::hours(*hours));
            assert!(newest < now);
            assert!(
                generated
                    .events
                    .iter()
                    .filter(|e| e.user_id == original.user_id)
                    .all(|e| e.at >= original.at),
                "the original is the user's oldest"
            );
        }
        let ids: std::collections::BTreeSet<&str> = generated
            .details
            .iter()
            .map(|d| d["eventId"].as_str().unwrap())
            .collect();
        assert_eq!(ids.len(), 602, "distinct ids");
    }
}

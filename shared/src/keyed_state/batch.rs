//! The core's batch: [`StreamCore::handle`] runs a consumer over one Kinesis batch.

use std::collections::{BTreeMap, HashMap, HashSet};

use aws_lambda_events::kinesis::KinesisEvent;
use aws_lambda_events::streams::KinesisEventResponse;
use futures_util::StreamExt;
use time::OffsetDateTime;
use tokio::time::Instant;

use super::applied_ids::{self, AppliedIdsTable, SpillItem};
use super::apply::{Counts, apply_records, digests};
use super::cache::{MAX_STATE_CACHE_SIZE, StateCache};
use super::decode::{Incoming, decode};
use super::memory::{
    Committed, EventDigest, MAX_UNSPILLED_IDS, PlannedSpill, Span, worth_spilling,
};
use super::record::State;
use super::{BatchReport, ConflictPolicy, Consumer, Stats};
use crate::config::{ConfigLoadError, Env, Source};
use crate::delivery::Backoff;
use crate::dynamo::{Item, item_size};
use crate::features::item::epoch_ms;
use crate::user_items::{self, TableRead, UserKey, WriteError};

/// Users read, looked up or written at once.
const CONCURRENT_USERS: usize = 16;
/// DynamoDB bills a write unit per KB started and a strongly consistent read unit per 4 KB.
const WRITE_UNIT_BYTES: usize = 1_024;
const READ_UNIT_BYTES: usize = 4_096;

/// The core's settings, read once at init.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// The consumer's table of states (one item per user).
    pub state_table: String,
    /// `APPLIED_EVENTS_TABLE`: spilled event ids and the shards' marks.
    pub applied_ids_table: String,
    /// `REJECTS_QUEUE_URL`: where records that can never be processed go, with their reason.
    pub rejects_queue_url: String,
    /// `MAX_FUTURE_SKEW_SECONDS` (default 300): how far an event time may be ahead of the
    /// record's arrival on the stream.
    pub max_future_skew: time::Duration,
    /// `STATE_CACHE_SIZE` (default 10000; 0 turns the cache off): states kept warm between
    /// batches.
    pub state_cache_size: usize,
}

impl Settings {
    /// The settings, with the states' table named by `state_table_variable`.
    pub fn from_env<S: Source>(
        env: &Env<S>,
        state_table_variable: &str,
    ) -> Result<Self, ConfigLoadError> {
        let state_cache_size: usize = env.or_default("STATE_CACHE_SIZE", 10_000)?;
        if state_cache_size > MAX_STATE_CACHE_SIZE {
            return Err(ConfigLoadError::Invalid(format!(
                "STATE_CACHE_SIZE {state_cache_size} is over {MAX_STATE_CACHE_SIZE}"
            )));
        }
        Ok(Self {
            state_table: env.required(state_table_variable)?,
            applied_ids_table: env.required("APPLIED_EVENTS_TABLE")?,
            rejects_queue_url: crate::config::rejects_queue_url(env)?,
            max_future_skew: crate::config::max_future_skew(env)?,
            state_cache_size,
        })
    }
}

#[derive(Debug, Clone)]
struct Stored<S> {
    state: S,
    /// The item's size as stored: a write that replaces it is billed for the larger.
    bytes: usize,
}

/// A state this environment holds: as stored, and the shard of the records it last applied.
/// It is current only while that shard's mark names this environment.
#[derive(Debug, Clone)]
struct Cached<S> {
    stored: Stored<S>,
    shard: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Table {
    States,
    AppliedIds,
}

/// A keyed consumer's `main`: [`crate::init::init`] with the function's `settings`,
/// `build` makes its core once from the SDK's configuration, then batches are served until the
/// runtime stops.
pub async fn run<C, Cfg, E>(
    default_name: &str,
    settings: impl FnOnce(&crate::config::Env) -> Result<Cfg, E>,
    build: impl FnOnce(&aws_config::SdkConfig, &Cfg) -> StreamCore<C>,
) -> Result<(), lambda_runtime::Error>
where
    C: Consumer,
    C::Stats: super::ReportMetrics,
    E: std::error::Error + Send + Sync + 'static,
{
    let init = crate::init::init(
        default_name,
        crate::clients::ClientSettings::batch_consumer(),
        settings,
    )
    .await?;
    let core = build(&init.sdk, &init.config);
    crate::batch_runtime::serve(init.metrics, |event, deadline| core.handle(event, deadline)).await
}

/// Runs a [`Consumer`] over Kinesis batches, exactly once.
pub struct StreamCore<C: Consumer> {
    consumer: C,
    dynamodb: aws_sdk_dynamodb::Client,
    sqs: aws_sdk_sqs::Client,
    settings: Settings,
    applied_ids: AppliedIdsTable,
    cache: StateCache<Cached<C::State>>,
    /// This execution environment, as the shards' marks name it.
    environment: String,
    backoff: Backoff,
}

/// One user's records in a round, and its state as stored (`None`: never written).
struct Job<'a, S> {
    user_id: &'a str,
    /// The shard the user's records come from.
    shard: &'a str,
    incoming: &'a [Incoming],
    digests: Vec<EventDigest>,
    stored: Option<Stored<S>>,
}

/// A user's state after its records were applied.
struct Applied<S, O> {
    user_id: String,
    shard: String,
    state: S,
    stored: Option<Stored<S>>,
    committed: Committed,
    /// The event times of the ids applied in this batch.
    fresh_span: Option<Span>,
    outputs: Vec<O>,
    counts: Counts,
}

/// A state ready to write, with the spill that goes first if any.
struct Write<S> {
    user_id: String,
    shard: String,
    counts: Counts,
    state: S,
    item: Item,
    bytes: usize,
    read_version: Option<u64>,
    stored_bytes: usize,
    spill: Option<(PlannedSpill, Option<Span>)>,
}

/// What one round left: users to retry (with why) and users whose write lost a race.
#[derive(Default)]
struct RoundEnd {
    failed: Vec<(String, String)>,
    conflicted: Vec<String>,
}

impl<C: Consumer> StreamCore<C> {
    pub fn new(
        consumer: C,
        dynamodb: aws_sdk_dynamodb::Client,
        sqs: aws_sdk_sqs::Client,
        settings: Settings,
    ) -> Self {
        Self {
            applied_ids: AppliedIdsTable::new(dynamodb.clone(), settings.applied_ids_table.clone()),
            cache: StateCache::new(settings.state_cache_size),
            environment: format!("{:016x}", rand::random::<u64>()),
            consumer,
            dynamodb,
            sqs,
            settings,
            backoff: Backoff::default(),
        }
    }

    pub fn consumer(&self) -> &C {
        &self.consumer
    }

    /// States this environment holds warm.
    pub fn cached_states(&self) -> usize {
        self.cache.len()
    }

    /// This execution environment's id, as the shards' marks name it.
    pub fn environment(&self) -> &str {
        &self.environment
    }

    /// `user_id`'s state as stored (strongly consistent), for operators and checks: the batch
    /// path reads states many at a time.
    pub async fn stored_state(&self, user_id: &str) -> Result<Option<C::State>, String> {
        let deadline = Instant::now() + std::time::Duration::from_secs(10);
        let mut reads = self.read_states(&[user_id.to_owned()], &[], deadline).await;
        if let Some((_, reason)) = reads.unread.pop() {
            return Err(reason);
        }
        Ok(reads
            .states
            .remove(user_id)
            .flatten()
            .map(|stored| stored.state))
    }

    pub async fn handle(
        &self,
        event: KinesisEvent,
        deadline: Instant,
    ) -> (KinesisEventResponse, BatchReport<C::Stats>) {
        let records = event.records;
        let now = OffsetDateTime::now_utc();
        let decoded = decode(&records, self.settings.max_future_skew, now, C::NAME);
        let rejected = Box::pin(decoded.send_rejects(
            &self.sqs,
            &self.settings.rejects_queue_url,
            deadline,
            self.backoff,
        ));
        let applied = Box::pin(self.apply(&decoded.by_user, now, deadline));
        let ((mut report, failed_users), rejected) = tokio::join!(applied, rejected);
        report.records = records.len();
        report.users = decoded.by_user.len();
        report.rejected = decoded.rejects.len();
        report.sqs_calls = rejected.calls;
        let (response, failed) = decoded.response(&records, &failed_users, &rejected.unsent);
        report.failed = failed;
        report.log(C::NAME);
        (response, report)
    }

    /// Applies every user's records; returns the report and the users whose records must be
    /// retried.
    async fn apply(
        &self,
        by_user: &BTreeMap<String, Vec<Incoming>>,
        now: OffsetDateTime,
        deadline: Instant,
    ) -> (BatchReport<C::Stats>, HashSet<String>) {
        let mut report = BatchReport::<C::Stats>::default();
        let mut failed: HashSet<String> = HashSet::new();
        if by_user.is_empty() {
            return (report, failed);
        }
        let users: Vec<String> = by_user.keys().cloned().collect();
        let shards: Vec<String> = by_user
            .values()
            .flatten()
            .map(|record| record.shard.clone())
            .collect::<HashSet<_>>()
            .into_iter()
            .collect();

        // States: cached ones provisionally (those last applied from the shard their records
        // come from now), the rest read with the shards' marks.
        let mut stored: HashMap<String, Option<Stored<C::State>>> = HashMap::new();
        let mut misses = Vec::new();
        for (user_id, incoming) in by_user {
            match self.cache.get(user_id) {
                Some(cached) if cached.shard == incoming[0].shard => {
                    stored.insert(user_id.clone(), Some(cached.stored));
                }
                _ => misses.push(user_id.clone()),
            }
        }
        let reads = Box::pin(self.read_states(&misses, &shards, deadline));
        let context = Box::pin(self.consumer.read_context(users.clone(), deadline));
        let (reads, context) = tokio::join!(reads, context);
        report.read_capacity_units += context.read_units;
        report.billed_read_units += context.billed_read_units;
        report.dynamodb_reads += context.calls;
        report.stats.add(&context.stats);
        for (user_id, reason) in &context.unread {
            tracing::warn!(%user_id, %reason, "context not read; the user's records will be retried");
            failed.insert(user_id.clone());
        }
        let mut reads = reads;
        let elsewhere: Vec<&String> = shards
            .iter()
            .filter(|shard| reads.marks.get(*shard) != Some(&self.environment))
            .collect();
        report.cache_current = elsewhere.is_empty();
        if !elsewhere.is_empty() {
            // Another environment wrote from these shards since this one did: any state it
            // holds from them may be stale, this batch's users' and the rest alike (once it
            // names itself on the mark, it would trust them).
            self.cache
                .evict_where(|cached| elsewhere.contains(&&cached.shard));
            if !stored.is_empty() {
                let cached: Vec<String> = stored.keys().cloned().collect();
                stored.clear();
                let again = self.read_states(&cached, &[], deadline).await;
                reads.absorb(again);
            }
        }
        report.states_cached = stored.len();
        report.states_read = reads.states.len();
        report.dynamodb_reads += reads.calls;
        report.read_capacity_units += reads.capacity_units;
        report.billed_read_units += reads.billed_units;
        for (user_id, reason) in reads.unread {
            tracing::warn!(%user_id, %reason, "state not read; the user's records will be retried");
            failed.insert(user_id);
        }
        stored.extend(reads.states);

        let mut jobs: Vec<Job<'_, C::State>> = by_user
            .iter()
            .filter(|(user_id, _)| !failed.contains(*user_id))
            .filter_map(|(user_id, incoming)| {
                let state = stored.remove(user_id)?;
                Some(Job {
                    user_id,
                    shard: &incoming[0].shard,
                    incoming,
                    digests: digests(incoming),
                    stored: state,
                })
            })
            .collect();
        let mark_due = !report.cache_current;
        let contexts = context.contexts;
        let mut attempt = 1;
        loop {
            // Boxed: nested in the runtime's service future, the round's future is deep enough to
            // overflow the compiler's layout queries.
            let end = Box::pin(self.round(
                jobs,
                &contexts,
                mark_due && attempt == 1,
                &shards,
                now,
                deadline,
                &mut report,
            ))
            .await;
            for (user_id, reason) in end.failed {
                tracing::warn!(%user_id, %reason, "not written; the user's records will be retried");
                failed.insert(user_id);
            }
            if end.conflicted.is_empty() {
                break;
            }
            let ConflictPolicy::Reapply { max_attempts } = self.consumer.conflict_policy() else {
                for user_id in end.conflicted {
                    tracing::warn!(%user_id, "the state changed since it was read; the user's records will be retried");
                    failed.insert(user_id);
                }
                break;
            };
            let pause = self.backoff.pause(attempt);
            if attempt >= max_attempts || Instant::now() + pause >= deadline {
                for user_id in end.conflicted {
                    tracing::warn!(%user_id, conflicts = attempt, "the state kept changing between read and write; the user's records will be retried");
                    failed.insert(user_id);
                }
                break;
            }
            tokio::time::sleep(pause).await;
            attempt += 1;
            // Read the users that lost a race again, and apply their records to that.
            let again = self.read_states(&end.conflicted, &[], deadline).await;
            report.dynamodb_reads += again.calls;
            report.read_capacity_units += again.capacity_units;
            report.billed_read_units += again.billed_units;
            report.states_read += again.states.len();
            for (user_id, reason) in again.unread {
                failed.insert(user_id);
                tracing::warn!(%reason, "state not read again after a conflict");
            }
            let mut states = again.states;
            jobs = end
                .conflicted
                .iter()
                .filter_map(|user_id| {
                    let (user_id, incoming) = by_user.get_key_value(user_id)?;
                    Some(Job {
                        user_id,
                        shard: &incoming[0].shard,
                        incoming,
                        digests: digests(incoming),
                        stored: states.remove(user_id)?,
                    })
                })
                .collect();
        }
        (report, failed)
    }

    /// One attempt for `jobs`: lookups, apply, emit, spill, mark (when `mark_due`), write.
    #[allow(clippy::too_many_arguments)]
    async fn round(
        &self,
        jobs: Vec<Job<'_, C::State>>,
        contexts: &HashMap<String, C::Context>,
        mark_due: bool,
        shards: &[String],
        now: OffsetDateTime,
        deadline: Instant,
        report: &mut BatchReport<C::Stats>,
    ) -> RoundEnd {
        let mut end = RoundEnd::default();

        // Spilled ids, for the records whose event time a spill may hold.
        let lookups = futures_util::stream::iter(jobs.iter().map(|job| async move {
            let times: Vec<i64> = match &job.stored {
                Some(stored) => job
                    .incoming
                    .iter()
                    .zip(&job.digests)
                    .filter(|(record, digest)| {
                        !stored
                            .state
                            .memory()
                            .settles(&record.shard, &record.sequence, digest)
                    })
                    .map(|(record, _)| epoch_ms(record.event.timestamp))
                    .collect(),
                None => Vec::new(),
            };
            let ranges = job
                .stored
                .as_ref()
                .map(|stored| stored.state.memory().spilled_ids.lookup_ranges(&times))
                .unwrap_or_default();
            if ranges.is_empty() {
                return (job.user_id, Ok(None));
            }
            let found =
                tokio::time::timeout_at(deadline, self.applied_ids.lookup(job.user_id, &ranges))
                    .await
                    .unwrap_or_else(|_| Err("no answer before the invocation's deadline".into()));
            (job.user_id, found.map(Some))
        }))
        .buffer_unordered(CONCURRENT_USERS)
        .collect::<Vec<_>>();
        let lookups = Box::pin(lookups).await;
        let mut spilled: HashMap<&str, HashSet<EventDigest>> = HashMap::new();
        for (user_id, found) in lookups {
            match found {
                Ok(Some(found)) => {
                    report.lookups += found.calls;
                    report.read_capacity_units += found.capacity_units;
                    report.billed_read_units += found.billed_units as f64;
                    spilled.insert(user_id, found.digests);
                }
                Ok(None) => {}
                Err(reason) => end.failed.push((user_id.to_owned(), reason)),
            }
        }

        // Apply, per user in sequence order.
        let none = HashSet::new();
        let mut applied: Vec<Applied<C::State, C::Output>> = Vec::new();
        for job in jobs {
            if end.failed.iter().any(|(user_id, _)| user_id == job.user_id) {
                continue;
            }
            let Some(context) = contexts.get(job.user_id) else {
                end.failed
                    .push((job.user_id.to_owned(), "no context was read".into()));
                continue;
            };
            let marked = spilled.get(job.user_id).unwrap_or(&none);
            applied.push(self.apply_user(&job, marked, context));
        }

        // Emit, then write only the users whose outputs are all out.
        let outputs: Vec<C::Output> = applied
            .iter_mut()
            .flat_map(|user| std::mem::take(&mut user.outputs))
            .collect();
        if !outputs.is_empty() {
            let emitted = Box::pin(self.consumer.emit(outputs, deadline)).await;
            report.emit_calls += emitted.calls;
            report.stats.add(&emitted.stats);
            end.failed.extend(emitted.failed);
        }
        let mut writes = Vec::new();
        for user in applied {
            let user_id = user.user_id.clone();
            if end.failed.iter().any(|(failed, _)| *failed == user_id) {
                continue;
            }
            if user.counts.applied == 0 {
                // Only checkpoints moved: nothing to write, and the same verdicts next time.
                user.counts.add_to(report);
                if let Some(stored) = user.stored {
                    let stored = Stored {
                        state: user.state,
                        bytes: stored.bytes,
                    };
                    self.cache.put(
                        &user_id,
                        Cached {
                            stored,
                            shard: user.shard,
                        },
                    );
                }
                continue;
            }
            match self.prepare_write(user_id.clone(), user, now) {
                Ok(write) => writes.push(write),
                Err(reason) => end.failed.push((user_id, reason)),
            }
        }
        if writes.is_empty() {
            return end;
        }

        // Spills first: only then may the states drop the ids.
        let spills: Vec<SpillItem> = writes
            .iter()
            .filter_map(|write| {
                let (spill, _) = write.spill.as_ref()?;
                Some(SpillItem::new(&write.user_id, spill, spill_expiry(now)))
            })
            .collect();
        if !spills.is_empty() {
            let written = self.applied_ids.write(spills, deadline).await;
            report.spills += written.items - written.failed.len();
            report.write_capacity_units += written.capacity_units;
            report.billed_write_units += written.billed_units as f64;
            report.billed_bookkeeping_write_units += written.billed_units as f64;
            report.largest_item_bytes = report.largest_item_bytes.max(written.largest_item_bytes);
            let unspilled: HashSet<String> = written
                .failed
                .into_iter()
                .map(|(user_id, reason)| {
                    tracing::warn!(%user_id, %reason, "spill not written; the ids stay in the state");
                    user_id
                })
                .collect();
            for write in &mut writes {
                let Some((spill, rest)) = write.spill.take() else {
                    continue;
                };
                if unspilled.contains(&write.user_id) {
                    let waiting = write.state.memory().recent_event_ids.len();
                    if waiting > MAX_UNSPILLED_IDS {
                        end.failed.push((
                            write.user_id.clone(),
                            format!("{waiting} applied ids wait for a spill that keeps failing"),
                        ));
                    }
                    continue;
                }
                report.spilled_ids += spill.digests.len() / super::memory::DIGEST_BYTES;
                write
                    .state
                    .memory_mut()
                    .apply_spill(&spill, rest, spill_expiry(now));
                match crate::dynamo::to_item(&write.state) {
                    Ok(item) => {
                        write.bytes = item_size(&item);
                        write.item = item;
                    }
                    Err(error) => end.failed.push((write.user_id.clone(), error.to_string())),
                }
            }
            writes.retain(|write| {
                !end.failed
                    .iter()
                    .any(|(user_id, _)| *user_id == write.user_id)
            });
        }

        // The shard's mark names this environment before its first state write: an
        // environment whose cache it does not name reads again.
        if mark_due {
            for shard in shards {
                match self.put_mark(shard).await {
                    Ok(units) => {
                        report.dynamodb_writes += 1;
                        report.write_capacity_units += units;
                        report.billed_write_units += 1.0;
                        report.billed_bookkeeping_write_units += 1.0;
                    }
                    // Only a cost: another environment may trust a stale cache, and lose a
                    // conditional write for it.
                    Err(reason) => tracing::warn!(%shard, %reason, "the shard's mark not written"),
                }
            }
        }

        // One conditional write per changed user.
        let outcomes = futures_util::stream::iter(writes.into_iter().map(|write| async move {
            let outcome = tokio::time::timeout_at(
                deadline,
                user_items::put_item_versioned(
                    &self.dynamodb,
                    &self.settings.state_table,
                    write.item.clone(),
                    write.read_version,
                ),
            )
            .await
            .unwrap_or_else(|_| {
                Err(WriteError::Failed(
                    "no answer before the invocation's deadline".into(),
                ))
            });
            (write, outcome)
        }))
        .buffer_unordered(CONCURRENT_USERS)
        .collect::<Vec<_>>();
        let outcomes = Box::pin(outcomes).await;
        for (write, outcome) in outcomes {
            report.dynamodb_writes += 1;
            report.largest_item_bytes = report.largest_item_bytes.max(write.bytes);
            let units = write.bytes.div_ceil(WRITE_UNIT_BYTES);
            match outcome {
                Ok(reported) => {
                    write.counts.add_to(report);
                    report.states_written += 1;
                    report.write_capacity_units += reported;
                    report.billed_write_units +=
                        units.max(write.stored_bytes.div_ceil(WRITE_UNIT_BYTES)) as f64;
                    let stored = Stored {
                        state: write.state,
                        bytes: write.bytes,
                    };
                    self.cache.put(
                        &write.user_id,
                        Cached {
                            stored,
                            shard: write.shard,
                        },
                    );
                }
                Err(WriteError::Conflict) => {
                    // A failed condition is billed too.
                    report.billed_write_units += units as f64;
                    report.conflicts += 1;
                    self.cache.evict(&write.user_id);
                    end.conflicted.push(write.user_id);
                }
                Err(WriteError::Failed(reason)) => {
                    // The write may have landed: what is cached can no longer be trusted.
                    self.cache.evict(&write.user_id);
                    end.failed.push((write.user_id, reason));
                }
            }
        }
        end
    }

    /// Applies one user's records (pure).
    fn apply_user(
        &self,
        job: &Job<'_, C::State>,
        spilled: &HashSet<EventDigest>,
        context: &C::Context,
    ) -> Applied<C::State, C::Output> {
        let mut state = job
            .stored
            .as_ref()
            .map_or_else(|| C::State::new(job.user_id), |stored| stored.state.clone());
        let committed = state.memory().committed();
        let applied = apply_records(
            &mut state,
            job.incoming,
            &job.digests,
            spilled,
            |state, record| self.consumer.apply(state, record, context),
        );
        Applied {
            user_id: job.user_id.to_owned(),
            shard: job.shard.to_owned(),
            state,
            stored: job.stored.clone(),
            committed,
            fresh_span: applied.fresh_span,
            outputs: applied.outputs,
            counts: applied.counts,
        }
    }

    /// The item to write for a user with applied records, and whether committed ids spill.
    fn prepare_write(
        &self,
        user_id: String,
        user: Applied<C::State, C::Output>,
        now: OffsetDateTime,
    ) -> Result<Write<C::State>, String> {
        let Applied {
            mut state,
            stored,
            committed,
            fresh_span,
            counts,
            shard,
            ..
        } = user;
        let read_version = stored.as_ref().map(|stored| stored.state.version());
        state.set_version(next_version(read_version));
        state.memory_mut().spilled_ids.prune(now.unix_timestamp());
        let item = crate::dynamo::to_item(&state).map_err(|error| error.to_string())?;
        let bytes = item_size(&item);
        let spill = (committed.count > 0 && worth_spilling(committed.count, bytes))
            .then(|| (state.memory().plan_spill(committed), fresh_span));
        Ok(Write {
            user_id,
            shard,
            counts,
            state,
            item,
            bytes,
            read_version,
            stored_bytes: stored.map_or(0, |stored| stored.bytes),
            spill,
        })
    }

    /// Reads `users`' states and `shards`' marks (strongly consistent: a conditional write
    /// follows, and a mark must be seen as it was last written).
    async fn read_states(
        &self,
        users: &[String],
        shards: &[String],
        deadline: Instant,
    ) -> StateReads<C::State> {
        let mut reads = StateReads::default();
        if users.is_empty() && shards.is_empty() {
            return reads;
        }
        let tables = [
            TableRead {
                table: Table::States,
                name: &self.settings.state_table,
                consistent_read: true,
                sort_key: None,
            },
            TableRead {
                table: Table::AppliedIds,
                name: &self.settings.applied_ids_table,
                consistent_read: true,
                sort_key: Some(applied_ids::SLICE),
            },
        ];
        let mut keys: Vec<UserKey<Table>> = users
            .iter()
            .map(|user_id| UserKey::user(Table::States, user_id.clone()))
            .collect();
        keys.extend(
            shards
                .iter()
                .map(|shard| UserKey::sorted(Table::AppliedIds, shard.clone(), applied_ids::MARK)),
        );
        let asked = keys.clone();
        let read =
            user_items::batch_get(&self.dynamodb, &tables, keys, deadline, self.backoff).await;
        reads.calls = read.calls;
        reads.capacity_units = read.capacity_units;
        let unread: HashSet<UserKey<Table>> =
            read.unread.iter().map(|(key, _)| key.clone()).collect();
        for (key, reason) in read.unread {
            if key.table == Table::States {
                reads.unread.push((key.user_id, reason));
            }
        }
        let mut found = read.found;
        for key in asked {
            if unread.contains(&key) {
                continue;
            }
            let item = found.remove(&key);
            let bytes = item.as_ref().map_or(0, item_size);
            reads.billed_units += bytes.div_ceil(READ_UNIT_BYTES).max(1) as f64;
            match key.table {
                Table::States => match item.map(C::State::from_item).transpose() {
                    Ok(state) => {
                        reads
                            .states
                            .insert(key.user_id, state.map(|state| Stored { state, bytes }));
                    }
                    Err(reason) => reads.unread.push((key.user_id, reason)),
                },
                Table::AppliedIds => {
                    if let Some(marked_by) = item
                        .as_ref()
                        .and_then(|item| item.get(applied_ids::MARKED_BY))
                        .and_then(|value| value.as_s().ok())
                    {
                        reads.marks.insert(key.user_id, marked_by.clone());
                    }
                }
            }
        }
        reads
    }

    /// Names this environment on `shard`'s mark.
    async fn put_mark(&self, shard: &str) -> Result<f64, String> {
        applied_ids::put_mark(
            &self.dynamodb,
            &self.settings.applied_ids_table,
            shard,
            &self.environment,
        )
        .await
    }
}

/// What [`StreamCore::read_states`] found.
struct StateReads<S> {
    /// Every state asked for and read: `None` for a user never written.
    states: HashMap<String, Option<Stored<S>>>,
    /// Shard -> the environment its mark names.
    marks: HashMap<String, String>,
    unread: Vec<(String, String)>,
    calls: usize,
    capacity_units: f64,
    billed_units: f64,
}

impl<S> Default for StateReads<S> {
    fn default() -> Self {
        Self {
            states: HashMap::new(),
            marks: HashMap::new(),
            unread: Vec::new(),
            calls: 0,
            capacity_units: 0.0,
            billed_units: 0.0,
        }
    }
}

impl<S> StateReads<S> {
    fn absorb(&mut self, other: StateReads<S>) {
        self.states.extend(other.states);
        self.marks.extend(other.marks);
        self.unread.extend(other.unread);
        self.calls += other.calls;
        self.capacity_units += other.capacity_units;
        self.billed_units += other.billed_units;
    }
}

/// The version a write sets: one more than the version read, or, for a new item, a random
/// one: an item deleted (by its TTL or by an operator) and written again never goes through
/// the versions of its predecessor, which a cached copy could otherwise match.
fn next_version(read_version: Option<u64>) -> u64 {
    match read_version {
        Some(version) => version.wrapping_add(1),
        // Below 2^53: exact as a JSON number anywhere it is read.
        None => rand::random::<u64>() >> 12 | 1,
    }
}

/// When a spill written at `now` expires (epoch seconds).
fn spill_expiry(now: OffsetDateTime) -> i64 {
    (now + applied_ids::LIFETIME).unix_timestamp()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_items_version_is_random_and_then_counts_up() {
        let first = next_version(None);
        assert!(first > 0 && first < 1 << 53);
        assert_ne!(
            first,
            next_version(None),
            "two new items: two starting versions"
        );
        assert_eq!(next_version(Some(first)), first + 1);
    }
}

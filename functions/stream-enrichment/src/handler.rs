//! One invocation, for a batch of one shard:
//!
//! 1. decode every record; records that can never be processed go to the rejects queue;
//! 2. read, in one BatchGetItem, the profiles not in the warm cache, the states of the
//!    batch's users and which of the batch's event ids were applied in the last 24 hours;
//! 3. apply each user's records to its state in sequence order (pure: [`crate::state`]),
//!    skipping what was applied before, and enrich the new ones;
//! 4. put the enriched records on the enriched stream, then write each changed user's state
//!    once, conditional on the version read, then record the users' event ids not yet
//!    recorded as applied;
//! 5. answer with the first record of any user (or reject) not fully done: Kinesis retries
//!    from it, and everything before it is applied.
//!
//! A user's state is written only after all of that user's enriched records are on the stream,
//! so a retry either finds the state unchanged and emits the same records again (identical:
//! downstream consumers keep them once by `eventId`), or finds them applied, skips them, and
//! records their event ids if that is what failed.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Mutex;

use aws_lambda_events::kinesis::KinesisEvent;
use aws_lambda_events::streams::KinesisEventResponse;
use futures_util::StreamExt;
use shared::applied_events::{self, AppliedEvent, AppliedEventsTable};
use shared::delivery::{Backoff, deliver};
use shared::enriched::ProfileAttributes;
use shared::sinks;
use time::OffsetDateTime;
use tokio::time::Instant;

use shared::stream_batch::decode;

use crate::batch::{REJECTED_BY, apply_user};
use crate::config::Config;
use crate::profile_cache::ProfileCache;
use crate::state::UserState;
use crate::store::{Key, Store, Table, WriteError};

/// Metric names (EMF, namespace `RealtimePipeline`) of a batch's counts.
pub const EVENTS_ENRICHED: &str = "EventsEnriched";
pub const RECORDS_REJECTED: &str = "RecordsRejected";
pub const DUPLICATES_SKIPPED: &str = "DuplicatesSkipped";
pub const RECORDS_FAILED: &str = "RecordsFailed";
pub const READ_CAPACITY_UNITS: &str = "ReadCapacityUnits";
pub const WRITE_CAPACITY_UNITS: &str = "WriteCapacityUnits";

/// User state writes in flight at once.
const CONCURRENT_WRITES: usize = 16;

/// What one batch did, logged as structured fields and read by tests.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BatchReport {
    pub records: usize,
    pub users: usize,
    pub enriched: usize,
    pub rejected: usize,
    /// Kinesis retries of records applied before.
    pub already_applied: usize,
    /// Records whose event id was applied before under another record.
    pub duplicates: usize,
    /// Records from the first one reported for retry to the end of the batch.
    pub failed: usize,
    pub profile_cache_hits: usize,
    pub profiles_unknown: usize,
    pub dynamodb_reads: usize,
    pub dynamodb_writes: usize,
    /// BatchWriteItem calls recording applied event ids.
    pub event_id_writes: usize,
    /// Event ids recorded as applied.
    pub event_ids_recorded: usize,
    /// The write units recording them took, as DynamoDB reported them (part of
    /// `write_capacity_units`).
    pub event_id_write_units: f64,
    pub kinesis_calls: usize,
    pub sqs_calls: usize,
    pub read_capacity_units: f64,
    pub write_capacity_units: f64,
}

impl shared::batch_runtime::BatchMetrics for BatchReport {
    fn record(&self, invocation: &shared::metrics::Invocation) {
        invocation.count(EVENTS_ENRICHED, self.enriched as u64);
        invocation.count(RECORDS_REJECTED, self.rejected as u64);
        invocation.count(
            DUPLICATES_SKIPPED,
            (self.duplicates + self.already_applied) as u64,
        );
        invocation.count(RECORDS_FAILED, self.failed as u64);
        invocation.count(READ_CAPACITY_UNITS, self.read_capacity_units.ceil() as u64);
        invocation.count(
            WRITE_CAPACITY_UNITS,
            self.write_capacity_units.ceil() as u64,
        );
    }

    fn failed(&self) -> usize {
        self.failed
    }
}

pub struct Enricher {
    store: Store,
    applied_events: AppliedEventsTable,
    kinesis: aws_sdk_kinesis::Client,
    sqs: aws_sdk_sqs::Client,
    enriched_stream: String,
    rejects_queue_url: String,
    max_future_skew: time::Duration,
    cache: Mutex<ProfileCache>,
    backoff: Backoff,
}

impl Enricher {
    pub fn new(
        dynamodb: aws_sdk_dynamodb::Client,
        kinesis: aws_sdk_kinesis::Client,
        sqs: aws_sdk_sqs::Client,
        config: &Config,
    ) -> Self {
        Self {
            applied_events: AppliedEventsTable::new(
                dynamodb.clone(),
                config.applied_events_table.clone(),
            ),
            store: Store::new(
                dynamodb,
                config.profiles_table.clone(),
                config.aggregates_table.clone(),
                config.applied_events_table.clone(),
            ),
            kinesis,
            sqs,
            enriched_stream: config.enriched_stream.clone(),
            rejects_queue_url: config.rejects_queue_url.clone(),
            max_future_skew: config.max_future_skew,
            cache: Mutex::new(ProfileCache::new(
                config.profile_cache_size,
                config.profile_cache_ttl,
            )),
            backoff: Backoff::default(),
        }
    }

    pub async fn handle(
        &self,
        event: KinesisEvent,
        deadline: Instant,
    ) -> (KinesisEventResponse, BatchReport) {
        let records = event.records;
        let mut report = BatchReport {
            records: records.len(),
            ..BatchReport::default()
        };
        let now = OffsetDateTime::now_utc();

        // 1. Decode.
        let decoded = decode(&records, self.max_future_skew, now, REJECTED_BY);
        let (by_user, rejects) = (&decoded.by_user, &decoded.rejects);
        report.rejected = rejects.len();
        report.users = by_user.len();

        // 2. Read profiles (cache first) and states.
        let started = Instant::now();
        let mut profiles = BTreeMap::new();
        let mut keys = Vec::new();
        {
            let mut cache = self.cache.lock().expect("cache lock");
            for user_id in by_user.keys() {
                match cache.get(user_id, started) {
                    Some(profile) => {
                        report.profile_cache_hits += 1;
                        profiles.insert(user_id.clone(), profile);
                    }
                    None => keys.push(Key::user(Table::Profiles, user_id.clone())),
                }
                keys.push(Key::user(Table::Aggregates, user_id.clone()));
            }
        }
        keys.extend(applied_events::keys(Table::AppliedEvents, by_user));
        let reads = self.store.read(keys, deadline).await;
        report.dynamodb_reads = reads.calls;
        report.read_capacity_units = reads.capacity_units;
        {
            let mut cache = self.cache.lock().expect("cache lock");
            for (user_id, profile) in &reads.profiles {
                cache.insert(user_id, profile.clone(), started);
            }
        }
        profiles.extend(reads.profiles);
        let mut failed_users: HashSet<String> = HashSet::new();
        for (key, reason) in &reads.unread {
            tracing::warn!(user_id = %key.user_id, table = ?key.table, %reason, "not read; the user's records will be retried");
            failed_users.insert(key.user_id.clone());
        }

        // 3. Apply, in sequence order per user.
        let mut states = reads.states;
        let none = HashSet::new();
        let mut changed: Vec<(UserState, Option<u64>)> = Vec::new();
        let mut to_record: HashMap<String, Vec<AppliedEvent>> = HashMap::new();
        let mut enriched = Vec::new();
        for (user_id, incoming) in by_user {
            if failed_users.contains(user_id) {
                continue;
            }
            let stored = states.remove(user_id).flatten();
            let read_version = stored.as_ref().map(|state| state.version);
            let mut state = stored.unwrap_or_else(|| UserState::new(user_id));
            let profile = profiles
                .get(user_id)
                .cloned()
                .unwrap_or_else(ProfileAttributes::unknown);
            if !profile.found {
                report.profiles_unknown += 1;
            }
            let marked = reads.marked.get(user_id).unwrap_or(&none);
            let outcome = apply_user(&mut state, &profile, incoming, marked);
            to_record.insert(
                user_id.clone(),
                applied_events::unmarked(user_id, incoming, &reads.marked),
            );
            let changed_state = outcome.changed_state();
            report.already_applied += outcome.already_applied;
            report.duplicates += outcome.duplicates;
            enriched.extend(outcome.enriched);
            if changed_state {
                state.version = read_version.unwrap_or_default() + 1;
                changed.push((state, read_version));
            }
        }
        report.enriched = enriched.len();

        // 4. Emit enriched records and rejects, then write the states of users fully emitted.
        let emitted = deliver(enriched, deadline, self.backoff, |batch| {
            sinks::put_records(&self.kinesis, &self.enriched_stream, batch)
        });
        let rejected =
            decoded.send_rejects(&self.sqs, &self.rejects_queue_url, deadline, self.backoff);
        let (emitted, rejected) = tokio::join!(emitted, rejected);
        report.kinesis_calls = emitted.calls;
        report.sqs_calls = rejected.calls;
        for (record, reason) in &emitted.failed {
            tracing::warn!(user_id = %record.origin, %reason, "enriched record not written; the user's records will be retried");
            failed_users.insert(record.origin.clone());
        }

        let writes: Vec<_> = changed
            .into_iter()
            .filter(|(state, _)| !failed_users.contains(&state.user_id))
            .collect();
        report.dynamodb_writes = writes.len();
        let written: Vec<(String, Result<f64, WriteError>)> =
            futures_util::stream::iter(writes.iter().map(|(state, read_version)| async move {
                let outcome =
                    tokio::time::timeout_at(deadline, self.store.write(state, *read_version))
                        .await
                        .unwrap_or_else(|_| {
                            Err(WriteError::Failed(
                                "no answer before the invocation's deadline".into(),
                            ))
                        });
                (state.user_id.clone(), outcome)
            }))
            .buffer_unordered(CONCURRENT_WRITES)
            .collect()
            .await;
        for (user_id, outcome) in written {
            match outcome {
                Ok(units) => report.write_capacity_units += units,
                Err(error) => {
                    tracing::warn!(%user_id, %error, "state not written; the user's records will be retried");
                    failed_users.insert(user_id);
                }
            }
        }

        // Record the event ids of the users done with, now that their states are written.
        let unrecorded: Vec<AppliedEvent> = to_record
            .into_iter()
            .filter(|(user_id, _)| !failed_users.contains(user_id))
            .flat_map(|(_, events)| events)
            .collect();
        let recorded = self.applied_events.record(unrecorded, now, deadline).await;
        report.event_ids_recorded = recorded.recorded;
        report.event_id_writes = recorded.calls;
        report.event_id_write_units = recorded.capacity_units;
        report.write_capacity_units += recorded.capacity_units;
        recorded.fail_users(&mut failed_users);

        // 5. The first record not fully done.
        let (response, failed) = decoded.response(&records, &failed_users, &rejected.unsent);
        report.failed = failed;
        tracing::info!(
            records = report.records,
            users = report.users,
            enriched = report.enriched,
            rejected = report.rejected,
            already_applied = report.already_applied,
            duplicates = report.duplicates,
            failed = report.failed,
            profile_cache_hits = report.profile_cache_hits,
            dynamodb_reads = report.dynamodb_reads,
            dynamodb_writes = report.dynamodb_writes,
            event_id_writes = report.event_id_writes,
            event_ids_recorded = report.event_ids_recorded,
            kinesis_calls = report.kinesis_calls,
            read_capacity_units = report.read_capacity_units,
            write_capacity_units = report.write_capacity_units,
            "batch done"
        );
        (response, report)
    }
}

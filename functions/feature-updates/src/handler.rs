//! One invocation, for a batch of one shard:
//!
//! 1. decode every record; records that can never be processed go to the rejects queue;
//! 2. read the items of the batch's users, and which of its event ids were applied in the last
//!    24 hours, in one BatchGetItem;
//! 3. per user, apply its records in sequence order (pure: [`crate::batch`]) and, if anything
//!    was applied, write the item once, conditional on the version read. When another writer
//!    got there first, read the item again and re-apply, with backoff, a bounded number of
//!    times; users are written concurrently, so one contended user does not hold up the rest;
//! 4. record the event ids of the users done with that were not recorded yet;
//! 5. answer with the first record of any user (or reject) not fully done: Kinesis retries
//!    from it, and everything before it is applied.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashSet};

use aws_lambda_events::kinesis::KinesisEvent;
use aws_lambda_events::streams::KinesisEventResponse;
use futures_util::StreamExt;
use shared::applied_events::{self, AppliedEvent, AppliedEventsTable};
use shared::delivery::Backoff;
use shared::features::FeatureItem;
use shared::stream_batch::{Incoming, decode};
use time::OffsetDateTime;
use tokio::time::Instant;

use crate::batch::{REJECTED_BY, UserOutcome, apply_user};
use crate::config::Config;
use crate::store::{Store, WriteError};

/// Metric names (EMF, namespace `RealtimePipeline`) of a batch's counts.
pub const EVENTS_APPLIED: &str = "FeatureEventsApplied";
pub const LATE_EVENTS_DROPPED: &str = "LateEventsDropped";
pub const DUPLICATES_SKIPPED: &str = "DuplicatesSkipped";
pub const RECORDS_REJECTED: &str = "RecordsRejected";
pub const RECORDS_FAILED: &str = "RecordsFailed";
pub const WRITE_CONFLICTS: &str = "WriteConflicts";
pub const READ_CAPACITY_UNITS: &str = "ReadCapacityUnits";
pub const WRITE_CAPACITY_UNITS: &str = "WriteCapacityUnits";

/// User item writes in flight at once.
const CONCURRENT_WRITES: usize = 16;

/// What one batch did, logged as structured fields and read by tests.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BatchReport {
    pub records: usize,
    pub users: usize,
    pub applied: usize,
    /// Dropped: a day or more older than their user's newest event.
    pub late: usize,
    /// Kinesis retries of records applied before.
    pub already_applied: usize,
    /// Records whose event id was applied before under another record.
    pub duplicates: usize,
    pub rejected: usize,
    /// Records from the first one reported for retry to the end of the batch.
    pub failed: usize,
    /// Writes that found the item changed since it was read, and were tried again.
    pub conflicts: usize,
    pub dynamodb_reads: usize,
    pub dynamodb_writes: usize,
    /// BatchWriteItem calls recording applied event ids.
    pub event_id_writes: usize,
    /// Event ids recorded as applied.
    pub event_ids_recorded: usize,
    /// The write units recording them took, as DynamoDB reported them (part of
    /// `write_capacity_units`).
    pub event_id_write_units: f64,
    pub sqs_calls: usize,
    pub read_capacity_units: f64,
    pub write_capacity_units: f64,
}

impl shared::batch_runtime::BatchMetrics for BatchReport {
    fn record(&self, invocation: &shared::metrics::Invocation) {
        invocation.count(EVENTS_APPLIED, self.applied as u64);
        invocation.count(LATE_EVENTS_DROPPED, self.late as u64);
        invocation.count(
            DUPLICATES_SKIPPED,
            (self.duplicates + self.already_applied) as u64,
        );
        invocation.count(RECORDS_REJECTED, self.rejected as u64);
        invocation.count(RECORDS_FAILED, self.failed as u64);
        invocation.count(WRITE_CONFLICTS, self.conflicts as u64);
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

/// What became of one user's records.
#[derive(Debug, Default)]
struct UserResult {
    outcome: UserOutcome,
    writes: usize,
    conflicts: usize,
    reads: usize,
    read_units: f64,
    write_units: f64,
    /// Why the user's records must be retried, if they must.
    failure: Option<String>,
}

pub struct FeatureUpdater {
    store: Store,
    applied_events: AppliedEventsTable,
    sqs: aws_sdk_sqs::Client,
    rejects_queue_url: String,
    max_future_skew: time::Duration,
    max_write_attempts: u32,
    backoff: Backoff,
}

impl FeatureUpdater {
    pub fn new(
        dynamodb: aws_sdk_dynamodb::Client,
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
                config.features_table.clone(),
                config.applied_events_table.clone(),
            ),
            sqs,
            rejects_queue_url: config.rejects_queue_url.clone(),
            max_future_skew: config.max_future_skew,
            max_write_attempts: config.max_write_attempts,
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

        // 1. Decode; send rejects while the items are read and written.
        let decoded = decode(&records, self.max_future_skew, now, REJECTED_BY);
        let (by_user, rejects) = (&decoded.by_user, &decoded.rejects);
        report.rejected = rejects.len();
        report.users = by_user.len();
        let rejected =
            decoded.send_rejects(&self.sqs, &self.rejects_queue_url, deadline, self.backoff);

        // 2. Read.
        let updated = async {
            let reads = self.store.read(by_user, deadline).await;
            report.dynamodb_reads += reads.calls;
            report.read_capacity_units += reads.capacity_units;
            let mut failed_users: HashSet<String> = HashSet::new();
            for (user_id, reason) in &reads.unread {
                tracing::warn!(%user_id, %reason, "not read; the user's records will be retried");
                failed_users.insert(user_id.clone());
            }
            // 3. Apply and write, users concurrently.
            let mut items = reads.items;
            let marked = &reads.marked;
            let none = &HashSet::new();
            let results: Vec<(String, UserResult)> = futures_util::stream::iter(
                by_user
                    .iter()
                    .filter(|(user_id, _)| !failed_users.contains(*user_id))
                    .map(|(user_id, incoming)| {
                        let stored = items.remove(user_id).flatten();
                        let user_marked = marked.get(user_id).unwrap_or(none);
                        async move {
                            let result = tokio::time::timeout_at(
                                deadline,
                                self.update_user(user_id, incoming, user_marked, stored, deadline),
                            )
                            .await
                            .unwrap_or_else(|_| UserResult {
                                failure: Some("no answer before the invocation's deadline".into()),
                                ..UserResult::default()
                            });
                            (user_id.clone(), result)
                        }
                    }),
            )
            .buffer_unordered(CONCURRENT_WRITES)
            .collect()
            .await;
            let mut unrecorded: Vec<AppliedEvent> = Vec::new();
            for (user_id, result) in results {
                report.dynamodb_reads += result.reads;
                report.dynamodb_writes += result.writes;
                report.conflicts += result.conflicts;
                report.read_capacity_units += result.read_units;
                report.write_capacity_units += result.write_units;
                match result.failure {
                    Some(reason) => {
                        tracing::warn!(%user_id, %reason, "features not written; the user's records will be retried");
                        failed_users.insert(user_id);
                    }
                    None => {
                        unrecorded.extend(applied_events::unmarked(
                            &user_id,
                            &by_user[&user_id],
                            marked,
                        ));
                        report.applied += result.outcome.applied;
                        report.late += result.outcome.late;
                        report.already_applied += result.outcome.already_applied;
                        report.duplicates += result.outcome.duplicates;
                    }
                }
            }
            // 4. Record the event ids of the users done with.
            let recorded = self.applied_events.record(unrecorded, now, deadline).await;
            report.event_ids_recorded = recorded.recorded;
            report.event_id_writes = recorded.calls;
            report.event_id_write_units = recorded.capacity_units;
            report.write_capacity_units += recorded.capacity_units;
            recorded.fail_users(&mut failed_users);
            failed_users
        };
        let (failed_users, rejected) = tokio::join!(updated, rejected);
        report.sqs_calls = rejected.calls;

        // 5. The first record not fully done.
        let (response, failed) = decoded.response(&records, &failed_users, &rejected.unsent);
        report.failed = failed;
        tracing::info!(
            records = report.records,
            users = report.users,
            applied = report.applied,
            late = report.late,
            already_applied = report.already_applied,
            duplicates = report.duplicates,
            rejected = report.rejected,
            failed = report.failed,
            conflicts = report.conflicts,
            dynamodb_reads = report.dynamodb_reads,
            dynamodb_writes = report.dynamodb_writes,
            event_id_writes = report.event_id_writes,
            event_ids_recorded = report.event_ids_recorded,
            read_capacity_units = report.read_capacity_units,
            write_capacity_units = report.write_capacity_units,
            "batch done"
        );
        (response, report)
    }

    /// Applies one user's records to `stored` and writes the item once; after a conflict, reads
    /// the item and the records' applied event ids again and re-applies, up to the configured
    /// attempts.
    async fn update_user(
        &self,
        user_id: &str,
        incoming: &[Incoming],
        marked: &HashSet<String>,
        mut stored: Option<FeatureItem>,
        deadline: Instant,
    ) -> UserResult {
        let mut result = UserResult::default();
        let mut marked = Cow::Borrowed(marked);
        for attempt in 1..=self.max_write_attempts {
            let read_version = stored.as_ref().map(|item| item.version);
            let mut item = stored.take().unwrap_or_else(|| FeatureItem::new(user_id));
            result.outcome = apply_user(&mut item, incoming, &marked);
            if !result.outcome.changed_item() {
                return result;
            }
            item.version = read_version.unwrap_or_default() + 1;
            result.writes += 1;
            match self.store.write(&item, read_version).await {
                Ok(units) => {
                    result.write_units += units;
                    return result;
                }
                Err(WriteError::Failed(reason)) => {
                    result.failure = Some(reason);
                    return result;
                }
                Err(WriteError::Conflict) => {
                    result.conflicts += 1;
                    if attempt == self.max_write_attempts {
                        break;
                    }
                    let pause = self.backoff.pause(attempt);
                    if Instant::now() + pause >= deadline {
                        break;
                    }
                    tokio::time::sleep(pause).await;
                    // The other writer may have applied and recorded some of these events,
                    // and pushed them out of the item's last ids since.
                    let by_user = BTreeMap::from([(user_id.to_owned(), incoming.to_vec())]);
                    let mut reads = self.store.read(&by_user, deadline).await;
                    result.reads += reads.calls;
                    result.read_units += reads.capacity_units;
                    if let Some((_, reason)) = reads.unread.pop() {
                        result.failure = Some(reason);
                        return result;
                    }
                    stored = reads.items.remove(user_id).flatten();
                    marked = Cow::Owned(reads.marked.remove(user_id).unwrap_or_default());
                }
            }
        }
        result.failure = Some(format!(
            "the item kept changing between read and write ({} conflicts)",
            result.conflicts
        ));
        result
    }
}

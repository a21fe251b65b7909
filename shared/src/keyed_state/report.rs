//! What one batch did, logged as structured fields, turned into metrics by the consumer, and
//! read by tests and the performance report.

use crate::batch_runtime::BatchMetrics;
use crate::metrics::Invocation;

/// A consumer's own counts beside the core's: what its context reads and emits did.
pub trait Stats: Default + Clone + std::fmt::Debug + PartialEq + Send + Sync {
    fn add(&mut self, other: &Self);
    /// Logs the counts as fields of the batch's line (none by default).
    fn log(&self) {}
}

impl Stats for () {
    fn add(&mut self, _: &Self) {}
}

/// Metric names (EMF, namespace `RealtimePipeline`) every consumer records for a batch.
pub const RECORDS_REJECTED: &str = "RecordsRejected";
/// Kinesis retries and resends skipped.
pub const DUPLICATES_SKIPPED: &str = "DuplicatesSkipped";
pub const RECORDS_FAILED: &str = "RecordsFailed";
pub const WRITE_CONFLICTS: &str = "WriteConflicts";
/// Users whose state came from the warm cache, and users whose state was read.
pub const STATES_CACHED: &str = "StatesCached";
pub const STATES_READ: &str = "StatesRead";
/// Capacity units as DynamoDB reported them, rounded up per batch.
pub const READ_CAPACITY_UNITS: &str = "ReadCapacityUnits";
pub const WRITE_CAPACITY_UNITS: &str = "WriteCapacityUnits";

/// How a consumer adds its own metrics (EMF counts under its own names: what it applied, what
/// it dropped) to the ones every consumer records.
pub trait ReportMetrics: Stats {
    fn record(report: &BatchReport<Self>, invocation: &Invocation);
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct BatchReport<S> {
    pub records: usize,
    pub users: usize,
    /// Records whose effect was applied.
    pub applied: usize,
    /// Records the consumer declined to apply (feature-updates: a day or more older than the
    /// user's newest event).
    pub dropped: usize,
    /// Kinesis retries of records applied before.
    pub already_applied: usize,
    /// Records whose event id was applied before under another record.
    pub duplicates: usize,
    pub rejected: usize,
    /// Records from the first one reported for retry to the end of the batch.
    pub failed: usize,
    /// Conditional writes that found the item changed since it was read or cached.
    pub conflicts: usize,
    /// Whether the shard's mark named this environment: its cached states were current.
    pub cache_current: bool,
    /// Users whose state came from this environment's cache (no read).
    pub states_cached: usize,
    /// Users whose state was read from DynamoDB.
    pub states_read: usize,
    /// Query pages reading spilled ids.
    pub lookups: usize,
    /// Records a lookup found spilled (duplicates).
    pub found_spilled: usize,
    /// Spills written, and the ids they hold.
    pub spills: usize,
    pub spilled_ids: usize,
    /// BatchGetItem calls.
    pub dynamodb_reads: usize,
    /// Conditional PutItem calls of states, and of the shard's mark.
    pub dynamodb_writes: usize,
    /// States written (the writes that succeeded).
    pub states_written: usize,
    /// Calls the consumer made to emit its outputs.
    pub emit_calls: usize,
    pub sqs_calls: usize,
    /// Capacity units as DynamoDB reported them.
    pub read_capacity_units: f64,
    pub write_capacity_units: f64,
    /// Units as DynamoDB bills them, computed from the items' sizes by its documented rules
    /// (the same figures in AWS; an emulator may report others).
    pub billed_read_units: f64,
    pub billed_write_units: f64,
    /// Of `billed_write_units`: the spills' and the mark's.
    pub billed_bookkeeping_write_units: f64,
    /// The largest item written, in bytes (DynamoDB's size rules).
    pub largest_item_bytes: usize,
    pub stats: S,
}

impl<S: Stats> BatchReport<S> {
    pub fn log(&self, consumer: &str) {
        tracing::info!(
            consumer,
            records = self.records,
            users = self.users,
            applied = self.applied,
            dropped = self.dropped,
            already_applied = self.already_applied,
            duplicates = self.duplicates,
            rejected = self.rejected,
            failed = self.failed,
            conflicts = self.conflicts,
            cache_current = self.cache_current,
            states_cached = self.states_cached,
            states_read = self.states_read,
            lookups = self.lookups,
            found_spilled = self.found_spilled,
            spills = self.spills,
            spilled_ids = self.spilled_ids,
            dynamodb_reads = self.dynamodb_reads,
            dynamodb_writes = self.dynamodb_writes,
            states_written = self.states_written,
            emit_calls = self.emit_calls,
            read_capacity_units = self.read_capacity_units,
            write_capacity_units = self.write_capacity_units,
            billed_read_units = self.billed_read_units,
            billed_write_units = self.billed_write_units,
            largest_item_bytes = self.largest_item_bytes,
            "batch done"
        );
        self.stats.log();
    }
}

impl<S: ReportMetrics> BatchMetrics for BatchReport<S> {
    fn record(&self, invocation: &Invocation) {
        invocation.count(RECORDS_REJECTED, self.rejected as u64);
        invocation.count(
            DUPLICATES_SKIPPED,
            (self.duplicates + self.already_applied) as u64,
        );
        invocation.count(RECORDS_FAILED, self.failed as u64);
        invocation.count(WRITE_CONFLICTS, self.conflicts as u64);
        invocation.count(STATES_CACHED, self.states_cached as u64);
        invocation.count(STATES_READ, self.states_read as u64);
        invocation.count(READ_CAPACITY_UNITS, self.read_capacity_units.ceil() as u64);
        invocation.count(
            WRITE_CAPACITY_UNITS,
            self.write_capacity_units.ceil() as u64,
        );
        S::record(self, invocation);
    }

    fn failed(&self) -> usize {
        self.failed
    }
}

//! feature-updates as a consumer of the keyed-state core ([`shared::keyed_state`]), which
//! decodes each batch, keeps the users' feature items exactly once and answers Kinesis:
//!
//! - applying a record adds it to the item's windows and sessions ([`FeatureItem::apply`]),
//!   unless it is a day or more older than the user's newest event: then it is dropped (and
//!   counted), never applied;
//! - nothing is read beside the items, and nothing is emitted;
//! - a conditional write that loses a race reads the item again and applies the user's records
//!   to it again, with backoff, up to `MAX_WRITE_ATTEMPTS` writes
//!   ([`ConflictPolicy::Reapply`]): nothing left the function before the write, so there is
//!   nothing to take back.

use shared::features::FeatureItem;
use shared::keyed_state::{
    self, ConflictPolicy, Consumer, ContextRead, Emitted, Incoming, Outcome, ReportMetrics, Stats,
    StreamCore,
};
use shared::metrics::Invocation;
use tokio::time::Instant;

use crate::config::Config;

/// The function's name on the rejects it sends.
pub const REJECTED_BY: &str = "feature-updates";

/// The metrics (EMF, namespace `RealtimePipeline`) of the records applied and of the late ones
/// dropped in a batch, beside the ones every consumer of the core records
/// ([`shared::keyed_state::report`]).
pub const EVENTS_APPLIED: &str = "FeatureEventsApplied";
pub const LATE_EVENTS_DROPPED: &str = "LateEventsDropped";

/// The core running feature-updates.
pub type FeatureUpdater = StreamCore<FeatureUpdates>;
/// What one batch did (`dropped`: late events).
pub type BatchReport = keyed_state::BatchReport<FeatureStats>;

/// feature-updates keeps no counts of its own beside the core's.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FeatureStats;

impl Stats for FeatureStats {
    fn add(&mut self, _: &Self) {}
}

impl ReportMetrics for FeatureStats {
    fn record(report: &BatchReport, invocation: &Invocation) {
        invocation.count(EVENTS_APPLIED, report.applied as u64);
        invocation.count(LATE_EVENTS_DROPPED, report.dropped as u64);
    }
}

/// What feature-updates gives the core.
pub struct FeatureUpdates {
    max_write_attempts: u32,
}

/// feature-updates, ready for batches.
pub fn feature_updater(
    dynamodb: aws_sdk_dynamodb::Client,
    sqs: aws_sdk_sqs::Client,
    config: &Config,
) -> FeatureUpdater {
    let updates = FeatureUpdates {
        max_write_attempts: config.max_write_attempts,
    };
    StreamCore::new(updates, dynamodb, sqs, config.core.clone())
}

impl Consumer for FeatureUpdates {
    type State = FeatureItem;
    type Context = ();
    type Output = ();
    type Stats = FeatureStats;

    const NAME: &'static str = REJECTED_BY;

    fn conflict_policy(&self) -> ConflictPolicy {
        ConflictPolicy::Reapply {
            max_attempts: self.max_write_attempts,
        }
    }

    async fn read_context(
        &self,
        users: Vec<String>,
        _deadline: Instant,
    ) -> ContextRead<(), FeatureStats> {
        ContextRead {
            contexts: users.into_iter().map(|user_id| (user_id, ())).collect(),
            unread: Vec::new(),
            calls: 0,
            read_units: 0.0,
            billed_read_units: 0.0,
            stats: FeatureStats,
        }
    }

    fn apply(&self, item: &mut FeatureItem, record: &Incoming, _: &()) -> Outcome<()> {
        item.apply_event(&record.event)
    }

    async fn emit(&self, _outputs: Vec<()>, _deadline: Instant) -> Emitted<FeatureStats> {
        Emitted::default()
    }
}

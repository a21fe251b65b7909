//! What a consumer supplies to the core.

use std::collections::HashMap;
use std::future::Future;

use tokio::time::Instant;

use super::decode::Incoming;
use super::record::{Outcome, State};
use super::report::Stats;

/// What to do when a user's conditional write finds the item changed since it was read (or
/// cached): another writer got there first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConflictPolicy {
    /// Read the item again and apply the user's records to it again, up to `max_attempts`
    /// writes in all, with backoff, inside the invocation. For a consumer whose outputs are
    /// emitted again with the new attempt: feature-updates, which emits nothing.
    Reapply { max_attempts: u32 },
    /// Report the user's records for retry: Kinesis sends them again, and they are applied
    /// to the item as it is then. For a consumer that emitted outputs computed from the state
    /// that lost: stream-enrichment, whose enriched records are on the stream before its write
    /// (so that a state never says a record was applied before its output exists). The
    /// retry emits the records of the winning state; downstream consumers keep one per event
    /// id.
    RetryRecords,
}

/// What reading the batch's context did.
#[derive(Debug)]
pub struct ContextRead<C, S> {
    pub contexts: HashMap<String, C>,
    /// Users whose context was not read, with why: their records are retried.
    pub unread: Vec<(String, String)>,
    /// BatchGetItem calls, capacity units as reported and as billed.
    pub calls: usize,
    pub read_units: f64,
    pub billed_read_units: f64,
    pub stats: S,
}

/// What emitting outputs did.
#[derive(Debug, Default)]
pub struct Emitted<S> {
    /// Users some of whose outputs were not emitted, with why: their states are not written
    /// and their records are retried.
    pub failed: Vec<(String, String)>,
    pub calls: usize,
    pub stats: S,
}

/// A keyed consumer of a Kinesis stream.
pub trait Consumer: Send + Sync {
    type State: State;
    /// Read per user with the batch, beside its state.
    type Context: Send + Sync;
    /// What an applied record emits.
    type Output: Send + Sync;
    type Stats: Stats;

    /// The function's name on the rejects it sends.
    const NAME: &'static str;

    fn conflict_policy(&self) -> ConflictPolicy;

    /// The context of `users` (concurrently with their states).
    fn read_context(
        &self,
        users: Vec<String>,
        deadline: Instant,
    ) -> impl Future<Output = ContextRead<Self::Context, Self::Stats>> + Send;

    /// Applies `record` (new: not applied before) to `state`, which is its user's.
    fn apply(
        &self,
        state: &mut Self::State,
        record: &Incoming,
        context: &Self::Context,
    ) -> Outcome<Self::Output>;

    /// Emits `outputs` before the states they came from are written.
    fn emit(
        &self,
        outputs: Vec<Self::Output>,
        deadline: Instant,
    ) -> impl Future<Output = Emitted<Self::Stats>> + Send;
}

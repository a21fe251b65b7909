//! A user's state item and the rule that applies one record to it exactly once. Pure.

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::checkpoints::SequenceNumber;
use super::memory::{Admission, EventDigest, Memory};
use crate::dynamo::Item;

/// One item per user: the consumer's own attributes, `userId`, `version`, and the [`Memory`]
/// of what was applied to it.
pub trait State: Serialize + DeserializeOwned + Clone + Send + Sync + 'static {
    fn new(user_id: &str) -> Self;
    fn user_id(&self) -> &str;
    /// Every write sets a new version and is conditional on the one read.
    fn version(&self) -> u64;
    fn set_version(&mut self, version: u64);
    fn memory(&self) -> &Memory;
    fn memory_mut(&mut self) -> &mut Memory;

    /// A stored item as a state, or why it cannot be (it does not parse, or is of another
    /// version of the consumer's format): its user's records are retried, not applied blind.
    fn from_item(item: Item) -> Result<Self, String> {
        serde_dynamo::from_item(item).map_err(|error| format!("the item does not parse: {error}"))
    }
}

/// What applying one new record did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome<O> {
    /// Its effect is in the state; `O` is what to emit for it.
    Applied(O),
    /// Not applied, and never will be (feature-updates: a day or more older than the user's
    /// newest event); its event id is not remembered.
    Dropped,
}

/// Implements [`State`] for a struct with the fields `user_id: String`, `version: u64` and
/// `memory: Memory` (flattened into its item) and an inherent `new(user_id: &str)`; optionally
/// with the function that reads a stored item (`from_item = path`).
#[macro_export]
macro_rules! impl_keyed_state {
    ($state:ty $(, from_item = $from_item:path)?) => {
        impl $crate::keyed_state::State for $state {
            fn new(user_id: &str) -> Self {
                <$state>::new(user_id)
            }

            fn user_id(&self) -> &str {
                &self.user_id
            }

            fn version(&self) -> u64 {
                self.version
            }

            fn set_version(&mut self, version: u64) {
                self.version = version;
            }

            fn memory(&self) -> &$crate::keyed_state::Memory {
                &self.memory
            }

            fn memory_mut(&mut self) -> &mut $crate::keyed_state::Memory {
                &mut self.memory
            }

            $(
                fn from_item(item: $crate::dynamo::Item) -> Result<Self, String> {
                    $from_item(item)
                }
            )?
        }
    };
}

/// What became of one record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict<O> {
    /// New, and applied: `O` is what to emit for it.
    Applied(O),
    /// New, and declined by the consumer (see [`Outcome::Dropped`]).
    Dropped,
    /// At or below its shard's checkpoint: a Kinesis retry of a record already applied.
    AlreadyApplied,
    /// Its event id was applied before under another record.
    Duplicate,
}

/// Applies record `sequence` of `shard` (event `digest` at `at`, epoch ms) to `state` exactly
/// once: a Kinesis retry (covered by its shard's checkpoint) or an event id applied before
/// (recent in the state, or `found_spilled` by a lookup) is skipped; a new record goes to
/// `apply`, and its id is remembered if it was applied.
pub fn apply_record<S: State, O>(
    state: &mut S,
    shard: &str,
    sequence: &SequenceNumber,
    digest: EventDigest,
    at: i64,
    found_spilled: bool,
    apply: impl FnOnce(&mut S) -> Outcome<O>,
) -> Verdict<O> {
    match state
        .memory_mut()
        .admit(shard, sequence, digest, found_spilled)
    {
        Admission::AlreadyApplied => Verdict::AlreadyApplied,
        Admission::Duplicate => Verdict::Duplicate,
        Admission::New(digest) => match apply(state) {
            Outcome::Applied(output) => {
                state.memory_mut().remember(digest, at);
                Verdict::Applied(output)
            }
            Outcome::Dropped => Verdict::Dropped,
        },
    }
}

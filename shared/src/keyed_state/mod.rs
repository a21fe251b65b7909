//! The keyed-state stream core: exactly-once effect for every consumer of a Kinesis stream that
//! keeps one state item per user (stream-enrichment's aggregates, feature-updates' features).
//!
//! A consumer supplies its state type ([`State`]), what a batch reads beside the states
//! ([`Consumer::read_context`]: stream-enrichment's profiles), how a record applies to a
//! state ([`Consumer::apply`]), what applying emits ([`Consumer::emit`]: enriched records) and
//! its [`ConflictPolicy`]. The core ([`StreamCore`]) owns everything else, per batch:
//!
//! 1. decoding, and poison records set aside with their reason ([`decode`]);
//! 2. the users' states: from this environment's cache when the shard's mark says no other
//!    environment wrote through the shard since ([`cache`]), else read (strongly consistent);
//! 3. duplicate detection: per-shard checkpoints ([`checkpoints`]) and the ids applied
//!    ([`memory`]), recent ones in the state item, older ones spilled to the consumer's
//!    applied-ids table and looked up only for records whose event time they may hold
//!    ([`applied_ids`]);
//! 4. per user, its records applied in sequence order; the outputs emitted;
//! 5. committed ids spilled when that keeps the item small, then one conditional write per
//!    changed user, and the conflict policy when another writer got there first;
//! 6. the batch answer: the first record not fully done, from which Kinesis retries.
//!
//! Why it is built this way, what it costs per event and what it guarantees:
//! `docs/exactly-once.md`, the one description for both consumers.

pub mod applied_ids;
#[cfg(feature = "sinks")]
pub mod apply;
#[cfg(feature = "sinks")]
mod batch;
#[cfg(feature = "sinks")]
pub mod cache;
pub mod checkpoints;
#[cfg(feature = "sinks")]
mod consumer;
#[cfg(feature = "sinks")]
pub mod decode;
pub mod memory;
pub mod record;
pub mod report;

#[cfg(feature = "sinks")]
pub use apply::{Counts, UserApplied, apply_records, digests};
#[cfg(feature = "sinks")]
pub use batch::{Settings, StreamCore, run};
#[cfg(feature = "sinks")]
pub use consumer::{ConflictPolicy, Consumer, ContextRead, Emitted};
#[cfg(feature = "sinks")]
pub use decode::Incoming;
pub use memory::Memory;
pub use record::{Outcome, State, Verdict, apply_record};
pub use report::{BatchReport, ReportMetrics, Stats};

//! stream-enrichment: reads the activity stream, joins each event with its user's profile,
//! places it in a session on event time, keeps per-user lifetime aggregates, and writes the
//! enriched events to the enriched stream, with exactly-once effect under Kinesis retries and
//! duplicate event ids.
//!
//! [`state`] is the pure core (aggregates, sessions, checkpoints); [`store`] talks to DynamoDB;
//! [`profile_cache`] keeps profiles warm between batches; [`handler`] ties them together with
//! the shared Kinesis and SQS sinks.

pub mod batch;
pub mod config;
pub mod handler;
pub mod profile_cache;
pub mod state;
pub mod store;

pub use config::Config;
pub use handler::{BatchReport, Enricher};

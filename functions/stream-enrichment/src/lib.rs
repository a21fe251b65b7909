//! stream-enrichment: reads the activity stream, joins each event with its user's profile,
//! places it in a session on event time, keeps per-user lifetime aggregates, and writes the
//! enriched events to the enriched stream, with exactly-once effect under Kinesis retries and
//! duplicate event ids.
//!
//! [`state`] is the pure core (aggregates and sessions); [`store`] reads profiles;
//! [`profile_cache`] keeps them warm between batches; [`handler`] is what stream-enrichment
//! gives the keyed-state core ([`shared::keyed_state`]), which does the rest exactly once.

pub mod config;
pub mod handler;
pub mod profile_cache;
pub mod state;
pub mod store;

pub use config::Config;
pub use handler::{BatchReport, Enricher, enricher};

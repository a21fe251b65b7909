//! feature-updates: reads the enriched stream and keeps each user's online features (the
//! shared spec, [`shared::features`]) in DynamoDB: sliding windows on event time, recency and
//! sessions, applied exactly once, one conditional write per user per batch.
//!
//! [`batch`] is the pure core (a user's records applied to its item); [`store`] talks to
//! DynamoDB; [`handler`] ties them together with the shared decoding and rejects.

pub mod batch;
pub mod config;
pub mod handler;
pub mod store;

pub use config::Config;
pub use handler::{BatchReport, FeatureUpdater};

//! feature-updates: reads the enriched stream and keeps each user's online features (the
//! shared spec, [`shared::features`]) in DynamoDB: sliding windows on event time, recency and
//! sessions, applied exactly once, one conditional write per user per batch.
//!
//! The rule that applies an event to a user's item is the feature spec's
//! ([`shared::features::FeatureItem::apply`]); [`handler`] is what feature-updates gives the
//! keyed-state core ([`shared::keyed_state`]), which does the rest exactly once.

pub mod config;
pub mod handler;

pub use config::Config;
pub use handler::{BatchReport, FeatureUpdater, feature_updater};

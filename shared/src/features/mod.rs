//! The feature spec: one definition of every online feature, used by feature-updates to write a
//! user's item, by inference to read and evaluate it, and by model training, so that training
//! and serving cannot drift.
//!
//! - [`endpoint_attributes`]: how a model endpoint and its caller name spec and model versions.
//! - [`spec`]: the versions, the windows and their bucket sizes, the feature names, defaults and
//!   order of each version ([`SpecVersion::definitions`]).
//! - [`window`]: bucketed partial aggregates of one sliding window.
//! - [`session`]: session spans on event time.
//! - [`item`]: a user's stored item, the rule that applies an event to it
//!   ([`item::FeatureItem::apply`]), and [`item::evaluate`], which computes the feature vector
//!   at a read time: windows decay without new events.

pub mod endpoint_attributes;
pub mod item;
pub mod session;
pub mod spec;
pub mod window;

pub use item::{FeatureItem, SpecMismatch, evaluate};
pub use spec::{EVENT_TYPE_CODES, FeatureValue, FeatureVector, SpecVersion, WINDOWS};

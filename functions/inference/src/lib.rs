//! Real-time scoring API: API Gateway HTTP API (payload 2.0) → Lambda → the feature store →
//! a SageMaker endpoint.
//!
//! `POST /predict` scores one user, `POST /predict/batch` up to [`request::MAX_BATCH_USERS`]
//! with one BatchGetItem and one InvokeEndpoint. Features are evaluated at request time with the
//! shared spec, so windows decay between events; the model endpoint must report the feature
//! spec version its model was trained on, and a mismatch is an error, never a score.
//!
//! Pure parts ([`request`], [`rows`], [`scoring`]) are plain functions; [`features`] and
//! [`endpoint`] are the adapters to DynamoDB and SageMaker; [`handler`] glues them together
//! and [`record`] writes one prediction record per score for the feedback loop.

pub mod config;
pub mod endpoint;
pub mod features;
pub mod handler;
pub mod record;
pub mod request;
pub mod rows;
pub mod scoring;

pub use config::Config;
pub use handler::{App, handle};

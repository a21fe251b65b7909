//! The common library every Lambda function in this workspace depends on.
//!
//! Each module has one job; a function's `main.rs` uses them in this order:
//! [`telemetry::init`], a typed config read through [`config::Env`], [`clients::load`],
//! [`metrics::init`], then the runtime loop with the function's library handler.

pub mod batch_runtime;
#[cfg(feature = "test-support")]
pub mod bench_report;
pub mod clients;
pub mod config;
pub mod deadline;
pub mod delivery;
pub mod dynamo;
pub mod enriched;
pub mod events;
#[cfg(feature = "test-support")]
pub mod fake_endpoint;
pub mod features;
#[cfg(feature = "test-support")]
pub mod fixtures;
pub mod http;
pub mod init;
pub mod json;
pub mod keyed_state;
#[cfg(all(feature = "test-support", feature = "sinks"))]
pub mod kinesis_events;
pub mod metrics;
#[cfg(all(feature = "test-support", feature = "sinks"))]
pub mod queue_reader;
#[cfg(feature = "test-support")]
pub mod request_count;
#[cfg(feature = "sinks")]
pub mod sinks;
pub mod stack;
#[cfg(feature = "sinks")]
pub mod stream_reader;
pub mod tables;
pub mod telemetry;
pub mod user_items;

//! The common library every Lambda function in this workspace depends on.
//!
//! Each module has one job; a function's `main.rs` uses them in this order:
//! [`telemetry::init`], a typed config read through [`config::Env`], [`clients::load`],
//! [`metrics::init`], then the runtime loop with the function's library handler.

pub mod batch_runtime;
pub mod clients;
pub mod config;
pub mod deadline;
pub mod delivery;
pub mod dynamo;
pub mod enriched;
pub mod events;
pub mod features;
pub mod http;
pub mod init;
pub mod json;
pub mod keyed_state;
pub mod metrics;
#[cfg(feature = "sinks")]
pub mod sinks;
pub mod telemetry;
pub mod user_items;

//! event-router: the front door of the pipeline. EventBridge delivers producers' events to the
//! ingest queue; each invocation takes a batch, validates every event against its schema
//! ([`shared::events`]), routes it by the routing table ([`routing`]) onto Kinesis streams and
//! SQS queues, sets aside events that can never be routed on the rejects queue with their
//! reason, and reports exactly the messages that could not be delivered
//! (`batchItemFailures`), after retrying transient failures while time allows.
//!
//! [`plan`] is pure; [`shared::sinks`] talks to Kinesis and SQS; [`shared::delivery`] retries;
//! [`handler`] ties them together.

pub mod config;
pub mod handler;
pub mod plan;
pub mod routing;

pub use config::Config;
pub use handler::{BatchReport, Router};

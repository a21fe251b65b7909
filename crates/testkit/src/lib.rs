//! Test support for the workspace's tests, benches and tools; never linked into a Lambda.
//!
//! - [`emulator`]: the one emulator fixture ([`emulator::endpoint`] starts the pinned moto
//!   server when no `AWS_ENDPOINT_URL` is given), [`unique`] names and resources under them;
//! - [`fake_endpoint`]: an HTTP endpoint answering what a test scripts;
//! - [`request_count`]: AWS requests and capacity units counted per operation;
//! - [`queue_reader`] and [`stream_reader`]: everything on a queue or a stream;
//! - [`kinesis_events`]: Kinesis events as Lambda sends them;
//! - [`settings`]: a function's settings name what is missing or wrong;
//! - [`bench_report`]: medians and ratios written by the benches.

pub mod bench_report;
pub mod emulator;
pub mod fake_endpoint;
pub mod kinesis_events;
pub mod queue_reader;
pub mod request_count;
pub mod settings;
pub mod stream_reader;

pub use emulator::unique;

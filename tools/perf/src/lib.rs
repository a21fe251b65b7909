//! `perf-report`: measurements of what the functions cost to start and run (init against a stub
//! Runtime API, a reference workload through the batch handlers against the emulator, zip
//! sizes), as JSON for `tools/perf/cost_report.py` (the cost model, the summary and the charts).
//!
//! Benchmarks, not tests: the figures depend on the machine and are reported, never asserted.

pub mod cold_path;
pub mod environment;
pub mod init;
pub mod machine;
pub mod stats;
pub mod stub_runtime;
pub mod throughput;
pub mod tls_proxy;
pub mod warm;
pub mod workload;
pub mod zips;

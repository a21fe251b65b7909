//! What the `local-stack` command runs against the stack the [`emulator`] brings up.
//!
//! [`demo`] drives the demo workloads through it (the todo API, the pipeline, predictions) and
//! checks every outcome; [`reliability`] runs the reliability checks (faults and crashes, the
//! memory workloads, bad input, cross-user isolation, load, the API tests, the fuzzer) and gives
//! one verdict. [`report`] is how both write their summaries.

pub mod demo;
pub mod freshness;
pub mod reliability;
pub mod report;

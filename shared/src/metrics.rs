//! Per-invocation counts and latencies as CloudWatch Embedded Metric Format (EMF) records on
//! stdout, through the `metrics` facade and `metrics_cloudwatch_embedded`.
//!
//! What [`Invocation`] records has the dimensions `FunctionName` and `Start` (`cold` for the
//! first invocation of an execution environment, `warm` after), so cold-start latency is its own
//! series. Metrics a function records without labels (inference's per-request latencies and
//! prediction counts) have `FunctionName` only. `infra/dashboard.json` plots each with the
//! dimensions it has (inference's `tests/dashboard.rs` holds the two together).
//! CloudWatch turns the records into metrics from the log stream: no API call, no extra latency.

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use metrics::Unit;
pub use metrics_cloudwatch_embedded::Collector;

/// The CloudWatch namespace every function of this project reports under.
pub const NAMESPACE: &str = "RealtimePipeline";
pub const INVOCATIONS: &str = "Invocations";
pub const ERRORS: &str = "Errors";
pub const CLIENT_ERRORS: &str = "ClientErrors";
pub const DURATION: &str = "Duration";

#[derive(Debug, thiserror::Error)]
#[error("metrics recorder could not be installed: {0}")]
pub struct InitError(String);

/// Installs the process-wide EMF recorder with the function name as a dimension.
/// Call once at init; metrics recorded before (or in tests without) are dropped.
pub fn init(function_name: &str) -> Result<&'static Collector, InitError> {
    let collector = metrics_cloudwatch_embedded::Builder::new()
        .cloudwatch_namespace(NAMESPACE)
        .with_dimension("FunctionName", function_name.to_owned())
        .init()
        .map_err(|err| InitError(err.to_string()))?;
    metrics::describe_counter!(INVOCATIONS, Unit::Count, "invocations handled");
    metrics::describe_counter!(ERRORS, Unit::Count, "invocations that failed on our side");
    metrics::describe_counter!(CLIENT_ERRORS, Unit::Count, "requests rejected as invalid");
    metrics::describe_histogram!(DURATION, Unit::Milliseconds, "handler time");
    Ok(collector)
}

static COLD: AtomicBool = AtomicBool::new(true);

/// Whether this execution environment has served an invocation before.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Start {
    Cold,
    Warm,
}

impl Start {
    pub fn as_str(self) -> &'static str {
        match self {
            Start::Cold => "cold",
            Start::Warm => "warm",
        }
    }
}

/// How an invocation ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Success,
    /// The caller sent something invalid (4xx); not our failure.
    ClientError,
    /// We failed (5xx, unhandled error).
    Error,
}

impl Outcome {
    /// The outcome an HTTP status stands for.
    pub fn from_status(status: u16) -> Self {
        match status {
            500.. => Outcome::Error,
            400..=499 => Outcome::ClientError,
            _ => Outcome::Success,
        }
    }

    /// A batch that leaves `failed` records for redelivery counts as an error when any do:
    /// something downstream refused or failed.
    pub fn from_failures(failed: usize) -> Self {
        if failed > 0 {
            Outcome::Error
        } else {
            Outcome::Success
        }
    }
}

/// One invocation being measured: begin it first thing, finish it last.
#[derive(Debug)]
pub struct Invocation {
    started: Instant,
    start: Start,
}

impl Invocation {
    pub fn begin() -> Self {
        let start = if COLD.swap(false, Ordering::AcqRel) {
            Start::Cold
        } else {
            Start::Warm
        };
        Self {
            started: Instant::now(),
            start,
        }
    }

    pub fn start(&self) -> Start {
        self.start
    }

    /// Adds `value` to a function-specific counter, with this invocation's dimensions.
    pub fn count(&self, name: &'static str, value: u64) {
        metrics::counter!(name, "Start" => self.start.as_str()).increment(value);
    }

    /// Records the invocation's count, outcome and duration.
    pub fn finish(self, outcome: Outcome) {
        let start = self.start.as_str();
        metrics::counter!(INVOCATIONS, "Start" => start).increment(1);
        match outcome {
            Outcome::Success => {}
            Outcome::ClientError => metrics::counter!(CLIENT_ERRORS, "Start" => start).increment(1),
            Outcome::Error => metrics::counter!(ERRORS, "Start" => start).increment(1),
        }
        let millis = self.started.elapsed().as_secs_f64() * 1_000.0;
        metrics::histogram!(DURATION, "Start" => start).record(millis);
    }
}

/// Writes what was recorded since the last flush as EMF lines. Metrics are best effort: a
/// failed write is logged, never turned into a failed invocation.
pub fn flush(collector: &Collector, writer: impl Write) {
    if let Err(err) = collector.flush(writer) {
        tracing::warn!(error = %err, "could not write metrics");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_classes_map_to_outcomes() {
        assert_eq!(Outcome::from_status(201), Outcome::Success);
        assert_eq!(Outcome::from_status(304), Outcome::Success);
        assert_eq!(Outcome::from_status(412), Outcome::ClientError);
        assert_eq!(Outcome::from_status(503), Outcome::Error);
    }

    /// The only test in this binary that touches the global recorder and the cold flag.
    #[test]
    fn invocations_emit_emf_with_function_and_start_dimensions() {
        let collector = init("todo-api-test").expect("first init in this process");

        let first = Invocation::begin();
        assert_eq!(first.start(), Start::Cold);
        first.count("TasksCreated", 2);
        first.finish(Outcome::Success);
        let mut out = Vec::new();
        flush(collector, &mut out);

        let second = Invocation::begin();
        assert_eq!(second.start(), Start::Warm);
        second.finish(Outcome::Error);
        flush(collector, &mut out);

        let records: Vec<serde_json::Value> = String::from_utf8(out)
            .unwrap()
            .lines()
            .map(|line| serde_json::from_str(line).expect("one JSON record per line"))
            .collect();
        assert_eq!(records.len(), 2, "{records:#?}");
        let (cold, warm) = (&records[0], &records[1]);
        for (record, start) in [(cold, "cold"), (warm, "warm")] {
            let directive = &record["_aws"]["CloudWatchMetrics"][0];
            assert_eq!(directive["Namespace"], NAMESPACE);
            assert_eq!(
                directive["Dimensions"][0],
                serde_json::json!(["FunctionName", "Start"])
            );
            assert_eq!(record["FunctionName"], "todo-api-test");
            assert_eq!(record["Start"], start);
            assert_eq!(record[INVOCATIONS], 1);
            assert!(record[DURATION][0].as_f64().unwrap() >= 0.0);
        }
        assert_eq!(cold["TasksCreated"], 2);
        assert!(cold.get(ERRORS).is_none());
        assert_eq!(warm[ERRORS], 1);
        assert!(
            warm.get("TasksCreated").is_none(),
            "counters reset per flush"
        );
        let units: Vec<_> = cold["_aws"]["CloudWatchMetrics"][0]["Metrics"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|m| m["Name"] == DURATION)
            .map(|m| m["Unit"].clone())
            .collect();
        assert_eq!(units, vec![serde_json::json!("Milliseconds")]);
    }
}

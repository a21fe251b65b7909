//! The prediction record: one JSON line per prediction on stdout, next to the logs, with what
//! is needed to join an outcome to it later and retrain (user, time, model and spec versions,
//! the feature values given, the score, the request context). A CloudWatch Logs subscription
//! filter `{ $.type = "prediction" }` selects them for a data lake.

use std::io::Write;
use std::sync::{Arc, Mutex};

use serde::Serialize;
use serde_json::{Map, Value};

use crate::scoring::Prediction;

/// The record's `type`, to select records out of the log stream.
pub const RECORD_TYPE: &str = "prediction";

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PredictionRecord<'a> {
    #[serde(rename = "type")]
    pub record_type: &'static str,
    /// RFC 3339, when the features were evaluated.
    pub at: &'a str,
    #[serde(flatten)]
    pub prediction: &'a Prediction,
    pub threshold: f64,
    pub model_version: Option<&'a str>,
    pub feature_spec_version: u32,
    pub context: Option<&'a Map<String, Value>>,
}

/// Where records go: stdout in Lambda, a buffer in tests.
#[derive(Clone)]
pub enum RecordSink {
    Stdout,
    Memory(Arc<Mutex<Vec<String>>>),
}

impl std::fmt::Debug for RecordSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            RecordSink::Stdout => "Stdout",
            RecordSink::Memory(_) => "Memory",
        })
    }
}

impl RecordSink {
    /// Writes one record as one line. A record that cannot be written is logged, never turned
    /// into a failed request: the client already has its score.
    pub fn write(&self, record: &PredictionRecord<'_>) {
        let line = match serde_json::to_string(record) {
            Ok(line) => line,
            Err(error) => {
                tracing::error!(%error, "prediction record does not serialize");
                return;
            }
        };
        match self {
            RecordSink::Stdout => {
                let mut stdout = std::io::stdout().lock();
                if let Err(error) = writeln!(stdout, "{line}") {
                    tracing::warn!(%error, "prediction record not written");
                }
            }
            RecordSink::Memory(lines) => lines.lock().expect("records lock").push(line),
        }
    }
}

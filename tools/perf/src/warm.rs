//! Warm CPU per event: the per-function benchmarks' measurements (`cargo bench` with
//! `BENCH_REPORT` set, see `testkit::bench_report`), read back. A function's figure is its worst
//! case: the goal holds only if it holds for every batch shape the benchmark tries.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;

#[derive(Debug, Deserialize)]
struct Line {
    function: String,
    case: String,
    micros_per_event: f64,
}

#[derive(Debug, Default, PartialEq)]
pub struct WarmCpu {
    /// The worst case per function, in µs per event.
    pub worst: BTreeMap<String, f64>,
    /// Every case per function, in µs per event.
    pub cases: BTreeMap<String, BTreeMap<String, f64>>,
}

#[derive(Debug, thiserror::Error)]
pub enum WarmCpuError {
    #[error("{path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}, line {line}: {message}")]
    Line {
        path: String,
        line: usize,
        message: String,
    },
}

impl WarmCpu {
    pub fn read(path: &Path) -> Result<Self, WarmCpuError> {
        let text = std::fs::read_to_string(path).map_err(|source| WarmCpuError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Self::parse(&text).map_err(|(line, message)| WarmCpuError::Line {
            path: path.display().to_string(),
            line,
            message,
        })
    }

    /// One JSON object per line; a case measured twice keeps its last figure.
    fn parse(text: &str) -> Result<Self, (usize, String)> {
        let mut warm = Self::default();
        for (index, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let parsed: Line =
                serde_json::from_str(line).map_err(|e| (index + 1, e.to_string()))?;
            if !parsed.micros_per_event.is_finite() || parsed.micros_per_event < 0.0 {
                return Err((
                    index + 1,
                    format!(
                        "micros_per_event must be a time, not {}",
                        parsed.micros_per_event
                    ),
                ));
            }
            warm.cases
                .entry(parsed.function)
                .or_default()
                .insert(parsed.case, parsed.micros_per_event);
        }
        warm.worst = warm
            .cases
            .iter()
            .map(|(function, cases)| {
                (
                    function.clone(),
                    cases.values().copied().fold(0.0, f64::max),
                )
            })
            .collect();
        Ok(warm)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_function_is_as_fast_as_its_slowest_case() {
        let warm = WarmCpu::parse(concat!(
            r#"{"function":"feature-updates","case":"skewed users","micros_per_event":6.0}"#,
            "\n\n",
            r#"{"function":"feature-updates","case":"distinct users","micros_per_event":12.5}"#,
            "\n",
            r#"{"function":"event-router","case":"100 orders","micros_per_event":1.5}"#,
            "\n",
        ))
        .unwrap();
        assert_eq!(warm.worst["feature-updates"], 12.5);
        assert_eq!(warm.worst["event-router"], 1.5);
        assert_eq!(warm.cases["feature-updates"].len(), 2);
    }

    #[test]
    fn a_line_that_is_not_a_measurement_is_refused_with_its_number() {
        let (line, message) = WarmCpu::parse(concat!(
            r#"{"function":"a","case":"b","micros_per_event":1.0}"#,
            "\n",
            r#"{"function":"a","case":"c"}"#
        ))
        .unwrap_err();
        assert_eq!(line, 2);
        assert!(message.contains("micros_per_event"), "{message}");
        let (line, message) =
            WarmCpu::parse(r#"{"function":"a","case":"b","micros_per_event":-1}"#).unwrap_err();
        assert_eq!(line, 1);
        assert!(message.contains("-1"), "{message}");
    }
}

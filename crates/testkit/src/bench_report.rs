//! What the per-function benchmarks measured, for `tools/perf.sh`: when `BENCH_REPORT` names a
//! file, each measurement is appended to it as one JSON line (`function`, `case`,
//! `micros_per_event`), beside the line the benchmark prints for a reader.

use std::io::Write;
use std::time::Duration;

/// The variable naming the file the measurements are appended to.
pub const BENCH_REPORT: &str = "BENCH_REPORT";

/// The user (from 1) of record `n` of `records`, drawn so that user k gets about 1/k of them,
/// among `users`: a skewed batch as real traffic has, the same on every run.
pub fn zipf_user(n: usize, records: usize, users: usize) -> usize {
    let harmonic: f64 = (1..=users).map(|k| 1.0 / k as f64).sum();
    let position = (n as f64 + 0.5) / records as f64 * harmonic;
    let mut edge = 0.0;
    (1..users)
        .find(|k| {
            edge += 1.0 / *k as f64;
            position < edge
        })
        .unwrap_or(users)
}

/// Prints, and records ([`record`]), `measure`'s time per event of `function`'s two cases: a
/// batch of `size` records of skewed users ([`zipf_user`] among 50) and one of a different
/// user each, made by `batch` from the user of each record.
pub fn report_skewed_and_distinct<T>(
    function: &str,
    what: &str,
    size: usize,
    batch: impl Fn(&dyn Fn(usize) -> usize) -> T,
    measure: impl Fn(&T) -> Duration,
) {
    let cases = [
        ("skewed users", batch(&|n| zipf_user(n, size, 50))),
        ("distinct users", batch(&|n| n)),
    ];
    println!("{function} {what}:");
    for (case, input) in &cases {
        let per_event = measure(input);
        println!("  {case:<15} {:>8.2} µs", per_event.as_secs_f64() * 1e6);
        record(function, case, per_event);
    }
}

/// Appends one measurement to the file `BENCH_REPORT` names, if it is set. A benchmark asked to
/// report and unable to panics: a run that silently reported nothing would read as "not measured".
pub fn record(function: &str, case: &str, per_event: Duration) {
    let Some(path) = std::env::var_os(BENCH_REPORT) else {
        return;
    };
    let line = serde_json::json!({
        "function": function,
        "case": case,
        "micros_per_event": per_event.as_secs_f64() * 1e6,
    });
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    writeln!(file, "{line}").unwrap_or_else(|e| panic!("{}: {e}", path.display()));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_zipf_batch_gives_the_first_users_most_records() {
        let users: Vec<usize> = (0..100).map(|n| zipf_user(n, 100, 50)).collect();
        assert!(users.is_sorted());
        let first = users.iter().filter(|&&user| user == 1).count();
        assert!((19..=24).contains(&first), "about 1/H(50) = 22 %: {first}");
        assert!(users.iter().all(|user| (1..=50).contains(user)));
        // The tail's users get one record each: 22 records for the first, 40 users in all.
        let distinct = users.iter().collect::<std::collections::HashSet<_>>().len();
        assert_eq!(distinct, 40);
    }

    #[test]
    fn appends_one_json_line_per_measurement() {
        let path = std::env::temp_dir().join(format!("bench-report-{}.jsonl", std::process::id()));
        let _ = std::fs::remove_file(&path);
        // SAFETY: no other test of this crate reads or writes BENCH_REPORT.
        unsafe { std::env::set_var(BENCH_REPORT, &path) };
        record(
            "feature-updates",
            "skewed users",
            Duration::from_nanos(2_500),
        );
        record(
            "feature-updates",
            "distinct users",
            Duration::from_micros(12),
        );
        unsafe { std::env::remove_var(BENCH_REPORT) };
        record(
            "not written",
            "without the variable",
            Duration::from_micros(1),
        );
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<serde_json::Value> = text
            .lines()
            .map(|line| serde_json::from_str(line).unwrap())
            .collect();
        assert_eq!(lines.len(), 2, "{text}");
        assert_eq!(lines[0]["case"], "skewed users");
        assert!((lines[0]["micros_per_event"].as_f64().unwrap() - 2.5).abs() < 1e-9);
        assert_eq!(lines[1]["micros_per_event"], 12.0);
        std::fs::remove_file(&path).unwrap();
    }
}

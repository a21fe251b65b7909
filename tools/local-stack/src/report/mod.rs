//! What every summary of the demo and of the reliability checks is written with: the verdict
//! line, the checks line, latency percentiles in milliseconds.

use std::time::Duration;

/// The last line of a summary: `<name>: PASS` or `<name>: FAIL`.
pub fn render_verdict(out: &mut String, name: &str, passed: bool) {
    out.push_str(name);
    out.push_str(if passed { ": PASS\n" } else { ": FAIL\n" });
}

/// The checks a summary made: how many passed, and why each other one failed.
#[derive(Debug, Default)]
pub struct Checks {
    pub passed: usize,
    pub failures: Vec<String>,
}

impl Checks {
    /// Counts one check: passed when `ok`, else failed for `failure()`. Returns `ok`.
    pub fn check(&mut self, ok: bool, failure: impl FnOnce() -> String) -> bool {
        if ok {
            self.passed += 1;
        } else {
            self.failures.push(failure());
        }
        ok
    }

    /// Whether there were checks and every one passed.
    pub fn all_passed(&self) -> bool {
        self.failures.is_empty() && self.passed > 0
    }

    /// The checks line and the first failures ([`render_checks`]).
    pub fn render(&self, out: &mut String) {
        render_checks(out, self.passed, &self.failures);
    }
}

/// The checks line of a summary, then the first 20 failures.
pub fn render_checks(out: &mut String, passed: usize, failures: &[String]) {
    out.push_str(&format!(
        "  checks: {passed} passed, {} failed\n",
        failures.len()
    ));
    for failure in failures.iter().take(20) {
        out.push_str(&format!("    FAILED {failure}\n"));
    }
    if failures.len() > 20 {
        out.push_str(&format!("    ... and {} more\n", failures.len() - 20));
    }
}

/// Nearest-rank percentile of `samples` (zero when there are none).
pub fn percentile(samples: &[Duration], percent: usize) -> Duration {
    if samples.is_empty() {
        return Duration::ZERO;
    }
    let mut sorted = samples.to_vec();
    sorted.sort();
    let rank = (percent * sorted.len()).div_ceil(100).max(1);
    sorted[rank - 1]
}

/// The nearest-rank percentile of `samples` in milliseconds, as the summaries print it.
pub fn percentile_ms(samples: &[Duration], percent: usize) -> f64 {
    percentile(samples, percent).as_secs_f64() * 1_000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_use_the_nearest_rank() {
        let samples: Vec<Duration> = (1..=100).map(Duration::from_millis).collect();
        assert_eq!(percentile(&samples, 50), Duration::from_millis(50));
        assert_eq!(percentile(&samples, 99), Duration::from_millis(99));
        assert_eq!(percentile(&samples[..1], 99), Duration::from_millis(1));
        assert_eq!(percentile(&[], 50), Duration::ZERO);
        assert_eq!(percentile_ms(&samples, 50), 50.0);
    }

    #[test]
    fn the_verdict_and_the_checks_name_what_failed() {
        let mut out = String::new();
        let failures: Vec<String> = (0..22).map(|n| format!("check {n}")).collect();
        render_checks(&mut out, 3, &failures);
        render_verdict(&mut out, "demo", false);
        assert!(out.starts_with("  checks: 3 passed, 22 failed\n"), "{out}");
        assert!(out.contains("    FAILED check 19\n") && !out.contains("check 20\n"));
        assert!(out.contains("... and 2 more\n"));
        assert!(out.ends_with("demo: FAIL\n"));
    }
}

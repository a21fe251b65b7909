//! Property-based testing of the HTTP APIs against their OpenAPI documents: schemathesis
//! (pinned in tools/requirements.txt, configured by tools/schemathesis/) generates valid and
//! invalid requests from each document, sends them through the local HTTP API with a token,
//! and checks every answer: no server error, status and body as documented, valid data
//! accepted, invalid data refused, and stateful sequences (create, then read, update, delete
//! what was created).

use std::path::{Path, PathBuf};
use std::process::Stdio;

use crate::report::render_verdict;
use emulator::token;

/// How to run schemathesis.
#[derive(Debug, Clone)]
pub struct ApiTestOptions {
    /// The schemathesis command (`.venv/bin/schemathesis`).
    pub schemathesis: PathBuf,
    /// Its configuration: `tools/schemathesis/schemathesis.toml`.
    pub config: PathBuf,
    /// The repository root: schemathesis runs there, as the configuration names its hooks
    /// file relative to the working directory.
    pub root: PathBuf,
    /// Examples per operation and phase.
    pub max_examples: usize,
    /// Repeats a run's generated cases.
    pub seed: Option<u64>,
}

/// One document's run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ApiTestRun {
    pub document: String,
    pub cases: u64,
    pub failures: u64,
    pub passed: bool,
    /// Schemathesis's own report of the failures, when there are any.
    pub details: String,
}

#[derive(Debug, Default)]
pub struct ApiTestReport {
    pub runs: Vec<ApiTestRun>,
}

impl ApiTestReport {
    pub fn passed(&self) -> bool {
        !self.runs.is_empty() && self.runs.iter().all(|run| run.passed && run.cases > 0)
    }

    pub fn render(&self) -> String {
        let mut out = format!(
            "API tests summary (schemathesis)\n  {} cases, {} failures\n",
            self.runs.iter().map(|run| run.cases).sum::<u64>(),
            self.runs.iter().map(|run| run.failures).sum::<u64>()
        );
        for run in &self.runs {
            out.push_str(&format!(
                "  {:<40} {:>6} cases {:>4} failures\n",
                run.document, run.cases, run.failures
            ));
            if !run.passed {
                out.push_str(&run.details);
            }
        }
        render_verdict(&mut out, "API tests", self.passed());
        out
    }
}

/// Reads schemathesis's summary line: `507 generated, 507 passed, 10 skipped`, or
/// `326 generated, 8 found 8 unique failures, 10 skipped`. (cases, failures)
pub fn parse_summary(output: &str) -> Option<(u64, u64)> {
    let line = output.lines().find(|line| line.contains(" generated, "))?;
    let number_before = |word: &str| -> Option<u64> {
        let words: Vec<&str> = line.split([' ', ',']).filter(|w| !w.is_empty()).collect();
        let at = words.iter().position(|w| *w == word)?;
        words.get(at.checked_sub(1)?)?.parse().ok()
    };
    let cases = number_before("generated")?;
    let failures = number_before("unique").unwrap_or(0);
    Some((cases, failures))
}

/// Runs schemathesis on `document` against the HTTP API at `api_url`, as caller `user`.
pub async fn run_document(
    options: &ApiTestOptions,
    document: &Path,
    api_url: &str,
    user: &str,
) -> ApiTestRun {
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let mut command = tokio::process::Command::new(&options.schemathesis);
    command
        .arg("--no-color")
        .arg("--config-file")
        .arg(&options.config)
        .arg("run")
        .arg(document)
        .args(["--url", api_url])
        .args(["--max-examples", &options.max_examples.to_string()])
        .args([
            "-H",
            &format!("Authorization: Bearer {}", token::mint(user, now, 3600)),
        ])
        .current_dir(&options.root)
        .stdin(Stdio::null())
        .kill_on_drop(true);
    if let Some(seed) = options.seed {
        command.args(["--seed", &seed.to_string()]);
    }
    let mut run = ApiTestRun {
        document: document.display().to_string(),
        ..ApiTestRun::default()
    };
    match command.output().await {
        Ok(output) => {
            let text = format!(
                "{}{}",
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            );
            let summary = parse_summary(&text);
            let (cases, failures) = summary.unwrap_or((0, 0));
            run.cases = cases;
            run.failures = failures;
            run.passed = output.status.success() && summary.is_some() && failures == 0;
            if !run.passed {
                // The failures section, or the whole output when there is none (a crash).
                let start = text.find("FAILURES").unwrap_or(0);
                run.details = indent(&text[start..]);
            }
        }
        Err(error) => {
            run.details = format!(
                "    cannot run {}: {error} (tools/reliability.sh installs it into .venv)\n",
                options.schemathesis.display()
            );
        }
    }
    run
}

fn indent(text: &str) -> String {
    text.lines().map(|line| format!("    {line}\n")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_summary_line_gives_cases_and_failures() {
        let passed = "Test cases:\n  507 generated, 507 passed, 10 skipped\n\nSeed: 1\n";
        assert_eq!(parse_summary(passed), Some((507, 0)));
        let failed = "Test cases:\n  326 generated, 8 found 8 unique failures, 10 skipped\n";
        assert_eq!(parse_summary(failed), Some((326, 8)));
        let one = "  145 generated, 1 found 1 unique failure, 4 skipped\n";
        assert_eq!(parse_summary(one), Some((145, 1)));
        assert_eq!(parse_summary("Traceback (most recent call last):\n"), None);
    }

    #[test]
    fn a_run_without_cases_or_with_a_failure_fails_the_report() {
        let run = |cases, failures, passed| ApiTestRun {
            document: "openapi.yaml".into(),
            cases,
            failures,
            passed,
            details: String::new(),
        };
        assert!(!ApiTestReport::default().passed());
        assert!(
            ApiTestReport {
                runs: vec![run(10, 0, true)]
            }
            .passed()
        );
        assert!(
            !ApiTestReport {
                runs: vec![run(10, 0, true), run(0, 0, true)]
            }
            .passed()
        );
        let failed = ApiTestReport {
            runs: vec![run(10, 1, false)],
        };
        assert!(!failed.passed());
        assert!(failed.render().ends_with("API tests: FAIL\n"));
    }
}

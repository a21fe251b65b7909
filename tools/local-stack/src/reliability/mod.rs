//! The reliability checks, and every check's counts side by side with the one verdict of the run.

pub mod api_tests;
pub mod bad_input;
pub mod fault_workloads;
pub mod fuzz;
pub mod isolation;
pub mod load;
pub mod memory_workloads;
pub mod reshards;

use crate::reliability::api_tests::ApiTestReport;
use crate::reliability::bad_input::BadInputReport;
use crate::reliability::fault_workloads::ExactlyOnceReport;
use crate::reliability::fuzz::FuzzReport;
use crate::reliability::isolation::IsolationReport;
use crate::reliability::load::LoadReport;
use crate::reliability::reshards::Reshard;
use crate::report::render_verdict;

/// The streams resharded, once each, in the order first resharded ("none" without any).
fn streams_resharded(made: &[Reshard]) -> String {
    let mut streams: Vec<&str> = Vec::new();
    for reshard in made {
        if !streams.contains(&reshard.stream.as_str()) {
            streams.push(&reshard.stream);
        }
    }
    if streams.is_empty() {
        "no stream".to_owned()
    } else {
        streams.join(" and ")
    }
}

#[derive(Debug)]
pub struct ReliabilityReport {
    pub fuzz: FuzzReport,
    pub isolation: IsolationReport,
    pub load: LoadReport,
    pub api_tests: ApiTestReport,
    pub exactly_once: ExactlyOnceReport,
    pub bad_input: BadInputReport,
}

impl ReliabilityReport {
    pub fn passed(&self) -> bool {
        self.fuzz.passed()
            && self.isolation.passed()
            && self.load.passed()
            && self.api_tests.passed()
            && self.exactly_once.passed()
            && self.bad_input.passed()
    }

    /// One line per check: what was tried and what went wrong, then the verdict.
    pub fn render(&self) -> String {
        let failed_fuzz: u64 = self.fuzz.targets.iter().map(|t| t.failed).sum();
        let api_cases: u64 = self.api_tests.runs.iter().map(|r| r.cases).sum();
        let api_failures: u64 = self.api_tests.runs.iter().map(|r| r.failures).sum();
        let faults = self.exactly_once.injected();
        let published: usize = self
            .exactly_once
            .workloads
            .iter()
            .map(|w| w.published)
            .sum();
        let events: usize = self.exactly_once.workloads.iter().map(|w| w.events).sum();
        let drift: u64 = self.exactly_once.workloads.iter().map(|w| w.drift()).sum();
        let bad = self.bad_input.total();
        let memory = match &self.exactly_once.memory {
            Some(memory) => (memory.events().to_string(), memory.summary()),
            None => ("0".to_owned(), "not run".to_owned()),
        };
        let lines = [
            (
                "fuzz executions",
                self.fuzz.executions().to_string(),
                format!("{failed_fuzz} failures"),
            ),
            (
                "isolation attempts",
                self.isolation.attempts.to_string(),
                format!(
                    "{} succeeded, {} unexpected answers",
                    self.isolation.breaches.len(),
                    self.isolation.unexpected.len()
                ),
            ),
            (
                "load requests",
                self.load.requests().to_string(),
                format!("{} errors", self.load.errors.len()),
            ),
            (
                "API cases",
                api_cases.to_string(),
                format!("{api_failures} failures"),
            ),
            (
                "faults injected",
                faults.faults.iter().sum::<u64>().to_string(),
                format!(
                    "of {} AWS requests; {} processes killed mid-batch",
                    faults.requests, faults.crashes
                ),
            ),
            (
                "pipeline events",
                events.to_string(),
                format!(
                    "{published} deliveries; drift {drift} (lost or double-counted); {} set aside",
                    self.exactly_once.set_aside
                ),
            ),
            (
                "reshards",
                self.exactly_once.reshards.len().to_string(),
                format!(
                    "{} of {}; {}",
                    reshards::tally(&self.exactly_once.reshards),
                    streams_resharded(&self.exactly_once.reshards),
                    self.exactly_once.streams.render()
                ),
            ),
            ("memory workloads", memory.0, memory.1),
            (
                "bad inputs tried",
                bad.tried.to_string(),
                format!(
                    "{} rejects with their reasons, {} clear errors, {} good ones processed; {} failed",
                    bad.rejected, bad.refused, bad.processed, bad.failed
                ),
            ),
        ];
        let mut out = String::from("reliability summary\n");
        for (what, count, detail) in lines {
            out.push_str(&format!("  {what:<20} {count:>8}  {detail}\n"));
        }
        render_verdict(&mut out, "reliability", self.passed());
        out
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::reliability::api_tests::ApiTestRun;
    use crate::reliability::fault_workloads::{StreamOrder, WorkloadReport};
    use crate::reliability::fuzz::TargetReport;
    use crate::reliability::memory_workloads::{CacheStats, ConsumerMemory, MemoryReport};
    use emulator::fault_proxy::FaultCounts;

    fn passing() -> ReliabilityReport {
        let mut exactly_once = ExactlyOnceReport::default();
        exactly_once.faults.insert(
            "feature-updates".into(),
            FaultCounts {
                requests: 300,
                faults: [7, 6, 5, 4, 3],
                crashes: 5,
            },
        );
        exactly_once.workloads.push(WorkloadReport {
            events: 600,
            published: 1200,
            ..WorkloadReport::default()
        });
        for stream in ["activity", "enriched"] {
            for kind in crate::reliability::reshards::PLAN {
                exactly_once.reshards.push(Reshard {
                    stream: stream.into(),
                    kind,
                    open_before: 1,
                    open_after: 2,
                });
            }
        }
        exactly_once.streams = StreamOrder {
            parallelization_factor: 3,
            records: 4321,
            out_of_order: 0,
            shards_drained: 12,
        };
        let consumer = |found_spilled, spills, sticky_cached| ConsumerMemory {
            found_spilled,
            spills,
            sticky: CacheStats {
                batches: 10,
                cache_current: 9,
                states_cached: sticky_cached,
                states_read: 100 - sticky_cached,
                conflicts: 0,
            },
            alternating: CacheStats {
                batches: 6,
                cache_current: 0,
                states_cached: 0,
                states_read: 60,
                conflicts: 0,
            },
            ..ConsumerMemory::default()
        };
        exactly_once.memory = Some(MemoryReport {
            workloads: vec![
                WorkloadReport {
                    events: 602,
                    published: 604,
                    ..WorkloadReport::default()
                },
                WorkloadReport {
                    events: 600,
                    published: 600,
                    ..WorkloadReport::default()
                },
            ],
            resends: 2,
            hot_user_events: 180,
            consumers: [
                ("feature-updates".into(), consumer(2, 5, 96)),
                ("stream-enrichment".into(), consumer(2, 7, 98)),
            ]
            .into(),
            swaps: 2,
            spill_kills: 2,
            ..MemoryReport::default()
        });
        let mut load = LoadReport::default();
        load.latencies
            .insert("GET /tasks", vec![Duration::from_millis(9); 40]);
        ReliabilityReport {
            fuzz: FuzzReport {
                seed: 1,
                targets: vec![TargetReport {
                    executions: 1234,
                    ..TargetReport::default()
                }],
            },
            isolation: IsolationReport {
                attempts: 68,
                refused: 68,
                ..IsolationReport::default()
            },
            load,
            api_tests: ApiTestReport {
                runs: vec![ApiTestRun {
                    cases: 975,
                    passed: true,
                    ..ApiTestRun::default()
                }],
            },
            exactly_once,
            bad_input: BadInputReport::default(),
        }
    }

    #[test]
    fn the_summary_gives_every_count_and_fails_with_any_check() {
        let report = passing();
        assert!(report.passed());
        let summary = report.render();
        for line in [
            "fuzz executions          1234  0 failures",
            "isolation attempts         68  0 succeeded",
            "load requests              40  0 errors",
            "API cases                 975  0 failures",
            "faults injected            25  of 300 AWS requests; 5 processes killed",
            "pipeline events           600  1200 deliveries; drift 0",
            "reshards                    8  shard count up 2, split 2, merge 2, shard count down 2 \
             of activity and enriched; 4321 stream records at parallelization factor 3, 0 out \
             of their key's order; 12 closed shards read to their end",
            "memory workloads         1202  resends 1 h and 23 h absorbed (4 found spilled), \
             hot user 180 events (12 spills), environment swaps 2 (0 conflicts after), \
             spill-crash kills 2, drift 0; warm cache: sticky 97 % of states cached, alternating 0 %",
            "bad inputs tried            0",
            "reliability: PASS",
        ] {
            assert!(summary.contains(line), "{line:?} in\n{summary}");
        }

        let mut drifted = passing();
        drifted.exactly_once.workloads[0].features_double = 2;
        drifted
            .exactly_once
            .failures
            .push("2 double-counted".into());
        assert!(drifted.render().contains("drift 2"));
        assert!(drifted.render().contains("reliability: FAIL"));
        let mut resent = passing();
        let memory = resent.exactly_once.memory.as_mut().unwrap();
        memory.workloads[0].aggregates_double = 1;
        resent
            .exactly_once
            .failures
            .push("aggregates of resend-1h".into());
        let summary = resent.render();
        assert!(
            summary.contains("resends 1 h and 23 h counted again (4 found spilled)"),
            "{summary}"
        );
        assert!(
            summary.contains("spill-crash kills 2, drift 1;"),
            "{summary}"
        );
        assert!(summary.contains("reliability: FAIL"));
        let mut skipped = passing();
        skipped.exactly_once.memory = None;
        assert!(
            skipped
                .render()
                .contains("memory workloads            0  not run")
        );
        let mut bad = passing();
        bad.bad_input.failures.push("lost".into());
        assert!(!bad.passed());
        let mut breached = passing();
        breached.isolation.breaches.push("read".into());
        assert!(!breached.passed());
        let mut unfuzzed = passing();
        unfuzzed.fuzz.targets[0].executions = 0;
        assert!(!unfuzzed.passed());
    }
}

//! A model of what AWS calls take in a region, for the fault proxy to put in front of the
//! emulator: per service, a log-normal distribution given by its median and its 99th percentile.
//! A forwarded call is answered once its drawn latency has passed since it arrived (at once if
//! the emulator took longer), so a handler's batch time is what it would be against services
//! that answer that fast, never faster than the emulator itself.

use std::time::Duration;

use rand::Rng;
use serde::Serialize;

/// z of the 99th percentile of a standard normal distribution.
const Z_P99: f64 = 2.326_347_874;

/// One service's latency: log-normal with this median and 99th percentile.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ServiceLatency {
    pub median_ms: f64,
    pub p99_ms: f64,
}

impl ServiceLatency {
    /// σ of the underlying normal distribution.
    fn sigma(&self) -> f64 {
        (self.p99_ms / self.median_ms).ln().max(0.0) / Z_P99
    }

    /// One draw: median × e^(σ·z), z standard normal (Box–Muller).
    pub fn draw(&self, rng: &mut impl Rng) -> Duration {
        let u1: f64 = rng.random_range(f64::EPSILON..1.0);
        let u2: f64 = rng.random_range(0.0..1.0);
        let z = (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos();
        Duration::from_secs_f64(self.median_ms * (self.sigma() * z).exp() / 1000.0)
    }
}

/// The latency of each service the functions call; a call to another is not delayed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LatencyModel {
    pub dynamodb: ServiceLatency,
    pub kinesis: ServiceLatency,
    pub sqs: ServiceLatency,
    /// Where the figures come from, for the report.
    pub source: String,
}

impl LatencyModel {
    /// The model the throughput benchmark uses by default. DynamoDB: AWS states single-digit
    /// millisecond latency for its item operations; 5 ms median and 20 ms p99 per call leave
    /// room for batch calls of 25 to 100 items. Kinesis and SQS: AWS publishes no latency
    /// figure; 20 ms median and 80 ms p99 for PutRecords, 10 ms and 40 ms for SQS, are
    /// assumptions to check against the `PutRecords.Latency` metric and SQS's in a real account.
    pub fn region() -> Self {
        Self {
            dynamodb: ServiceLatency {
                median_ms: 5.0,
                p99_ms: 20.0,
            },
            kinesis: ServiceLatency {
                median_ms: 20.0,
                p99_ms: 80.0,
            },
            sqs: ServiceLatency {
                median_ms: 10.0,
                p99_ms: 40.0,
            },
            source: "DynamoDB: AWS's single-digit millisecond latency for item operations, \
                     taken as 5 ms median and 20 ms p99 per call; Kinesis PutRecords (20 ms, 80 ms) \
                     and SQS (10 ms, 40 ms): assumptions, AWS publishes no figure"
                .into(),
        }
    }

    /// The latency of a call whose `X-Amz-Target` is `target` (`DynamoDB_20120810.PutItem`,
    /// `Kinesis_20131202.PutRecords`, `AmazonSQS.SendMessageBatch`), if the model has one.
    pub fn of(&self, target: Option<&str>) -> Option<&ServiceLatency> {
        match target?.split('.').next()? {
            "DynamoDB_20120810" => Some(&self.dynamodb),
            "Kinesis_20131202" => Some(&self.kinesis),
            "AmazonSQS" => Some(&self.sqs),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    use super::*;

    fn percentile(sorted: &[Duration], share: f64) -> f64 {
        sorted[((sorted.len() - 1) as f64 * share).round() as usize].as_secs_f64() * 1000.0
    }

    #[test]
    fn draws_have_the_given_median_and_99th_percentile() {
        let latency = ServiceLatency {
            median_ms: 5.0,
            p99_ms: 20.0,
        };
        let mut rng = StdRng::seed_from_u64(7);
        let mut draws: Vec<Duration> = (0..100_000).map(|_| latency.draw(&mut rng)).collect();
        draws.sort();
        let (median, p99) = (percentile(&draws, 0.5), percentile(&draws, 0.99));
        assert!((median - 5.0).abs() < 0.15, "median {median}");
        assert!((p99 - 20.0).abs() < 1.0, "p99 {p99}");
        assert!(draws[0] > Duration::ZERO);
    }

    #[test]
    fn calls_are_told_apart_by_their_service() {
        let model = LatencyModel::region();
        assert_eq!(
            model.of(Some("DynamoDB_20120810.BatchWriteItem")),
            Some(&model.dynamodb)
        );
        assert_eq!(
            model.of(Some("Kinesis_20131202.PutRecords")),
            Some(&model.kinesis)
        );
        assert_eq!(
            model.of(Some("AmazonSQS.SendMessageBatch")),
            Some(&model.sqs)
        );
        assert_eq!(model.of(Some("AWSEvents.PutEvents")), None);
        assert_eq!(model.of(None), None);
    }
}

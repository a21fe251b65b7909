//! One invocation: plan the batch, send every record and reject (each target concurrently,
//! failed entries retried while time allows), and answer with exactly the messages to redeliver.

use std::collections::BTreeSet;

use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent};
use shared::events::TimeLimits;
use time::OffsetDateTime;
use tokio::time::Instant;

use shared::delivery::{Backoff, deliver};
use shared::sinks::{self, Outgoing};

use crate::config::Config;
use crate::plan::plan;
use crate::routing::RoutingTable;

pub struct Router {
    kinesis: aws_sdk_kinesis::Client,
    sqs: aws_sdk_sqs::Client,
    table: RoutingTable,
    rejects_queue_url: String,
    limits: TimeLimits,
    backoff: Backoff,
}

/// Metric names (EMF, namespace `RealtimePipeline`) of a batch's counts.
pub const EVENTS_ROUTED: &str = "EventsRouted";
pub const EVENTS_REJECTED: &str = "EventsRejected";
pub const ENTRIES_RETRIED: &str = "EntriesRetried";
pub const MESSAGES_FAILED: &str = "MessagesFailed";

/// What one batch did, logged as structured fields.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BatchReport {
    pub messages: usize,
    pub routed: usize,
    pub rejected: usize,
    /// Entries sent again after a transient failure.
    pub retried: usize,
    /// Messages reported back for redelivery.
    pub failed: usize,
    /// Calls made to Kinesis and SQS.
    pub calls: usize,
}

impl shared::batch_runtime::BatchMetrics for BatchReport {
    /// Adds the batch's counts to the invocation's metrics.
    fn record(&self, invocation: &shared::metrics::Invocation) {
        invocation.count(EVENTS_ROUTED, self.routed as u64);
        invocation.count(EVENTS_REJECTED, self.rejected as u64);
        invocation.count(ENTRIES_RETRIED, self.retried as u64);
        invocation.count(MESSAGES_FAILED, self.failed as u64);
    }

    fn failed(&self) -> usize {
        self.failed
    }
}

impl Router {
    pub fn new(
        kinesis: aws_sdk_kinesis::Client,
        sqs: aws_sdk_sqs::Client,
        config: &Config,
    ) -> Self {
        Self {
            kinesis,
            sqs,
            table: config.routing_table.clone(),
            rejects_queue_url: config.rejects_queue_url.clone(),
            limits: config.time_limits,
            backoff: Backoff::default(),
        }
    }

    /// Routes `event`; entries still failing at `deadline` are reported for redelivery.
    pub async fn handle(
        &self,
        event: SqsEvent,
        deadline: Instant,
    ) -> (SqsBatchResponse, BatchReport) {
        let now = OffsetDateTime::now_utc();
        let messages: Vec<(&str, &str)> = event
            .records
            .iter()
            .filter_map(|record| {
                let Some(id) = record.message_id.as_deref() else {
                    // Lambda always sets it; without one a failure could not be reported.
                    tracing::error!(
                        "an SQS record without messageId cannot be processed or reported"
                    );
                    return None;
                };
                Some((id, record.body.as_deref().unwrap_or_default()))
            })
            .collect();
        let plan = plan(messages.iter().copied(), &self.table, now, self.limits);
        for reject in &plan.rejects {
            tracing::warn!(message_id = %reject.origin, code = reject.code, reason = %reject.reason, "event rejected");
        }
        let mut report = BatchReport {
            messages: event.records.len(),
            routed: plan.routed,
            rejected: plan.rejects.len(),
            ..BatchReport::default()
        };

        let streams = async {
            let mut outcome = Vec::new();
            for (stream, records) in plan.streams {
                let delivery = deliver(records, deadline, self.backoff, |batch| {
                    sinks::put_records(&self.kinesis, &stream, batch)
                })
                .await;
                let failed = delivery
                    .failed
                    .into_iter()
                    .map(|(r, why)| (r.origin, why))
                    .collect::<Vec<_>>();
                outcome.push((failed, delivery.retried, delivery.calls));
            }
            outcome
        };
        let queues = async {
            let mut outcome = Vec::new();
            let rejected_at = now;
            let rejects: Vec<Outgoing> = plan
                .rejects
                .into_iter()
                .map(|reject| Outgoing::reject(reject, rejected_at))
                .collect();
            let mut sends: Vec<(String, Vec<Outgoing>)> = plan
                .queues
                .into_iter()
                .map(|(url, messages)| (url, messages.into_iter().map(Outgoing::from).collect()))
                .collect();
            if !rejects.is_empty() {
                sends.push((self.rejects_queue_url.clone(), rejects));
            }
            for (queue_url, messages) in sends {
                let delivery = deliver(messages, deadline, self.backoff, |batch| {
                    sinks::send_messages(&self.sqs, &queue_url, batch)
                })
                .await;
                let failed = delivery
                    .failed
                    .into_iter()
                    .map(|(m, why)| (m.origin, why))
                    .collect::<Vec<_>>();
                outcome.push((failed, delivery.retried, delivery.calls));
            }
            outcome
        };
        let (streams, queues) = tokio::join!(streams, queues);

        let mut failed = BTreeSet::new();
        for (failures, retried, calls) in streams.into_iter().chain(queues) {
            report.retried += retried;
            report.calls += calls;
            for (message_id, reason) in failures {
                tracing::warn!(%message_id, %reason, "not delivered; the message will be redelivered");
                failed.insert(message_id);
            }
        }
        report.failed = failed.len();
        let mut response = SqsBatchResponse::default();
        response.set_failures(failed);
        tracing::info!(
            messages = report.messages,
            routed = report.routed,
            rejected = report.rejected,
            retried = report.retried,
            failed = report.failed,
            calls = report.calls,
            "batch done"
        );
        (response, report)
    }
}

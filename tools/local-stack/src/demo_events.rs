//! The pipeline part of the demo: producers publish user activity and orders (and some events
//! that can never be processed) to the event bus; the rule delivers them to the ingest queue,
//! the event source mapping hands them to event-router, which routes them. The demo waits for
//! the outcome and checks it: every activity and every order (as a purchase) on the activity
//! stream, every order on the orders queue, every bad event on the rejects queue.

use std::time::{Duration, Instant};

use aws_sdk_eventbridge::types::PutEventsRequestEntry;
use aws_sdk_kinesis::types::ShardIteratorType;
use aws_sdk_sqs::types::QueueAttributeName;
use serde_json::{Value, json};
use shared::events::ActivityType;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::resources::{Clients, Resources};

/// How long the demo waits for the pipeline to settle.
const SETTLE_TIMEOUT: Duration = Duration::from_secs(60);

#[derive(Debug, Clone, Copy)]
pub struct EventsOptions {
    pub users: usize,
    pub activities_per_user: usize,
    pub orders_per_user: usize,
    /// Events that break their schema or are too old, all told.
    pub invalid: usize,
}

#[derive(Debug, Default)]
pub struct EventsReport {
    pub published: usize,
    pub activities: usize,
    pub orders: usize,
    pub invalid: usize,
    pub on_stream: usize,
    pub orders_queued: usize,
    pub rejected: usize,
    pub elapsed: Duration,
    pub failures: Vec<String>,
}

impl EventsReport {
    pub fn passed(&self) -> bool {
        self.failures.is_empty() && self.published > 0
    }

    pub fn render(&self) -> String {
        let mut out = format!(
            "pipeline summary\n  published {} events to the bus: {} activity, {} orders, {} invalid\n  \
             routed in {:.2} s: {} records on the activity stream (expected {}), {} orders queued (expected {}), \
             {} rejected with reasons (expected {})\n",
            self.published,
            self.activities,
            self.orders,
            self.invalid,
            self.elapsed.as_secs_f64(),
            self.on_stream,
            self.activities + self.orders,
            self.orders_queued,
            self.orders,
            self.rejected,
            self.invalid,
        );
        for failure in &self.failures {
            out.push_str(&format!("    FAILED {failure}\n"));
        }
        out.push_str(if self.passed() {
            "pipeline: PASS\n"
        } else {
            "pipeline: FAIL\n"
        });
        out
    }
}

/// Publishes the demo events and checks where they end up.
pub async fn run(clients: &Clients, resources: &Resources, options: EventsOptions) -> EventsReport {
    let started = Instant::now();
    let mut report = EventsReport::default();
    let (Some(bus), Some(stream), Some(orders), Some(rejects)) = (
        resources.event_buses.values().next(),
        resources.streams.get("activity"),
        resources.queues.get("orders"),
        resources.queues.get("rejects"),
    ) else {
        report
            .failures
            .push("the stack has no event bus, activity stream, orders or rejects queue".into());
        return report;
    };
    let run_id = ulid::Ulid::new().to_string().to_lowercase();
    let now = OffsetDateTime::now_utc();
    let at = |seconds_ago: i64| {
        (now - time::Duration::seconds(seconds_ago))
            .format(&Rfc3339)
            .unwrap()
    };
    let orders_before = queue_depth(clients, &orders.url).await;
    let rejects_before = queue_depth(clients, &rejects.url).await;

    let mut entries: Vec<(String, Value)> = Vec::new();
    for user in 0..options.users {
        let user_id = format!("demo-{run_id}-user-{user:02}");
        for n in 0..options.activities_per_user {
            let activity_type = ActivityType::ALL[n % ActivityType::ALL.len()];
            entries.push((
                "user_activity".into(),
                json!({"eventId": format!("{run_id}-a-{user}-{n}"), "userId": user_id,
                       "type": activity_type, "timestamp": at(60 - n as i64), "itemId": format!("sku-{}", n % 7)}),
            ));
        }
        for n in 0..options.orders_per_user {
            entries.push((
                "order_placed".into(),
                json!({"eventId": format!("{run_id}-o-{user}-{n}"), "orderId": format!("{run_id}-order-{user}-{n}"),
                       "userId": user_id, "amount": 12.5 * (n + 1) as f64, "currency": "EUR",
                       "items": [{"itemId": "sku-1", "quantity": n + 1, "price": 12.5}]}),
            ));
        }
    }
    for n in 0..options.invalid {
        let detail = if n % 2 == 0 {
            json!({"eventId": format!("{run_id}-bad-{n}"), "userId": "demo-bad", "type": "teleport", "timestamp": at(5)})
        } else {
            json!({"eventId": format!("{run_id}-old-{n}"), "userId": "demo-bad", "type": "view", "timestamp": "2020-01-01T00:00:00Z"})
        };
        entries.push(("user_activity".into(), detail));
    }
    report.activities = options.users * options.activities_per_user;
    report.orders = options.users * options.orders_per_user;
    report.invalid = options.invalid;

    // PutEvents takes at most 10 entries per call.
    for chunk in entries.chunks(10) {
        let mut request = clients.eventbridge.put_events();
        for (detail_type, detail) in chunk {
            request = request.entries(
                PutEventsRequestEntry::builder()
                    .event_bus_name(bus)
                    .source("demo.shop")
                    .detail_type(detail_type)
                    .detail(detail.to_string())
                    .build(),
            );
        }
        match request.send().await {
            Ok(output) if output.failed_entry_count() == 0 => report.published += chunk.len(),
            Ok(output) => report.failures.push(format!(
                "PutEvents refused {} entries",
                output.failed_entry_count()
            )),
            Err(error) => report.failures.push(format!(
                "PutEvents: {}",
                aws_sdk_eventbridge::error::DisplayErrorContext(error)
            )),
        }
    }

    let expected_stream = report.activities + report.orders;
    let deadline = Instant::now() + SETTLE_TIMEOUT;
    loop {
        // Only this run's events count, so earlier runs on a shared emulator do not.
        report.on_stream = stream_records(clients, stream, &run_id).await.unwrap_or(0);
        report.orders_queued = queue_depth(clients, &orders.url)
            .await
            .saturating_sub(orders_before);
        report.rejected = queue_depth(clients, &rejects.url)
            .await
            .saturating_sub(rejects_before);
        let settled = report.on_stream >= expected_stream
            && report.orders_queued >= report.orders
            && report.rejected >= report.invalid;
        if settled || Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    report.elapsed = started.elapsed();
    let mut check = |ok: bool, what: String| {
        if !ok {
            report.failures.push(what);
        }
    };
    check(
        report.on_stream == expected_stream,
        format!(
            "activity stream: {} records of this run, expected {expected_stream}",
            report.on_stream
        ),
    );
    check(
        report.orders_queued == report.orders,
        format!(
            "orders queue: {} new messages, expected {}",
            report.orders_queued, report.orders
        ),
    );
    check(
        report.rejected == report.invalid,
        format!(
            "rejects queue: {} new messages, expected {}",
            report.rejected, report.invalid
        ),
    );
    report
}

/// Records on the stream whose eventId belongs to this run.
async fn stream_records(clients: &Clients, stream: &str, run_id: &str) -> Option<usize> {
    let shards = clients
        .kinesis
        .list_shards()
        .stream_name(stream)
        .send()
        .await
        .ok()?;
    let mut count = 0;
    for shard in shards.shards() {
        let mut iterator = clients
            .kinesis
            .get_shard_iterator()
            .stream_name(stream)
            .shard_id(shard.shard_id())
            .shard_iterator_type(ShardIteratorType::TrimHorizon)
            .send()
            .await
            .ok()?
            .shard_iterator;
        while let Some(current) = iterator {
            let page = clients
                .kinesis
                .get_records()
                .shard_iterator(current)
                .limit(10_000)
                .send()
                .await
                .ok()?;
            if page.records().is_empty() {
                break;
            }
            count += page
                .records()
                .iter()
                .filter(|record| {
                    serde_json::from_slice::<Value>(record.data().as_ref())
                        .ok()
                        .and_then(|value| {
                            value["eventId"].as_str().map(|id| id.starts_with(run_id))
                        })
                        .unwrap_or(false)
                })
                .count();
            iterator = page.next_shard_iterator;
        }
    }
    Some(count)
}

async fn queue_depth(clients: &Clients, url: &str) -> usize {
    clients
        .sqs
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
        .send()
        .await
        .ok()
        .and_then(|output| {
            output
                .attributes()?
                .get(&QueueAttributeName::ApproximateNumberOfMessages)?
                .parse()
                .ok()
        })
        .unwrap_or(0)
}

//! CPU per event of the router's pure work (decode, validate, route, serialize the outgoing
//! records) on 100-message batches, and the requests a batch costs.
//!
//! `cargo bench -p event-router --bench plan` prints the median of repeated runs per batch mix.

use std::hint::black_box;
use std::time::{Duration, Instant};

use event_router::plan::plan;
use event_router::routing::{DEFAULT_ROUTING_TABLE, RoutingTable};
use serde_json::json;
use shared::delivery::chunks;
use shared::events::TimeLimits;
use shared::sinks::{
    MAX_MESSAGE_BYTES_PER_CALL, MAX_MESSAGES_PER_CALL, MAX_RECORD_BYTES_PER_CALL,
    MAX_RECORDS_PER_CALL,
};
use time::OffsetDateTime;

const BATCH: usize = 100;

/// Makes the nth message body of a batch.
type MakeBody = Box<dyn Fn(usize) -> String>;
const ROUNDS: usize = 200;

fn activity(n: usize, now: OffsetDateTime) -> String {
    let timestamp = (now - time::Duration::seconds(30))
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    json!({"version": "0", "id": format!("eb-{n}"), "detail-type": "user_activity", "source": "web",
           "time": timestamp, "region": "us-east-1", "resources": [],
           "detail": {"userId": format!("user-{}", n % 37), "type": "view", "timestamp": timestamp,
                      "itemId": format!("sku-{n}"), "attributes": {"page": "product"}}})
    .to_string()
}

fn order(n: usize, now: OffsetDateTime) -> String {
    let timestamp = (now - time::Duration::seconds(30))
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    json!({"version": "0", "id": format!("eb-o-{n}"), "detail-type": "order_placed", "source": "shop",
           "time": timestamp, "region": "us-east-1", "resources": [],
           "detail": {"orderId": format!("o-{n}"), "userId": format!("user-{}", n % 37), "amount": 59.9,
                      "currency": "EUR", "items": [{"itemId": "sku-1", "quantity": 1, "price": 59.9}]}})
    .to_string()
}

fn main() {
    let table = RoutingTable::parse(DEFAULT_ROUTING_TABLE, |name| match name {
        "ACTIVITY_STREAM" => Some("activity".into()),
        "ORDERS_QUEUE_URL" => Some("https://sqs.us-east-1.amazonaws.com/1/orders.fifo".into()),
        _ => None,
    })
    .unwrap();
    let now = OffsetDateTime::now_utc();
    let mixes: [(&str, MakeBody); 3] = [
        ("100 activity events", Box::new(move |n| activity(n, now))),
        ("100 orders", Box::new(move |n| order(n, now))),
        (
            "90 activity + 10 orders",
            Box::new(move |n| {
                if n % 10 == 0 {
                    order(n, now)
                } else {
                    activity(n, now)
                }
            }),
        ),
    ];
    println!(
        "{:<26} {:>14} {:>10} {:>12}",
        "batch", "median/event", "requests", "requests/100"
    );
    for (name, make) in mixes {
        let bodies: Vec<(String, String)> =
            (0..BATCH).map(|n| (format!("m{n}"), make(n))).collect();
        let mut samples = Vec::with_capacity(ROUNDS);
        let mut last = None;
        for _ in 0..ROUNDS {
            let started = Instant::now();
            let planned = plan(
                bodies.iter().map(|(id, body)| (id.as_str(), body.as_str())),
                &table,
                now,
                TimeLimits::default(),
            );
            samples.push(started.elapsed());
            last = Some(black_box(planned));
        }
        samples.sort();
        let median: Duration = samples[ROUNDS / 2];
        let planned = last.unwrap();
        assert_eq!(planned.rejects.len(), 0, "the bench batches are valid");
        let stream_calls: usize = planned
            .streams
            .into_values()
            .map(|records| {
                chunks(
                    records,
                    MAX_RECORDS_PER_CALL,
                    MAX_RECORD_BYTES_PER_CALL,
                    |r| r.data.len() + r.partition_key.len(),
                )
                .len()
            })
            .sum();
        let queue_calls: usize = planned
            .queues
            .into_values()
            .map(|messages| {
                chunks(
                    messages,
                    MAX_MESSAGES_PER_CALL,
                    MAX_MESSAGE_BYTES_PER_CALL,
                    |m| m.body.len(),
                )
                .len()
            })
            .sum();
        let requests = stream_calls + queue_calls;
        let per_event = median / BATCH as u32;
        println!(
            "{name:<26} {:>11.2} µs {requests:>10} {:>12}",
            per_event.as_secs_f64() * 1e6,
            requests * 100 / BATCH
        );
        testkit::bench_report::record("event-router", name, per_event);
    }
}

//! The sample events in `events/event-router/` are valid and route as documented.

use std::path::PathBuf;

use aws_lambda_events::sqs::SqsEvent;
use event_router::plan::plan;
use event_router::routing::{DEFAULT_ROUTING_TABLE, RoutingTable};
use serde_json::Value;
use shared::events::TimeLimits;
use time::macros::datetime;

fn sample(name: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../events/event-router")
        .join(name);
    std::fs::read_to_string(path).expect("sample")
}

#[test]
fn the_sample_batch_routes_both_events() {
    let event: SqsEvent = serde_json::from_str(&sample("sqs-ingest-batch.json")).unwrap();
    let table = RoutingTable::parse(DEFAULT_ROUTING_TABLE, |name| match name {
        "ACTIVITY_STREAM" => Some("prod-activity".into()),
        "ORDERS_QUEUE_URL" => {
            Some("https://sqs.us-east-1.amazonaws.com/111122223333/prod-orders.fifo".into())
        }
        _ => None,
    })
    .unwrap();
    let messages: Vec<(&str, &str)> = event
        .records
        .iter()
        .map(|r| (r.message_id.as_deref().unwrap(), r.body.as_deref().unwrap()))
        .collect();
    let planned = plan(
        messages,
        &table,
        datetime!(2026-11-23 10:17:00 UTC),
        TimeLimits::default(),
    );
    assert!(planned.rejects.is_empty(), "{:?}", planned.rejects);
    assert_eq!(planned.routed, 2);
    let records: Vec<Value> = planned.streams["prod-activity"]
        .iter()
        .map(|r| serde_json::from_slice(&r.data).unwrap())
        .collect();
    assert_eq!(records[0]["eventId"], "evt-01JDB0Q8W3");
    assert_eq!(records[1]["type"], "purchase");
    assert_eq!(planned.queues.values().next().unwrap().len(), 1);

    // The EventBridge samples are the bodies of that batch.
    for (name, record) in [
        ("eventbridge-user-activity.json", 0),
        ("eventbridge-order-placed.json", 1),
    ] {
        let sample: Value = serde_json::from_str(&sample(name)).unwrap();
        let body: Value =
            serde_json::from_str(event.records[record].body.as_deref().unwrap()).unwrap();
        assert_eq!(sample, body, "{name}");
    }
}

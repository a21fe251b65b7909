//! event-router against the emulator `tools/test.sh` runs: routing of each event type, rejects
//! with reasons, partial failures reported per message, chunking, the EventBridge rule the
//! templates deploy, and redelivery.

use std::collections::BTreeMap;
use std::time::Duration;

use aws_lambda_events::sqs::{SqsEvent, SqsMessage};
use aws_sdk_sqs::types::QueueAttributeName;
use event_router::routing::{DEFAULT_ROUTING_TABLE, RoutingTable};
use event_router::{Config, Router};
use serde_json::{Value, json};
use shared::clients::ClientSettings;
use shared::events::TimeLimits;
use testkit::unique;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use tokio::time::Instant;

struct Fixture {
    kinesis: aws_sdk_kinesis::Client,
    sqs: aws_sdk_sqs::Client,
    stream: String,
    orders_url: String,
    rejects_url: String,
}

async fn fixture() -> Fixture {
    let sdk = testkit::emulator::sdk_config(ClientSettings::batch_consumer()).await;
    let kinesis = aws_sdk_kinesis::Client::new(&sdk);
    let sqs = aws_sdk_sqs::Client::new(&sdk);
    let stream = testkit::emulator::stream(&kinesis, "activity").await;
    let orders_url = sqs
        .create_queue()
        .queue_name(format!("{}.fifo", unique("orders")))
        .attributes(QueueAttributeName::FifoQueue, "true")
        .send()
        .await
        .expect("create orders queue")
        .queue_url
        .unwrap();
    let rejects_url = create_queue(&sqs, &unique("rejects")).await;
    Fixture {
        kinesis,
        sqs,
        stream,
        orders_url,
        rejects_url,
    }
}

async fn create_queue(sqs: &aws_sdk_sqs::Client, name: &str) -> String {
    sqs.create_queue()
        .queue_name(name)
        .send()
        .await
        .expect("create queue")
        .queue_url
        .unwrap()
}

impl Fixture {
    fn router_with(&self, table: &str, orders_url: &str) -> Router {
        let table = RoutingTable::parse(table, |name| match name {
            "ACTIVITY_STREAM" => Some(self.stream.clone()),
            "ORDERS_QUEUE_URL" => Some(orders_url.to_owned()),
            _ => None,
        })
        .unwrap();
        Router::new(
            self.kinesis.clone(),
            self.sqs.clone(),
            &Config {
                routing_table: table,
                rejects_queue_url: self.rejects_url.clone(),
                time_limits: TimeLimits::default(),
            },
        )
    }

    fn router(&self) -> Router {
        self.router_with(DEFAULT_ROUTING_TABLE, &self.orders_url)
    }

    async fn stream_records(&self) -> Vec<(String, Value)> {
        testkit::stream_reader::read_all(&self.kinesis, &self.stream)
            .await
            .unwrap()
            .iter()
            .map(|record| {
                (
                    record.partition_key().unwrap_or_default().to_owned(),
                    serde_json::from_slice(record.data().as_ref()).unwrap(),
                )
            })
            .collect()
    }

    /// Every message on `queue_url`, with its attributes, deleting none (visibility hides them).
    async fn drain(&self, queue_url: &str) -> Vec<aws_sdk_sqs::types::Message> {
        testkit::queue_reader::receive_all(&self.sqs, queue_url).await
    }
}

fn now_text(offset_seconds: i64) -> String {
    (OffsetDateTime::now_utc() + time::Duration::seconds(offset_seconds))
        .format(&Rfc3339)
        .unwrap()
}

fn eventbridge(id: &str, detail_type: &str, detail: Value) -> String {
    json!({"version": "0", "id": id, "detail-type": detail_type, "source": "tests",
           "time": now_text(-5), "region": "us-east-1", "resources": [], "detail": detail})
    .to_string()
}

fn activity(id: &str, user: &str) -> String {
    eventbridge(
        id,
        "user_activity",
        json!({"userId": user, "type": "view", "timestamp": now_text(-10), "itemId": "sku-1"}),
    )
}

fn order(id: &str, user: &str) -> String {
    eventbridge(
        id,
        "order_placed",
        json!({"orderId": format!("order-{id}"), "userId": user, "amount": 19.5,
        "currency": "EUR", "items": [{"itemId": "sku-1", "quantity": 1, "price": 19.5}]}),
    )
}

fn sqs_event(messages: &[(&str, String)]) -> SqsEvent {
    let mut event = SqsEvent::default();
    event.records = messages
        .iter()
        .map(|(id, body)| {
            let mut message = SqsMessage::default();
            message.message_id = Some((*id).to_owned());
            message.body = Some(body.clone());
            message
        })
        .collect();
    event
}

fn failures(response: &aws_lambda_events::sqs::SqsBatchResponse) -> Vec<String> {
    let mut ids: Vec<String> = response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.clone())
        .collect();
    ids.sort();
    ids
}

fn deadline() -> Instant {
    Instant::now() + Duration::from_secs(20)
}

#[tokio::test]
async fn each_event_type_reaches_its_targets_and_bad_input_is_rejected_with_its_reason() {
    let fixture = fixture().await;
    let router = fixture.router();
    let batch = [
        ("m-activity", activity("evt-a", "user-1")),
        ("m-order", order("evt-o", "user-2")),
        ("m-not-json", "{nope".to_owned()),
        ("m-unknown", eventbridge("evt-x", "invoice_sent", json!({}))),
        (
            "m-schema",
            eventbridge(
                "evt-s",
                "user_activity",
                json!({"userId": "u", "type": "teleport", "timestamp": now_text(0)}),
            ),
        ),
        (
            "m-future",
            eventbridge(
                "evt-f",
                "user_activity",
                json!({"userId": "u", "type": "view", "timestamp": now_text(3600)}),
            ),
        ),
    ];
    let (response, report) = router.handle(sqs_event(&batch), deadline()).await;
    assert!(response.batch_item_failures.is_empty(), "{response:?}");
    assert_eq!((report.routed, report.rejected, report.failed), (2, 4, 0));

    let records = fixture.stream_records().await;
    assert_eq!(records.len(), 2);
    let by_event: BTreeMap<String, (String, Value)> = records
        .into_iter()
        .map(|(key, record)| {
            (
                record["eventId"].as_str().unwrap().to_owned(),
                (key, record),
            )
        })
        .collect();
    assert_eq!(by_event["evt-a"].0, "user-1", "partition key = userId");
    assert_eq!(by_event["evt-a"].1["type"], "view");
    assert_eq!(
        by_event["evt-o"].1["type"], "purchase",
        "an order is a purchase on the stream"
    );
    assert_eq!(by_event["evt-o"].1["amount"], 19.5);

    let orders = fixture.drain(&fixture.orders_url).await;
    assert_eq!(orders.len(), 1);
    let order: Value = serde_json::from_str(orders[0].body().unwrap()).unwrap();
    assert_eq!(order["orderId"], "order-evt-o");
    let attributes = orders[0].attributes().unwrap();
    assert_eq!(
        attributes[&aws_sdk_sqs::types::MessageSystemAttributeName::MessageGroupId],
        "user-2"
    );

    let rejects = fixture.drain(&fixture.rejects_url).await;
    let mut found: Vec<(String, String, String)> = rejects
        .iter()
        .map(|message| {
            let attribute = |name: &str| {
                message.message_attributes().unwrap()[name]
                    .string_value()
                    .unwrap()
                    .to_owned()
            };
            (
                attribute("source-message-id"),
                attribute("reject-code"),
                message.body().unwrap().to_owned(),
            )
        })
        .collect();
    found.sort();
    let expected_codes = [
        ("m-future", "timestamp-in-future"),
        ("m-not-json", "not-json"),
        ("m-schema", "schema-violation"),
        ("m-unknown", "unknown-detail-type"),
    ];
    assert_eq!(found.len(), 4);
    for ((id, code, body), (expected_id, expected_code)) in found.iter().zip(expected_codes) {
        assert_eq!((id.as_str(), code.as_str()), (expected_id, expected_code));
        let original = &batch.iter().find(|(m, _)| *m == expected_id).unwrap().1;
        assert_eq!(body, original, "the reject carries the original body");
    }
    let schema_reason = rejects
        .iter()
        .find(|m| {
            m.message_attributes().unwrap()["reject-code"].string_value()
                == Some("schema-violation")
        })
        .unwrap()
        .message_attributes()
        .unwrap()["reject-reason"]
        .string_value()
        .unwrap()
        .to_owned();
    assert!(schema_reason.contains("teleport"), "{schema_reason}");
}

#[tokio::test]
async fn a_target_that_does_not_exist_fails_exactly_the_messages_routed_to_it() {
    let fixture = fixture().await;
    let missing_queue = fixture.orders_url.replace("orders-", "missing-");
    let router = fixture.router_with(DEFAULT_ROUTING_TABLE, &missing_queue);
    let batch = [
        ("a1", activity("e1", "u1")),
        ("o1", order("e2", "u1")),
        ("a2", activity("e3", "u2")),
        ("o2", order("e4", "u3")),
        ("bad", "[]".to_owned()),
    ];
    let (response, report) = router.handle(sqs_event(&batch), deadline()).await;
    assert_eq!(failures(&response), ["o1", "o2"]);
    assert_eq!(
        (report.failed, report.rejected, report.retried),
        (2, 1, 0),
        "a missing queue is not retried"
    );
    assert_eq!(
        fixture.stream_records().await.len(),
        4,
        "the other targets were written"
    );
}

#[tokio::test]
async fn batches_above_the_call_limits_are_chunked() {
    let fixture = fixture().await;
    let router = fixture.router();
    let activities: Vec<(String, String)> = (0..1001)
        .map(|n| {
            (
                format!("a{n}"),
                activity(&format!("e{n}"), &format!("user-{}", n % 50)),
            )
        })
        .collect();
    let borrowed: Vec<(&str, String)> = activities
        .iter()
        .map(|(id, body)| (id.as_str(), body.clone()))
        .collect();
    let (response, report) = router.handle(sqs_event(&borrowed), deadline()).await;
    assert!(response.batch_item_failures.is_empty());
    assert_eq!(
        report.calls, 3,
        "1001 records: PutRecords of 500, 500 and 1"
    );
    assert_eq!(fixture.stream_records().await.len(), 1001);

    let orders: Vec<(String, String)> = (0..25)
        .map(|n| {
            (
                format!("o{n}"),
                order(&format!("oe{n}"), &format!("user-{n}")),
            )
        })
        .collect();
    let borrowed: Vec<(&str, String)> = orders
        .iter()
        .map(|(id, body)| (id.as_str(), body.clone()))
        .collect();
    let (response, report) = router.handle(sqs_event(&borrowed), deadline()).await;
    assert!(response.batch_item_failures.is_empty());
    assert_eq!(
        report.calls,
        1 + 3,
        "one PutRecords, SendMessageBatch of 10, 10 and 5"
    );
    assert_eq!(fixture.drain(&fixture.orders_url).await.len(), 25);
}

#[tokio::test]
async fn a_redelivered_message_is_absorbed_by_event_id() {
    let fixture = fixture().await;
    let router = fixture.router();
    let batch = [("m1", order("evt-dup", "user-9"))];
    for _ in 0..2 {
        let (response, _) = router.handle(sqs_event(&batch), deadline()).await;
        assert!(response.batch_item_failures.is_empty());
    }
    // The orders queue is FIFO with the eventId as deduplication id: SQS keeps one.
    assert_eq!(fixture.drain(&fixture.orders_url).await.len(), 1);
    // The stream gets the same record twice, byte for byte, under the same eventId: its
    // consumers apply each eventId once.
    let records = fixture.stream_records().await;
    assert_eq!(records.len(), 2);
    assert_eq!(records[0], records[1]);
    assert_eq!(records[0].1["eventId"], "evt-dup");
}

#[tokio::test]
async fn the_deployed_rule_delivers_producer_events_to_the_ingest_queue() {
    let fixture = fixture().await;
    let sdk = testkit::emulator::sdk_config(ClientSettings::batch_consumer()).await;
    let events = aws_sdk_eventbridge::Client::new(&sdk);
    let stack = stack::Stack::workspace();
    let (bus_key, bus) = stack
        .event_buses
        .iter()
        .next()
        .expect("the manifest has a bus");
    let (rule_key, rule) = bus.rules.iter().next().expect("the bus has a rule");
    let bus_name = unique(bus_key);
    events
        .create_event_bus()
        .name(&bus_name)
        .send()
        .await
        .unwrap();
    let ingest_url = create_queue(&fixture.sqs, &unique("ingest")).await;
    let ingest_arn = fixture
        .sqs
        .get_queue_attributes()
        .queue_url(&ingest_url)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .unwrap()
        .attributes()
        .unwrap()[&QueueAttributeName::QueueArn]
        .clone();
    let rule_name = unique(rule_key);
    events
        .put_rule()
        .name(&rule_name)
        .event_bus_name(&bus_name)
        .event_pattern(rule.pattern.to_string())
        .send()
        .await
        .unwrap();
    events
        .put_targets()
        .rule(&rule_name)
        .event_bus_name(&bus_name)
        .targets(
            aws_sdk_eventbridge::types::Target::builder()
                .id("ingest")
                .arn(ingest_arn)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();

    let entry = |detail_type: &str, detail: Value| {
        aws_sdk_eventbridge::types::PutEventsRequestEntry::builder()
            .event_bus_name(&bus_name)
            .source("shop.web")
            .detail_type(detail_type)
            .detail(detail.to_string())
            .build()
    };
    let put = events
        .put_events()
        .entries(entry(
            "user_activity",
            json!({"userId": "eb-user", "type": "search", "timestamp": now_text(-1)}),
        ))
        .entries(entry(
            "order_placed",
            json!({"orderId": "eb-order", "userId": "eb-user", "amount": 5.0,
            "currency": "USD", "items": [{"itemId": "x", "quantity": 1, "price": 5.0}]}),
        ))
        .entries(entry("page_rendered", json!({"userId": "eb-user"})))
        .send()
        .await
        .unwrap();
    assert_eq!(put.failed_entry_count(), 0);

    let delivered = fixture.drain(&ingest_url).await;
    assert_eq!(
        delivered.len(),
        2,
        "the pattern lets only the two known detail-types through"
    );
    let batch: Vec<(String, String)> = delivered
        .iter()
        .map(|m| {
            (
                m.message_id().unwrap().to_owned(),
                m.body().unwrap().to_owned(),
            )
        })
        .collect();
    let borrowed: Vec<(&str, String)> = batch
        .iter()
        .map(|(id, body)| (id.as_str(), body.clone()))
        .collect();
    let (response, report) = fixture
        .router()
        .handle(sqs_event(&borrowed), deadline())
        .await;
    assert!(response.batch_item_failures.is_empty());
    assert_eq!(
        (report.routed, report.rejected),
        (2, 0),
        "the emulator's envelope validates"
    );
    let records = fixture.stream_records().await;
    let mut types: Vec<String> = records
        .iter()
        .map(|(_, r)| r["type"].as_str().unwrap().to_owned())
        .collect();
    types.sort();
    assert_eq!(types, ["purchase", "search"]);
    assert_eq!(fixture.drain(&fixture.orders_url).await.len(), 1);
}

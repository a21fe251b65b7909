//! The pure part of routing a batch: decode and validate each SQS message body, and decide
//! exactly which records go to which stream and queue, and which messages are rejected and why.
//! No I/O: the handler sends what the plan says.

use std::collections::BTreeMap;

use aws_lambda_events::eventbridge::EventBridgeEvent;
use serde_json::value::RawValue;
use shared::events::{
    self, ActivityEvent, DomainEvent, Envelope, OrderPlaced, Rejection, TimeLimits,
};
use shared::json;
use shared::sinks::{Outgoing, Reject, StreamRecord};
use time::OffsetDateTime;

use crate::routing::{Payload, RoutingTable, Target};

/// An SQS message to send, for the message it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueMessage {
    pub message_id: String,
    pub body: String,
    /// FIFO queues: message group and deduplication id.
    pub group_id: Option<String>,
    pub deduplication_id: Option<String>,
}

impl From<QueueMessage> for Outgoing {
    fn from(message: QueueMessage) -> Self {
        Self {
            origin: message.message_id,
            body: message.body,
            group_id: message.group_id,
            deduplication_id: message.deduplication_id,
            attributes: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Plan {
    /// Records per stream; their origin is the SQS message id.
    pub streams: BTreeMap<String, Vec<StreamRecord>>,
    pub queues: BTreeMap<String, Vec<QueueMessage>>,
    /// Messages that can never be routed, with why; the body exactly as received.
    pub rejects: Vec<Reject>,
    /// Messages routed to at least one target.
    pub routed: usize,
}

/// Why a message is rejected, beyond the event's own validation.
#[derive(Debug, Clone, PartialEq, Eq)]
enum RouteRejection {
    Invalid(Rejection),
    Unrouted { detail_type: String, source: String },
    MissingKey { field: String },
}

impl RouteRejection {
    fn code(&self) -> &'static str {
        match self {
            RouteRejection::Invalid(rejection) => rejection.code(),
            RouteRejection::Unrouted { .. } => "unrouted",
            RouteRejection::MissingKey { .. } => "missing-key-field",
        }
    }

    fn reason(&self) -> String {
        match self {
            RouteRejection::Invalid(rejection) => rejection.to_string(),
            RouteRejection::Unrouted {
                detail_type,
                source,
            } => format!("no route for detail-type {detail_type:?} from source {source:?}"),
            RouteRejection::MissingKey { field } => {
                format!("the routing key field {field} is absent from the event")
            }
        }
    }
}

/// Plans `messages` (message id, body) against `table` at processing time `now`.
pub fn plan<'a>(
    messages: impl IntoIterator<Item = (&'a str, &'a str)>,
    table: &RoutingTable,
    now: OffsetDateTime,
    limits: TimeLimits,
) -> Plan {
    let mut plan = Plan::default();
    for (message_id, body) in messages {
        match route_message(body, table, now, limits) {
            Ok(outputs) => {
                plan.routed += 1;
                for output in outputs {
                    match output {
                        Output::Stream {
                            stream,
                            partition_key,
                            data,
                        } => plan.streams.entry(stream).or_default().push(StreamRecord {
                            origin: message_id.to_owned(),
                            partition_key,
                            data,
                        }),
                        Output::Queue {
                            queue_url,
                            body,
                            group_id,
                            deduplication_id,
                        } => plan
                            .queues
                            .entry(queue_url)
                            .or_default()
                            .push(QueueMessage {
                                message_id: message_id.to_owned(),
                                body,
                                group_id,
                                deduplication_id,
                            }),
                    }
                }
            }
            Err(rejection) => plan.rejects.push(Reject {
                origin: message_id.to_owned(),
                code: rejection.code(),
                reason: rejection.reason(),
                body: body.to_owned(),
                source: vec![("source-message-id", message_id.to_owned())],
            }),
        }
    }
    plan
}

enum Output {
    Stream {
        stream: String,
        partition_key: String,
        data: Vec<u8>,
    },
    Queue {
        queue_url: String,
        body: String,
        group_id: Option<String>,
        deduplication_id: Option<String>,
    },
}

fn route_message(
    body: &str,
    table: &RoutingTable,
    now: OffsetDateTime,
    limits: TimeLimits,
) -> Result<Vec<Output>, RouteRejection> {
    let invalid = RouteRejection::Invalid;
    // One pass over the body: the envelope typed, the detail kept as its raw text for the
    // schema of its detail-type. The envelope must be an object (an array of its fields would
    // otherwise pass for it); the detail is held to the same by its schema.
    let envelope: EventBridgeEvent<Box<RawValue>> = json::expect_object(body.as_bytes())
        .and_then(|()| serde_json::from_str(body))
        .map_err(|error| {
            invalid(if error.is_syntax() || error.is_eof() {
                Rejection::NotJson(error.to_string())
            } else {
                Rejection::NotAnEvent(error.to_string())
            })
        })?;
    let time = envelope.time.and_then(|t| {
        OffsetDateTime::from_unix_timestamp_nanos(t.timestamp_nanos_opt()?.into()).ok()
    });
    let event = events::validate(
        Envelope {
            id: envelope.id.as_deref(),
            detail_type: &envelope.detail_type,
            time,
        },
        envelope.detail.get(),
        now,
        limits,
    )
    .map_err(invalid)?;
    let targets = table
        .targets(&envelope.detail_type, &envelope.source)
        .ok_or_else(|| RouteRejection::Unrouted {
            detail_type: envelope.detail_type.clone(),
            source: envelope.source.clone(),
        })?;
    targets
        .iter()
        .map(|target| output(&event, target))
        .collect()
}

/// A record as written to a target.
enum Record {
    Activity(ActivityEvent),
    Order(OrderPlaced),
}

impl Record {
    fn of(event: &DomainEvent, payload: Payload) -> Self {
        match (event, payload) {
            (DomainEvent::Order(order), Payload::Event) => Record::Order(order.clone()),
            (event, _) => Record::Activity(event.as_activity()),
        }
    }

    /// A top-level string field of the record, by its JSON name.
    fn field(&self, name: &str) -> Option<&str> {
        let value = match (self, name) {
            (Record::Activity(a), "eventId") => Some(a.event_id.as_str()),
            (Record::Activity(a), "userId") => Some(a.user_id.as_str()),
            (Record::Activity(a), "type") => Some(a.activity_type.as_str()),
            (Record::Activity(a), "itemId") => a.item_id.as_deref(),
            (Record::Order(o), "eventId") => Some(o.event_id.as_str()),
            (Record::Order(o), "orderId") => Some(o.order_id.as_str()),
            (Record::Order(o), "userId") => Some(o.user_id.as_str()),
            (Record::Order(o), "currency") => Some(o.currency.as_str()),
            _ => None,
        };
        value.filter(|text| !text.is_empty())
    }

    fn to_vec(&self) -> Vec<u8> {
        match self {
            Record::Activity(activity) => serde_json::to_vec(activity),
            Record::Order(order) => serde_json::to_vec(order),
        }
        .expect("records serialize")
    }
}

fn key(record: &Record, name: &str) -> Result<String, RouteRejection> {
    record
        .field(name)
        .map(str::to_owned)
        .ok_or_else(|| RouteRejection::MissingKey {
            field: name.to_owned(),
        })
}

fn output(event: &DomainEvent, target: &Target) -> Result<Output, RouteRejection> {
    match target {
        Target::Kinesis {
            stream,
            partition_key,
            payload,
        } => {
            let record = Record::of(event, *payload);
            Ok(Output::Stream {
                stream: stream.clone(),
                partition_key: key(&record, partition_key)?,
                data: record.to_vec(),
            })
        }
        Target::Sqs {
            queue_url,
            message_group,
            payload,
        } => {
            let record = Record::of(event, *payload);
            let group_id = message_group
                .as_deref()
                .map(|group| key(&record, group).map(|value| fifo_id(&value)))
                .transpose()?;
            Ok(Output::Queue {
                queue_url: queue_url.clone(),
                body: String::from_utf8(record.to_vec()).expect("JSON is UTF-8"),
                deduplication_id: group_id.as_ref().map(|_| fifo_id(event.event_id())),
                group_id,
            })
        }
    }
}

/// A FIFO message group or deduplication id for `value`: the value itself when SQS accepts it
/// (1 to 128 printable ASCII characters), else a stable digest of it, so an id such as a
/// non-ASCII user id still groups and deduplicates, the same way on every delivery.
pub fn fifo_id(value: &str) -> String {
    use sha2::{Digest, Sha256};
    let accepted =
        (1..=128).contains(&value.len()) && value.bytes().all(|b| (0x21..=0x7E).contains(&b));
    if accepted {
        return value.to_owned();
    }
    let digest = Sha256::digest(value.as_bytes());
    let hex: String = digest.iter().map(|byte| format!("{byte:02x}")).collect();
    format!("sha256-{hex}")
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};
    use time::macros::datetime;

    use super::*;
    use crate::routing::DEFAULT_ROUTING_TABLE;

    const NOW: OffsetDateTime = datetime!(2026-11-23 10:00:00 UTC);
    const ORDERS: &str = "https://sqs.us-east-1.amazonaws.com/1/orders.fifo";

    fn table() -> RoutingTable {
        RoutingTable::parse(DEFAULT_ROUTING_TABLE, |name| match name {
            "ACTIVITY_STREAM" => Some("activity".into()),
            "ORDERS_QUEUE_URL" => Some(ORDERS.into()),
            _ => None,
        })
        .unwrap()
    }

    fn event(detail_type: &str, detail: Value) -> String {
        json!({"version": "0", "id": format!("eb-{detail_type}"), "detail-type": detail_type,
               "source": "test", "time": "2026-11-23T09:59:00Z", "region": "us-east-1",
               "resources": [], "detail": detail})
        .to_string()
    }

    fn plan_of(bodies: &[(&str, String)]) -> Plan {
        plan(
            bodies.iter().map(|(id, body)| (*id, body.as_str())),
            &table(),
            NOW,
            TimeLimits::default(),
        )
    }

    #[test]
    fn activity_goes_to_the_stream_keyed_by_user() {
        let body = event(
            "user_activity",
            json!({"userId": "u-7", "type": "click", "timestamp": "2026-11-23T09:58:00Z"}),
        );
        let plan = plan_of(&[("m1", body)]);
        assert_eq!(plan.routed, 1);
        let records = &plan.streams["activity"];
        assert_eq!(records.len(), 1);
        assert_eq!(records[0].partition_key, "u-7");
        let data: Value = serde_json::from_slice(&records[0].data).unwrap();
        assert_eq!(data["eventId"], "eb-user_activity");
        assert_eq!(data["type"], "click");
        assert!(plan.queues.is_empty() && plan.rejects.is_empty());
    }

    #[test]
    fn an_order_goes_to_the_stream_as_a_purchase_and_to_the_fifo_queue() {
        let body = event(
            "order_placed",
            json!({"eventId": "ord-evt-1", "orderId": "o-1", "userId": "u-1",
            "amount": 42.0, "currency": "USD", "items": [{"itemId": "a", "quantity": 2, "price": 21.0}]}),
        );
        let plan = plan_of(&[("m1", body)]);
        let purchase: Value = serde_json::from_slice(&plan.streams["activity"][0].data).unwrap();
        assert_eq!(purchase["type"], "purchase");
        assert_eq!(purchase["amount"], 42.0);
        assert_eq!(purchase["eventId"], "ord-evt-1");
        let order = &plan.queues[ORDERS][0];
        assert_eq!(order.group_id.as_deref(), Some("u-1"));
        assert_eq!(order.deduplication_id.as_deref(), Some("ord-evt-1"));
        let body: Value = serde_json::from_str(&order.body).unwrap();
        assert_eq!(body["orderId"], "o-1");
        assert_eq!(body["timestamp"], "2026-11-23T09:59:00Z");
    }

    #[test]
    fn every_class_of_bad_input_is_rejected_with_its_reason_and_body() {
        let bodies = [
            ("not-json", "{oops".to_owned()),
            ("not-event", json!({"hello": "world"}).to_string()),
            ("unknown-type", event("invoice_sent", json!({}))),
            (
                "schema",
                event(
                    "user_activity",
                    json!({"type": "click", "timestamp": "2026-11-23T09:58:00Z"}),
                ),
            ),
            (
                "future",
                event(
                    "user_activity",
                    json!({"userId": "u", "type": "click", "timestamp": "2026-11-23T11:00:00Z"}),
                ),
            ),
            (
                "old",
                event(
                    "user_activity",
                    json!({"userId": "u", "type": "click", "timestamp": "2026-01-01T00:00:00Z"}),
                ),
            ),
            (
                "good",
                event(
                    "user_activity",
                    json!({"userId": "u", "type": "view", "timestamp": "2026-11-23T09:58:00Z"}),
                ),
            ),
        ];
        let plan = plan_of(&bodies);
        assert_eq!(plan.routed, 1, "the batch goes on");
        let codes: Vec<(&str, &str)> = plan
            .rejects
            .iter()
            .map(|r| (r.origin.as_str(), r.code))
            .collect();
        assert_eq!(
            codes,
            [
                ("not-json", "not-json"),
                ("not-event", "not-an-event"),
                ("unknown-type", "unknown-detail-type"),
                ("schema", "schema-violation"),
                ("future", "timestamp-in-future"),
                ("old", "timestamp-too-old"),
            ]
        );
        for (reject, (_, body)) in plan.rejects.iter().zip(&bodies) {
            assert_eq!(&reject.body, body, "the original body, unchanged");
            assert!(!reject.reason.is_empty());
        }
        assert!(plan.rejects[3].reason.contains("missing field `userId`"));
    }

    #[test]
    fn an_envelope_or_a_detail_that_is_not_an_object_is_rejected() {
        let detail = json!({"userId": "u", "type": "view", "timestamp": "2026-11-23T09:58:00Z"});
        // The envelope's fields by position: version, id, detail-type, source, account, time,
        // region, resources, detail. Read by position, it was routed.
        let positional = json!([
            "0",
            "eb-1",
            "user_activity",
            "test",
            null,
            "2026-11-23T09:59:00Z",
            "us-east-1",
            [],
            detail
        ])
        .to_string();
        let mut bodies = vec![("positional", positional)];
        for (name, body) in [
            ("string", json!("user_activity")),
            ("number", json!(1)),
            ("null", json!(null)),
            ("true", json!(true)),
        ] {
            bodies.push((name, body.to_string()));
        }
        // Read by position, this detail was a valid activity.
        let detail_array = event(
            "user_activity",
            json!(["e-1", "u", "view", "2026-11-23T09:58:00Z"]),
        );
        bodies.push(("detail-array", detail_array));
        bodies.push(("detail-null", event("user_activity", json!(null))));
        bodies.push(("broken-array", "[\"0\", ".to_owned()));
        bodies.push(("good", event("user_activity", detail)));
        let plan = plan_of(&bodies);
        assert_eq!(plan.routed, 1, "only the object");
        let rejects: Vec<(&str, &str, &str)> = plan
            .rejects
            .iter()
            .map(|r| (r.origin.as_str(), r.code, r.reason.as_str()))
            .collect();
        let not_an_event = |kind: &str| {
            format!("the body is not an EventBridge event: must be a JSON object, not {kind}")
        };
        assert_eq!(
            rejects,
            [
                (
                    "positional",
                    "not-an-event",
                    not_an_event("an array").as_str()
                ),
                ("string", "not-an-event", &not_an_event("a string")),
                ("number", "not-an-event", &not_an_event("a number")),
                ("null", "not-an-event", &not_an_event("null")),
                ("true", "not-an-event", &not_an_event("a boolean")),
                (
                    "detail-array",
                    "schema-violation",
                    "detail: must be a JSON object, not an array"
                ),
                (
                    "detail-null",
                    "schema-violation",
                    "detail: must be a JSON object, not null"
                ),
                (
                    "broken-array",
                    "not-json",
                    "the body is not JSON: EOF while parsing a value at line 1 column 6"
                ),
            ]
        );
    }

    #[test]
    fn a_known_type_without_a_route_is_rejected_as_unrouted() {
        let table = RoutingTable::parse(
            r#"{"routes": [{"detail_type": "user_activity", "targets": [{"kinesis": {"stream": "s"}}]}]}"#,
            |_| None,
        )
        .unwrap();
        let body = event(
            "order_placed",
            json!({"orderId": "o", "userId": "u", "amount": 1.0,
            "currency": "USD", "items": [{"itemId": "a", "quantity": 1, "price": 1.0}]}),
        );
        let plan = plan([("m", body.as_str())], &table, NOW, TimeLimits::default());
        assert_eq!(plan.rejects[0].code, "unrouted");
        assert!(
            plan.rejects[0]
                .reason
                .contains("\"order_placed\" from source \"test\"")
        );
    }

    #[test]
    fn fifo_ids_are_always_acceptable_to_sqs_and_stable() {
        assert_eq!(fifo_id("user-42"), "user-42");
        let hashed = fifo_id("josé garcía");
        assert!(
            hashed.starts_with("sha256-") && hashed.len() == 71,
            "{hashed}"
        );
        assert_eq!(hashed, fifo_id("josé garcía"), "the same on every delivery");
        assert_ne!(hashed, fifo_id("jose garcia"));
        assert!(fifo_id(&"x".repeat(129)).starts_with("sha256-"));
        assert!(
            fifo_id("a b").starts_with("sha256-"),
            "spaces are not accepted by SQS"
        );
    }

    #[test]
    fn a_missing_routing_key_rejects_the_message() {
        let table = RoutingTable::parse(
            r#"{"routes": [{"detail_type": "user_activity", "targets": [{"kinesis": {"stream": "s", "partition_key": "itemId"}}]}]}"#,
            |_| None,
        )
        .unwrap();
        let body = event(
            "user_activity",
            json!({"userId": "u", "type": "login", "timestamp": "2026-11-23T09:58:00Z"}),
        );
        let plan = plan([("m", body.as_str())], &table, NOW, TimeLimits::default());
        assert_eq!(plan.rejects[0].code, "missing-key-field");
        assert!(plan.streams.is_empty(), "nothing half-routed");
    }
}

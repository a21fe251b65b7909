//! The catalogue of inputs: per trigger, what is sent and what a correct system does with it.
//! Every pipeline input carries a marker unique to it, so a reject can be traced back.

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use hyper::Method;
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// Where an input enters the system.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Trigger {
    /// PutEvents on the event bus; the rule delivers to the ingest queue.
    Bus,
    /// SendMessage straight to the ingest queue (a producer bypassing the bus).
    IngestQueue,
    /// PutRecord on the activity stream (stream-enrichment reads it).
    ActivityStream,
    /// PutRecord on the enriched stream (feature-updates reads it).
    EnrichedStream,
    /// HTTP requests to todo-api through the local API Gateway.
    TodoApi,
    /// HTTP requests to inference through the local API Gateway.
    InferenceApi,
    /// A Lambda event no event source would send, handed to the function directly.
    LambdaEvent,
}

impl Trigger {
    pub const ALL: [Trigger; 7] = [
        Trigger::Bus,
        Trigger::IngestQueue,
        Trigger::ActivityStream,
        Trigger::EnrichedStream,
        Trigger::TodoApi,
        Trigger::InferenceApi,
        Trigger::LambdaEvent,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Trigger::Bus => "event bus",
            Trigger::IngestQueue => "ingest queue",
            Trigger::ActivityStream => "activity stream",
            Trigger::EnrichedStream => "enriched stream",
            Trigger::TodoApi => "todo-api HTTP",
            Trigger::InferenceApi => "inference HTTP",
            Trigger::LambdaEvent => "Lambda event",
        }
    }

    /// The function that rejects what this trigger carries, for pipeline triggers.
    pub(crate) fn rejected_by(self) -> Option<&'static str> {
        match self {
            Trigger::Bus | Trigger::IngestQueue => Some("event-router"),
            Trigger::ActivityStream => Some("stream-enrichment"),
            Trigger::EnrichedStream => Some("feature-updates"),
            _ => None,
        }
    }
}

/// What is sent.
#[derive(Debug, Clone)]
pub enum Input {
    Event {
        detail_type: &'static str,
        detail: String,
    },
    Message(String),
    Record(Vec<u8>),
    Request {
        method: Method,
        path: String,
        content_type: Option<&'static str>,
        body: Vec<u8>,
    },
    Invocation {
        function: &'static str,
        event: Value,
    },
}

/// What a correct system does with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expected {
    /// One message on the rejects queue with this `reject-code` and a reason.
    Reject(&'static str),
    /// An RFC 9457 problem document with this status.
    Problem(u16),
    /// The invocation fails with a function error; the process lives on.
    FunctionError,
    /// A good event: `user`'s features count it.
    Applied { user: String },
    /// A good request: answered with this status.
    Answered(u16),
}

#[derive(Debug, Clone)]
pub struct Case {
    pub trigger: Trigger,
    pub name: &'static str,
    /// Unique to the case and found in its input's bytes (or, for base64 inputs, in their
    /// decoding): how a reject is traced back to its input.
    pub marker: String,
    pub input: Input,
    pub expected: Expected,
}

impl Case {
    pub fn is_good(&self) -> bool {
        matches!(
            self.expected,
            Expected::Applied { .. } | Expected::Answered(_)
        )
    }
}

/// A valid activity detail (and record) of `user`, with `marker` as its eventId.
fn activity(user: &str, marker: &str, at: OffsetDateTime) -> Value {
    json!({"eventId": marker, "userId": user, "type": "view", "timestamp": rfc3339(at),
           "itemId": "sku-1"})
}

fn rfc3339(at: OffsetDateTime) -> String {
    at.format(&Rfc3339).expect("an RFC 3339 time")
}

/// `activity` with `field` set to `value`.
fn with(mut event: Value, field: &str, value: Value) -> Value {
    event[field] = value;
    event
}

/// An EventBridge envelope as the rule delivers it, around `detail`.
fn envelope(detail_type: &str, detail: &Value, at: OffsetDateTime) -> Value {
    json!({"version": "0", "id": ulid::Ulid::new().to_string(), "detail-type": detail_type,
           "source": "reliability.bad-input", "time": rfc3339(at), "region": "us-east-1",
           "resources": [], "detail": detail})
}

fn attributes(count: usize, value_length: usize) -> Value {
    Value::Object(
        (0..count)
            .map(|n| (format!("a{n}"), Value::String("v".repeat(value_length))))
            .collect(),
    )
}

fn nested(depth: usize, marker: &str) -> String {
    format!("{}\"{marker}\"{}", "[".repeat(depth), "]".repeat(depth))
}

/// The catalogue for run `run`, in the order it is sent: good inputs between the bad ones.
pub fn catalogue(run: &str, now: OffsetDateTime) -> Vec<Case> {
    let mut cases = Vec::new();
    let mut add =
        |trigger: Trigger, name: &'static str, build: &dyn Fn(&str) -> (Input, Expected)| {
            let marker = format!("bad-{run}-c{:03}", cases.len());
            let (input, expected) = build(&marker);
            cases.push(Case {
                trigger,
                name,
                marker,
                input,
                expected,
            });
        };
    let user = |marker: &str| format!("user-{marker}");
    let event = |detail: Value| Input::Event {
        detail_type: "user_activity",
        detail: detail.to_string(),
    };
    let reject = Expected::Reject;
    let applied = |marker: &str| Expected::Applied {
        user: format!("user-{marker}"),
    };

    // The event bus: valid JSON (EventBridge refuses anything else), broken rules.
    use Trigger::*;
    add(Bus, "good event", &|m| {
        (event(activity(&user(m), m, now)), applied(m))
    });
    add(Bus, "userId a number", &|m| {
        (
            event(with(activity("", m, now), "userId", json!(42))),
            reject("schema-violation"),
        )
    });
    add(Bus, "amount a string", &|m| {
        (
            event(with(activity(&user(m), m, now), "amount", json!("12.50"))),
            reject("schema-violation"),
        )
    });
    add(Bus, "unknown activity type", &|m| {
        (
            event(with(activity(&user(m), m, now), "type", json!("dance"))),
            reject("schema-violation"),
        )
    });
    add(Bus, "misspelt field userID", &|m| {
        let mut detail = activity(&user(m), m, now);
        detail["userID"] = detail["userId"].take();
        detail.as_object_mut().unwrap().remove("userId");
        (event(detail), reject("schema-violation"))
    });
    add(Bus, "detail as an array", &|m| {
        // The activity's fields by position: read that way, a valid event.
        let detail = json!([m, user(m), "view", rfc3339(now), "sku-1"]);
        (event(detail), reject("schema-violation"))
    });
    add(Bus, "detail over 16 KiB", &|m| {
        (
            event(with(
                activity(&user(m), m, now),
                "itemId",
                json!("x".repeat(17_000)),
            )),
            reject("too-large"),
        )
    });
    add(Bus, "good event, emoji user", &|m| {
        let user = format!("🦀-{m}-ñ");
        (event(activity(&user, m, now)), Expected::Applied { user })
    });
    add(Bus, "timestamp in year 9999", &|m| {
        (
            event(with(
                activity(&user(m), m, now),
                "timestamp",
                json!("9999-12-31T23:59:59Z"),
            )),
            reject("timestamp-in-future"),
        )
    });
    add(Bus, "timestamp at the epoch", &|m| {
        (
            event(with(
                activity(&user(m), m, now),
                "timestamp",
                json!("1970-01-01T00:00:00Z"),
            )),
            reject("timestamp-too-old"),
        )
    });
    add(Bus, "timestamp without offset", &|m| {
        (
            event(with(
                activity(&user(m), m, now),
                "timestamp",
                json!("2026-12-04T10:00:00"),
            )),
            reject("schema-violation"),
        )
    });
    add(Bus, "timestamp as epoch seconds", &|m| {
        (
            event(with(
                activity(&user(m), m, now),
                "timestamp",
                json!(now.unix_timestamp()),
            )),
            reject("schema-violation"),
        )
    });
    add(Bus, "userId with a noncharacter", &|m| {
        (
            event(activity(&format!("{}\u{FFFF}", user(m)), m, now)),
            reject("schema-violation"),
        )
    });
    add(Bus, "userId with surrounding space", &|m| {
        (
            event(activity(&format!(" {} ", user(m)), m, now)),
            reject("schema-violation"),
        )
    });
    add(Bus, "userId with a NUL", &|m| {
        (
            event(activity(&format!("{}\u{0}", user(m)), m, now)),
            reject("schema-violation"),
        )
    });
    add(Bus, "good event, right-to-left user", &|m| {
        let user = format!("\u{0645}\u{0633}\u{062A}\u{062E}\u{062F}\u{0645}-{m}");
        (event(activity(&user, m, now)), Expected::Applied { user })
    });
    add(Bus, "21 attributes", &|m| {
        (
            event(with(
                activity(&user(m), m, now),
                "attributes",
                attributes(21, 4),
            )),
            reject("schema-violation"),
        )
    });
    add(Bus, "attribute value of 257 characters", &|m| {
        (
            event(with(
                activity(&user(m), m, now),
                "attributes",
                attributes(1, 257),
            )),
            reject("schema-violation"),
        )
    });
    add(Bus, "5,000 attributes", &|m| {
        (
            event(with(
                activity(&user(m), m, now),
                "attributes",
                attributes(5_000, 1),
            )),
            reject("too-large"),
        )
    });
    add(Bus, "order without items", &|m| {
        let order =
            json!({"orderId": m, "userId": user(m), "amount": 10, "currency": "EUR", "items": []});
        (
            Input::Event {
                detail_type: "order_placed",
                detail: order.to_string(),
            },
            reject("schema-violation"),
        )
    });
    add(Bus, "order in lower-case currency", &|m| {
        let order = json!({"orderId": m, "userId": user(m), "amount": 10, "currency": "eur",
                           "items": [{"itemId": "sku-1", "quantity": 1, "price": 10}]});
        (
            Input::Event {
                detail_type: "order_placed",
                detail: order.to_string(),
            },
            reject("schema-violation"),
        )
    });
    add(Bus, "order of quantity 0", &|m| {
        let order = json!({"orderId": m, "userId": user(m), "amount": 10, "currency": "EUR",
                           "items": [{"itemId": "sku-1", "quantity": 0, "price": 10}]});
        (
            Input::Event {
                detail_type: "order_placed",
                detail: order.to_string(),
            },
            reject("schema-violation"),
        )
    });
    add(Bus, "order item as an array", &|m| {
        let order = json!({"orderId": m, "userId": user(m), "amount": 10, "currency": "EUR",
                           "items": [["sku-1", 1, 10]]});
        (
            Input::Event {
                detail_type: "order_placed",
                detail: order.to_string(),
            },
            reject("schema-violation"),
        )
    });
    add(Bus, "amount over the limit", &|m| {
        (
            event(with(activity(&user(m), m, now), "amount", json!(1e10))),
            reject("schema-violation"),
        )
    });
    add(Bus, "good order", &|m| {
        let order = json!({"orderId": m, "eventId": m, "userId": user(m), "amount": 10.5, "currency": "EUR",
                           "items": [{"itemId": "sku-1", "quantity": 1, "price": 10.5}]});
        (
            Input::Event {
                detail_type: "order_placed",
                detail: order.to_string(),
            },
            applied(m),
        )
    });

    // The ingest queue: any text at all.
    let message = |body: String| Input::Message(body);
    let good = |m: &str| envelope("user_activity", &activity(&user(m), m, now), now);
    add(IngestQueue, "not JSON", &|m| {
        (
            message(format!("{{\"detail-type\": \"user_activity\", {m}")),
            reject("not-json"),
        )
    });
    add(IngestQueue, "trailing garbage", &|m| {
        (message(format!("{}}}garbage", good(m))), reject("not-json"))
    });
    add(IngestQueue, "a JSON array", &|m| {
        (message(json!([m]).to_string()), reject("not-an-event"))
    });
    add(IngestQueue, "envelope as an array", &|m| {
        // The envelope's fields by position: read that way, a valid event.
        let body = json!([
            "0",
            ulid::Ulid::new().to_string(),
            "user_activity",
            "reliability.bad-input",
            null,
            rfc3339(now),
            "us-east-1",
            [],
            activity(&user(m), m, now)
        ]);
        (message(body.to_string()), reject("not-an-event"))
    });
    add(IngestQueue, "envelope without detail", &|m| {
        let mut body = good(m);
        body.as_object_mut().unwrap().remove("detail");
        body["id"] = json!(m);
        (message(body.to_string()), reject("not-an-event"))
    });
    add(IngestQueue, "good envelope", &|m| {
        (message(good(m).to_string()), applied(m))
    });
    add(IngestQueue, "unknown detail-type", &|m| {
        (
            message(envelope("user_deleted", &activity(&user(m), m, now), now).to_string()),
            reject("unknown-detail-type"),
        )
    });
    add(IngestQueue, "lone surrogate in userId", &|m| {
        let body = good(m)
            .to_string()
            .replace(&format!("\"user-{m}\""), &format!("\"user-{m}\\ud800\""));
        // JSON's grammar allows it; no string can hold it, and the reason names the field.
        (message(body), reject("schema-violation"))
    });
    add(IngestQueue, "amount 1e999", &|m| {
        let body = good(m)
            .to_string()
            .replace("\"itemId\"", "\"amount\":1e999,\"itemId\"");
        (message(body), reject("schema-violation"))
    });
    add(IngestQueue, "base64 of a good envelope", &|m| {
        (
            message(STANDARD.encode(good(m).to_string())),
            reject("not-json"),
        )
    });
    add(IngestQueue, "invalid base64", &|m| {
        (
            message(format!("eyJ2ZXJzaW9uIjoi!!{m}")),
            reject("not-json"),
        )
    });
    add(IngestQueue, "detail as a string", &|m| {
        let mut body = good(m);
        body["detail"] = json!(body["detail"].to_string());
        (message(body.to_string()), reject("schema-violation"))
    });
    add(IngestQueue, "nested 200 deep in the detail", &|m| {
        let mut body = good(m);
        body["detail"]["attributes"] = json!({"deep": "x"});
        let text = body.to_string().replace("\"x\"", &nested(200, m));
        (message(text), reject("schema-violation"))
    });
    add(IngestQueue, "resources nested 200 deep", &|m| {
        let mut body = good(m);
        body["resources"] = json!("x");
        let text = body.to_string().replace("\"x\"", &nested(200, m));
        (message(text), reject("not-an-event"))
    });
    add(IngestQueue, "byte-order mark before the JSON", &|m| {
        (message(format!("\u{FEFF}{}", good(m))), reject("not-json"))
    });
    add(IngestQueue, "good envelope, combining marks", &|m| {
        let user = format!("e\u{0301}-{m}");
        (
            message(envelope("user_activity", &activity(&user, m, now), now).to_string()),
            Expected::Applied { user },
        )
    });

    // The streams: any bytes at all, up to Kinesis's 1 MiB.
    for trigger in [ActivityStream, EnrichedStream] {
        let record = |event: Value| Input::Record(event.to_string().into_bytes());
        add(trigger, "good record", &|m| {
            (record(activity(&user(m), m, now)), applied(m))
        });
        add(trigger, "not UTF-8", &|m| {
            let mut bytes = vec![0xff, 0xfe, b'{'];
            bytes.extend_from_slice(m.as_bytes());
            bytes.push(0xc3);
            (Input::Record(bytes), reject("not-json"))
        });
        add(trigger, "truncated JSON", &|m| {
            let text = activity(&user(m), m, now).to_string();
            (
                Input::Record(text.as_bytes()[..text.len() - 2].to_vec()),
                reject("not-json"),
            )
        });
        add(trigger, "base64 of a good record", &|m| {
            (
                Input::Record(
                    STANDARD
                        .encode(activity(&user(m), m, now).to_string())
                        .into_bytes(),
                ),
                reject("not-json"),
            )
        });
        add(trigger, "record over 32 KiB", &|m| {
            (
                record(with(
                    activity(&user(m), m, now),
                    "itemId",
                    json!("x".repeat(33_000)),
                )),
                reject("too-large"),
            )
        });
        add(trigger, "userId a number", &|m| {
            (
                record(with(activity("", m, now), "userId", json!(7))),
                reject("schema-violation"),
            )
        });
        add(trigger, "record as an array", &|m| {
            // The record's fields by position: read that way, a valid record.
            (
                record(json!([m, user(m), "view", rfc3339(now), "sku-1"])),
                reject("schema-violation"),
            )
        });
        add(trigger, "unknown activity type", &|m| {
            (
                record(with(activity(&user(m), m, now), "type", json!("dance"))),
                reject("schema-violation"),
            )
        });
        add(trigger, "good record from year 1", &|m| {
            (
                record(with(
                    activity(&user(m), m, now),
                    "timestamp",
                    json!("0001-01-01T00:00:00Z"),
                )),
                applied(m),
            )
        });
        add(trigger, "timestamp in year 9999", &|m| {
            (
                record(with(
                    activity(&user(m), m, now),
                    "timestamp",
                    json!("9999-12-31T23:59:59Z"),
                )),
                reject("timestamp-in-future"),
            )
        });
        add(trigger, "userId with a noncharacter", &|m| {
            (
                record(activity(&format!("{}\u{FDD0}", user(m)), m, now)),
                reject("schema-violation"),
            )
        });
        add(trigger, "21 attributes", &|m| {
            (
                record(with(
                    activity(&user(m), m, now),
                    "attributes",
                    attributes(21, 4),
                )),
                reject("schema-violation"),
            )
        });
        add(trigger, "good record, zero-width joiner user", &|m| {
            let user = format!("👩\u{200D}💻-{m}");
            (record(activity(&user, m, now)), Expected::Applied { user })
        });
        add(trigger, "only an eventId", &|m| {
            (record(json!({"eventId": m})), reject("schema-violation"))
        });
    }

    // The HTTP APIs: problem documents for everything malformed.
    let request =
        |method: Method, path: &str, content_type: Option<&'static str>, body: Vec<u8>| {
            Input::Request {
                method,
                path: path.to_owned(),
                content_type,
                body,
            }
        };
    let json_body = |value: Value| value.to_string().into_bytes();
    let post_task = |body: Vec<u8>| request(Method::POST, "/tasks", Some("application/json"), body);
    add(TodoApi, "good task", &|m| {
        (
            post_task(json_body(json!({"task_name": format!("🦀 {m}")}))),
            Expected::Answered(201),
        )
    });
    add(TodoApi, "not JSON", &|m| {
        (
            post_task(format!("{{\"task_name\": \"{m}\"").into_bytes()),
            Expected::Problem(400),
        )
    });
    add(TodoApi, "task_name a number", &|_| {
        (
            post_task(br#"{"task_name": 42}"#.to_vec()),
            Expected::Problem(400),
        )
    });
    add(TodoApi, "unknown field", &|m| {
        (
            post_task(json_body(json!({"task_name": m, "owner": "someone-else"}))),
            Expected::Problem(400),
        )
    });
    add(TodoApi, "body an array", &|m| {
        (
            post_task(json_body(json!([format!("🦀 {m}")]))),
            Expected::Problem(400),
        )
    });
    add(TodoApi, "update body an array", &|m| {
        (
            request(
                Method::PUT,
                "/tasks/01JD5QG5V3W8J5XKZ3M4N6P7Q8",
                Some("application/json"),
                json_body(json!([m, "Completed"])),
            ),
            Expected::Problem(400),
        )
    });
    add(TodoApi, "body over 8 KiB", &|_| {
        (
            post_task(json_body(json!({"task_name": "x".repeat(9_000)}))),
            Expected::Problem(413),
        )
    });
    add(TodoApi, "lone surrogate", &|_| {
        (
            post_task(br#"{"task_name": "a\ud800"}"#.to_vec()),
            Expected::Problem(400),
        )
    });
    add(TodoApi, "control character", &|_| {
        (
            post_task(br#"{"task_name": "a\u0007b"}"#.to_vec()),
            Expected::Problem(400),
        )
    });
    add(TodoApi, "501 characters", &|_| {
        (
            post_task(json_body(json!({"task_name": "é".repeat(501)}))),
            Expected::Problem(400),
        )
    });
    add(TodoApi, "good list", &|_| {
        (
            request(Method::GET, "/tasks?limit=100", None, Vec::new()),
            Expected::Answered(200),
        )
    });
    add(TodoApi, "not UTF-8", &|_| {
        (
            post_task(b"{\"task_name\": \"\xff\xfe\"}".to_vec()),
            Expected::Problem(400),
        )
    });
    add(TodoApi, "text/plain body", &|_| {
        (
            request(
                Method::POST,
                "/tasks",
                Some("text/plain"),
                br#"{"task_name": "x"}"#.to_vec(),
            ),
            Expected::Problem(415),
        )
    });
    add(TodoApi, "nested 4,000 deep", &|m| {
        (
            post_task(nested(4_000, m).into_bytes()),
            Expected::Problem(400),
        )
    });
    add(TodoApi, "500 unknown fields", &|_| {
        (
            post_task(json_body(attributes(500, 1))),
            Expected::Problem(400),
        )
    });
    add(TodoApi, "a cursor that is not base64", &|_| {
        (
            request(
                Method::GET,
                "/tasks?next=%25%25not-base64%25%25",
                None,
                Vec::new(),
            ),
            Expected::Problem(400),
        )
    });
    add(TodoApi, "a cursor that is an array", &|_| {
        let next = URL_SAFE_NO_PAD.encode(r#"["01JD5QG5V3W8J5XKZ3M4N6P7Q8"]"#);
        (
            request(
                Method::GET,
                &format!("/tasks?next={next}"),
                None,
                Vec::new(),
            ),
            Expected::Problem(400),
        )
    });
    add(TodoApi, "limit 1e999", &|_| {
        (
            request(Method::GET, "/tasks?limit=1e999", None, Vec::new()),
            Expected::Problem(400),
        )
    });
    add(TodoApi, "task id not a ULID", &|m| {
        (
            request(Method::DELETE, &format!("/tasks/{m}%00"), None, Vec::new()),
            Expected::Problem(404),
        )
    });

    let post_predict =
        |path: &str, body: Vec<u8>| request(Method::POST, path, Some("application/json"), body);
    add(InferenceApi, "good prediction", &|m| {
        (
            post_predict("/predict", json_body(json!({"userId": user(m)}))),
            Expected::Answered(200),
        )
    });
    add(InferenceApi, "empty body", &|_| {
        (post_predict("/predict", Vec::new()), Expected::Problem(400))
    });
    add(InferenceApi, "not JSON", &|m| {
        (
            post_predict("/predict", format!("{{\"userId\": {m}").into_bytes()),
            Expected::Problem(400),
        )
    });
    add(InferenceApi, "body an array", &|m| {
        (
            post_predict("/predict", json_body(json!([user(m)]))),
            Expected::Problem(400),
        )
    });
    add(InferenceApi, "userId a number", &|_| {
        (
            post_predict("/predict", br#"{"userId": 7}"#.to_vec()),
            Expected::Problem(400),
        )
    });
    add(InferenceApi, "lone surrogate userId", &|_| {
        (
            post_predict("/predict", br#"{"userId": "u\udfff"}"#.to_vec()),
            Expected::Problem(400),
        )
    });
    add(InferenceApi, "noncharacter userId", &|m| {
        (
            post_predict(
                "/predict",
                json_body(json!({"userId": format!("{m}\u{FFFE}")})),
            ),
            Expected::Problem(400),
        )
    });
    add(InferenceApi, "userId of 129 characters", &|_| {
        (
            post_predict("/predict", json_body(json!({"userId": "u".repeat(129)}))),
            Expected::Problem(400),
        )
    });
    add(InferenceApi, "good batch", &|m| {
        (
            post_predict(
                "/predict/batch",
                json_body(json!({"users": [{"userId": user(m)}, {"userId": "👩\u{200D}💻"}]})),
            ),
            Expected::Answered(200),
        )
    });
    add(InferenceApi, "context of 17 keys", &|m| {
        (
            post_predict(
                "/predict",
                json_body(json!({"userId": user(m), "context": attributes(17, 1)})),
            ),
            Expected::Problem(400),
        )
    });
    add(InferenceApi, "context over 2 KiB", &|m| {
        (
            post_predict(
                "/predict",
                json_body(json!({"userId": user(m), "context": attributes(3, 1_000)})),
            ),
            Expected::Problem(400),
        )
    });
    add(InferenceApi, "context number 1e999", &|m| {
        (
            post_predict(
                "/predict",
                format!("{{\"userId\": \"{m}\", \"context\": {{\"n\": 1e999}}}}").into_bytes(),
            ),
            Expected::Problem(400),
        )
    });
    add(InferenceApi, "batch of 101 users", &|m| {
        let users: Vec<Value> = (0..101)
            .map(|n| json!({"userId": format!("{m}-{n}")}))
            .collect();
        (
            post_predict("/predict/batch", json_body(json!({"users": users}))),
            Expected::Problem(400),
        )
    });
    add(InferenceApi, "batch user as an array", &|m| {
        (
            post_predict(
                "/predict/batch",
                json_body(json!({"users": [{"userId": user(m)}, [user(m)]]})),
            ),
            Expected::Problem(400),
        )
    });
    add(InferenceApi, "body over 256 KiB", &|m| {
        (
            post_predict(
                "/predict",
                json_body(json!({"userId": m, "context": {"pad": "x".repeat(270_000)}})),
            ),
            Expected::Problem(413),
        )
    });

    // Lambda events no event source sends: the function answers an error and lives on.
    let kinesis_event = |data: &str| {
        let mut event: Value = serde_json::from_str(include_str!(
            "../../../../../events/stream-enrichment/kinesis-activity-batch.json"
        ))
        .expect("the sample Kinesis event parses");
        event["Records"][0]["kinesis"]["data"] = json!(data);
        event
    };
    add(
        LambdaEvent,
        "Kinesis data not base64 (stream-enrichment)",
        &|m| {
            (
                Input::Invocation {
                    function: "stream-enrichment",
                    event: kinesis_event(&format!("!!{m}")),
                },
                Expected::FunctionError,
            )
        },
    );
    add(
        LambdaEvent,
        "Kinesis data not base64 (feature-updates)",
        &|m| {
            (
                Input::Invocation {
                    function: "feature-updates",
                    event: kinesis_event(&format!("!!{m}")),
                },
                Expected::FunctionError,
            )
        },
    );
    add(LambdaEvent, "SQS Records not a list (event-router)", &|m| {
        (
            Input::Invocation {
                function: "event-router",
                event: json!({"Records": m}),
            },
            Expected::FunctionError,
        )
    });
    add(LambdaEvent, "HTTP body not base64 (todo-api)", &|m| {
        let mut event: Value = serde_json::from_str(include_str!(
            "../../../../../events/todo-api/create-task.json"
        ))
        .expect("the sample request parses");
        event["isBase64Encoded"] = json!(true);
        event["body"] = json!(format!("%%{m}"));
        (
            Input::Invocation {
                function: "todo-api",
                event,
            },
            Expected::FunctionError,
        )
    });
    cases
}

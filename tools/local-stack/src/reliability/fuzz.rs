//! A bounded mutation fuzzer for what reads untrusted input: the event decoders (SQS message
//! bodies into event-router's plan, Kinesis events and records into the stream functions'
//! decode) and the HTTP APIs' request parsing (routes, query, `If-Match`, cursors, bodies).
//!
//! Each target starts from the sample events in `events/`, and from the samples with one of
//! their objects written as the array of its values (what a derived `Deserialize` would read
//! by position, and must not), and mutates them (bit flips, byte edits, cut and repeated ranges,
//! splices, JSON-hostile tokens, deep nesting, huge strings), for a fixed time. A target fails on a panic, or when its property breaks: every message and
//! record is accounted for exactly once (planned or rejected), and every refusal of an HTTP
//! request is a 4xx with a reason. The seed is printed, so a run can be repeated.

use std::panic::{self, AssertUnwindSafe};
use std::path::Path;
use std::time::{Duration, Instant};

use aws_lambda_events::kinesis::KinesisEvent;
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use event_router::plan::plan;
use event_router::routing::{DEFAULT_ROUTING_TABLE, RoutingTable};
use lambda_http::http::{HeaderMap, HeaderValue, Method};
use lambda_http::{Body, Request};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::Value;
use shared::events::{ActivityEvent, TimeLimits};
use shared::http::{ApiError, parse_json_body};
use time::OffsetDateTime;
use time::macros::datetime;

use crate::report::render_verdict;

/// The processing time the targets run at: the samples' own day, so they are valid as given.
const NOW: OffsetDateTime = datetime!(2026-11-23 10:20:00 UTC);

/// Byte strings that often break parsers, spliced in at random places.
const TOKENS: &[&str] = &[
    "null",
    "true",
    "-1",
    "0",
    "1e999",
    "-0",
    "18446744073709551616",
    "\"\"",
    "[]",
    "{}",
    "\"",
    "\\",
    "\\u0000",
    "\\ud800",
    "\\udfff",
    "\u{0}",
    "\u{feff}",
    "\u{ffff}",
    "\u{10ffff}",
    "💥",
    "e\u{301}",
    "\u{202e}",
    "NaN",
    "9999-12-31T23:59:59Z",
    "0000-01-01T00:00:00Z",
    "1970-01-01T00:00:00+23:59",
    "%00",
    "%2F",
    "..",
    "/",
    "?",
    "&",
    "=",
    "#",
    ",",
    ":",
];

/// Runs one input: Ok(true) accepted, Ok(false) refused as it should be; Err: the property
/// broke, and why.
type Check = Box<dyn Fn(&[u8]) -> Result<bool, String>>;

/// One thing read from outside, and what must hold for any input.
pub struct Target {
    pub name: &'static str,
    /// Inputs it must accept as given: the samples.
    seeds: Vec<Vec<u8>>,
    /// Inputs it must refuse as given: the samples with an object written as an array.
    refused_seeds: Vec<Vec<u8>>,
    check: Check,
}

/// What one target's run found.
#[derive(Debug, Default, Clone)]
pub struct TargetReport {
    pub name: &'static str,
    pub executions: u64,
    pub accepted: u64,
    pub refused: u64,
    /// Inputs that panicked or broke the property, with why (the first few).
    pub failures: Vec<String>,
    pub failed: u64,
}

#[derive(Debug, Default)]
pub struct FuzzReport {
    pub seed: u64,
    pub targets: Vec<TargetReport>,
}

impl FuzzReport {
    pub fn executions(&self) -> u64 {
        self.targets.iter().map(|t| t.executions).sum()
    }

    pub fn passed(&self) -> bool {
        self.executions() > 0 && self.targets.iter().all(|t| t.failed == 0)
    }

    pub fn render(&self) -> String {
        let mut out = format!(
            "fuzz summary (seed {})\n  {} executions, {} failures\n  {:<28} {:>10} {:>10} {:>10} {:>8}\n",
            self.seed,
            self.executions(),
            self.targets.iter().map(|t| t.failed).sum::<u64>(),
            "target",
            "executions",
            "accepted",
            "refused",
            "failed"
        );
        for target in &self.targets {
            out.push_str(&format!(
                "  {:<28} {:>10} {:>10} {:>10} {:>8}\n",
                target.name, target.executions, target.accepted, target.refused, target.failed
            ));
            for failure in &target.failures {
                out.push_str(&format!("    {failure}\n"));
            }
        }
        render_verdict(&mut out, "fuzz", self.passed());
        out
    }
}

/// Mutates `input` once or a few times; `seeds` supply splices.
pub fn mutate(rng: &mut StdRng, input: &[u8], seeds: &[Vec<u8>]) -> Vec<u8> {
    let mut out = input.to_vec();
    for _ in 0..rng.random_range(1..=4) {
        let len = out.len();
        let at = if len == 0 {
            0
        } else {
            rng.random_range(0..=len)
        };
        match rng.random_range(0..9) {
            0 if len > 0 => {
                let i = rng.random_range(0..len);
                out[i] ^= 1 << rng.random_range(0..8);
            }
            1 if len > 0 => {
                let i = rng.random_range(0..len);
                out[i] = rng.random();
            }
            2 => {
                let token = TOKENS[rng.random_range(0..TOKENS.len())];
                out.splice(at..at, token.bytes());
            }
            3 if at < len => {
                let end = rng.random_range(at..=len.min(at + 64));
                out.drain(at..end);
            }
            4 if at < len => {
                let end = rng.random_range(at..=len.min(at + 64));
                let copy = out[at..end].to_vec();
                out.splice(at..at, copy);
            }
            5 => out.truncate(at),
            6 if !seeds.is_empty() => {
                let other = &seeds[rng.random_range(0..seeds.len())];
                let from = rng.random_range(0..=other.len());
                out.truncate(at);
                out.extend_from_slice(&other[from..]);
            }
            7 => {
                let depth = rng.random_range(1..=300);
                let (open, close) = if rng.random() {
                    ("[", "]")
                } else {
                    ("{\"a\":", "}")
                };
                let nested = format!("{}1{}", open.repeat(depth), close.repeat(depth));
                out.splice(at..at, nested.bytes());
            }
            _ => {
                let size = [1_000, 40_000, 300_000][rng.random_range(0..3)];
                out.splice(at..at, std::iter::repeat_n(b'x', size));
            }
        }
    }
    out
}

/// Runs every target for `per_target`, from `seed`. Panics are caught and counted; their
/// messages are kept out of the terminal while the targets run.
pub fn run(targets: &[Target], per_target: Duration, seed: u64) -> FuzzReport {
    let mut rng = StdRng::seed_from_u64(seed);
    let quiet = panic::take_hook();
    panic::set_hook(Box::new(|_| {}));
    let mut report = FuzzReport {
        seed,
        targets: Vec::new(),
    };
    for target in targets {
        let mut found = TargetReport {
            name: target.name,
            ..TargetReport::default()
        };
        let deadline = Instant::now() + per_target;
        let seeds: Vec<Vec<u8>> = target
            .seeds
            .iter()
            .chain(&target.refused_seeds)
            .cloned()
            .collect();
        // The seeds as given first: the accepted path must be reached.
        let mut inputs = seeds.clone();
        while Instant::now() < deadline {
            let input = inputs.pop().unwrap_or_else(|| {
                let base = &seeds[rng.random_range(0..seeds.len())];
                mutate(&mut rng, base, &seeds)
            });
            found.executions += 1;
            let outcome = panic::catch_unwind(AssertUnwindSafe(|| (target.check)(&input)));
            let broke = match outcome {
                Ok(Ok(true)) => {
                    found.accepted += 1;
                    None
                }
                Ok(Ok(false)) => {
                    found.refused += 1;
                    None
                }
                Ok(Err(why)) => Some(why),
                Err(panicked) => Some(format!(
                    "panic: {}",
                    panicked
                        .downcast_ref::<String>()
                        .cloned()
                        .or_else(|| panicked.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                        .unwrap_or_default()
                )),
            };
            if let Some(why) = broke {
                found.failed += 1;
                if found.failures.len() < 5 {
                    let shown: String = String::from_utf8_lossy(&input).chars().take(300).collect();
                    found.failures.push(format!("{why}; input: {shown:?}"));
                }
            }
        }
        report.targets.push(found);
    }
    panic::set_hook(quiet);
    report
}

/// The targets, seeded from the sample events under `events_dir`.
pub fn targets(events_dir: &Path) -> Result<Vec<Target>, String> {
    let read = |path: &str| -> Result<Value, String> {
        let file = events_dir.join(path);
        let text = std::fs::read_to_string(&file)
            .map_err(|error| format!("{}: {error}", file.display()))?;
        serde_json::from_str(&text).map_err(|error| format!("{}: {error}", file.display()))
    };
    let sqs_bodies: Vec<Vec<u8>> = read("event-router/sqs-ingest-batch.json")?["Records"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|record| record["body"].as_str().map(|body| body.as_bytes().to_vec()))
        .collect();
    let kinesis_files = [
        "stream-enrichment/kinesis-activity-batch.json",
        "feature-updates/kinesis-enriched-batch.json",
    ];
    let positional_bodies = sqs_bodies
        .iter()
        .flat_map(|body| positional(body))
        .collect();
    let mut kinesis_events = Vec::new();
    let mut positional_events = Vec::new();
    let mut stream_records = Vec::new();
    for file in kinesis_files {
        let event = read(file)?;
        kinesis_events.push(event.to_string().into_bytes());
        let parsed: KinesisEvent = serde_json::from_value(event.clone())
            .map_err(|error| format!("{file} is not a Kinesis event: {error}"))?;
        for (index, record) in parsed.records.iter().enumerate() {
            for data in positional_record(&record.kinesis.data.0) {
                let mut variant = event.clone();
                variant["Records"][index]["kinesis"]["data"] = STANDARD.encode(data).into();
                positional_events.push(variant.to_string().into_bytes());
            }
        }
        stream_records.extend(parsed.records.into_iter().map(|r| r.kinesis.data.0));
    }
    let positional_records = stream_records
        .iter()
        .flat_map(|record| positional_record(record))
        .collect();
    let mut http_requests = Vec::new();
    let mut positional_requests = Vec::new();
    for file in [
        "todo-api/create-task.json",
        "todo-api/update-task.json",
        "todo-api/list-tasks.json",
        "todo-api/get-task.json",
        "todo-api/delete-task.json",
        "inference/predict.json",
        "inference/predict-batch.json",
    ] {
        let event = read(file)?;
        let body = event["body"].as_str().unwrap_or("");
        http_requests.push(http_seed(&event, "", body));
        for body in positional(body.as_bytes()) {
            positional_requests.push(http_seed(&event, "", &String::from_utf8_lossy(&body)));
        }
        if file == "todo-api/list-tasks.json" {
            // A cursor is base64 of an object; by position, this one passed for one.
            let cursor = URL_SAFE_NO_PAD.encode(r#"["01JD5QG5V3W8J5XKZ3M4N6P7Q8","Pending"]"#);
            positional_requests.push(http_seed(&event, &format!("&next={cursor}"), ""));
        }
    }
    let table = RoutingTable::parse(DEFAULT_ROUTING_TABLE, |name| match name {
        "ACTIVITY_STREAM" => Some("activity".into()),
        "ORDERS_QUEUE_URL" => Some("https://sqs.us-east-1.amazonaws.com/1/orders.fifo".into()),
        _ => None,
    })
    .map_err(|error| format!("the default routing table: {error}"))?;
    if sqs_bodies.is_empty() || stream_records.is_empty() {
        return Err(format!(
            "no sample messages or records under {}",
            events_dir.display()
        ));
    }
    Ok(vec![
        Target {
            name: "event-router SQS message",
            seeds: sqs_bodies,
            refused_seeds: positional_bodies,
            check: Box::new(move |input| {
                let body = String::from_utf8_lossy(input);
                let planned = plan([("m-1", &*body)], &table, NOW, TimeLimits::default());
                match (planned.routed, planned.rejects.as_slice()) {
                    (1, []) => Ok(true),
                    (0, [reject]) if !reject.reason.is_empty() && reject.body == body => Ok(false),
                    (routed, rejects) => Err(format!(
                        "one message was routed {routed} times and rejected {} times (or without its reason or body)",
                        rejects.len()
                    )),
                }
            }),
        },
        Target {
            name: "Kinesis event",
            seeds: kinesis_events,
            refused_seeds: positional_events,
            check: Box::new(|input| {
                let Ok(event) = serde_json::from_slice::<KinesisEvent>(input) else {
                    return Ok(false);
                };
                let decoded = shared::keyed_state::decode::decode(
                    &event.records,
                    time::Duration::minutes(5),
                    NOW,
                    "fuzz",
                );
                let kept: usize = decoded.by_user.values().map(Vec::len).sum();
                if kept + decoded.rejects.len() == event.records.len() {
                    Ok(decoded.rejects.is_empty())
                } else {
                    Err(format!(
                        "{} records became {kept} decoded and {} rejected",
                        event.records.len(),
                        decoded.rejects.len()
                    ))
                }
            }),
        },
        Target {
            name: "stream record",
            seeds: stream_records,
            refused_seeds: positional_records,
            check: Box::new(|input| {
                match ActivityEvent::from_record(input, NOW, time::Duration::minutes(5)) {
                    Ok(_) => Ok(true),
                    Err(rejection) if rejection.to_string().is_empty() => {
                        Err("a rejection without a reason".into())
                    }
                    Err(_) => Ok(false),
                }
            }),
        },
        Target {
            name: "HTTP request (both APIs)",
            seeds: http_requests,
            refused_seeds: positional_requests,
            check: Box::new(check_http),
        },
    ])
}

/// An API Gateway sample event as fuzz input: method, path, query (with `more_query` added),
/// `If-Match` and `body`, one per line (the body is the rest).
fn http_seed(event: &Value, more_query: &str, body: &str) -> Vec<u8> {
    let field = |pointer: &str| event.pointer(pointer).and_then(Value::as_str).unwrap_or("");
    format!(
        "{}\n{}\n{}{more_query}\n{}\n{body}",
        field("/requestContext/http/method"),
        field("/rawPath"),
        field("/rawQueryString"),
        field("/headers/if-match"),
    )
    .into_bytes()
}

/// A JSON document with its objects' members in the order written (`Value` sorts them), the
/// order a derived `Deserialize` reads an array of a struct's fields in.
#[derive(Debug, Clone)]
enum Ordered {
    Object(Vec<(String, Ordered)>),
    Array(Vec<Ordered>),
    Scalar(Value),
}

impl<'de> Deserialize<'de> for Ordered {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Any;
        impl<'de> Visitor<'de> for Any {
            type Value = Ordered;
            fn expecting(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                formatter.write_str("JSON")
            }
            fn visit_bool<E>(self, v: bool) -> Result<Ordered, E> {
                Ok(Ordered::Scalar(v.into()))
            }
            fn visit_i64<E>(self, v: i64) -> Result<Ordered, E> {
                Ok(Ordered::Scalar(v.into()))
            }
            fn visit_u64<E>(self, v: u64) -> Result<Ordered, E> {
                Ok(Ordered::Scalar(v.into()))
            }
            fn visit_f64<E>(self, v: f64) -> Result<Ordered, E> {
                Ok(Ordered::Scalar(v.into()))
            }
            fn visit_str<E>(self, v: &str) -> Result<Ordered, E> {
                Ok(Ordered::Scalar(v.into()))
            }
            fn visit_unit<E>(self) -> Result<Ordered, E> {
                Ok(Ordered::Scalar(Value::Null))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Ordered, A::Error> {
                let mut items = Vec::new();
                while let Some(item) = seq.next_element()? {
                    items.push(item);
                }
                Ok(Ordered::Array(items))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Ordered, A::Error> {
                let mut members = Vec::new();
                while let Some(member) = map.next_entry()? {
                    members.push(member);
                }
                Ok(Ordered::Object(members))
            }
        }
        deserializer.deserialize_any(Any)
    }
}

impl Ordered {
    fn text(&self) -> String {
        match self {
            Ordered::Scalar(value) => value.to_string(),
            Ordered::Array(items) => {
                let items: Vec<String> = items.iter().map(Ordered::text).collect();
                format!("[{}]", items.join(","))
            }
            Ordered::Object(members) => {
                let members: Vec<String> = members
                    .iter()
                    .map(|(name, value)| format!("{}:{}", Value::from(name.as_str()), value.text()))
                    .collect();
                format!("{{{}}}", members.join(","))
            }
        }
    }

    /// The document once per object in it, with that object written as the array of its
    /// values.
    fn positional(&self) -> Vec<Ordered> {
        match self {
            Ordered::Scalar(_) => Vec::new(),
            Ordered::Array(items) => (0..items.len())
                .flat_map(|index| {
                    items[index].positional().into_iter().map(move |variant| {
                        let mut items = items.clone();
                        items[index] = variant;
                        Ordered::Array(items)
                    })
                })
                .collect(),
            Ordered::Object(members) => {
                let values = members.iter().map(|(_, value)| value.clone()).collect();
                let mut variants = vec![Ordered::Array(values)];
                for index in 0..members.len() {
                    for variant in members[index].1.positional() {
                        let mut members = members.clone();
                        members[index].1 = variant;
                        variants.push(Ordered::Object(members));
                    }
                }
                variants
            }
        }
    }
}

/// A stream record written as the array of its values. Only the record itself: the stream
/// consumers read no object inside it (an enriched record's `profile` and `session` are
/// ignored like any field they do not know; `attributes` is a map, never read by position).
fn positional_record(record: &[u8]) -> Vec<Vec<u8>> {
    positional(record).into_iter().take(1).collect()
}

/// `json` once per object in it, that object written as the array of its values (the whole
/// document first); none when `json` is not JSON.
fn positional(json: &[u8]) -> Vec<Vec<u8>> {
    serde_json::from_slice::<Ordered>(json)
        .map(|document| {
            document
                .positional()
                .iter()
                .map(|variant| variant.text().into_bytes())
                .collect()
        })
        .unwrap_or_default()
}

/// Every refusal must be a client error (4xx) with a reason: never a panic, never a 5xx.
fn refused(error: ApiError) -> Result<bool, String> {
    let status = error.status();
    if status.is_client_error() && !error.detail().is_empty() {
        Ok(false)
    } else {
        Err(format!("refused with {status}: {}", error.detail()))
    }
}

/// Parses one request the way its API does before any I/O: the route, then what that route
/// reads (query and cursor, `If-Match`, the JSON body). Accepted if every step is.
fn check_http(input: &[u8]) -> Result<bool, String> {
    use inference::request::{BatchRequest, MAX_BODY_BYTES as INFERENCE_LIMIT, PredictRequest};
    use todo_api::model::{MAX_BODY_BYTES as TODO_LIMIT, NewTask, TaskChanges, TaskStatus};

    let text = String::from_utf8_lossy(input);
    let mut lines = text.splitn(5, '\n');
    let method = Method::from_bytes(lines.next().unwrap_or("").as_bytes()).unwrap_or(Method::GET);
    let path = lines.next().unwrap_or("");
    let query = lines.next().unwrap_or("");
    let if_match = lines.next().unwrap_or("");
    let body = lines.next().unwrap_or("").to_owned();
    let request = || {
        let mut request = Request::new(Body::from(body.clone()));
        request
            .headers_mut()
            .insert("content-type", HeaderValue::from_static("application/json"));
        request
    };

    let steps = || -> Result<(), ApiError> {
        if path.starts_with("/predict") {
            inference::handler::resolve(&method, path)?;
            if path == "/predict/batch" {
                parse_json_body::<BatchRequest>(&request(), INFERENCE_LIMIT)?.validate()
            } else {
                parse_json_body::<PredictRequest>(&request(), INFERENCE_LIMIT)?.validate(None)
            }
        } else {
            todo_api::routes::resolve(&method, path, None)?;
            let expected_version = || {
                let mut headers = HeaderMap::new();
                if let Ok(value) = HeaderValue::from_str(if_match)
                    && !if_match.is_empty()
                {
                    headers.insert("if-match", value);
                }
                todo_api::preconditions::expected_version(&headers).map(drop)
            };
            match method {
                Method::POST => parse_json_body::<NewTask>(&request(), TODO_LIMIT)?
                    .validate()
                    .map(drop),
                Method::PUT => {
                    expected_version()?;
                    parse_json_body::<TaskChanges>(&request(), TODO_LIMIT)?
                        .validate()
                        .map(drop)
                }
                Method::DELETE => expected_version(),
                _ if path == "/tasks" => {
                    let pairs: Vec<(&str, &str)> = query
                        .split('&')
                        .filter(|pair| !pair.is_empty())
                        .map(|pair| pair.split_once('=').unwrap_or((pair, "")))
                        .collect();
                    todo_api::list_query::parse(pairs.iter().copied())?;
                    let status = pairs
                        .iter()
                        .find(|(name, _)| *name == "status")
                        .and_then(|(_, value)| TaskStatus::parse(value).ok());
                    match pairs.iter().find(|(name, _)| *name == "next") {
                        Some((_, next)) => todo_api::cursor::Cursor::decode(next, status).map(drop),
                        None => Ok(()),
                    }
                }
                _ => Ok(()),
            }
        }
    };
    match steps() {
        Ok(()) => Ok(true),
        Err(error) => refused(error),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn events_dir() -> std::path::PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../events")
    }

    #[test]
    fn positional_variants_write_each_object_as_its_values_in_order() {
        let variants: Vec<String> = positional(br#"{"b": 1, "a": {"y": [2, {"z": null}]}}"#)
            .into_iter()
            .map(|variant| String::from_utf8(variant).unwrap())
            .collect();
        assert_eq!(
            variants,
            [
                r#"[1,{"y":[2,{"z":null}]}]"#,
                r#"{"b":1,"a":[[2,{"z":null}]]}"#,
                r#"{"b":1,"a":{"y":[2,[null]]}}"#,
            ]
        );
        assert!(positional(b"[1, \"x\"]").is_empty());
        assert!(positional(b"not json").is_empty());
    }

    #[test]
    fn mutations_are_reproducible_from_the_seed_and_change_the_input() {
        let seed = b"{\"userId\": \"u-1\", \"type\": \"view\"}".to_vec();
        let run = |n: u64| {
            let mut rng = StdRng::seed_from_u64(n);
            (0..50)
                .map(|_| mutate(&mut rng, &seed, std::slice::from_ref(&seed)))
                .collect::<Vec<_>>()
        };
        assert_eq!(run(7), run(7));
        assert_ne!(run(7), run(8));
        assert!(run(7).iter().filter(|m| **m != seed).count() >= 45);
    }

    #[test]
    fn the_samples_are_accepted_as_given_and_every_target_runs() {
        let targets = targets(&events_dir()).unwrap();
        for target in &targets {
            for seed in &target.seeds {
                assert_eq!(
                    (target.check)(seed),
                    Ok(true),
                    "{}: {}",
                    target.name,
                    String::from_utf8_lossy(seed)
                );
            }
        }
        // An object written as the array of its values is refused wherever it is.
        for target in &targets {
            assert!(!target.refused_seeds.is_empty(), "{}", target.name);
            for seed in &target.refused_seeds {
                assert_eq!(
                    (target.check)(seed),
                    Ok(false),
                    "{}: {}",
                    target.name,
                    String::from_utf8_lossy(seed)
                );
            }
        }
        let report = run(&targets, Duration::from_millis(200), 1);
        assert!(report.passed(), "{}", report.render());
        assert!(
            report
                .targets
                .iter()
                .all(|t| t.accepted > 0 && t.refused > 0)
        );
    }

    #[test]
    fn a_panicking_or_lying_target_is_reported_with_its_input() {
        let targets = vec![
            Target {
                name: "panics",
                seeds: vec![b"boom".to_vec()],
                refused_seeds: Vec::new(),
                check: Box::new(|input| {
                    assert!(input != b"boom", "it went boom");
                    Ok(false)
                }),
            },
            Target {
                name: "loses",
                seeds: vec![b"x".to_vec()],
                refused_seeds: Vec::new(),
                check: Box::new(|_| Err("a record was lost".into())),
            },
        ];
        let report = run(&targets, Duration::from_millis(50), 3);
        assert!(!report.passed());
        assert!(report.targets[0].failures[0].contains("it went boom"));
        assert!(report.targets[0].failures[0].contains("\"boom\""));
        assert_eq!(report.targets[1].failed, report.targets[1].executions);
        assert!(report.render().contains("fuzz: FAIL"));
    }
}

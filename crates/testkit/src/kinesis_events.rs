//! Kinesis events as Lambda sends them, for tests and benchmarks.

use aws_lambda_events::kinesis::KinesisEvent;
use base64::Engine;
use serde_json::{Value, json};

/// An event of `data` from shard `shard`, with sequence numbers `first`, `first + 1`, ...,
/// arrived now.
pub fn batch(shard: &str, first: u64, data: &[Vec<u8>]) -> KinesisEvent {
    let arrival = time::OffsetDateTime::now_utc().unix_timestamp();
    let records: Vec<Value> = data
        .iter()
        .enumerate()
        .map(|(i, data)| {
            let sequence = (first + i as u64).to_string();
            json!({
                "kinesis": {"kinesisSchemaVersion": "1.0", "partitionKey": "pk",
                            "sequenceNumber": sequence,
                            "data": base64::engine::general_purpose::STANDARD.encode(data),
                            "approximateArrivalTimestamp": arrival as f64 + 0.25},
                "eventSource": "aws:kinesis", "eventVersion": "1.0",
                "eventID": format!("{shard}:{sequence}"), "eventName": "aws:kinesis:record",
                "invokeIdentityArn": "arn:aws:iam::123456789012:role/consumer",
                "awsRegion": "us-east-1",
                "eventSourceARN": "arn:aws:kinesis:us-east-1:123456789012:stream/local-stream"
            })
        })
        .collect();
    serde_json::from_value(json!({ "Records": records })).expect("a Kinesis event")
}

/// The sample event `events/<path>` of the repository (the trigger payloads every function's
/// tests and documentation use).
pub fn sample(path: &str) -> KinesisEvent {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../events")
        .join(path);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|error| panic!("{}: {error}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|error| panic!("{}: {error}", path.display()))
}

/// [`sample`] `path` decoded at `now` as consumer `rejected_by` does; none of its records may
/// be rejected.
pub fn decoded_sample(
    path: &str,
    now: time::OffsetDateTime,
    rejected_by: &str,
) -> shared::keyed_state::decode::Decoded {
    let event = sample(path);
    let decoded = shared::keyed_state::decode::decode(
        &event.records,
        time::Duration::minutes(5),
        now,
        rejected_by,
    );
    assert!(decoded.rejects.is_empty(), "{:?}", decoded.rejects);
    decoded
}

//! The two sides of an invocation in Lambda's format: the Kinesis event built from a batch, and
//! the function's partial batch response read back.

use aws_lambda_events::streams::KinesisEventResponse;
use aws_sdk_kinesis::types::Record;
use base64::Engine;
use serde_json::{Value, json};

/// The position of the first failed record in a function's answer, as Lambda reads it: an
/// empty or null answer, `{}` or a null or empty list is success; the lowest sequence number
/// named is the failure; a missing or empty identifier, one not in the batch, or an answer that
/// is not a batch response fails the whole batch.
pub(super) fn failed_from(response: &[u8], sequences: &[&str]) -> Result<Option<usize>, String> {
    let value: Value = if response.iter().all(u8::is_ascii_whitespace) {
        Value::Null
    } else {
        serde_json::from_slice(response)
            .map_err(|_| "the answer is not a batch response".to_owned())?
    };
    let list = match &value {
        Value::Null => return Ok(None),
        Value::Object(object) => match object.get("batchItemFailures") {
            None | Some(Value::Null) => return Ok(None),
            Some(list) => list.clone(),
        },
        _ => return Err("the answer is not a batch response".into()),
    };
    let parsed: KinesisEventResponse = serde_json::from_value(json!({ "batchItemFailures": list }))
        .map_err(|error| format!("batchItemFailures does not parse: {error}"))?;
    let mut first: Option<usize> = None;
    for failure in parsed.batch_item_failures {
        let identifier = failure.item_identifier.unwrap_or_default();
        let Some(index) = sequences.iter().position(|s| *s == identifier) else {
            return Err(format!(
                "itemIdentifier {identifier:?} is not a sequence number of the batch"
            ));
        };
        first = Some(first.map_or(index, |known| known.min(index)));
    }
    Ok(first)
}

/// The event Lambda builds from a shard's records.
pub(super) fn kinesis_event(
    records: &[Record],
    shard_id: &str,
    stream_arn: &str,
    region: &str,
) -> Value {
    let records: Vec<Value> = records
        .iter()
        .map(|record| {
            let arrival = record
                .approximate_arrival_timestamp()
                .map(|at| at.secs() as f64 + f64::from(at.subsec_nanos()) / 1e9)
                .unwrap_or_default();
            json!({
                "kinesis": {
                    "kinesisSchemaVersion": "1.0",
                    "partitionKey": record.partition_key(),
                    "sequenceNumber": record.sequence_number(),
                    "data": base64::engine::general_purpose::STANDARD.encode(record.data().as_ref()),
                    "approximateArrivalTimestamp": arrival,
                },
                "eventSource": "aws:kinesis",
                "eventVersion": "1.0",
                "eventID": format!("{shard_id}:{}", record.sequence_number()),
                "eventName": "aws:kinesis:record",
                "invokeIdentityArn": "arn:aws:iam::123456789012:role/local-stack",
                "awsRegion": region,
                "eventSourceARN": stream_arn,
            })
        })
        .collect();
    json!({ "Records": records })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_read_as_lambda_reads_them() {
        let sequences = ["7", "9", "11"];
        let read = |answer: &str| failed_from(answer.as_bytes(), &sequences);
        assert_eq!(read(""), Ok(None));
        assert_eq!(read("null"), Ok(None));
        assert_eq!(read("{}"), Ok(None));
        assert_eq!(read(r#"{"batchItemFailures": []}"#), Ok(None));
        assert_eq!(
            read(r#"{"batchItemFailures": [{"itemIdentifier": "11"}, {"itemIdentifier": "9"}]}"#),
            Ok(Some(1)),
            "the lowest sequence number named"
        );
        assert!(read(r#"{"batchItemFailures": [{"itemIdentifier": "8"}]}"#).is_err());
        assert!(read(r#"{"batchItemFailures": [{"itemIdentifier": ""}]}"#).is_err());
        assert!(read(r#"{"batchItemFailures": [{}]}"#).is_err());
        assert!(read("[1]").is_err());
        assert!(read("not json").is_err());
    }
}

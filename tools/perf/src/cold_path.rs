//! The cold path of every function: a fresh process, its init, and a first event whose handling
//! makes its first AWS calls over TLS (through the terminator in front of the emulator), up to
//! its answer. What each function is handed, and what counts as served, is here.

use std::path::Path;

use aws_lambda_events::kinesis::KinesisEvent;
use aws_lambda_events::sqs::SqsEvent;
use stack::Stack;
use time::OffsetDateTime;

use crate::workload::{self, WorkloadOptions};

/// One function's first event and the check its answer must pass.
pub struct ColdCase {
    pub function: &'static str,
    /// What the first invocation does, for the report.
    pub first_event: &'static str,
    pub payload: Vec<u8>,
    pub accept: fn(&[u8]) -> Result<(), String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ColdCaseError {
    #[error("{path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{0}")]
    Workload(#[from] workload::WorkloadError),
}

/// Records as the stream functions' first batches carry them: the first batch of the activity
/// stream and of the enriched stream after the reference workload ran.
pub struct StreamBatches {
    pub activity: KinesisEvent,
    pub enriched: KinesisEvent,
}

impl StreamBatches {
    /// Reads each stream from its start and makes its first batch, of the size its consumer's
    /// event source takes.
    pub async fn read(
        stack: &Stack,
        kinesis: &aws_sdk_kinesis::Client,
        resources: &emulator::resources::Resources,
    ) -> Result<Self, ColdCaseError> {
        let first_batch = async |stream: &str, consumer: &str| {
            let (records, _) = workload::read_stream(kinesis, &resources.streams[stream]).await?;
            let size = (workload::batch_size(stack, consumer) as usize).min(records.len());
            Ok::<_, ColdCaseError>(workload::kinesis_batch(0, &records[..size]))
        };
        Ok(Self {
            activity: first_batch("activity", "stream-enrichment").await?,
            enriched: first_batch("enriched", "feature-updates").await?,
        })
    }
}

/// The cases: the HTTP APIs get their sample requests (a task list: one DynamoDB Query; a
/// prediction: one GetItem, then the model endpoint); event-router a batch of fresh events (one
/// PutRecords, and SQS for orders); the stream functions their stream's first batch, already
/// applied by the workload, so every run reads its users' items (one BatchGetItem) and skips them
/// as duplicates, the same work each run.
pub fn cases(
    stack: &Stack,
    events_dir: &Path,
    options: &WorkloadOptions,
    queue_arn: &str,
    streams: Option<&StreamBatches>,
) -> Result<Vec<ColdCase>, ColdCaseError> {
    let read = |path: &str| {
        let path = events_dir.join(path);
        std::fs::read(&path).map_err(|source| ColdCaseError::Read {
            path: path.display().to_string(),
            source,
        })
    };
    let mut cases = vec![
        ColdCase {
            function: "todo-api",
            first_event: "GET /tasks (one DynamoDB Query)",
            payload: read("todo-api/list-tasks.json")?,
            accept: answered_200,
        },
        ColdCase {
            function: "inference",
            first_event: "POST /predict (one DynamoDB GetItem, one model call)",
            payload: read("inference/predict.json")?,
            accept: answered_200,
        },
    ];
    let size = workload::batch_size(stack, "event-router") as usize;
    let fresh = WorkloadOptions {
        events: size,
        ..options.clone()
    };
    let router_event: SqsEvent = workload::sqs_batch(
        &workload::events(&fresh, OffsetDateTime::now_utc()),
        0,
        queue_arn,
    );
    cases.push(ColdCase {
        function: "event-router",
        first_event: "a batch of fresh events (Kinesis PutRecords, SQS for orders)",
        payload: serde_json::to_vec(&router_event).expect("an SQS event serializes"),
        accept: no_batch_item_failures,
    });
    if let Some(streams) = streams {
        for (function, batch) in [
            ("stream-enrichment", &streams.activity),
            ("feature-updates", &streams.enriched),
        ] {
            cases.push(ColdCase {
                function,
                first_event: "a batch already applied (one DynamoDB BatchGetItem)",
                payload: serde_json::to_vec(batch).expect("a Kinesis event serializes"),
                accept: no_batch_item_failures,
            });
        }
    }
    Ok(cases)
}

/// An HTTP API answer counts only with status 200.
pub fn answered_200(body: &[u8]) -> Result<(), String> {
    let answer = json(body)?;
    match answer["statusCode"].as_u64() {
        Some(200) => Ok(()),
        _ => Err(format!("expected statusCode 200, got: {answer}")),
    }
}

/// A batch answer counts only if no record failed (the stream functions and event-router report
/// partial batch failures).
pub fn no_batch_item_failures(body: &[u8]) -> Result<(), String> {
    let answer = json(body)?;
    match answer["batchItemFailures"].as_array() {
        Some(failures) if failures.is_empty() => Ok(()),
        _ => Err(format!("expected no batchItemFailures, got: {answer}")),
    }
}

fn json(body: &[u8]) -> Result<serde_json::Value, String> {
    serde_json::from_slice(body).map_err(|e| {
        format!(
            "the answer is not JSON ({e}): {}",
            String::from_utf8_lossy(body)
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_200_counts_for_the_http_apis() {
        assert!(answered_200(br#"{"statusCode":200,"body":"[]"}"#).is_ok());
        let refused = answered_200(br#"{"statusCode":503,"body":"cold"}"#).unwrap_err();
        assert!(refused.contains("503"), "{refused}");
        assert!(answered_200(b"not json").unwrap_err().contains("not JSON"));
    }

    #[test]
    fn only_an_empty_failure_list_counts_for_the_batch_functions() {
        assert!(no_batch_item_failures(br#"{"batchItemFailures":[]}"#).is_ok());
        assert!(
            no_batch_item_failures(br#"{"batchItemFailures":[{"itemIdentifier":"1"}]}"#).is_err()
        );
        assert!(no_batch_item_failures(br#"{"statusCode":200}"#).is_err());
    }

    #[test]
    fn every_function_of_the_manifest_has_a_case() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let stack = Stack::load(&root.join("infra/stack.json")).expect("the manifest loads");
        let options = WorkloadOptions {
            events: 0,
            users: 10,
            zipf_exponent: 1.1,
            seed: 1,
            order_share: 0.5,
            hot_user_share: 0.0,
        };
        let empty: KinesisEvent = serde_json::from_str(r#"{"Records":[]}"#).unwrap();
        let streams = StreamBatches {
            activity: empty.clone(),
            enriched: empty,
        };
        let cases = cases(
            &stack,
            &root.join("events"),
            &options,
            "arn:aws:sqs:us-east-1:000000000000:ingest",
            Some(&streams),
        )
        .expect("the sample events are there");
        let mut functions: Vec<_> = cases.iter().map(|case| case.function).collect();
        functions.sort();
        let mut expected: Vec<_> = stack.functions.keys().map(String::as_str).collect();
        expected.sort();
        assert_eq!(functions, expected);
        let router = cases.iter().find(|c| c.function == "event-router").unwrap();
        let event: SqsEvent = serde_json::from_slice(&router.payload).unwrap();
        assert_eq!(
            event.records.len(),
            workload::batch_size(&stack, "event-router") as usize,
            "a batch as deployed"
        );
    }
}

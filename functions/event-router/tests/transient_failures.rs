//! Transient per-record failures, which the emulator never produces: a stand-in Kinesis endpoint
//! (AWS JSON 1.1, as the SDK speaks it) refuses chosen records of PutRecords with
//! `ProvisionedThroughputExceededException`, and records what each call carried.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_lambda_events::sqs::{SqsEvent, SqsMessage};
use event_router::routing::RoutingTable;
use event_router::{Config, Router};
use serde_json::{Value, json};
use shared::clients::ClientSettings;
use shared::events::TimeLimits;
use testkit::fake_endpoint::{self, FakeResponse};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use tokio::time::Instant;

/// Which partition keys to refuse on the nth PutRecords call (0-based).
type Refusals = fn(call: usize, partition_key: &str) -> bool;

/// Serves PutRecords on a loopback port; returns the endpoint and the partition keys per call.
async fn throttling_kinesis(refuse: Refusals) -> (String, Arc<Mutex<Vec<Vec<String>>>>) {
    let calls = Arc::new(Mutex::new(Vec::new()));
    let seen = calls.clone();
    let endpoint = fake_endpoint::serve(move |request| {
        let request: Value = serde_json::from_slice(&request.body).unwrap();
        let keys: Vec<String> = request["Records"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["PartitionKey"].as_str().unwrap().to_owned())
            .collect();
        let call = {
            let mut calls = seen.lock().unwrap();
            calls.push(keys.clone());
            calls.len() - 1
        };
        let results: Vec<Value> = keys
            .iter()
            .enumerate()
            .map(|(n, key)| {
                if refuse(call, key) {
                    json!({"ErrorCode": "ProvisionedThroughputExceededException",
                           "ErrorMessage": "Rate exceeded for shard shardId-000000000000"})
                } else {
                    json!({"SequenceNumber": format!("{}", call * 1000 + n), "ShardId": "shardId-000000000000"})
                }
            })
            .collect();
        let failed = results.iter().filter(|r| r.get("ErrorCode").is_some()).count();
        FakeResponse {
            delay: std::time::Duration::ZERO,
            status: 200,
            headers: vec![("Content-Type", "application/x-amz-json-1.1".into())],
            body: json!({"FailedRecordCount": failed, "Records": results}).to_string(),
        }
    })
    .await;
    (endpoint, calls)
}

async fn router_against(endpoint: &str) -> Router {
    // Credentials and a region as every test gets them; the endpoint is the stand-in's.
    let sdk = testkit::emulator::sdk_config(ClientSettings::batch_consumer()).await;
    let kinesis = aws_sdk_kinesis::Client::from_conf(
        aws_sdk_kinesis::config::Builder::from(&sdk)
            .endpoint_url(endpoint)
            .build(),
    );
    let table = RoutingTable::parse(
        r#"{"routes": [{"detail_type": "user_activity", "targets": [{"kinesis": {"stream": "activity"}}]}]}"#,
        |_| None,
    )
    .unwrap();
    Router::new(
        kinesis,
        aws_sdk_sqs::Client::new(&sdk),
        &Config {
            routing_table: table,
            rejects_queue_url: "http://127.0.0.1:1/unused".into(),
            time_limits: TimeLimits::default(),
        },
    )
}

fn batch(users: &[&str]) -> SqsEvent {
    let timestamp = OffsetDateTime::now_utc().format(&Rfc3339).unwrap();
    let mut event = SqsEvent::default();
    event.records = users
        .iter()
        .map(|user| {
            let mut message = SqsMessage::default();
            message.message_id = Some(format!("msg-{user}"));
            message.body = Some(
                json!({"version": "0", "id": format!("evt-{user}"), "detail-type": "user_activity",
                       "source": "tests", "detail": {"userId": user, "type": "click", "timestamp": timestamp}})
                .to_string(),
            );
            message
        })
        .collect();
    event
}

#[tokio::test]
async fn throttled_records_alone_are_resent_until_accepted() {
    // The first call refuses u2 and u4; the second refuses u4 again; the third takes it.
    let (endpoint, calls) = throttling_kinesis(|call, key| match call {
        0 => key == "u2" || key == "u4",
        1 => key == "u4",
        _ => false,
    })
    .await;
    let router = router_against(&endpoint).await;
    let (response, report) = router
        .handle(
            batch(&["u1", "u2", "u3", "u4", "u5"]),
            Instant::now() + Duration::from_secs(20),
        )
        .await;
    assert!(response.batch_item_failures.is_empty(), "{response:?}");
    assert_eq!(
        *calls.lock().unwrap(),
        [
            vec!["u1", "u2", "u3", "u4", "u5"],
            vec!["u2", "u4"],
            vec!["u4"]
        ]
    );
    assert_eq!((report.retried, report.calls, report.failed), (3, 3, 0));
}

#[tokio::test]
async fn records_still_throttled_at_the_deadline_fail_only_their_messages() {
    let (endpoint, calls) = throttling_kinesis(|_, key| key == "u2").await;
    let router = router_against(&endpoint).await;
    let (response, report) = router
        .handle(
            batch(&["u1", "u2", "u3"]),
            Instant::now() + Duration::from_millis(600),
        )
        .await;
    let failed: Vec<&str> = response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.as_str())
        .collect();
    assert_eq!(failed, ["msg-u2"]);
    assert_eq!(report.failed, 1);
    let calls = calls.lock().unwrap();
    assert!(calls.len() >= 2, "it retried before giving up: {calls:?}");
    assert!(
        calls[1..].iter().all(|keys| keys == &["u2"]),
        "only u2 was resent: {calls:?}"
    );
}

//! BatchGetItem's unprocessed keys and BatchWriteItem's unprocessed items, which emulators
//! never return: a stand-in DynamoDB endpoint leaves some unprocessed, and the store (or the
//! applied event ids' table) asks for or writes exactly those again, or reports them failed
//! when time runs out.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use serde_json::{Value, json};
use shared::applied_events::{AppliedEvent, AppliedEventsTable};
use shared::clients::{self, ClientSettings};
use shared::fake_endpoint::{self, FakeResponse};
use stream_enrichment::store::{Key, Store, Table};
use tokio::time::Instant;

const PROFILES: &str = "profiles";
const AGGREGATES: &str = "aggregates";
const APPLIED: &str = "aggregates-event-ids";

/// Answers BatchGetItem: the profile of `u1` is found (carrying an `eventId` attribute, as an
/// imported profile may: it is still the profile); the first `unprocessed_rounds` calls leave
/// every aggregates key unprocessed. Records each call's request.
async fn dynamodb(unprocessed_rounds: usize) -> (String, Arc<std::sync::Mutex<Vec<Value>>>) {
    let calls = Arc::new(AtomicUsize::new(0));
    let requests = Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen = Arc::clone(&requests);
    let endpoint = fake_endpoint::serve(move |request| {
        let body: Value = serde_json::from_slice(&request.body).unwrap();
        seen.lock().unwrap().push(body.clone());
        let round = calls.fetch_add(1, Ordering::SeqCst);
        let items = &body["RequestItems"];
        let mut responses = json!({});
        let mut unprocessed = json!({});
        if let Some(keys) = items[PROFILES]["Keys"].as_array() {
            responses[PROFILES] = Value::Array(
                keys.iter()
                    .filter(|key| key["userId"]["S"] == "u1")
                    .map(|_| {
                        json!({"userId": {"S": "u1"}, "segment": {"S": "frequent"},
                            "eventId": {"S": "signup-u1"}})
                    })
                    .collect(),
            );
        }
        if items[AGGREGATES].is_object() {
            if round < unprocessed_rounds {
                unprocessed[AGGREGATES] = items[AGGREGATES].clone();
            } else {
                responses[AGGREGATES] = json!([]);
            }
        }
        FakeResponse::aws_json(
            200,
            json!({"Responses": responses, "UnprocessedKeys": unprocessed}).to_string(),
        )
    })
    .await;
    (endpoint, requests)
}

async fn store(endpoint: &str) -> Store {
    let sdk = clients::load(ClientSettings::batch_consumer()).await;
    let config = aws_sdk_dynamodb::config::Builder::from(&sdk)
        .endpoint_url(endpoint)
        .build();
    Store::new(
        aws_sdk_dynamodb::Client::from_conf(config),
        PROFILES.into(),
        AGGREGATES.into(),
        APPLIED.into(),
    )
}

fn keys() -> Vec<Key> {
    ["u1", "u2"]
        .into_iter()
        .flat_map(|user| [Table::Profiles, Table::Aggregates].map(|table| Key::user(table, user)))
        .collect()
}

#[tokio::test]
async fn unprocessed_keys_are_asked_again_alone() {
    let (endpoint, requests) = dynamodb(1).await;
    let reads = store(&endpoint)
        .await
        .read(keys(), Instant::now() + Duration::from_secs(10))
        .await;
    assert!(reads.unread.is_empty(), "{:?}", reads.unread);
    assert_eq!(reads.calls, 2);
    assert!(reads.profiles["u1"].found);
    assert!(!reads.profiles["u2"].found, "no item: unknown");
    assert_eq!(reads.states.len(), 2);
    assert!(reads.states.values().all(Option::is_none));
    let requests = requests.lock().unwrap();
    assert!(
        requests[1]["RequestItems"][PROFILES].is_null(),
        "only the unprocessed keys again: {}",
        requests[1]
    );
    assert_eq!(
        requests[1]["RequestItems"][AGGREGATES]["Keys"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    assert_eq!(
        requests[0]["RequestItems"][AGGREGATES]["ConsistentRead"], true,
        "a state read sees the last write"
    );
}

#[tokio::test]
async fn keys_still_unprocessed_at_the_deadline_are_reported_unread() {
    let (endpoint, _) = dynamodb(usize::MAX).await;
    let reads = store(&endpoint)
        .await
        .read(keys(), Instant::now() + Duration::from_millis(300))
        .await;
    let mut unread: Vec<(Table, &str)> = reads
        .unread
        .iter()
        .map(|(key, _)| (key.table, key.user_id.as_str()))
        .collect();
    unread.sort_by_key(|(_, user)| *user);
    assert_eq!(
        unread,
        [(Table::Aggregates, "u1"), (Table::Aggregates, "u2")]
    );
    assert!(reads.profiles["u1"].found, "what was read is kept");
    assert!(reads.calls >= 2);
}

/// An answer naming a table the call did not ask for, or an item of no key asked for, cannot
/// say which keys are absent: every key of the call is unread, not absent.
#[tokio::test]
async fn an_answer_about_keys_not_asked_for_leaves_the_keys_unread() {
    for answer in [
        json!({"Responses": {"another-table": [{"userId": {"S": "u1"}}]}}),
        json!({"Responses": {AGGREGATES: [{"userId": {"S": "u9"}}]}}),
        json!({"Responses": {}, "UnprocessedKeys": {"another-table": {"Keys": [{"userId": {"S": "u1"}}]}}}),
    ] {
        let body = answer.to_string();
        let endpoint =
            fake_endpoint::serve(move |_| FakeResponse::aws_json(200, body.clone())).await;
        let reads = store(&endpoint)
            .await
            .read(keys(), Instant::now() + Duration::from_secs(10))
            .await;
        assert_eq!(reads.unread.len(), 4, "{answer}: {:?}", reads.unread);
        assert!(
            reads.unread[0].1.contains("not asked for"),
            "{:?}",
            reads.unread[0]
        );
        assert_eq!(reads.calls, 1, "asking again cannot help: {answer}");
    }
}

/// Answers BatchWriteItem, leaving unprocessed the put requests `leave` picks from each call's
/// (by call number, from 0). Records each call's request.
async fn dynamodb_writes_leaving<F>(leave: F) -> (String, Arc<std::sync::Mutex<Vec<Value>>>)
where
    F: Fn(usize, &[Value]) -> Vec<Value> + Send + Sync + 'static,
{
    let calls = Arc::new(AtomicUsize::new(0));
    let requests = Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen = Arc::clone(&requests);
    let endpoint = fake_endpoint::serve(move |request| {
        let body: Value = serde_json::from_slice(&request.body).unwrap();
        seen.lock().unwrap().push(body.clone());
        let round = calls.fetch_add(1, Ordering::SeqCst);
        let left = leave(round, body["RequestItems"][APPLIED].as_array().unwrap());
        let unprocessed = if left.is_empty() {
            json!({})
        } else {
            json!({ APPLIED: left })
        };
        FakeResponse::aws_json(200, json!({"UnprocessedItems": unprocessed}).to_string())
    })
    .await;
    (endpoint, requests)
}

/// Answers BatchWriteItem: the first `unprocessed_rounds` calls leave their last item
/// unprocessed.
async fn dynamodb_writes(unprocessed_rounds: usize) -> (String, Arc<std::sync::Mutex<Vec<Value>>>) {
    dynamodb_writes_leaving(move |round, puts| {
        if round < unprocessed_rounds {
            puts.last().cloned().into_iter().collect()
        } else {
            Vec::new()
        }
    })
    .await
}

async fn applied_events(endpoint: &str) -> AppliedEventsTable {
    let sdk = clients::load(ClientSettings::batch_consumer()).await;
    let config = aws_sdk_dynamodb::config::Builder::from(&sdk)
        .endpoint_url(endpoint)
        .build();
    AppliedEventsTable::new(aws_sdk_dynamodb::Client::from_conf(config), APPLIED.into())
}

fn applied(count: usize) -> Vec<AppliedEvent> {
    (0..count)
        .map(|n| AppliedEvent {
            user_id: format!("u{}", n % 3),
            event_id: format!("e{n}"),
        })
        .collect()
}

#[tokio::test]
async fn applied_event_ids_go_25_per_call_and_unprocessed_ones_are_written_again_alone() {
    let (endpoint, requests) = dynamodb_writes(1).await;
    let now = time::OffsetDateTime::now_utc();
    let recorded = applied_events(&endpoint)
        .await
        .record(applied(30), now, Instant::now() + Duration::from_secs(10))
        .await;
    assert!(recorded.failed.is_empty(), "{:?}", recorded.failed);
    assert_eq!(recorded.recorded, 30);
    assert_eq!(recorded.calls, 3, "25 + 5, then the one left unprocessed");
    let requests = requests.lock().unwrap();
    let sizes: Vec<usize> = requests
        .iter()
        .map(|request| request["RequestItems"][APPLIED].as_array().unwrap().len())
        .collect();
    assert_eq!(sizes, [25, 5, 1]);
    let again = &requests[2]["RequestItems"][APPLIED][0]["PutRequest"]["Item"];
    assert_eq!(
        again["eventId"]["S"], "e24",
        "the unprocessed item: {again}"
    );
    let expires: i64 = again["expiresAt"]["N"].as_str().unwrap().parse().unwrap();
    assert_eq!(expires, (now + time::Duration::hours(24)).unix_timestamp());
}

#[tokio::test]
async fn applied_event_ids_still_unprocessed_at_the_deadline_are_reported_with_their_user() {
    let (endpoint, _) = dynamodb_writes(usize::MAX).await;
    let recorded = applied_events(&endpoint)
        .await
        .record(
            applied(2),
            time::OffsetDateTime::now_utc(),
            Instant::now() + Duration::from_millis(300),
        )
        .await;
    let failed: Vec<&AppliedEvent> = recorded.failed.iter().map(|(event, _)| event).collect();
    assert_eq!(
        failed,
        [&AppliedEvent {
            user_id: "u1".into(),
            event_id: "e1".into()
        }]
    );
}

/// An unprocessed item that names no id sent could stand for any of them: the call's ids are
/// all sent again, none counted recorded before.
#[tokio::test]
async fn an_unprocessed_item_naming_no_id_sent_sends_every_id_again() {
    let (endpoint, requests) = dynamodb_writes_leaving(|round, _| {
        if round == 0 {
            vec![json!({"PutRequest": {"Item": {"userId": {"S": "u0"}}}})]
        } else {
            Vec::new()
        }
    })
    .await;
    let recorded = applied_events(&endpoint)
        .await
        .record(
            applied(3),
            time::OffsetDateTime::now_utc(),
            Instant::now() + Duration::from_secs(10),
        )
        .await;
    assert!(recorded.failed.is_empty(), "{:?}", recorded.failed);
    assert_eq!(recorded.recorded, 3);
    let sizes: Vec<usize> = requests
        .lock()
        .unwrap()
        .iter()
        .map(|request| request["RequestItems"][APPLIED].as_array().unwrap().len())
        .collect();
    assert_eq!(sizes, [3, 3]);
}

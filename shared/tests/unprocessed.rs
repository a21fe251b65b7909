//! BatchGetItem's unprocessed keys and BatchWriteItem's unprocessed items, which emulators
//! never return: a stand-in DynamoDB endpoint leaves some unprocessed, and the batch read
//! ([`shared::user_items::batch_get`]) or the spills' write
//! ([`shared::keyed_state::applied_ids::AppliedIdsTable`]) asks for or writes exactly those
//! again, or reports them failed when time runs out.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use serde_json::{Value, json};
use shared::clients::{self, ClientSettings};
use shared::delivery::Backoff;
use shared::keyed_state::applied_ids::{AppliedIdsTable, SpillItem};
use shared::keyed_state::memory::{EventDigest, PlannedSpill, Span};
use shared::user_items::{self, BatchRead, TableRead, UserKey};
use testkit::fake_endpoint::{self, FakeResponse};
use tokio::time::Instant;

const PROFILES: &str = "profiles";
const AGGREGATES: &str = "aggregates";
const APPLIED: &str = "aggregates-applied-ids";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Table {
    Profiles,
    Aggregates,
}

type Key = UserKey<Table>;

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

async fn client(endpoint: &str) -> aws_sdk_dynamodb::Client {
    let sdk = clients::load(ClientSettings::batch_consumer()).await;
    let config = aws_sdk_dynamodb::config::Builder::from(&sdk)
        .endpoint_url(endpoint)
        .build();
    aws_sdk_dynamodb::Client::from_conf(config)
}

/// Reads `keys()` from the two tables as stream-enrichment does: profiles eventually
/// consistent, states strongly.
async fn read(endpoint: &str, deadline: Instant) -> BatchRead<Table> {
    let tables = [
        TableRead {
            table: Table::Profiles,
            name: PROFILES,
            consistent_read: false,
            sort_key: None,
        },
        TableRead {
            table: Table::Aggregates,
            name: AGGREGATES,
            consistent_read: true,
            sort_key: None,
        },
    ];
    let client = client(endpoint).await;
    user_items::batch_get(&client, &tables, keys(), deadline, Backoff::default()).await
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
    let reads = read(&endpoint, Instant::now() + Duration::from_secs(10)).await;
    assert!(reads.unread.is_empty(), "{:?}", reads.unread);
    assert_eq!(reads.calls, 2);
    assert!(
        reads.found.contains_key(&Key::user(Table::Profiles, "u1")),
        "a profile carrying an eventId attribute is still the profile"
    );
    assert_eq!(reads.found.len(), 1, "u2 has none, and no aggregates exist");
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
    let reads = read(&endpoint, Instant::now() + Duration::from_millis(300)).await;
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
    assert!(
        reads.found.contains_key(&Key::user(Table::Profiles, "u1")),
        "what was read is kept"
    );
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
        let reads = read(&endpoint, Instant::now() + Duration::from_secs(10)).await;
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

async fn applied_ids(endpoint: &str) -> AppliedIdsTable {
    AppliedIdsTable::new(client(endpoint).await, APPLIED.into())
}

/// `count` spills, one per user `u0`, `u1`, ..., each of one id.
fn spills(count: usize) -> Vec<SpillItem> {
    (0..count)
        .map(|n| {
            let spill = PlannedSpill {
                level: 0,
                span: Some(Span::at(1_000 * n as i64)),
                digests: EventDigest::of(&format!("e{n}")).bytes().to_vec(),
            };
            SpillItem::new(&format!("u{n}"), &spill, 1_800_000_000)
        })
        .collect()
}

#[tokio::test]
async fn spills_go_25_per_call_and_unprocessed_ones_are_written_again_alone() {
    let (endpoint, requests) = dynamodb_writes(1).await;
    let written = applied_ids(&endpoint)
        .await
        .write(spills(30), Instant::now() + Duration::from_secs(10))
        .await;
    assert!(written.failed.is_empty(), "{:?}", written.failed);
    assert_eq!((written.items, written.billed_units), (30, 30));
    assert_eq!(written.calls, 3, "25 + 5, then the one left unprocessed");
    let requests = requests.lock().unwrap();
    let sizes: Vec<usize> = requests
        .iter()
        .map(|request| request["RequestItems"][APPLIED].as_array().unwrap().len())
        .collect();
    assert_eq!(sizes, [25, 5, 1]);
    let again = &requests[2]["RequestItems"][APPLIED][0]["PutRequest"]["Item"];
    assert_eq!(again["userId"]["S"], "u24", "the unprocessed item: {again}");
    assert_eq!(again["expiresAt"]["N"], "1800000000");
}

#[tokio::test]
async fn spills_still_unprocessed_at_the_deadline_are_reported_with_their_user() {
    let (endpoint, _) = dynamodb_writes(usize::MAX).await;
    let written = applied_ids(&endpoint)
        .await
        .write(spills(2), Instant::now() + Duration::from_millis(300))
        .await;
    let failed: Vec<&str> = written
        .failed
        .iter()
        .map(|(user_id, _)| user_id.as_str())
        .collect();
    assert_eq!(failed, ["u1"]);
}

/// An unprocessed item that names no spill sent could stand for any of them: the call's
/// spills are all sent again, none counted written before.
#[tokio::test]
async fn an_unprocessed_item_naming_no_spill_sent_sends_every_spill_again() {
    let (endpoint, requests) = dynamodb_writes_leaving(|round, _| {
        if round == 0 {
            vec![json!({"PutRequest": {"Item": {"userId": {"S": "u0"}}}})]
        } else {
            Vec::new()
        }
    })
    .await;
    let written = applied_ids(&endpoint)
        .await
        .write(spills(3), Instant::now() + Duration::from_secs(10))
        .await;
    assert!(written.failed.is_empty(), "{:?}", written.failed);
    let sizes: Vec<usize> = requests
        .lock()
        .unwrap()
        .iter()
        .map(|request| request["RequestItems"][APPLIED].as_array().unwrap().len())
        .collect();
    assert_eq!(sizes, [3, 3]);
}

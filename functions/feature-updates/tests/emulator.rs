//! feature-updates against the emulator `tools/test.sh` runs: features of an interleaved batch
//! with one write per user, redelivery from every point of a batch (the features read the
//! same), concurrent writers to one user (each re-reads and applies again), late events, an
//! item of another spec version, and the requests a skewed workload costs (counted by the
//! SDK). What the keyed-state core does for every consumer (resends, spills, poison records,
//! the warm cache) is tested once, in `shared/tests`.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use aws_lambda_events::kinesis::KinesisEvent;
use aws_sdk_dynamodb::types::AttributeValue;
use feature_updates::{BatchReport, Config, FeatureUpdater, feature_updater};
use serde_json::json;
use shared::clients::ClientSettings;
use shared::features::{FeatureItem, FeatureValue, FeatureVector, evaluate};
use testkit::emulator as fixtures;
use testkit::request_count::RequestCounter;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use tokio::time::Instant;

const SHARD: &str = "shardId-000000000000";

struct Fixture {
    dynamodb: aws_sdk_dynamodb::Client,
    sqs: aws_sdk_sqs::Client,
    config: Config,
    requests: RequestCounter,
}

async fn fixture() -> Fixture {
    let sdk = testkit::emulator::sdk_config(ClientSettings::batch_consumer()).await;
    let requests = RequestCounter::default();
    let dynamodb = requests.dynamodb(&sdk);
    let sqs = requests.sqs(&sdk);
    let core =
        fixtures::stream_core_settings(&dynamodb, &sqs, "features", "features-applied-ids").await;
    requests.reset();
    Fixture {
        dynamodb,
        sqs,
        config: Config {
            core,
            max_write_attempts: 20,
        },
        requests,
    }
}

impl Fixture {
    /// A new execution environment of the function.
    fn updater(&self) -> FeatureUpdater {
        feature_updater(self.dynamodb.clone(), self.sqs.clone(), &self.config)
    }

    async fn handle(&self, event: KinesisEvent) -> (Option<String>, BatchReport) {
        let (response, report) = self.updater().handle(event, deadline()).await;
        let failed = response
            .batch_item_failures
            .first()
            .and_then(|failure| failure.item_identifier.clone());
        (failed, report)
    }

    async fn item(&self, user_id: &str) -> Option<FeatureItem> {
        self.updater().stored_state(user_id).await.unwrap()
    }

    async fn features(&self, user_id: &str, now: OffsetDateTime) -> FeatureVector {
        evaluate(
            self.item(user_id).await.as_ref(),
            now,
            shared::features::SpecVersion::LATEST,
        )
        .unwrap()
    }
}

fn deadline() -> Instant {
    Instant::now() + Duration::from_secs(30)
}

/// The base of event times: the start of a minute three hours ago.
fn base() -> OffsetDateTime {
    OffsetDateTime::now_utc()
        .replace_nanosecond(0)
        .unwrap()
        .replace_second(0)
        .unwrap()
        - time::Duration::hours(3)
}

/// An enriched record (the activity fields, a profile and a session) at `minute` after [`base`].
fn enriched(event_id: &str, user_id: &str, activity_type: &str, minute: i64) -> Vec<u8> {
    let at = (base() + time::Duration::minutes(minute))
        .format(&Rfc3339)
        .unwrap();
    let mut record = json!({"eventId": event_id, "userId": user_id, "type": activity_type,
        "timestamp": at,
        "profile": {"found": false, "segment": "unknown", "country": "unknown",
                    "plan": "unknown", "signupTime": null},
        "session": {"id": "s-1", "position": 1}});
    if activity_type == "purchase" {
        record["amount"] = json!(12.5);
    }
    record.to_string().into_bytes()
}

fn batch(first: u64, data: &[Vec<u8>]) -> KinesisEvent {
    testkit::kinesis_events::batch(SHARD, first, data)
}

fn integer(features: &FeatureVector, name: &str) -> u64 {
    match features.get(name) {
        Some(FeatureValue::Integer(value)) => *value,
        other => panic!("{name}: {other:?}"),
    }
}

/// An item as its features read, without what says how it was written (version, checkpoints,
/// event ids).
fn content(item: Option<FeatureItem>) -> Option<FeatureItem> {
    item.map(|mut item| {
        item.version = 0;
        item.memory = Default::default();
        item
    })
}

fn interleaved() -> Vec<Vec<u8>> {
    vec![
        enriched("a1", "alice", "view", 0),
        enriched("b1", "bob", "click", 1),
        enriched("a2", "alice", "click", 2),
        enriched("c1", "carol", "login", 170),
        enriched("a3", "alice", "purchase", 175), // 173 min after a2: a new session
        enriched("b2", "bob", "click", 178),
        enriched("a-late", "alice", "view", 1), // out of order, in the first session
        enriched("c2", "carol", "search", 176),
    ]
}

#[tokio::test]
async fn an_interleaved_batch_makes_one_write_per_user_and_reads_back_as_features() {
    let fixture = fixture().await;
    let (failed, report) = fixture.handle(batch(1, &interleaved())).await;
    assert_eq!(failed, None, "{report:?}");
    assert_eq!(
        (report.applied, report.users, report.states_written),
        (8, 3, 3)
    );
    assert_eq!(fixture.requests.count("BatchGetItem"), 1);
    assert_eq!(
        fixture.requests.count("PutItem"),
        4,
        "one write per user, and the shard's mark"
    );
    assert_eq!(fixture.requests.count("SendMessageBatch"), 0);

    let now = base() + time::Duration::minutes(180);
    let alice = fixture.features("alice", now).await;
    assert_eq!(integer(&alice, "event_count_5m"), 1);
    assert_eq!(integer(&alice, "event_count_1h"), 1);
    assert_eq!(integer(&alice, "event_count_24h"), 4);
    assert_eq!(integer(&alice, "view_count_24h"), 2);
    assert_eq!(integer(&alice, "purchase_count_5m"), 1);
    assert_eq!(
        alice.get("purchase_amount_24h"),
        Some(&FeatureValue::Decimal(12.5))
    );
    assert_eq!(
        alice.get("last_event_type"),
        Some(&FeatureValue::Category("purchase"))
    );
    assert_eq!(integer(&alice, "seconds_since_last_event"), 300);
    assert_eq!(integer(&alice, "session_event_count"), 1);
    assert_eq!(integer(&alice, "sessions_started_24h"), 2);
    let carol = fixture.features("carol", now).await;
    assert_eq!(
        integer(&carol, "event_count_5m"),
        1,
        "c2 at 176 is 4 min old"
    );
    assert_eq!(integer(&carol, "event_count_1h"), 2);
    assert_eq!(integer(&carol, "session_event_count"), 2);

    // Read later, with no new events: the windows decay.
    let later = fixture
        .features("alice", now + time::Duration::hours(2))
        .await;
    assert_eq!(integer(&later, "event_count_1h"), 0);
    assert_eq!(integer(&later, "event_count_24h"), 4);
    assert_eq!(integer(&later, "session_event_count"), 0);
    assert_eq!(
        integer(
            &fixture.features("nobody", now).await,
            "seconds_since_last_event"
        ),
        2_592_000
    );
}

#[tokio::test]
async fn redelivery_from_every_point_of_a_batch_leaves_identical_items() {
    let records = interleaved();
    let users = ["alice", "bob", "carol"];
    let reference = fixture().await;
    reference.handle(batch(1, &records)).await;
    let mut expected = BTreeMap::new();
    for user in users {
        expected.insert(user, content(reference.item(user).await));
    }
    for point in 0..records.len() {
        // The whole batch applied, then retried from `point` (its answer was lost).
        let retried = fixture().await;
        retried.handle(batch(1, &records)).await;
        let writes_before = retried.requests.count("PutItem");
        let (failed, report) = retried
            .handle(batch(1 + point as u64, &records[point..]))
            .await;
        assert_eq!(failed, None);
        assert_eq!(report.already_applied, records.len() - point);
        assert_eq!(
            retried.requests.count("PutItem"),
            writes_before,
            "nothing to write"
        );
        // Only the records before `point` applied, then the whole batch delivered again.
        let cut = fixture().await;
        cut.handle(batch(1, &records[..point])).await;
        cut.handle(batch(1, &records)).await;
        for user in users {
            assert_eq!(
                content(retried.item(user).await),
                expected[user],
                "retried from {point}: {user}"
            );
            assert_eq!(
                content(cut.item(user).await),
                expected[user],
                "cut at {point}: {user}"
            );
        }
    }
}

#[tokio::test]
async fn concurrent_writers_to_one_user_never_lose_an_update() {
    let fixture = fixture().await;
    let writers = 4u64;
    let per_writer = 6u64;
    // One batch per writer, each from its own shard (as after resharding), all for one user.
    let batches: Vec<(String, Vec<Vec<u8>>)> = (0..writers)
        .map(|writer| {
            let shard = format!("shardId-00000000000{writer}");
            let data = (0..per_writer)
                .map(|n| {
                    enriched(
                        &format!("w{writer}-{n}"),
                        "hot",
                        "click",
                        (writer * per_writer + n) as i64,
                    )
                })
                .collect();
            (shard, data)
        })
        .collect();
    let mut pending: Vec<(String, u64, Vec<Vec<u8>>)> = batches
        .into_iter()
        .map(|(shard, data)| (shard, 1, data))
        .collect();
    let mut conflicts = 0;
    let mut rounds = 0;
    // Each round runs the pending batches at once; a batch reported failed is delivered again
    // from its failed record, as Kinesis would.
    while !pending.is_empty() {
        rounds += 1;
        assert!(rounds < 20, "no progress");
        let runs = pending.iter().map(|(shard, first, data)| {
            let event = testkit::kinesis_events::batch(shard, *first, data);
            let updater = fixture.updater();
            async move { updater.handle(event, deadline()).await }
        });
        let results = futures_util::future::join_all(runs).await;
        let mut next = Vec::new();
        for ((shard, first, data), (response, report)) in pending.into_iter().zip(results) {
            conflicts += report.conflicts;
            if let Some(failure) = response.batch_item_failures.first() {
                let from: u64 = failure.item_identifier.as_deref().unwrap().parse().unwrap();
                next.push((shard, from, data[(from - first) as usize..].to_vec()));
            }
        }
        pending = next;
    }
    let features = fixture
        .features("hot", base() + time::Duration::minutes(30))
        .await;
    assert_eq!(
        integer(&features, "click_count_24h"),
        writers * per_writer,
        "{conflicts} conflicts"
    );
    println!("{writers} concurrent writers: {conflicts} conflicts, {rounds} rounds");
}

#[tokio::test]
async fn duplicate_event_ids_count_once_and_late_events_are_dropped() {
    let fixture = fixture().await;
    let (_, first) = fixture
        .handle(batch(
            1,
            &[
                enriched("e1", "dave", "click", 170),
                enriched("e1", "dave", "click", 170), // the producer sent it twice
                enriched("e2", "dave", "view", 171),
            ],
        ))
        .await;
    assert_eq!((first.applied, first.duplicates), (2, 1));
    // A day and more before dave's newest event: dropped. An hour before: applied.
    let (failed, second) = fixture
        .handle(batch(
            4,
            &[
                enriched("e2", "dave", "view", 171), // resent again, under a new record
                enriched("old", "dave", "view", 171 - 24 * 60),
                enriched("hour", "dave", "view", 111),
            ],
        ))
        .await;
    assert_eq!(failed, None);
    assert_eq!(
        (second.applied, second.duplicates, second.dropped),
        (1, 1, 1)
    );
    let features = fixture
        .features("dave", base() + time::Duration::minutes(172))
        .await;
    assert_eq!(integer(&features, "event_count_24h"), 3);
    assert_eq!(integer(&features, "event_count_1h"), 2);
    assert_eq!(integer(&features, "sessions_started_24h"), 2);
}

#[tokio::test]
async fn an_unreadable_item_fails_its_users_records_from_the_first_and_the_retry_applies_once() {
    let fixture = fixture().await;
    let mut other_version = FeatureItem::new("frank");
    other_version.spec_version = shared::features::SpecVersion::LATEST.number() + 1;
    fixture
        .dynamodb
        .put_item()
        .table_name(&fixture.config.core.state_table)
        .set_item(Some(serde_dynamo::to_item(&other_version).unwrap()))
        .send()
        .await
        .unwrap();
    let records = [
        enriched("g1", "gina", "view", 170),
        enriched("f1", "frank", "view", 171),
        enriched("g2", "gina", "view", 172),
        enriched("f2", "frank", "view", 173),
    ];
    let (failed, report) = fixture.handle(batch(1, &records)).await;
    assert_eq!(failed.as_deref(), Some("2"), "frank's first record");
    assert_eq!((report.applied, report.failed), (2, 3));
    // The operator fixes the item; Kinesis delivers again from record 2.
    fixture
        .dynamodb
        .delete_item()
        .table_name(&fixture.config.core.state_table)
        .key("userId", AttributeValue::S("frank".into()))
        .send()
        .await
        .unwrap();
    let (failed, retry) = fixture.handle(batch(2, &records[1..])).await;
    assert_eq!(failed, None);
    assert_eq!((retry.applied, retry.already_applied), (2, 1));
    let now = base() + time::Duration::minutes(174);
    assert_eq!(
        integer(&fixture.features("gina", now).await, "event_count_5m"),
        2
    );
    assert_eq!(
        integer(&fixture.features("frank", now).await, "event_count_5m"),
        2
    );
}

/// Zipf-like users (s = 1.2 over 200), batches of 100, a fixed seed: the requests and units
/// per 1,000 events, against the seed design's 1,000 reads and 1,000 writes.
#[tokio::test]
async fn requests_per_thousand_events_on_a_skewed_workload() {
    let fixture = fixture().await;
    let users = 200usize;
    let weights: Vec<f64> = (1..=users)
        .map(|rank| 1.0 / (rank as f64).powf(1.2))
        .collect();
    let total: f64 = weights.iter().sum();
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut next_user = || {
        // xorshift64*: a fixed sequence, no dependency.
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        let draw = (state.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 11) as f64 / (1u64 << 53) as f64;
        let mut left = draw * total;
        for (index, weight) in weights.iter().enumerate() {
            left -= weight;
            if left <= 0.0 {
                return index;
            }
        }
        users - 1
    };
    let types = [
        "view",
        "click",
        "search",
        "add_to_cart",
        "purchase",
        "login",
    ];
    let batches: Vec<Vec<Vec<u8>>> = (0..10u64)
        .map(|batch_number| {
            (0..100u64)
                .map(|n| {
                    let event = batch_number * 100 + n;
                    let user = next_user();
                    enriched(
                        &format!("z{event}"),
                        &format!("user-{user:03}"),
                        types[(event % 6) as usize],
                        (event / 10) as i64,
                    )
                })
                .collect()
        })
        .collect();
    // A new environment for every batch (cold), then one for all of them (warm), each on its
    // own tables.
    let warm = self::fixture().await;
    let updater = warm.updater();
    let mut distinct_per_batch = Vec::new();
    let (mut cold_units, mut warm_units) = ((0.0, 0.0), (0.0, 0.0));
    let (mut spills, mut spill_calls) = (0usize, 0usize);
    for (batch_number, data) in batches.iter().enumerate() {
        let first = 1 + batch_number as u64 * 100;
        let (failed, cold) = fixture.handle(batch(first, data)).await;
        assert_eq!(failed, None);
        distinct_per_batch.push(cold.users);
        cold_units.0 += cold.billed_read_units;
        cold_units.1 += cold.billed_write_units;
        let (response, report) = updater.handle(batch(first, data), deadline()).await;
        assert!(response.batch_item_failures.is_empty());
        warm_units.0 += report.billed_read_units;
        warm_units.1 += report.billed_write_units;
        spills += report.spills;
        spill_calls += report.spills.div_ceil(25);
    }
    let users_written: usize = distinct_per_batch.iter().sum();
    let (cold_requests, warm_requests) = (fixture.requests.counts(), warm.requests.counts());
    let count = |requests: &std::collections::BTreeMap<String, usize>, operation: &str| {
        requests.get(operation).copied().unwrap_or_default()
    };
    let sizes: Vec<usize> = {
        let mut sizes = Vec::new();
        for user in 0..users {
            if let Some(item) = warm.item(&format!("user-{user:03}")).await {
                let attributes: HashMap<String, AttributeValue> =
                    serde_dynamo::to_item(&item).unwrap();
                sizes.push(shared::dynamo::item_size(&attributes));
            }
        }
        sizes
    };
    println!(
        "1,000 events, batches of 100, {users_written} user writes (distinct users per batch \
         {distinct_per_batch:?}):\n  cold: {:?}, {:.0} read and {:.0} write units\n  \
         warm: {:?}, {:.0} read and {:.0} write units, {spills} spills\n  items: largest {} \
         bytes, {} of {} under 1 KB",
        cold_requests,
        cold_units.0,
        cold_units.1,
        warm_requests,
        warm_units.0,
        warm_units.1,
        sizes.iter().max().unwrap(),
        sizes.iter().filter(|&&size| size <= 1024).count(),
        sizes.len()
    );
    // Cold: every batch reads its users' items with the shard's mark, and marks it.
    assert_eq!(count(&cold_requests, "PutItem"), users_written + 10);
    assert_eq!(
        count(&cold_requests, "BatchGetItem"),
        distinct_per_batch
            .iter()
            .map(|users| (users + 1).div_ceil(100))
            .sum::<usize>(),
        "one read per 100 keys: the users' items and the shard's mark"
    );
    // Warm: items read once per user, the mark written once.
    assert_eq!(count(&warm_requests, "PutItem"), users_written + 1);
    assert_eq!(count(&warm_requests, "BatchGetItem"), 10);
    assert!(
        warm_units.0 < cold_units.0 / 2.0,
        "a read per user seen, not per user per batch: {warm_units:?} {cold_units:?}"
    );
    assert_eq!(
        warm.requests.count("Query"),
        0,
        "in-order events need no lookup"
    );
    assert_eq!(
        warm.requests.count("BatchWriteItem"),
        spill_calls,
        "25 spills a call"
    );
    assert!(users_written < 600, "{users_written}");
}

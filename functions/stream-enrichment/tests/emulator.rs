//! stream-enrichment against the emulator `tools/test.sh` runs: aggregates and sessions for an
//! interleaved batch, profiles found and missing, redelivery from every point of a batch,
//! duplicate event ids, a partial failure, poison records, the profile cache's TTL, and the
//! requests a batch costs (counted by the SDK).

use std::collections::BTreeMap;
use std::time::Duration;

use aws_lambda_events::kinesis::KinesisEvent;
use aws_sdk_dynamodb::types::AttributeValue;
use base64::Engine;
use serde_json::{Value, json};
use shared::clients::{self, ClientSettings};
use shared::enriched::{EnrichedEvent, Profile};
use shared::request_count::RequestCounter;
use shared::stack::Stack;
use stream_enrichment::state::UserState;
use stream_enrichment::{Config, Enricher};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use tokio::time::Instant;

const SHARD: &str = "shardId-000000000000";

struct Fixture {
    dynamodb: aws_sdk_dynamodb::Client,
    kinesis: aws_sdk_kinesis::Client,
    sqs: aws_sdk_sqs::Client,
    config: Config,
    requests: RequestCounter,
}

fn unique(name: &str) -> String {
    format!("{name}-{}", ulid::Ulid::new().to_string().to_lowercase())
}

async fn fixture() -> Fixture {
    fixture_with(|_| {}).await
}

async fn fixture_with(edit: impl FnOnce(&mut Config)) -> Fixture {
    assert!(
        std::env::var_os("AWS_ENDPOINT_URL").is_some(),
        "integration tests need the emulator: run tools/test.sh"
    );
    let sdk = clients::load(ClientSettings::batch_consumer()).await;
    let requests = RequestCounter::default();
    let dynamodb = aws_sdk_dynamodb::Client::from_conf(
        aws_sdk_dynamodb::config::Builder::from(&sdk)
            .interceptor(requests.clone())
            .build(),
    );
    let kinesis = aws_sdk_kinesis::Client::from_conf(
        aws_sdk_kinesis::config::Builder::from(&sdk)
            .interceptor(requests.clone())
            .build(),
    );
    let sqs = aws_sdk_sqs::Client::from_conf(
        aws_sdk_sqs::config::Builder::from(&sdk)
            .interceptor(requests.clone())
            .build(),
    );
    let manifest = Stack::workspace();
    let profiles_table = unique("profiles");
    let aggregates_table = unique("aggregates");
    let applied_events_table = unique("aggregates-event-ids");
    for (key, name) in [
        ("profiles", &profiles_table),
        ("aggregates", &aggregates_table),
        ("aggregates-event-ids", &applied_events_table),
    ] {
        shared::tables::create_table(&dynamodb, name, &manifest.tables[key])
            .await
            .expect("create table");
    }
    let enriched_stream = unique("enriched");
    kinesis
        .create_stream()
        .stream_name(&enriched_stream)
        .shard_count(1)
        .send()
        .await
        .expect("create stream");
    let rejects_queue_url = sqs
        .create_queue()
        .queue_name(unique("rejects"))
        .send()
        .await
        .expect("create queue")
        .queue_url
        .unwrap();
    let mut config = Config {
        profiles_table,
        aggregates_table,
        applied_events_table,
        enriched_stream,
        rejects_queue_url,
        profile_cache_size: 100,
        profile_cache_ttl: Duration::from_secs(300),
        max_future_skew: time::Duration::minutes(5),
    };
    edit(&mut config);
    requests.reset();
    Fixture {
        dynamodb,
        kinesis,
        sqs,
        config,
        requests,
    }
}

impl Fixture {
    fn enricher(&self) -> Enricher {
        Enricher::new(
            self.dynamodb.clone(),
            self.kinesis.clone(),
            self.sqs.clone(),
            &self.config,
        )
    }

    async fn put_profile(&self, user_id: &str, segment: &str) {
        let profile = Profile {
            user_id: user_id.into(),
            segment: Some(segment.into()),
            country: Some("DE".into()),
            plan: Some("pro".into()),
            signup_time: Some(time::macros::datetime!(2025-03-01 09:00:00 UTC)),
        };
        self.dynamodb
            .put_item()
            .table_name(&self.config.profiles_table)
            .set_item(Some(serde_dynamo::to_item(&profile).unwrap()))
            .send()
            .await
            .unwrap();
    }

    async fn state(&self, user_id: &str) -> Option<UserState> {
        let item = self
            .dynamodb
            .get_item()
            .table_name(&self.config.aggregates_table)
            .key("userId", AttributeValue::S(user_id.into()))
            .consistent_read(true)
            .send()
            .await
            .unwrap()
            .item?;
        Some(serde_dynamo::from_item(item).unwrap())
    }

    async fn enriched(&self) -> Vec<EnrichedEvent> {
        shared::stream_reader::read_all(&self.kinesis, &self.config.enriched_stream)
            .await
            .unwrap()
            .iter()
            .map(|record| serde_json::from_slice(record.data().as_ref()).unwrap())
            .collect()
    }

    async fn rejects(&self) -> Vec<aws_sdk_sqs::types::Message> {
        shared::queue_reader::receive_all(&self.sqs, &self.config.rejects_queue_url).await
    }

    /// The event ids recorded as applied for `user_id`, with their expiry (epoch seconds).
    async fn applied(&self, user_id: &str) -> BTreeMap<String, i64> {
        shared::applied_events::recorded(&self.dynamodb, &self.config.applied_events_table, user_id)
            .await
            .unwrap()
    }
}

fn deadline() -> Instant {
    Instant::now() + Duration::from_secs(20)
}

/// A minute offset from a fixed base an hour ago, as RFC 3339.
fn at(minute: i64) -> String {
    let base = OffsetDateTime::now_utc()
        .replace_nanosecond(0)
        .unwrap()
        .replace_second(0)
        .unwrap()
        - time::Duration::hours(3);
    (base + time::Duration::minutes(minute))
        .format(&Rfc3339)
        .unwrap()
}

fn activity(event_id: &str, user_id: &str, activity_type: &str, minute: i64) -> Vec<u8> {
    json!({"eventId": event_id, "userId": user_id, "type": activity_type, "timestamp": at(minute)})
        .to_string()
        .into_bytes()
}

/// A Kinesis event as Lambda sends it, with sequence numbers `first`, `first + 1`, ...
fn kinesis_event(first: u64, data: &[Vec<u8>]) -> KinesisEvent {
    shared::kinesis_events::batch(SHARD, first, data)
}

fn by_event_id(events: Vec<EnrichedEvent>) -> BTreeMap<String, EnrichedEvent> {
    events
        .into_iter()
        .map(|event| (event.event.event_id.clone(), event))
        .collect()
}

#[tokio::test]
async fn an_interleaved_batch_updates_aggregates_and_sessions_with_one_write_per_user() {
    let fixture = fixture().await;
    fixture.put_profile("alice", "frequent").await;
    fixture.put_profile("bob", "new").await;
    fixture.requests.reset();
    let batch = [
        activity("a1", "alice", "view", 0),
        activity("b1", "bob", "click", 1),
        activity("a2", "alice", "click", 10),
        activity("c1", "carol", "login", 2),
        activity("a3", "alice", "purchase", 50), // 40 min after a2: a new session
        activity("b2", "bob", "click", 25),
        activity("a-late", "alice", "view", 5), // late, inside the first session
        activity("c2", "carol", "search", 3),
    ];
    let (response, report) = fixture
        .enricher()
        .handle(kinesis_event(1, &batch), deadline())
        .await;
    assert!(response.batch_item_failures.is_empty(), "{report:?}");
    assert_eq!((report.enriched, report.users), (8, 3));

    let requests = fixture.requests.counts();
    assert_eq!(requests.get("BatchGetItem"), Some(&1), "{requests:?}");
    assert_eq!(requests.get("PutItem"), Some(&3), "one write per user");
    assert_eq!(requests.get("PutRecords"), Some(&1), "{requests:?}");

    let alice = fixture.state("alice").await.unwrap();
    assert_eq!(alice.total_events, 4);
    assert_eq!(alice.counts["view"], 2);
    assert_eq!(alice.counts["purchase"], 1);
    assert_eq!(alice.first_seen.unwrap().format(&Rfc3339).unwrap(), at(0));
    assert_eq!(alice.last_seen.unwrap().format(&Rfc3339).unwrap(), at(50));
    assert_eq!(alice.sessions_started, 2);
    assert_eq!(alice.version, 1);
    let carol = fixture.state("carol").await.unwrap();
    assert_eq!((carol.total_events, carol.sessions_started), (2, 1));

    let enriched = by_event_id(fixture.enriched().await);
    assert_eq!(enriched.len(), 8);
    let session = |id: &str| {
        (
            enriched[id].session.id.clone(),
            enriched[id].session.position,
        )
    };
    assert_eq!(session("a2").0, session("a1").0);
    assert_eq!(session("a-late"), (session("a1").0, 3));
    assert_ne!(session("a3").0, session("a1").0);
    assert_eq!(session("a3").1, 1);
    assert_ne!(session("b1").0, session("a1").0, "sessions are per user");
    assert!(enriched["a1"].profile.found);
    assert_eq!(enriched["a1"].profile.segment, "frequent");
    assert_eq!(enriched["b2"].profile.segment, "new");
    assert!(
        !enriched["c1"].profile.found,
        "no profile: unknown, not an error"
    );
    assert_eq!(enriched["c1"].profile.segment, "unknown");
}

/// Applies `batch` once, as the reference, and then, for every record k, on fresh tables:
/// the whole batch and then its suffix from k again (Kinesis retries from the first failed
/// record). Every final state equals the reference.
#[tokio::test]
async fn redelivery_from_every_point_of_a_batch_leaves_the_same_state() {
    let batch = vec![
        activity("e1", "u1", "view", 0),
        activity("e2", "u2", "view", 1),
        activity("e3", "u1", "click", 2),
        activity("e4", "u3", "add_to_cart", 3),
        activity("e5", "u2", "purchase", 45),
        activity("e6", "u1", "view", 40),
        activity("e7", "u3", "view", 4),
    ];
    let users = ["u1", "u2", "u3"];
    let reference = fixture().await;
    reference
        .enricher()
        .handle(kinesis_event(1, &batch), deadline())
        .await;
    let mut expected = Vec::new();
    for user in users {
        expected.push(reference.state(user).await.unwrap());
    }
    let expected_events = by_event_id(reference.enriched().await);

    for k in 0..batch.len() {
        let fixture = fixture().await;
        let enricher = fixture.enricher();
        enricher.handle(kinesis_event(1, &batch), deadline()).await;
        let (response, report) = enricher
            .handle(kinesis_event(1 + k as u64, &batch[k..]), deadline())
            .await;
        assert!(response.batch_item_failures.is_empty());
        assert_eq!(report.already_applied, batch.len() - k, "from record {k}");
        assert_eq!(report.enriched, 0);
        assert_eq!(
            fixture.requests.count("PutItem"),
            3,
            "nothing written again"
        );
        for (user, expected) in users.iter().zip(&expected) {
            assert_eq!(&fixture.state(user).await.unwrap(), expected, "from {k}");
        }
        let events = fixture.enriched().await;
        assert_eq!(events.len(), batch.len(), "nothing emitted again");
        assert_eq!(by_event_id(events), expected_events);
    }
}

#[tokio::test]
async fn a_failed_user_fails_from_its_first_record_and_the_retry_applies_once() {
    let fixture = fixture().await;
    // u2's item cannot be read as a state: its records cannot be applied.
    fixture
        .dynamodb
        .put_item()
        .table_name(&fixture.config.aggregates_table)
        .item("userId", AttributeValue::S("u2".into()))
        .item("version", AttributeValue::S("not a number".into()))
        .send()
        .await
        .unwrap();
    let batch = vec![
        activity("e1", "u1", "view", 0),
        activity("e2", "u1", "view", 1),
        activity("e3", "u2", "view", 2),
        activity("e4", "u3", "view", 3),
        activity("e5", "u2", "click", 4),
        activity("e6", "u1", "click", 5),
    ];
    let enricher = fixture.enricher();
    let (response, report) = enricher.handle(kinesis_event(1, &batch), deadline()).await;
    let failures: Vec<_> = response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.clone().unwrap())
        .collect();
    assert_eq!(failures, ["3"], "the first record of the failed user");
    assert_eq!(report.failed, 4);
    assert_eq!(fixture.state("u1").await.unwrap().total_events, 3);
    assert_eq!(fixture.state("u3").await.unwrap().total_events, 1);

    // Fixed; Kinesis retries from sequence number 3.
    fixture
        .dynamodb
        .delete_item()
        .table_name(&fixture.config.aggregates_table)
        .key("userId", AttributeValue::S("u2".into()))
        .send()
        .await
        .unwrap();
    let (response, report) = enricher
        .handle(kinesis_event(3, &batch[2..]), deadline())
        .await;
    assert!(response.batch_item_failures.is_empty());
    assert_eq!((report.enriched, report.already_applied), (2, 2));
    assert_eq!(fixture.state("u1").await.unwrap().total_events, 3);
    assert_eq!(fixture.state("u2").await.unwrap().total_events, 2);
    assert_eq!(fixture.state("u3").await.unwrap().total_events, 1);
    assert_eq!(fixture.enriched().await.len(), 6);
}

#[tokio::test]
async fn a_failed_put_records_writes_no_state_and_reports_the_first_record() {
    let fixture = fixture_with(|config| config.enriched_stream = unique("missing")).await;
    let batch = vec![
        activity("e1", "u1", "view", 0),
        activity("e2", "u2", "view", 1),
    ];
    let (response, report) = fixture
        .enricher()
        .handle(kinesis_event(10, &batch), deadline())
        .await;
    assert_eq!(
        response.batch_item_failures[0].item_identifier.as_deref(),
        Some("10")
    );
    assert_eq!(report.failed, 2);
    assert_eq!(fixture.requests.count("PutItem"), 0);
    assert!(fixture.state("u1").await.is_none());
}

#[tokio::test]
async fn the_same_event_id_counts_once_within_and_across_batches() {
    let fixture = fixture().await;
    let enricher = fixture.enricher();
    let first = vec![
        activity("dup", "u1", "click", 0),
        activity("dup", "u1", "click", 0),
        activity("other", "u1", "click", 1),
    ];
    let (_, report) = enricher.handle(kinesis_event(1, &first), deadline()).await;
    assert_eq!((report.enriched, report.duplicates), (2, 1));
    // The producer sent it again later: a new record, a new sequence number.
    let (_, report) = enricher
        .handle(
            kinesis_event(4, &[activity("dup", "u1", "click", 0)]),
            deadline(),
        )
        .await;
    assert_eq!((report.enriched, report.duplicates), (0, 1));
    let state = fixture.state("u1").await.unwrap();
    assert_eq!(state.counts["click"], 2);
    assert_eq!(fixture.enriched().await.len(), 2);
}

#[tokio::test]
async fn a_resend_past_the_remembered_ids_is_recognized_by_the_ids_applied_that_day() {
    let fixture = fixture().await;
    let enricher = fixture.enricher();
    let events: Vec<Vec<u8>> = (0..40)
        .map(|n| activity(&format!("e{n}"), "u1", "view", n / 10))
        .collect();
    let (_, first) = enricher.handle(kinesis_event(1, &events), deadline()).await;
    assert_eq!((first.enriched, first.event_ids_recorded), (40, 40));
    // e0 is no longer among the 32 ids the state remembers.
    let (response, resent) = enricher
        .handle(kinesis_event(41, &events[..1]), deadline())
        .await;
    assert!(response.batch_item_failures.is_empty());
    assert_eq!((resent.enriched, resent.duplicates), (0, 1));
    assert_eq!(fixture.state("u1").await.unwrap().total_events, 40);
    assert_eq!(fixture.enriched().await.len(), 40);
    let applied = fixture.applied("u1").await;
    assert_eq!(applied.len(), 40);
    let day = OffsetDateTime::now_utc() + time::Duration::hours(24);
    for expires in applied.values() {
        assert!((expires - day.unix_timestamp()).abs() < 120, "{expires}");
    }
}

#[tokio::test]
async fn ids_not_recorded_before_a_crash_are_recorded_when_the_batch_comes_again() {
    let fixture = fixture().await;
    let enricher = fixture.enricher();
    let events: Vec<Vec<u8>> = (0..40)
        .map(|n| activity(&format!("e{n}"), "u2", "click", n / 10))
        .collect();
    enricher.handle(kinesis_event(1, &events), deadline()).await;
    // As if the state was written and the function died before recording the ids.
    for event_id in fixture.applied("u2").await.into_keys() {
        fixture
            .dynamodb
            .delete_item()
            .table_name(&fixture.config.applied_events_table)
            .key("userId", AttributeValue::S("u2".into()))
            .key("eventId", AttributeValue::S(event_id))
            .send()
            .await
            .unwrap();
    }
    let (response, again) = enricher.handle(kinesis_event(1, &events), deadline()).await;
    assert!(response.batch_item_failures.is_empty());
    assert_eq!((again.enriched, again.already_applied), (0, 40));
    assert_eq!(again.event_ids_recorded, 40);
    let (_, resent) = enricher
        .handle(kinesis_event(41, &events[..1]), deadline())
        .await;
    assert_eq!((resent.enriched, resent.duplicates), (0, 1));
    assert_eq!(fixture.state("u2").await.unwrap().total_events, 40);
    assert_eq!(fixture.enriched().await.len(), 40);
}

#[tokio::test]
async fn an_unreadable_record_of_applied_ids_fails_the_batch_from_its_first_record() {
    let fixture = fixture_with(|config| config.applied_events_table = "no-such-table".into()).await;
    let (response, report) = fixture
        .enricher()
        .handle(
            kinesis_event(7, &[activity("g1", "u3", "view", 1)]),
            deadline(),
        )
        .await;
    assert_eq!(
        response.batch_item_failures[0].item_identifier.as_deref(),
        Some("7")
    );
    assert_eq!((report.enriched, report.failed), (0, 1));
    assert!(fixture.state("u3").await.is_none(), "nothing applied blind");
    assert!(fixture.enriched().await.is_empty());
}

#[tokio::test]
async fn poison_records_are_set_aside_with_their_reason_and_the_batch_goes_on() {
    let fixture = fixture().await;
    let batch = vec![
        b"{not json".to_vec(),
        activity("ok-1", "u1", "view", 0),
        json!({"eventId": "x", "userId": "u1", "type": "hover", "timestamp": at(0)})
            .to_string()
            .into_bytes(),
        vec![0xff, 0x00, 0xfe],
        activity("ok-2", "u1", "view", 1),
    ];
    let (response, report) = fixture
        .enricher()
        .handle(kinesis_event(1, &batch), deadline())
        .await;
    assert!(response.batch_item_failures.is_empty());
    assert_eq!((report.enriched, report.rejected), (2, 3));
    assert_eq!(fixture.state("u1").await.unwrap().total_events, 2);

    let mut rejects: Vec<(String, String, BTreeMap<String, String>)> = fixture
        .rejects()
        .await
        .into_iter()
        .map(|message| {
            let attributes = message
                .message_attributes()
                .into_iter()
                .flatten()
                .map(|(k, v)| (k.clone(), v.string_value().unwrap_or_default().to_owned()))
                .collect::<BTreeMap<_, _>>();
            (
                attributes["source-sequence-number"].clone(),
                message.body().unwrap_or_default().to_owned(),
                attributes,
            )
        })
        .collect();
    rejects.sort_by(|a, b| a.0.cmp(&b.0));
    let sequences: Vec<&str> = rejects.iter().map(|r| r.0.as_str()).collect();
    assert_eq!(sequences, ["1", "3", "4"]);
    assert_eq!(rejects[0].1, "{not json", "the record as received");
    assert_eq!(rejects[0].2["reject-code"], "not-json");
    assert_eq!(rejects[0].2["rejected-by"], "stream-enrichment");
    assert_eq!(rejects[0].2["source-shard"], SHARD);
    assert_eq!(rejects[1].2["reject-code"], "schema-violation");
    assert!(
        rejects[1].2["reject-reason"].contains("type"),
        "{:?}",
        rejects[1].2
    );
    assert_eq!(rejects[2].2["body-encoding"], "base64");
    assert_eq!(
        base64::engine::general_purpose::STANDARD
            .decode(&rejects[2].1)
            .unwrap(),
        [0xff, 0x00, 0xfe]
    );
}

#[tokio::test]
async fn the_profile_cache_serves_within_its_ttl_and_reads_again_after() {
    let fixture = fixture_with(|config| config.profile_cache_ttl = Duration::from_secs(2)).await;
    fixture.put_profile("u1", "before").await;
    let enricher = fixture.enricher();
    let segment_of = |events: &[EnrichedEvent], id: &str| {
        events
            .iter()
            .find(|event| event.event.event_id == id)
            .unwrap()
            .profile
            .segment
            .clone()
    };

    let (_, report) = enricher
        .handle(
            kinesis_event(1, &[activity("e1", "u1", "view", 0)]),
            deadline(),
        )
        .await;
    assert_eq!(report.profile_cache_hits, 0);
    fixture.put_profile("u1", "after").await;
    let (_, report) = enricher
        .handle(
            kinesis_event(2, &[activity("e2", "u1", "view", 1)]),
            deadline(),
        )
        .await;
    assert_eq!(report.profile_cache_hits, 1);
    tokio::time::sleep(Duration::from_millis(2_100)).await;
    let (_, report) = enricher
        .handle(
            kinesis_event(3, &[activity("e3", "u1", "view", 2)]),
            deadline(),
        )
        .await;
    assert_eq!(report.profile_cache_hits, 0, "expired");

    let events = fixture.enriched().await;
    assert_eq!(segment_of(&events, "e1"), "before");
    assert_eq!(segment_of(&events, "e2"), "before", "served from the cache");
    assert_eq!(segment_of(&events, "e3"), "after");
}

/// The closing figures: 100 records where a few users send most events (Zipf-like, s = 1.2,
/// 50 users, fixed seed), counted by the SDK.
#[tokio::test]
async fn requests_per_batch_for_a_skewed_workload() {
    let fixture = fixture().await;
    let mut rng_state: u64 = 42;
    let mut next = || {
        rng_state = rng_state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (rng_state >> 11) as f64 / (1u64 << 53) as f64
    };
    let weights: Vec<f64> = (1..=50)
        .map(|rank| 1.0 / f64::powf(rank as f64, 1.2))
        .collect();
    let total: f64 = weights.iter().sum();
    let mut batch = Vec::new();
    for n in 0..100 {
        let mut pick = next() * total;
        let mut user = 0;
        while pick > weights[user] && user < weights.len() - 1 {
            pick -= weights[user];
            user += 1;
        }
        batch.push(activity(
            &format!("z{n}"),
            &format!("user-{user}"),
            "view",
            n / 10,
        ));
    }
    for user in 0..25 {
        fixture.put_profile(&format!("user-{user}"), "seeded").await;
    }
    fixture.requests.reset();
    let enricher = fixture.enricher();
    let (_, cold) = enricher.handle(kinesis_event(1, &batch), deadline()).await;
    let cold_requests = fixture.requests.counts();
    fixture.requests.reset();
    let next_batch: Vec<Vec<u8>> = batch
        .iter()
        .enumerate()
        .map(|(n, _)| {
            let record: Value = serde_json::from_slice(&batch[n]).unwrap();
            activity(
                &format!("w{n}"),
                record["userId"].as_str().unwrap(),
                "click",
                20 + n as i64 / 10,
            )
        })
        .collect();
    let (_, warm) = enricher
        .handle(kinesis_event(101, &next_batch), deadline())
        .await;
    let warm_requests = fixture.requests.counts();
    println!(
        "skewed batch of 100 records, {} distinct users\n  cold cache: {cold_requests:?}, read units {:.1}, write units {:.1}\n  warm cache: {warm_requests:?}, read units {:.1}, write units {:.1}",
        cold.users,
        cold.read_capacity_units,
        cold.write_capacity_units,
        warm.read_capacity_units,
        warm.write_capacity_units
    );
    assert_eq!(cold_requests.get("PutItem"), Some(&cold.users));
    assert_eq!(cold_requests.get("PutRecords"), Some(&1));
    // Profiles and states of every user, two keys per user, and the 100 event ids: 100 keys
    // per call.
    assert_eq!(
        cold_requests.get("BatchGetItem"),
        Some(&(2 * cold.users + 100).div_ceil(100))
    );
    assert_eq!(
        cold_requests.get("BatchWriteItem"),
        Some(&4),
        "100 ids, 25 per call"
    );
    assert_eq!(warm.profile_cache_hits, warm.users);
    assert_eq!(
        warm_requests.get("BatchGetItem"),
        Some(&(warm.users + 100).div_ceil(100))
    );
    assert!(cold.users < 50, "skewed: {} users", cold.users);
}

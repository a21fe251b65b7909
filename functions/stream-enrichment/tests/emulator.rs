//! stream-enrichment against the emulator `tools/test.sh` runs: aggregates and sessions for an
//! interleaved batch, profiles found and missing, a failed PutRecords, a lost race (its
//! records reported for retry), the profile cache's TTL, and the requests a batch costs
//! (counted by the SDK). What the keyed-state core does for every consumer (redelivery,
//! resends, spills, poison records, the warm cache) is tested once, in `shared/tests`.

use std::collections::BTreeMap;
use std::time::Duration;

use aws_lambda_events::kinesis::KinesisEvent;
use serde_json::{Value, json};
use shared::clients::ClientSettings;
use shared::enriched::{EnrichedEvent, Profile};
use shared::keyed_state::applied_ids;
use stream_enrichment::state::UserState;
use stream_enrichment::{Config, Enricher, enricher};
use testkit::emulator::{self as fixtures, unique};
use testkit::request_count::RequestCounter;
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

async fn fixture() -> Fixture {
    fixture_with(|_| {}).await
}

async fn fixture_with(edit: impl FnOnce(&mut Config)) -> Fixture {
    let sdk = testkit::emulator::sdk_config(ClientSettings::batch_consumer()).await;
    let requests = RequestCounter::default();
    let dynamodb = requests.dynamodb(&sdk);
    let kinesis = requests.kinesis(&sdk);
    let sqs = requests.sqs(&sdk);
    let core =
        fixtures::stream_core_settings(&dynamodb, &sqs, "aggregates", "aggregates-applied-ids")
            .await;
    let enriched_stream = fixtures::stream(&kinesis, "enriched").await;
    let mut config = Config {
        core,
        profiles_table: fixtures::table(&dynamodb, "profiles").await,
        enriched_stream,
        profile_cache_size: 100,
        profile_cache_ttl: Duration::from_secs(300),
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
        enricher(
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
        self.enricher().stored_state(user_id).await.unwrap()
    }

    async fn enriched(&self) -> Vec<EnrichedEvent> {
        testkit::stream_reader::read_all(&self.kinesis, &self.config.enriched_stream)
            .await
            .unwrap()
            .iter()
            .map(|record| serde_json::from_slice(record.data().as_ref()).unwrap())
            .collect()
    }

    /// Names `environment` on the shard's mark, as if it had written from the shard last.
    async fn mark(&self, environment: &str) {
        applied_ids::put_mark(
            &self.dynamodb,
            &self.config.core.applied_ids_table,
            SHARD,
            environment,
        )
        .await
        .unwrap();
    }

    async fn marked_by(&self) -> String {
        applied_ids::marked_by(&self.dynamodb, &self.config.core.applied_ids_table, SHARD)
            .await
            .unwrap()
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
    testkit::kinesis_events::batch(SHARD, first, data)
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
    assert_eq!((report.applied, report.users), (8, 3));

    let requests = fixture.requests.counts();
    assert_eq!(
        requests.get("BatchGetItem"),
        Some(&2),
        "the states with the shard's mark, and the profiles: {requests:?}"
    );
    assert_eq!(
        requests.get("PutItem"),
        Some(&4),
        "one write per user, and the shard's mark"
    );
    assert_eq!(requests.get("PutRecords"), Some(&1), "{requests:?}");

    let alice = fixture.state("alice").await.unwrap();
    assert_eq!(alice.total_events, 4);
    assert_eq!(alice.counts["view"], 2);
    assert_eq!(alice.counts["purchase"], 1);
    assert_eq!(alice.first_seen.unwrap().format(&Rfc3339).unwrap(), at(0));
    assert_eq!(alice.last_seen.unwrap().format(&Rfc3339).unwrap(), at(50));
    assert_eq!(alice.sessions_started, 2);
    assert_ne!(alice.version, 0);
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
    assert_eq!(report.stats.profile_cache_hits, 0);
    fixture.put_profile("u1", "after").await;
    let (_, report) = enricher
        .handle(
            kinesis_event(2, &[activity("e2", "u1", "view", 1)]),
            deadline(),
        )
        .await;
    assert_eq!(report.stats.profile_cache_hits, 1);
    tokio::time::sleep(Duration::from_millis(2_100)).await;
    let (_, report) = enricher
        .handle(
            kinesis_event(3, &[activity("e3", "u1", "view", 2)]),
            deadline(),
        )
        .await;
    assert_eq!(report.stats.profile_cache_hits, 0, "expired");

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
    assert_eq!(
        cold_requests.get("PutItem"),
        Some(&(cold.users + 1)),
        "a write per user, and the shard's mark"
    );
    assert_eq!(cold_requests.get("PutRecords"), Some(&1));
    // The states and the shard's mark in one call, the profiles in another (100 keys a call).
    assert_eq!(
        cold_requests.get("BatchGetItem"),
        Some(&((cold.users + 1).div_ceil(100) + cold.users.div_ceil(100)))
    );
    assert_eq!(
        cold_requests.get("BatchWriteItem"),
        None,
        "nothing to spill yet"
    );
    // Warm: the states and profiles held; the shard's mark alone is read, and not written.
    assert_eq!(warm.stats.profile_cache_hits, warm.users);
    assert_eq!((warm.states_cached, warm.states_read), (warm.users, 0));
    assert_eq!(warm_requests.get("BatchGetItem"), Some(&1));
    assert_eq!(warm_requests.get("PutItem"), Some(&warm.users));
    assert!(cold.users < 50, "skewed: {} users", cold.users);
}

/// A lost race (another environment wrote from the shard without the mark saying so, as a
/// failed mark write would leave it): stream-enrichment reports the user's records for retry,
/// and the retry applies them once to the winning state and emits them from it.
#[tokio::test]
async fn a_lost_race_reports_the_users_records_and_the_retry_applies_them_once() {
    let fixture = fixture().await;
    let first = fixture.enricher();
    first
        .handle(
            kinesis_event(1, &[activity("a", "u", "view", 0)]),
            deadline(),
        )
        .await;
    let mark = fixture.marked_by().await;
    fixture
        .enricher()
        .handle(
            kinesis_event(2, &[activity("b", "u", "view", 1)]),
            deadline(),
        )
        .await;
    fixture.mark(&mark).await;
    let data = [
        activity("c", "u", "click", 2),
        activity("other-1", "v", "view", 0),
    ];
    let (response, report) = first.handle(kinesis_event(3, &data), deadline()).await;
    assert_eq!(report.conflicts, 1);
    assert_eq!(
        response.batch_item_failures[0].item_identifier.as_deref(),
        Some("3"),
        "u's first record"
    );
    assert_eq!(fixture.state("u").await.unwrap().total_events, 2);
    let (response, report) = first.handle(kinesis_event(3, &data), deadline()).await;
    assert!(response.batch_item_failures.is_empty());
    assert_eq!((report.applied, report.already_applied), (1, 1));
    let state = fixture.state("u").await.unwrap();
    assert_eq!((state.total_events, state.counts["click"]), (3, 1));
    let enriched = fixture.enriched().await;
    let copies_of_c: Vec<&EnrichedEvent> = enriched
        .iter()
        .filter(|event| event.event.event_id == "c")
        .collect();
    assert_eq!(
        copies_of_c.len(),
        2,
        "one from the state that lost, one from the state that won"
    );
    assert_eq!(
        copies_of_c[1].session.position, 3,
        "the winning state's: a, b, then c"
    );
}

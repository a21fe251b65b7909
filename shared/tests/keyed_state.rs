//! The keyed-state stream core against the emulator `tools/test.sh` runs, with a consumer that
//! counts each user's events: one write per user per batch, redelivery from every point of a
//! batch, resends within and across batches and long after their original (their ids spilled),
//! a crash between a spill and the state write, a hot user's item size, the warm cache and the
//! shard's mark when environments take a shard from each other, a cache that could match an
//! item deleted and written again, poison records, and what a failed read, lookup, spill or write
//! does to the batch's answer.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use aws_lambda_events::kinesis::KinesisEvent;
use aws_sdk_dynamodb::types::AttributeValue;
use serde::{Deserialize, Serialize};
use serde_json::json;
use shared::clients::ClientSettings;
use shared::keyed_state::applied_ids;
use shared::keyed_state::memory::EventDigest;
use shared::keyed_state::{
    BatchReport, ConflictPolicy, Consumer, ContextRead, Emitted, Incoming, Memory, Outcome,
    Settings, StreamCore,
};
use testkit::emulator as fixtures;
use testkit::request_count::{FailOperation, RequestCounter};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use tokio::time::Instant;

const SHARD: &str = "shardId-000000000000";

/// A user's count of events: a double count or a lost event shows in `events`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Tally {
    user_id: String,
    version: u64,
    events: u64,
    #[serde(flatten)]
    memory: Memory,
}

impl Tally {
    fn new(user_id: &str) -> Self {
        Self {
            user_id: user_id.to_owned(),
            ..Self::default()
        }
    }
}

shared::impl_keyed_state!(Tally);

/// Counts events, emits their ids (kept, to see what was emitted), and drops events whose id
/// starts with `drop-`.
struct Counter {
    policy: ConflictPolicy,
    emitted: Mutex<Vec<String>>,
}

impl Consumer for Counter {
    type State = Tally;
    type Context = ();
    type Output = String;
    type Stats = ();

    const NAME: &'static str = "counter";

    fn conflict_policy(&self) -> ConflictPolicy {
        self.policy
    }

    async fn read_context(&self, users: Vec<String>, _: Instant) -> ContextRead<(), ()> {
        ContextRead {
            contexts: users.into_iter().map(|user| (user, ())).collect(),
            unread: Vec::new(),
            calls: 0,
            read_units: 0.0,
            billed_read_units: 0.0,
            stats: (),
        }
    }

    fn apply(&self, state: &mut Tally, record: &Incoming, _: &()) -> Outcome<String> {
        if record.event.event_id.starts_with("drop-") {
            return Outcome::Dropped;
        }
        state.events += 1;
        Outcome::Applied(record.event.event_id.clone())
    }

    async fn emit(&self, outputs: Vec<String>, _: Instant) -> Emitted<()> {
        self.emitted.lock().unwrap().extend(outputs);
        Emitted::default()
    }
}

struct Fixture {
    dynamodb: aws_sdk_dynamodb::Client,
    sqs: aws_sdk_sqs::Client,
    settings: Settings,
    requests: RequestCounter,
}

async fn fixture() -> Fixture {
    let sdk = testkit::emulator::sdk_config(ClientSettings::batch_consumer()).await;
    let requests = RequestCounter::default();
    let dynamodb = requests.dynamodb(&sdk);
    let sqs = aws_sdk_sqs::Client::new(&sdk);
    let mut settings =
        fixtures::stream_core_settings(&dynamodb, &sqs, "aggregates", "aggregates-applied-ids")
            .await;
    settings.state_cache_size = 1_000;
    requests.reset();
    Fixture {
        dynamodb,
        sqs,
        settings,
        requests,
    }
}

impl Fixture {
    /// An execution environment of the consumer.
    fn core(&self, policy: ConflictPolicy) -> StreamCore<Counter> {
        self.core_with(policy, self.dynamodb.clone())
    }

    fn core_with(
        &self,
        policy: ConflictPolicy,
        dynamodb: aws_sdk_dynamodb::Client,
    ) -> StreamCore<Counter> {
        let counter = Counter {
            policy,
            emitted: Mutex::new(Vec::new()),
        };
        StreamCore::new(counter, dynamodb, self.sqs.clone(), self.settings.clone())
    }

    /// A client whose next `times` requests of `operation` fail before they are sent.
    fn failing(&self, operation: &'static str, times: usize) -> aws_sdk_dynamodb::Client {
        let config = self.dynamodb.config().to_builder();
        aws_sdk_dynamodb::Client::from_conf(
            config
                .interceptor(FailOperation::new(operation, times))
                .build(),
        )
    }

    async fn tally(&self, user_id: &str) -> Option<Tally> {
        self.core(REAPPLY).stored_state(user_id).await.unwrap()
    }

    async fn events(&self, user_id: &str) -> u64 {
        self.tally(user_id).await.map_or(0, |tally| tally.events)
    }

    async fn item(&self, user_id: &str) -> Option<HashMap<String, AttributeValue>> {
        self.dynamodb
            .get_item()
            .table_name(&self.settings.state_table)
            .key("userId", AttributeValue::S(user_id.into()))
            .consistent_read(true)
            .send()
            .await
            .unwrap()
            .item
    }

    async fn put_item(&self, item: HashMap<String, AttributeValue>) {
        self.dynamodb
            .put_item()
            .table_name(&self.settings.state_table)
            .set_item(Some(item))
            .send()
            .await
            .unwrap();
    }

    async fn spills(&self, user_id: &str) -> Vec<(String, usize, i64)> {
        applied_ids::spills_of(&self.dynamodb, &self.settings.applied_ids_table, user_id)
            .await
            .unwrap()
            .into_iter()
            .map(|(slice, digests, expires_at)| (slice, digests.len(), expires_at))
            .collect()
    }

    /// Names `environment` on the shard's mark, as if it had written from the shard last.
    async fn mark(&self, environment: &str) {
        applied_ids::put_mark(
            &self.dynamodb,
            &self.settings.applied_ids_table,
            SHARD,
            environment,
        )
        .await
        .unwrap();
    }

    async fn marked_by(&self) -> Option<String> {
        applied_ids::marked_by(&self.dynamodb, &self.settings.applied_ids_table, SHARD)
            .await
            .unwrap()
    }

    async fn rejects(&self) -> Vec<aws_sdk_sqs::types::Message> {
        testkit::queue_reader::receive_all(&self.sqs, &self.settings.rejects_queue_url).await
    }
}

fn deadline() -> Instant {
    Instant::now() + Duration::from_secs(20)
}

/// Event times count in seconds from a base two days ago.
fn base() -> OffsetDateTime {
    OffsetDateTime::now_utc().replace_nanosecond(0).unwrap() - time::Duration::days(2)
}

fn at(seconds: i64) -> String {
    (base() + time::Duration::seconds(seconds))
        .format(&Rfc3339)
        .unwrap()
}

fn record(event_id: &str, user_id: &str, seconds: i64) -> Vec<u8> {
    json!({"eventId": event_id, "userId": user_id, "type": "view", "timestamp": at(seconds)})
        .to_string()
        .into_bytes()
}

fn batch(first: u64, data: &[Vec<u8>]) -> KinesisEvent {
    testkit::kinesis_events::batch(SHARD, first, data)
}

/// Handles `data` as a batch from sequence number `first`; the first record reported for
/// retry, if any, and the report.
async fn handle(
    core: &StreamCore<Counter>,
    first: u64,
    data: &[Vec<u8>],
) -> (Option<String>, BatchReport<()>) {
    let (response, report) = core.handle(batch(first, data), deadline()).await;
    let failed = response
        .batch_item_failures
        .first()
        .and_then(|failure| failure.item_identifier.clone());
    (failed, report)
}

/// `count` events of `user_id`, `step` seconds apart from `start`, ids `<prefix>-<n>`.
fn events(prefix: &str, user_id: &str, count: usize, start: i64, step: i64) -> Vec<Vec<u8>> {
    (0..count)
        .map(|n| record(&format!("{prefix}-{n}"), user_id, start + n as i64 * step))
        .collect()
}

/// Hands `data` to `core` in batches of 100, sequence numbers from `first`.
async fn handle_all(core: &StreamCore<Counter>, first: u64, data: &[Vec<u8>]) {
    for (n, chunk) in data.chunks(100).enumerate() {
        let (failed, report) = handle(core, first + n as u64 * 100, chunk).await;
        assert_eq!(failed, None, "{report:?}");
    }
}

const REAPPLY: ConflictPolicy = ConflictPolicy::Reapply { max_attempts: 5 };

#[tokio::test]
async fn a_batch_applies_each_users_records_in_order_with_one_write_per_user() {
    let fixture = fixture().await;
    let core = fixture.core(REAPPLY);
    let data = vec![
        record("a1", "alice", 0),
        record("b1", "bob", 1),
        record("a2", "alice", 2),
        record("c1", "carol", 3),
        record("drop-a", "alice", 4),
        record("a3", "alice", 5),
    ];
    let (failed, report) = handle(&core, 1, &data).await;
    assert_eq!(failed, None);
    assert_eq!(
        (report.records, report.users, report.applied, report.dropped),
        (6, 3, 5, 1)
    );
    assert_eq!(
        *core.consumer().emitted.lock().unwrap(),
        ["a1", "a2", "a3", "b1", "c1"],
        "per user, in sequence order"
    );
    let requests = fixture.requests.counts();
    assert_eq!(requests.get("BatchGetItem"), Some(&1), "{requests:?}");
    assert_eq!(
        requests.get("PutItem"),
        Some(&4),
        "one per user and the shard's mark: {requests:?}"
    );
    assert_eq!(requests.get("Query"), None, "nothing spilled to look up");
    assert_eq!(fixture.events("alice").await, 3);
    assert_eq!(fixture.events("carol").await, 1);
    assert_eq!(report.states_read, 3);
    assert!(!report.cache_current, "no environment had marked the shard");
    assert_eq!(
        report.billed_write_units, 4.0,
        "three items under 1 KB and the mark"
    );
}

/// Applies a batch once, as the reference; then, for every record k, on fresh tables and in a
/// new environment each time: the whole batch, and its suffix from k again (Kinesis retries
/// from the first failed record). Every state equals the reference and nothing is written or
/// emitted again.
#[tokio::test]
async fn redelivery_from_every_point_of_a_batch_leaves_the_same_state() {
    let data = vec![
        record("e1", "u1", 0),
        record("e2", "u2", 1),
        record("e3", "u1", 2),
        record("e4", "u3", 3),
        record("e1", "u1", 4),
        record("e6", "u1", 40),
        record("e7", "u3", 4),
    ];
    for k in 0..data.len() {
        let fixture = fixture().await;
        handle(&fixture.core(REAPPLY), 1, &data).await;
        let expected = [
            fixture.tally("u1").await,
            fixture.tally("u2").await,
            fixture.tally("u3").await,
        ];
        fixture.requests.reset();
        let core = fixture.core(REAPPLY);
        let (failed, report) = handle(&core, 1 + k as u64, &data[k..]).await;
        assert_eq!(failed, None);
        assert_eq!(report.already_applied, data.len() - k, "from record {k}");
        assert_eq!(report.applied, 0);
        assert!(core.consumer().emitted.lock().unwrap().is_empty());
        assert_eq!(fixture.requests.count("PutItem"), 0, "nothing written");
        let after = [
            fixture.tally("u1").await,
            fixture.tally("u2").await,
            fixture.tally("u3").await,
        ];
        assert_eq!(after, expected, "from record {k}");
        assert_eq!(after[0].as_ref().unwrap().events, 3, "e1 once");
    }
}

#[tokio::test]
async fn the_same_event_id_counts_once_within_and_across_batches() {
    let fixture = fixture().await;
    let core = fixture.core(REAPPLY);
    let first = vec![
        record("dup", "u1", 0),
        record("dup", "u1", 0),
        record("other", "u1", 1),
    ];
    let (_, report) = handle(&core, 1, &first).await;
    assert_eq!((report.applied, report.duplicates), (2, 1));
    // The producer sent it again: a new record, a new sequence number, another environment.
    let (_, report) = handle(&fixture.core(REAPPLY), 4, &[record("dup", "u1", 0)]).await;
    assert_eq!((report.applied, report.duplicates), (0, 1));
    assert_eq!(fixture.events("u1").await, 2);
}

/// A busy user's ids are spilled out of its item; a resend 1 hour and 23 hours (event time)
/// after its original, with thousands of the user's events in between, is found by a lookup
/// that reads only the spills that may hold it. Every item stays small.
#[tokio::test]
async fn a_resend_long_after_its_original_is_found_among_the_spilled_ids() {
    let fixture = fixture().await;
    let core = fixture.core(REAPPLY);
    // 2,400 events of one user over 24 hours (one every 36 s): e-0 at 0 s, e-100 at 1 h ...
    let data = events("e", "hot", 2_400, 0, 36);
    handle_all(&core, 1, &data).await;
    let tally = fixture.tally("hot").await.unwrap();
    assert_eq!(tally.events, 2_400);
    let item_bytes = shared::dynamo::item_size(&fixture.item("hot").await.unwrap());
    assert!(item_bytes < 2_048, "{item_bytes} bytes");
    let spills = fixture.spills("hot").await;
    let spilled: usize = spills.iter().map(|(_, ids, _)| ids).sum();
    assert!(spills.len() >= 15, "{spills:?}");
    assert_eq!(
        spilled + tally.memory.recent_event_ids.len(),
        2_400,
        "every id once: spilled or recent"
    );
    let day = (OffsetDateTime::now_utc() + time::Duration::hours(24)).unix_timestamp();
    for (slice, _, expires_at) in &spills {
        assert!(
            (expires_at - day).abs() < 300,
            "{slice} expires at {expires_at}"
        );
    }

    // e-2299 and e-100, 1 hour and 23 hours (event time) before the newest event, sent again
    // (both spilled: only the last batch's ids are still in the item); and an event of the
    // same time as one of them that was never applied.
    assert_eq!(tally.memory.recent_event_ids.len(), 100);
    fixture.requests.reset();
    let resends = vec![
        data[2_299].clone(),
        data[100].clone(),
        record("new-at-1h", "hot", 3_600),
    ];
    let (failed, report) = handle(&fixture.core(REAPPLY), 10_001, &resends).await;
    assert_eq!(failed, None);
    assert_eq!(
        (report.applied, report.duplicates, report.found_spilled),
        (1, 2, 2)
    );
    assert!(
        (1..=4).contains(&report.lookups),
        "one Query per level and range that may hold them: {}",
        report.lookups
    );
    assert!(
        report.billed_read_units <= 2.0 + report.lookups as f64,
        "each lookup reads a few spills: {report:?}"
    );
    assert_eq!(fixture.events("hot").await, 2_401);
}

/// What a crash between a spill and the state write leaves (the spill written, the state not):
/// the spill holds only ids already committed in the state, so when the batch comes again
/// (to another environment) every record is applied once, and a resend of a spilled id is
/// still a duplicate.
#[tokio::test]
async fn a_crash_between_a_spill_and_the_state_write_loses_and_doubles_nothing() {
    let fixture = fixture().await;
    let core = fixture.core(REAPPLY);
    let data = events("e", "u", 600, 0, 1);
    handle_all(&core, 1, &data[..500]).await;
    let before = fixture.item("u").await.unwrap();
    let spills_before = fixture.spills("u").await.len();
    // The sixth batch: the state write fails after its spill was written, and the function dies.
    let crashing = fixture.core_with(REAPPLY, fixture.failing("PutItem", 100));
    let (failed, report) = handle(&crashing, 501, &data[500..]).await;
    assert_eq!(failed.as_deref(), Some("501"), "{report:?}");
    assert_eq!(report.spills, 1, "the committed ids spilled first");
    assert_eq!(fixture.spills("u").await.len(), spills_before + 1);
    assert_eq!(
        fixture.item("u").await.unwrap(),
        before,
        "the state as before"
    );

    let (failed, report) = handle(&fixture.core(REAPPLY), 501, &data[500..]).await;
    assert_eq!(failed, None);
    assert_eq!(report.applied, 100);
    assert_eq!(fixture.events("u").await, 600);
    let resends = vec![data[450].clone(), data[10].clone(), data[599].clone()];
    let (_, report) = handle(&fixture.core(REAPPLY), 1_001, &resends).await;
    assert_eq!((report.applied, report.duplicates), (0, 3));
    assert_eq!(fixture.events("u").await, 600);
}

/// A spill that cannot be written leaves its ids in the state: nothing is lost, the item is
/// only bigger until a later spill.
#[tokio::test]
async fn a_spill_that_fails_keeps_its_ids_in_the_state() {
    let fixture = fixture().await;
    let data = events("e", "u", 300, 0, 1);
    handle_all(&fixture.core(REAPPLY), 1, &data[..200]).await;
    let spills = fixture.spills("u").await.len();
    let failing = fixture.core_with(REAPPLY, fixture.failing("BatchWriteItem", 1_000));
    let (failed, report) = handle(&failing, 201, &data[200..]).await;
    assert_eq!(failed, None);
    assert_eq!((report.applied, report.spills), (100, 0));
    assert_eq!(fixture.spills("u").await.len(), spills);
    assert_eq!(
        fixture
            .tally("u")
            .await
            .unwrap()
            .memory
            .recent_event_ids
            .len()
            % 100,
        0,
        "every committed id still there"
    );
    let resends: Vec<Vec<u8>> = data.iter().step_by(7).cloned().collect();
    let (_, report) = handle(&fixture.core(REAPPLY), 1_001, &resends).await;
    assert_eq!((report.applied, report.duplicates), (0, resends.len()));
    assert_eq!(fixture.events("u").await, 300);
}

/// With the shard's mark naming it, an environment reads no state it holds; when another
/// environment takes the shard (and marks it), the first reads again when it comes back, and
/// nothing is applied twice or lost.
#[tokio::test]
async fn environments_that_take_a_shard_from_each_other_read_again_and_stay_exact() {
    let fixture = fixture().await;
    let first = fixture.core(ConflictPolicy::RetryRecords);
    let second = fixture.core(ConflictPolicy::RetryRecords);
    let users = ["u1", "u2", "u3"];
    let round = |n: usize| -> Vec<Vec<u8>> {
        users
            .iter()
            .map(|user| record(&format!("{user}-{n}"), user, n as i64))
            .collect()
    };
    let (_, report) = handle(&first, 1, &round(0)).await;
    assert_eq!((report.states_read, report.states_cached), (3, 0));
    fixture.requests.reset();
    let (_, report) = handle(&first, 4, &round(1)).await;
    assert!(report.cache_current);
    assert_eq!((report.states_read, report.states_cached), (0, 3));
    assert_eq!(fixture.requests.count("BatchGetItem"), 1, "the mark alone");
    assert_eq!(
        fixture.requests.count("PutItem"),
        3,
        "the mark already named this environment"
    );
    assert_eq!(report.billed_read_units, 1.0, "the mark");

    // The second environment takes the shard over; a resend of u1-1 comes with it.
    let mut taken = round(2);
    taken.push(record("u1-1", "u1", 1));
    let (_, report) = handle(&second, 7, &taken).await;
    assert_eq!(
        (report.states_read, report.applied, report.duplicates),
        (3, 3, 1)
    );
    assert_ne!(fixture.marked_by().await, None);
    // The first comes back: what it holds is a batch behind.
    let mut back = round(3);
    back.push(record("u2-2", "u2", 2));
    let (failed, report) = handle(&first, 11, &back).await;
    assert_eq!(failed, None);
    assert!(!report.cache_current);
    assert_eq!((report.states_read, report.states_cached), (3, 0));
    assert_eq!(
        (report.applied, report.duplicates, report.conflicts),
        (3, 1, 0)
    );
    for user in users {
        assert_eq!(fixture.events(user).await, 4, "{user}");
    }
}

/// If the mark misleads an environment (another wrote from the shard without marking it, as a
/// failed mark write would leave it), its stale state loses the conditional write: with
/// `Reapply` it reads again and applies again in the invocation; with `RetryRecords` the
/// user's records are reported, and applied once when they come again.
#[tokio::test]
async fn a_stale_cache_loses_its_conditional_write_and_the_policy_decides() {
    for policy in [REAPPLY, ConflictPolicy::RetryRecords] {
        let fixture = fixture().await;
        let first = fixture.core(policy);
        handle(&first, 1, &[record("a", "u", 0)]).await;
        let mark = fixture.marked_by().await.unwrap();
        handle(&fixture.core(policy), 2, &[record("b", "u", 1)]).await;
        fixture.mark(&mark).await;
        let data = [record("c", "u", 2), record("b", "u", 1)];
        let (failed, report) = handle(&first, 3, &data).await;
        assert!(report.cache_current, "misled by the mark");
        assert_eq!(report.conflicts, 1, "{policy:?}");
        match policy {
            ConflictPolicy::Reapply { .. } => {
                assert_eq!(failed, None);
                assert_eq!((report.applied, report.duplicates), (1, 1));
            }
            ConflictPolicy::RetryRecords => {
                assert_eq!(failed.as_deref(), Some("3"));
                assert_eq!(
                    fixture.events("u").await,
                    2,
                    "nothing applied from the stale copy"
                );
                let (failed, report) = handle(&first, 3, &data).await;
                assert_eq!(failed, None);
                assert_eq!((report.applied, report.duplicates), (1, 1));
            }
        }
        assert_eq!(fixture.events("u").await, 3, "{policy:?}");
    }
}

/// An item deleted and written again starts at a new random version: a copy cached from its
/// predecessor cannot match it, even when the mark says the copy is current.
#[tokio::test]
async fn a_cached_copy_never_matches_an_item_deleted_and_written_again() {
    let fixture = fixture().await;
    let first = fixture.core(REAPPLY);
    handle(&first, 1, &[record("a", "u", 0)]).await;
    let mark = fixture.marked_by().await.unwrap();
    let old_version = fixture.tally("u").await.unwrap().version;
    fixture
        .dynamodb
        .delete_item()
        .table_name(&fixture.settings.state_table)
        .key("userId", AttributeValue::S("u".into()))
        .send()
        .await
        .unwrap();
    handle(&fixture.core(REAPPLY), 2, &[record("b", "u", 1)]).await;
    assert_ne!(fixture.tally("u").await.unwrap().version, old_version);
    fixture.mark(&mark).await;
    let (failed, report) = handle(&first, 3, &[record("c", "u", 2)]).await;
    assert_eq!(failed, None);
    assert_eq!(report.conflicts, 1, "the stale copy lost");
    let tally = fixture.tally("u").await.unwrap();
    assert_eq!(
        tally.events, 2,
        "b and c; the deleted item's a is gone with it"
    );
    let recent = &tally.memory.recent_event_ids;
    assert!(recent.contains(&EventDigest::of("b")) && !recent.contains(&EventDigest::of("a")));
}

#[tokio::test]
async fn poison_records_are_set_aside_with_their_reason_and_the_batch_goes_on() {
    let fixture = fixture().await;
    let data = vec![
        b"{not json".to_vec(),
        record("ok-1", "u1", 0),
        json!({"eventId": "x", "userId": "u1", "type": "hover", "timestamp": at(0)})
            .to_string()
            .into_bytes(),
        b"[\"e\", \"u1\", \"view\"]".to_vec(),
        record("ok-2", "u1", 1),
    ];
    let (failed, report) = handle(&fixture.core(REAPPLY), 1, &data).await;
    assert_eq!(failed, None);
    assert_eq!((report.applied, report.rejected), (2, 3));
    assert_eq!(fixture.events("u1").await, 2);
    let mut rejects: Vec<(String, String)> = fixture
        .rejects()
        .await
        .iter()
        .map(|message| {
            let attribute = |name: &str| {
                message.message_attributes().unwrap()[name]
                    .string_value()
                    .unwrap()
                    .to_owned()
            };
            (
                attribute("source-sequence-number"),
                attribute("reject-code"),
            )
        })
        .collect();
    rejects.sort();
    assert_eq!(
        rejects,
        [
            ("1".to_owned(), "not-json".to_owned()),
            ("3".to_owned(), "schema-violation".to_owned()),
            ("4".to_owned(), "schema-violation".to_owned())
        ]
    );
}

#[tokio::test]
async fn a_user_that_cannot_be_read_fails_from_its_first_record_and_the_retry_applies_once() {
    let fixture = fixture().await;
    fixture
        .put_item(HashMap::from([
            ("userId".to_owned(), AttributeValue::S("u2".into())),
            (
                "version".to_owned(),
                AttributeValue::S("not a number".into()),
            ),
        ]))
        .await;
    let data = vec![
        record("e1", "u1", 0),
        record("e2", "u1", 1),
        record("e3", "u2", 2),
        record("e4", "u3", 3),
        record("e5", "u2", 4),
        record("e6", "u1", 5),
    ];
    let core = fixture.core(REAPPLY);
    let (failed, report) = handle(&core, 1, &data).await;
    assert_eq!(failed.as_deref(), Some("3"), "u2's first record");
    assert_eq!(report.failed, 4);
    assert_eq!(fixture.events("u1").await, 3);
    fixture
        .dynamodb
        .delete_item()
        .table_name(&fixture.settings.state_table)
        .key("userId", AttributeValue::S("u2".into()))
        .send()
        .await
        .unwrap();
    let (failed, report) = handle(&core, 3, &data[2..]).await;
    assert_eq!(failed, None);
    assert_eq!((report.applied, report.already_applied), (2, 2));
    assert_eq!(
        [
            fixture.events("u1").await,
            fixture.events("u2").await,
            fixture.events("u3").await
        ],
        [3, 2, 1]
    );
}

#[tokio::test]
async fn an_applied_ids_table_that_cannot_be_read_fails_the_batch_from_its_first_record() {
    let mut fixture = fixture().await;
    fixture.settings.applied_ids_table = "no-such-table".into();
    let (failed, report) = handle(&fixture.core(REAPPLY), 7, &[record("g1", "u3", 1)]).await;
    assert_eq!(failed.as_deref(), Some("7"));
    assert_eq!((report.applied, report.failed), (0, 1));
    assert!(fixture.tally("u3").await.is_none(), "nothing applied blind");
}

/// A lookup that fails fails its user's records (they are retried), not the batch.
#[tokio::test]
async fn a_failed_lookup_retries_only_its_users_records() {
    let fixture = fixture().await;
    let data = events("e", "hot", 300, 0, 1);
    handle_all(&fixture.core(REAPPLY), 1, &data).await;
    let failing = fixture.core_with(REAPPLY, fixture.failing("Query", 1_000));
    let resend = vec![
        record("cold-1", "cold", 0),
        data[5].clone(),
        record("cold-2", "cold", 1),
    ];
    let (failed, report) = handle(&failing, 301, &resend).await;
    assert_eq!(failed.as_deref(), Some("302"), "{report:?}");
    assert_eq!(fixture.events("cold").await, 2);
    assert_eq!(fixture.events("hot").await, 300);
}

/// After a lost race, the state read again may have spilled ids the losing copy held nowhere:
/// the new attempt looks them up like any other, and a resend among them is not applied.
#[tokio::test]
async fn after_a_lost_race_ids_the_other_environment_spilled_are_looked_up() {
    let fixture = fixture().await;
    let first = fixture.core(REAPPLY);
    handle(&first, 1, &[record("a", "u", 0)]).await;
    let mark = fixture.marked_by().await.unwrap();
    // Another environment applies 300 more of u's events; most of their ids are spilled.
    let data = events("e", "u", 300, 10, 1);
    handle_all(&fixture.core(REAPPLY), 2, &data).await;
    assert!(!fixture.spills("u").await.is_empty());
    fixture.mark(&mark).await;
    let (failed, report) = handle(&first, 1_000, &[data[3].clone(), record("z", "u", 400)]).await;
    assert_eq!(failed, None);
    assert_eq!(report.conflicts, 1, "the copy held since `a` lost");
    assert_eq!(
        (report.applied, report.duplicates, report.found_spilled),
        (1, 1, 1)
    );
    assert_eq!(fixture.events("u").await, 302);
}

/// When an environment finds a shard's mark naming another, every state it holds from that
/// shard may be stale, not only this batch's users': it drops them all, so after it names
/// itself on the mark again it does not trust the others.
#[tokio::test]
async fn a_shard_taken_back_drops_every_state_held_from_it() {
    let fixture = fixture().await;
    let first = fixture.core(REAPPLY);
    let second = fixture.core(REAPPLY);
    handle(&first, 1, &[record("a1", "u1", 0), record("a2", "u2", 0)]).await;
    handle(&second, 3, &[record("b1", "u1", 1), record("b2", "u2", 1)]).await;
    let (_, back) = handle(&first, 5, &[record("c1", "u1", 2)]).await;
    assert!(!back.cache_current);
    let (failed, later) = handle(&first, 6, &[record("c2", "u2", 2)]).await;
    assert_eq!(failed, None);
    assert!(later.cache_current, "the mark names it again");
    assert_eq!(
        (later.states_cached, later.states_read, later.conflicts),
        (0, 1, 0),
        "u2, held from before the other environment wrote it, was dropped"
    );
    assert_eq!(
        (fixture.events("u1").await, fixture.events("u2").await),
        (3, 3)
    );
}

/// A state held from one shard is not trusted for a record of another (after resharding a
/// user's records move to a child shard, whose mark says nothing of the parent's writers).
#[tokio::test]
async fn a_state_held_from_another_shard_is_read_again() {
    let fixture = fixture().await;
    let first = fixture.core(REAPPLY);
    let second = fixture.core(REAPPLY);
    let on = |shard: &str, sequence: u64, data: &[Vec<u8>]| {
        testkit::kinesis_events::batch(shard, sequence, data)
    };
    first
        .handle(on("parent", 1, &[record("a", "u", 0)]), deadline())
        .await;
    first
        .handle(on("child", 1, &[record("x", "v", 0)]), deadline())
        .await;
    second
        .handle(on("parent", 2, &[record("b", "u", 1)]), deadline())
        .await;
    let (response, report) = first
        .handle(on("child", 2, &[record("c", "u", 2)]), deadline())
        .await;
    assert!(response.batch_item_failures.is_empty());
    assert!(report.cache_current, "the child shard's mark names it");
    assert_eq!(
        (report.states_cached, report.states_read, report.conflicts),
        (0, 1, 0)
    );
    assert_eq!(fixture.events("u").await, 3);
}

/// Spills that keep failing do not let an item grow without bound: past
/// `MAX_UNSPILLED_IDS` waiting ids, the user's records are retried instead, and applied once
/// when spills work again.
#[tokio::test]
async fn ids_waiting_for_a_failing_spill_are_bounded_and_the_records_retried() {
    use shared::keyed_state::memory::MAX_UNSPILLED_IDS;

    let fixture = fixture().await;
    let data = events("e", "u", MAX_UNSPILLED_IDS + 100, 0, 1);
    let failing = fixture.core_with(REAPPLY, fixture.failing("BatchWriteItem", 100_000));
    let within = MAX_UNSPILLED_IDS / 100 * 100;
    handle_all(&failing, 1, &data[..within]).await;
    assert_eq!(fixture.spills("u").await.len(), 0);
    let (failed, report) = handle(&failing, within as u64 + 1, &data[within..]).await;
    assert_eq!(failed, Some((within + 1).to_string()), "{report:?}");
    assert_eq!(
        fixture.events("u").await,
        within as u64,
        "nothing of the batch written"
    );
    let item_bytes = shared::dynamo::item_size(&fixture.item("u").await.unwrap());
    assert!(item_bytes < 20 * 1024, "{item_bytes} bytes");

    let (failed, report) = handle(&fixture.core(REAPPLY), within as u64 + 1, &data[within..]).await;
    assert_eq!(failed, None);
    assert_eq!((report.applied, report.spills), (data.len() - within, 1));
    assert_eq!(fixture.events("u").await, data.len() as u64);
}

//! The window arithmetic against a brute-force reference, over random event sequences: random
//! event times (out of order, late, far apart), duplicate event ids, Kinesis redeliveries, and
//! random read times. The reference keeps every accepted event and counts exactly.

use std::collections::{BTreeMap, HashSet};

use proptest::prelude::*;
use shared::events::{ActivityEvent, ActivityType};
use shared::features::spec::OPEN_CART_HORIZON_MS;
use shared::features::spec::{
    AMOUNT_SCALE, LONGEST_WINDOW_MS, MAX_SECONDS_SINCE_LAST_EVENT, SESSION_GAP_MS, WINDOWS,
};
use shared::features::{FeatureItem, FeatureValue, FeatureVector, SpecVersion, evaluate};
use shared::keyed_state::checkpoints::SequenceNumber;
use shared::keyed_state::memory::{Committed, EventDigest, LEVELS, MAX_RECENT_IDS, Span, width};
use shared::keyed_state::{Outcome, Verdict, apply_record};
use time::OffsetDateTime;

/// 2026-11-23T10:00:00Z: event times are this plus a generated offset.
const BASE_MS: i64 = 1_795_428_000_000;
const HOUR_MS: i64 = 3_600_000;

/// One generated delivery: a new event, a producer's resend of an earlier event id, or a
/// Kinesis redelivery of an earlier record.
#[derive(Debug, Clone)]
enum Delivery {
    New {
        offset_ms: i64,
        type_index: usize,
        amount_cents: u32,
    },
    Resend(usize),
    Redeliver(usize),
}

fn delivery() -> impl Strategy<Value = Delivery> {
    prop_oneof![
        6 => (-30 * HOUR_MS..30 * HOUR_MS, 0..6usize, 0..100_000u32).prop_map(
            |(offset_ms, type_index, amount_cents)| Delivery::New { offset_ms, type_index, amount_cents }
        ),
        // Clustered events, so buckets and sessions fill up.
        6 => (-2 * HOUR_MS..2 * HOUR_MS, 0..6usize, 0..100_000u32).prop_map(
            |(offset_ms, type_index, amount_cents)| Delivery::New { offset_ms: offset_ms / 97, type_index, amount_cents }
        ),
        1 => any::<usize>().prop_map(Delivery::Resend),
        1 => any::<usize>().prop_map(Delivery::Redeliver),
    ]
}

struct Record {
    sequence: SequenceNumber,
    event: ActivityEvent,
}

fn at(ms: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000).unwrap()
}

fn activity(id: String, at_ms: i64, type_index: usize, amount_cents: u32) -> ActivityEvent {
    ActivityEvent {
        event_id: id,
        user_id: "u-1".into(),
        activity_type: ActivityType::ALL[type_index],
        timestamp: at(at_ms),
        item_id: None,
        amount: Some(f64::from(amount_cents) / 100.0),
        attributes: BTreeMap::new(),
    }
}

/// The reference: every event accepted (first delivery of its id, not a day older than the
/// newest event before it), kept whole.
#[derive(Default)]
struct Reference {
    accepted: Vec<ActivityEvent>,
    seen: HashSet<String>,
    newest: Option<(i64, ActivityType)>,
}

impl Reference {
    fn offer(&mut self, event: &ActivityEvent) -> Verdict<()> {
        if self.seen.contains(&event.event_id) {
            return Verdict::Duplicate;
        }
        let at_ms = ms(event);
        if self
            .newest
            .is_some_and(|(newest, _)| at_ms <= newest - LONGEST_WINDOW_MS)
        {
            return Verdict::Dropped;
        }
        if self.newest.is_none_or(|(newest, _)| at_ms > newest) {
            self.newest = Some((at_ms, event.activity_type));
        }
        self.seen.insert(event.event_id.clone());
        self.accepted.push(event.clone());
        Verdict::Applied(())
    }
}

fn ms(event: &ActivityEvent) -> i64 {
    (event.timestamp.unix_timestamp_nanos() / 1_000_000) as i64
}

/// Applies record `sequence` of one shard exactly once, as the keyed-state core does.
fn apply(
    item: &mut FeatureItem,
    shard: &str,
    sequence: &SequenceNumber,
    event: &ActivityEvent,
) -> Verdict<()> {
    apply_record(
        item,
        shard,
        sequence,
        EventDigest::of(&event.event_id),
        ms(event),
        false,
        |item| item.apply_event(event),
    )
}

fn integer(features: &FeatureVector, name: &str) -> u64 {
    match features.get(name) {
        Some(FeatureValue::Integer(value)) => *value,
        other => panic!("{name}: {other:?}"),
    }
}

/// Exact sessions of the accepted events: (start, end, events).
fn sessions(accepted: &[ActivityEvent]) -> Vec<(i64, i64, u64)> {
    let mut times: Vec<i64> = accepted.iter().map(ms).collect();
    times.sort_unstable();
    let mut sessions: Vec<(i64, i64, u64)> = Vec::new();
    for t in times {
        match sessions.last_mut() {
            Some(last) if t - last.1 < SESSION_GAP_MS => {
                last.1 = t;
                last.2 += 1;
            }
            _ => sessions.push((t, t, 1)),
        }
    }
    sessions
}

fn check_read(item: &FeatureItem, reference: &Reference, now_ms: i64) {
    let features = evaluate(Some(item), at(now_ms), SpecVersion::LATEST).unwrap();
    let (newest, newest_type) = reference.newest.expect("an event was accepted");
    let read_at = now_ms.max(newest);
    for window in WINDOWS {
        let first_bucket = window.first_bucket(read_at);
        for type_filter in std::iter::once(None).chain(ActivityType::ALL.map(Some)) {
            let of_type = |event: &&ActivityEvent| {
                type_filter.is_none_or(|wanted| event.activity_type == wanted)
            };
            // Exact: event time in (read_at - W, read_at].
            let exact = reference
                .accepted
                .iter()
                .filter(of_type)
                .filter(|e| ms(e) > read_at - window.length_ms && ms(e) <= read_at)
                .count() as u64;
            // Events of the trailing bucket that lie before the window: the documented error.
            let trailing = reference
                .accepted
                .iter()
                .filter(of_type)
                .filter(|e| window.bucket_of(ms(e)) == first_bucket)
                .filter(|e| ms(e) <= read_at - window.length_ms)
                .count() as u64;
            let name = match type_filter {
                Some(t) => format!("{}_count_{}", t.as_str(), window.name),
                None => format!("event_count_{}", window.name),
            };
            let bucketed = integer(&features, &name);
            assert_eq!(
                bucketed,
                exact + trailing,
                "{name} at {now_ms}: exact {exact}, trailing bucket {trailing}"
            );
            assert!(trailing == 0 || window.bucket_of(read_at - window.length_ms) == first_bucket);
        }
    }
    let day = WINDOWS[2];
    let amount_units: u64 = reference
        .accepted
        .iter()
        .filter(|e| e.activity_type == ActivityType::Purchase)
        .filter(|e| day.bucket_of(ms(e)) >= day.first_bucket(read_at))
        .map(|e| (e.amount.unwrap() * AMOUNT_SCALE).round() as u64)
        .sum();
    assert_eq!(
        features.get("purchase_amount_24h"),
        Some(&FeatureValue::Decimal(amount_units as f64 / AMOUNT_SCALE))
    );
    assert_eq!(
        integer(&features, "seconds_since_last_event"),
        (((read_at - newest) / 1000) as u64).min(MAX_SECONDS_SINCE_LAST_EVENT)
    );
    assert_eq!(
        features.get("last_event_type"),
        Some(&FeatureValue::Category(newest_type.as_str()))
    );
    let exact_sessions = sessions(&reference.accepted);
    let current = exact_sessions
        .last()
        .filter(|s| read_at - s.1 < SESSION_GAP_MS)
        .map_or(0, |s| s.2);
    assert_eq!(integer(&features, "session_event_count"), current);
    let started = exact_sessions
        .iter()
        .filter(|s| s.0 > read_at - LONGEST_WINDOW_MS)
        .count() as u64;
    assert_eq!(integer(&features, "sessions_started_24h"), started);
    let newest_of = |wanted: ActivityType| {
        reference
            .accepted
            .iter()
            .filter(|e| e.activity_type == wanted)
            .map(ms)
            .max()
    };
    let open_cart = match (
        newest_of(ActivityType::AddToCart),
        newest_of(ActivityType::Purchase),
    ) {
        (Some(cart), purchase)
            if purchase.is_none_or(|p| p < cart) && read_at - cart < OPEN_CART_HORIZON_MS =>
        {
            (read_at - cart) / 1000
        }
        _ => OPEN_CART_HORIZON_MS / 1000,
    };
    assert_eq!(
        integer(&features, "seconds_since_open_cart"),
        open_cart as u64
    );
    // Version 1 is version 2 without its last column.
    let v1 = evaluate(Some(item), at(now_ms), SpecVersion::V1).unwrap();
    assert_eq!(
        v1.model_row(),
        features.model_row()[..SpecVersion::V1.definitions().len()]
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn bucketed_features_match_the_reference_within_one_trailing_bucket(
        deliveries in prop::collection::vec(delivery(), 1..150),
        reads in prop::collection::vec(-2 * HOUR_MS..27 * HOUR_MS, 1..8),
    ) {
        let mut item = FeatureItem::new("u-1");
        let mut reference = Reference::default();
        let mut records: Vec<Record> = Vec::new();
        let mut next_sequence = 0u64;
        for delivery in &deliveries {
            let (sequence, event, redelivery) = match delivery {
                Delivery::New { offset_ms, type_index, amount_cents } => {
                    next_sequence += 1;
                    let id = format!("e-{next_sequence}");
                    (SequenceNumber::new(next_sequence.to_string()),
                     activity(id, BASE_MS + offset_ms, *type_index, *amount_cents), false)
                }
                Delivery::Resend(pick) if !records.is_empty() => {
                    next_sequence += 1;
                    let original = &records[pick % records.len()].event;
                    (SequenceNumber::new(next_sequence.to_string()), original.clone(), false)
                }
                Delivery::Redeliver(pick) if !records.is_empty() => {
                    let record = &records[pick % records.len()];
                    (record.sequence.clone(), record.event.clone(), true)
                }
                _ => continue,
            };
            let outcome = apply(&mut item, "shard-1", &sequence, &event);
            if redelivery {
                prop_assert_eq!(outcome, Verdict::AlreadyApplied);
                continue;
            }
            prop_assert_eq!(outcome, reference.offer(&event), "{:?}", event);
            records.push(Record { sequence, event });
        }
        // Stored and read back as DynamoDB items in between: the same features.
        let stored: FeatureItem = serde_dynamo::from_item(
            serde_dynamo::to_item::<_, std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue>>(&item).unwrap()
        ).unwrap();
        prop_assert_eq!(&stored, &item);
        if reference.newest.is_some() {
            let newest = reference.newest.unwrap().0;
            for read in reads {
                check_read(&stored, &reference, newest + read);
            }
        }
    }
}

#[test]
fn counts_decay_without_new_events() {
    let mut item = FeatureItem::new("u-1");
    let t0 = BASE_MS;
    for (n, offset) in [0, 1_000, 2_000].iter().enumerate() {
        apply(
            &mut item,
            "s",
            &SequenceNumber::new((n + 1).to_string()),
            &activity(format!("e{n}"), t0 + offset, 0, 0),
        );
    }
    let read = |after_ms: i64| {
        evaluate(Some(&item), at(t0 + 2_000 + after_ms), SpecVersion::LATEST).unwrap()
    };
    assert_eq!(integer(&read(0), "click_count_5m"), 3);
    assert_eq!(integer(&read(10 * 60_000), "click_count_5m"), 0);
    assert_eq!(integer(&read(10 * 60_000), "click_count_1h"), 3);
    assert_eq!(integer(&read(10 * 60_000), "session_event_count"), 3);
    assert_eq!(integer(&read(40 * 60_000), "session_event_count"), 0);
    assert_eq!(integer(&read(2 * HOUR_MS), "click_count_1h"), 0);
    assert_eq!(integer(&read(2 * HOUR_MS), "click_count_24h"), 3);
    assert_eq!(integer(&read(25 * HOUR_MS), "event_count_24h"), 0);
    assert_eq!(
        integer(&read(25 * HOUR_MS), "seconds_since_last_event"),
        90_000
    );
    assert_eq!(
        evaluate(None, at(t0), SpecVersion::V2).unwrap(),
        FeatureVector::defaults(SpecVersion::V2),
        "a user without data"
    );
}

#[test]
fn an_item_is_read_only_at_the_versions_whose_state_it_holds() {
    let mut item = FeatureItem::new("u-1");
    assert_eq!(item.spec_version, SpecVersion::LATEST.number());
    item.spec_version = SpecVersion::LATEST.number() + 1;
    let error = evaluate(Some(&item), at(BASE_MS), SpecVersion::V1).unwrap_err();
    assert!(
        error.to_string().contains("knows versions 1 to 2"),
        "{error}"
    );
    let stored = serde_dynamo::to_item(&item).unwrap();
    assert!(FeatureItem::from_stored(stored).is_err(), "unknown version");
    // An item from before version 2 reads at version 1, and is refused at version 2.
    item.spec_version = 1;
    item.apply_event(&activity("e1".into(), BASE_MS, 3, 0));
    assert!(evaluate(Some(&item), at(BASE_MS), SpecVersion::V1).is_ok());
    let error = evaluate(Some(&item), at(BASE_MS), SpecVersion::V2).unwrap_err();
    assert!(error.to_string().contains("backfill"), "{error}");
}

#[test]
fn a_cart_is_open_until_a_purchase_at_or_after_it_and_for_a_day_at_most() {
    let mut item = FeatureItem::new("u-1");
    let open = |item: &FeatureItem, at_ms: i64| {
        integer(
            &evaluate(Some(item), at(at_ms), SpecVersion::V2).unwrap(),
            "seconds_since_open_cart",
        )
    };
    assert_eq!(open(&item, BASE_MS), 86_400, "no cart");
    let cart = type_index(ActivityType::AddToCart);
    let purchase = type_index(ActivityType::Purchase);
    item.apply_event(&activity("c1".into(), BASE_MS, cart, 0));
    assert_eq!(open(&item, BASE_MS + 90_000), 90);
    assert_eq!(
        open(&item, BASE_MS + OPEN_CART_HORIZON_MS),
        86_400,
        "a day old"
    );
    // A newer cart, and a purchase that arrives late and was made between the two carts: the
    // newer cart stays open.
    item.apply_event(&activity("c2".into(), BASE_MS + 60_000, cart, 0));
    item.apply_event(&activity("p1".into(), BASE_MS + 30_000, purchase, 500));
    assert_eq!(open(&item, BASE_MS + 90_000), 30, "the newer cart is open");
    item.apply_event(&activity("p2".into(), BASE_MS + 60_000, purchase, 500));
    assert_eq!(
        open(&item, BASE_MS + 90_000),
        86_400,
        "bought at the same ms"
    );
    // Folding in times from elsewhere keeps the newest: folding twice changes nothing.
    let mut folded = item.clone();
    folded.merge_cart_times(Some(BASE_MS + 70_000), Some(BASE_MS));
    folded.merge_cart_times(Some(BASE_MS + 70_000), Some(BASE_MS));
    assert_eq!(open(&folded, BASE_MS + 90_000), 20);
    assert_eq!(folded.last_purchase_at, Some(BASE_MS + 60_000));
    // A folded cart stamped after the read (a clock ahead) reads as just now, not as a wrap.
    folded.merge_cart_times(Some(BASE_MS + 200_000), None);
    assert_eq!(open(&folded, BASE_MS + 90_000), 0);
}

fn type_index(wanted: ActivityType) -> usize {
    ActivityType::ALL.iter().position(|t| *t == wanted).unwrap()
}

/// The worst case the storage is sized for: a user with a million events a day, spread over
/// every bucket, every type, purchases of the largest amount, the longest ids and sequence
/// numbers. (Many sessions need gaps, so they come with sparse buckets; 50 sessions, the most a
/// day and a gap hold, take at most 1.3 KB more.)
#[test]
fn a_million_events_a_day_stay_far_below_the_item_limit() {
    let mut item = FeatureItem::new(&"u".repeat(128));
    let events = 1_000_000i64;
    let step_ms = 86_400_000 / events;
    for n in 0..events {
        let mut event = activity(
            format!("{n:08x}-7a52-4b8e-9f3c-2f7a1d9c0b11"),
            BASE_MS + n * step_ms,
            (n % 6) as usize,
            0,
        );
        event.amount = Some(1_000_000_000.0);
        assert_eq!(item.apply_event(&event), Outcome::Applied(()));
    }
    // Checkpoints of four shards in turn (resharding): the item keeps the last one's.
    for shard in 0..4 {
        item.memory.checkpoints.advance(
            &format!("shardId-00000000000{shard}"),
            &SequenceNumber::new("9".repeat(56)),
        );
    }
    // The most ids the keyed-state core leaves in an item (it spills committed ones beyond
    // MAX_RECENT_IDS, and a batch adds at most 100), and a summary at every level.
    let mut memory = shared::keyed_state::Memory {
        checkpoints: item.memory.checkpoints.clone(),
        ..Default::default()
    };
    for n in 0..MAX_RECENT_IDS + 100 {
        memory.remember(EventDigest::of(&format!("id-{n}")), BASE_MS + n as i64);
    }
    for level in 0..LEVELS {
        let committed = memory.committed();
        let spill = memory.plan_spill(Committed {
            count: 1,
            // The last level's spills have no bounded span.
            span: width(level).map(|width| Span {
                first: BASE_MS,
                last: BASE_MS + width - 1,
            }),
        });
        memory.apply_spill(&spill, committed.span, i64::MAX);
    }
    assert_eq!(memory.spilled_ids.levels.len(), usize::from(LEVELS));
    item.memory = memory;
    item.version = u64::MAX;
    let attributes: std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue> =
        serde_dynamo::to_item(&item).unwrap();
    let size = shared::dynamo::item_size(&attributes);
    println!(
        "1M events/day: {} + {} + {} buckets, {} sessions, item {size} bytes",
        item.windows[0].len(),
        item.windows[1].len(),
        item.windows[2].len(),
        item.sessions.spans().len()
    );
    assert!(size < 16 * 1024, "{size} bytes");
}

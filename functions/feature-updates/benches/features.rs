//! CPU per record of feature-updates' pure work on 100-record batches of enriched records:
//! decode and validate each record, apply it to its user's feature item (checkpoint, duplicate
//! check, windows, session, pruning) as the keyed-state core does, and serialize each changed
//! item for its write. No I/O.
//!
//! `cargo bench -p feature-updates --bench features` prints the median of repeated runs for a
//! skewed batch (Zipf-like users) and for one where every record is a different user, each
//! against items that already hold a day of history (buckets in every window).

use std::collections::{HashMap, HashSet};
use std::hint::black_box;
use std::time::{Duration, Instant};

use aws_lambda_events::kinesis::KinesisEvent;
use aws_sdk_dynamodb::types::AttributeValue;
use feature_updates::handler::REJECTED_BY;
use serde_json::json;
use shared::events::ActivityType;
use shared::features::FeatureItem;
use shared::keyed_state::decode::decode;
use shared::keyed_state::{apply_records, digests};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

const BATCH: usize = 100;
const ROUNDS: usize = 300;

fn batch(user_of: &dyn Fn(usize) -> usize) -> KinesisEvent {
    let now = OffsetDateTime::now_utc();
    let data: Vec<Vec<u8>> = (0..BATCH)
        .map(|n| {
            let timestamp = (now - time::Duration::seconds((BATCH - n) as i64))
                .format(&Rfc3339)
                .unwrap();
            json!({"eventId": format!("evt-{n:08}"), "userId": format!("user-{}", user_of(n)),
                   "type": ActivityType::ALL[n % 6], "timestamp": timestamp, "itemId": format!("sku-{n}"),
                   "amount": 19.99, "attributes": {"page": "product"},
                   "profile": {"found": true, "segment": "frequent", "country": "DE", "plan": "pro",
                               "signupTime": "2025-03-01T09:00:00Z"},
                   "session": {"id": "s-4a10301ae27585df4e2d3ec1f76fe5f2", "position": n + 1}})
            .to_string()
            .into_bytes()
        })
        .collect();
    testkit::kinesis_events::batch("shardId-000000000000", 1_000_000, &data)
}

/// An item with a day of history: an event every 5 minutes over the last 24 hours.
fn with_history(user_id: &str) -> FeatureItem {
    let mut item = FeatureItem::new(user_id);
    let now = OffsetDateTime::now_utc();
    for n in 0..288i64 {
        item.apply(
            now - time::Duration::minutes(5 * (288 - n)),
            ActivityType::ALL[(n % 6) as usize],
            Some(5.0),
        );
    }
    item
}

/// Median time per record of decoding `event`, applying it to the users' items and
/// serializing them.
fn measure(event: &KinesisEvent) -> Duration {
    let decoded = decode(
        &event.records,
        time::Duration::minutes(5),
        OffsetDateTime::now_utc(),
        REJECTED_BY,
    );
    let stored: HashMap<String, FeatureItem> = decoded
        .by_user
        .keys()
        .map(|user_id| (user_id.clone(), with_history(user_id)))
        .collect();
    let mut samples = Vec::with_capacity(ROUNDS);
    for _ in 0..ROUNDS {
        let mut items = stored.clone();
        let started = Instant::now();
        let decoded = decode(
            black_box(&event.records),
            time::Duration::minutes(5),
            OffsetDateTime::now_utc(),
            REJECTED_BY,
        );
        let mut bytes = 0;
        for (user_id, incoming) in &decoded.by_user {
            let item = items.get_mut(user_id).expect("stored");
            let applied = apply_records(
                item,
                incoming,
                &digests(incoming),
                &HashSet::new(),
                |item, record| item.apply_event(&record.event),
            );
            if applied.counts.applied > 0 {
                let attributes: HashMap<String, AttributeValue> =
                    serde_dynamo::to_item(&*item).expect("serializes");
                bytes += attributes.len();
            }
        }
        black_box(bytes);
        samples.push(started.elapsed() / BATCH as u32);
    }
    samples.sort();
    samples[ROUNDS / 2]
}

fn main() {
    testkit::bench_report::report_skewed_and_distinct(
        "feature-updates",
        &format!("pure work per record (median of {ROUNDS} batches of {BATCH})"),
        BATCH,
        |user_of| batch(user_of),
        measure,
    );
}

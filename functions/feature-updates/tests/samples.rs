//! The sample event in `events/feature-updates/` decodes and applies as documented.

use std::collections::HashSet;

use feature_updates::handler::REJECTED_BY;
use shared::features::{FeatureItem, FeatureValue, evaluate};
use shared::keyed_state::{apply_records, digests};
use time::macros::datetime;

#[test]
fn the_sample_batch_applies_to_two_users() {
    let decoded = testkit::kinesis_events::decoded_sample(
        "feature-updates/kinesis-enriched-batch.json",
        datetime!(2026-11-23 10:17:00 UTC),
        REJECTED_BY,
    );
    let mut item = FeatureItem::new("user-42");
    let records = &decoded.by_user["user-42"];
    let applied = apply_records(
        &mut item,
        records,
        &digests(records),
        &HashSet::new(),
        |item, record| item.apply_event(&record.event),
    );
    assert_eq!(applied.counts.applied, 2);
    let features = evaluate(
        Some(&item),
        datetime!(2026-11-23 10:17:00 UTC),
        shared::features::SpecVersion::LATEST,
    )
    .unwrap();
    assert_eq!(
        features.get("event_count_5m"),
        Some(&FeatureValue::Integer(2))
    );
    assert_eq!(
        features.get("purchase_amount_24h"),
        Some(&FeatureValue::Decimal(49.9))
    );
    assert_eq!(
        features.get("last_event_type"),
        Some(&FeatureValue::Category("purchase"))
    );
    assert_eq!(
        features.get("seconds_since_last_event"),
        Some(&FeatureValue::Integer(20))
    );
}

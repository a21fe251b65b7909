//! The sample event in `events/feature-updates/` decodes and applies as documented.

use std::collections::HashSet;
use std::path::PathBuf;

use aws_lambda_events::kinesis::KinesisEvent;
use feature_updates::batch::{REJECTED_BY, apply_user};
use shared::features::{FeatureItem, FeatureValue, evaluate};
use shared::stream_batch::decode;
use time::macros::datetime;

#[test]
fn the_sample_batch_applies_to_two_users() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../events/feature-updates/kinesis-enriched-batch.json");
    let event: KinesisEvent =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let decoded = decode(
        &event.records,
        time::Duration::minutes(5),
        datetime!(2026-11-23 10:17:00 UTC),
        REJECTED_BY,
    );
    assert!(decoded.rejects.is_empty());
    let mut item = FeatureItem::new("user-42");
    let outcome = apply_user(&mut item, &decoded.by_user["user-42"], &HashSet::new());
    assert_eq!(outcome.applied, 2);
    let features = evaluate(Some(&item), datetime!(2026-11-23 10:17:00 UTC)).unwrap();
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

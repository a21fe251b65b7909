//! The sample event in `events/stream-enrichment/` decodes and enriches as documented.

use std::collections::HashSet;
use std::path::PathBuf;

use aws_lambda_events::kinesis::KinesisEvent;
use shared::enriched::ProfileAttributes;
use shared::stream_batch::decode;
use stream_enrichment::batch::{REJECTED_BY, apply_user};
use stream_enrichment::state::UserState;
use time::macros::datetime;

#[test]
fn the_sample_batch_decodes_into_two_users_and_enriches() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../events/stream-enrichment/kinesis-activity-batch.json");
    let event: KinesisEvent =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let decoded = decode(
        &event.records,
        time::Duration::minutes(5),
        datetime!(2026-11-23 10:17:00 UTC),
        REJECTED_BY,
    );
    assert!(decoded.rejects.is_empty());
    assert_eq!(
        decoded.by_user.keys().collect::<Vec<_>>(),
        ["user-42", "user-7"]
    );
    let mut state = UserState::new("user-42");
    let outcome = apply_user(
        &mut state,
        &ProfileAttributes::unknown(),
        &decoded.by_user["user-42"],
        &HashSet::new(),
    );
    assert_eq!(outcome.enriched.len(), 2);
    assert_eq!(state.counts["purchase"], 1);
    assert_eq!(state.sessions_started, 1, "98 s apart: one session");
    assert_eq!(
        state.checkpoint("shardId-000000000000").unwrap().as_str(),
        "49657384022342975613224386539522948312432026936728674306"
    );
}

//! The sample event in `events/stream-enrichment/` decodes and enriches as documented.

use std::collections::HashSet;

use shared::enriched::ProfileAttributes;
use shared::keyed_state::{Outcome, apply_records, digests};
use stream_enrichment::handler::{REJECTED_BY, enrich};
use stream_enrichment::state::UserState;
use time::macros::datetime;

#[test]
fn the_sample_batch_decodes_into_two_users_and_enriches() {
    let decoded = testkit::kinesis_events::decoded_sample(
        "stream-enrichment/kinesis-activity-batch.json",
        datetime!(2026-11-23 10:17:00 UTC),
        REJECTED_BY,
    );
    assert_eq!(
        decoded.by_user.keys().collect::<Vec<_>>(),
        ["user-42", "user-7"]
    );
    let mut state = UserState::new("user-42");
    let records = &decoded.by_user["user-42"];
    let profile = ProfileAttributes::unknown();
    let applied = apply_records(
        &mut state,
        records,
        &digests(records),
        &HashSet::new(),
        |state, record| Outcome::Applied(enrich(state, record, &profile)),
    );
    assert_eq!(applied.outputs.len(), 2);
    assert_eq!(state.counts["purchase"], 1);
    assert_eq!(state.sessions_started, 1, "98 s apart: one session");
    assert_eq!(
        state
            .memory
            .checkpoints
            .of("shardId-000000000000")
            .unwrap()
            .as_str(),
        "49657384022342975613224386539522948312432026936728674306"
    );
}

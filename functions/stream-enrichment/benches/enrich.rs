//! CPU per record of stream-enrichment's pure work on 100-record batches: decode and validate
//! each record, apply it to its user's state (checkpoint, duplicate check, aggregates,
//! session) as the keyed-state core does, and serialize the enriched record. No I/O.
//!
//! `cargo bench -p stream-enrichment --bench enrich` prints the median of repeated runs for a
//! skewed batch (Zipf-like users) and for one where every record is a different user.

use std::collections::HashSet;
use std::hint::black_box;
use std::time::{Duration, Instant};

use aws_lambda_events::kinesis::KinesisEvent;
use base64::Engine;
use serde_json::json;
use shared::enriched::ProfileAttributes;
use shared::keyed_state::decode::decode;
use shared::keyed_state::{Outcome, apply_records, digests};
use stream_enrichment::handler::{REJECTED_BY, enrich};
use stream_enrichment::state::UserState;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

const BATCH: usize = 100;
const ROUNDS: usize = 300;

fn batch(user_of: &dyn Fn(usize) -> usize) -> KinesisEvent {
    let now = OffsetDateTime::now_utc();
    let records: Vec<_> = (0..BATCH)
        .map(|n| {
            let timestamp = (now - time::Duration::seconds((BATCH - n) as i64))
                .format(&Rfc3339)
                .unwrap();
            let data = json!({"eventId": format!("evt-{n:08}"), "userId": format!("user-{}", user_of(n)),
                              "type": "view", "timestamp": timestamp, "itemId": format!("sku-{n}"),
                              "attributes": {"page": "product"}})
            .to_string();
            json!({"kinesis": {"partitionKey": "p", "sequenceNumber": format!("4959033827149025660855969253836157109592157598913658{n:04}"),
                               "data": base64::engine::general_purpose::STANDARD.encode(data),
                               "approximateArrivalTimestamp": now.unix_timestamp() as f64},
                   "eventID": format!("shardId-000000000000:{n}"), "eventSource": "aws:kinesis"})
        })
        .collect();
    serde_json::from_value(json!({ "Records": records })).unwrap()
}

/// Median time per record of decoding and applying `event` to fresh states.
fn measure(event: &KinesisEvent) -> Duration {
    let profile = ProfileAttributes::unknown();
    let mut samples = Vec::with_capacity(ROUNDS);
    for _ in 0..ROUNDS {
        let started = Instant::now();
        let decoded = decode(
            black_box(&event.records),
            time::Duration::minutes(5),
            OffsetDateTime::now_utc(),
            REJECTED_BY,
        );
        let mut emitted = 0;
        let none = HashSet::new();
        for (user_id, incoming) in &decoded.by_user {
            let mut state = UserState::new(user_id);
            emitted += apply_records(
                &mut state,
                incoming,
                &digests(incoming),
                &none,
                |state, record| Outcome::Applied(enrich(state, record, &profile)),
            )
            .outputs
            .len();
        }
        black_box(emitted);
        samples.push(started.elapsed() / BATCH as u32);
    }
    samples.sort();
    samples[ROUNDS / 2]
}

fn main() {
    testkit::bench_report::report_skewed_and_distinct(
        "stream-enrichment",
        &format!("pure work per record (median of {ROUNDS} batches of {BATCH})"),
        BATCH,
        |user_of| batch(user_of),
        measure,
    );
}

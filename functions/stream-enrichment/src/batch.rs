//! The pure part of a batch: decode records into each user's events (or rejects), and apply a
//! user's events to its state, producing the enriched records. No I/O.

use std::collections::BTreeMap;

use aws_lambda_events::kinesis::KinesisEventRecord;
use base64::Engine;
use shared::enriched::{EnrichedEvent, ProfileAttributes};
use shared::events::{ActivityEvent, Rejection};
use shared::sinks::{self, Outgoing, Reject, StreamRecord};
use time::OffsetDateTime;

use crate::sequence::SequenceNumber;
use crate::state::{Applied, UserState};

/// The function's name on the rejects it sends.
const REJECTED_BY: &str = "stream-enrichment";
/// Largest reject body kept (SQS takes 256 KiB with attributes); longer ones are cut, and the
/// record can still be read from the stream by its sequence number.
const MAX_REJECT_BODY_BYTES: usize = 192 * 1024;

/// A decoded record of the batch.
#[derive(Debug, Clone)]
pub struct Incoming {
    /// Position in the batch.
    pub index: usize,
    pub shard: String,
    pub sequence: SequenceNumber,
    pub event: ActivityEvent,
}

#[derive(Debug, Default)]
pub struct Decoded {
    /// Each user's events, in batch (sequence) order.
    pub by_user: BTreeMap<String, Vec<Incoming>>,
    /// Records that can never be processed, by batch position, as messages for the rejects queue.
    pub rejects: Vec<(usize, Outgoing)>,
}

/// Decodes `records`; event times may be up to `max_future_skew` ahead of each record's arrival.
pub fn decode(
    records: &[KinesisEventRecord],
    max_future_skew: time::Duration,
    now: OffsetDateTime,
) -> Decoded {
    let mut decoded = Decoded::default();
    for (index, record) in records.iter().enumerate() {
        let shard = shard_of(record);
        let sequence = SequenceNumber::new(record.kinesis.sequence_number.clone());
        match ActivityEvent::from_record(
            &record.kinesis.data.0,
            arrival_of(record),
            max_future_skew,
        ) {
            Ok(event) => decoded
                .by_user
                .entry(event.user_id.clone())
                .or_default()
                .push(Incoming {
                    index,
                    shard,
                    sequence,
                    event,
                }),
            Err(rejection) => {
                tracing::warn!(sequence_number = %sequence, code = rejection.code(), reason = %rejection, "record rejected");
                decoded
                    .rejects
                    .push((index, reject(record, &shard, &rejection, now)));
            }
        }
    }
    decoded
}

/// What applying one user's events did.
#[derive(Debug, Default)]
pub struct UserOutcome {
    /// The enriched records to emit; their origin is the user id.
    pub enriched: Vec<StreamRecord>,
    pub already_applied: usize,
    pub duplicates: usize,
}

impl UserOutcome {
    /// Whether the state changed and must be written: every record but one applied before moves
    /// a checkpoint (a duplicate too), and only those leave the state as it was.
    pub fn changed_state(&self) -> bool {
        !self.enriched.is_empty() || self.duplicates > 0
    }
}

/// Applies `incoming` (one user's, in sequence order) to `state`, enriching each new event
/// with `profile` and its session.
pub fn apply_user(
    state: &mut UserState,
    profile: &ProfileAttributes,
    incoming: &[Incoming],
) -> UserOutcome {
    let mut outcome = UserOutcome::default();
    for record in incoming {
        match state.apply(&record.shard, &record.sequence, &record.event) {
            Applied::New(session) => {
                let data = serde_json::to_vec(&EnrichedEvent {
                    event: record.event.clone(),
                    profile: profile.clone(),
                    session,
                })
                .expect("enriched events serialize");
                outcome.enriched.push(StreamRecord {
                    origin: state.user_id.clone(),
                    partition_key: state.user_id.clone(),
                    data,
                });
            }
            Applied::AlreadyApplied => outcome.already_applied += 1,
            Applied::Duplicate => outcome.duplicates += 1,
        }
    }
    outcome
}

/// The shard a record came from: Lambda's `eventID` is `<shard id>:<sequence number>`.
fn shard_of(record: &KinesisEventRecord) -> String {
    record
        .event_id
        .as_deref()
        .and_then(|id| id.split_once(':'))
        .map(|(shard, _)| shard.to_owned())
        .unwrap_or_default()
}

fn arrival_of(record: &KinesisEventRecord) -> OffsetDateTime {
    let millis = record
        .kinesis
        .approximate_arrival_timestamp
        .timestamp_millis();
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(millis) * 1_000_000)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

/// A record that can never be processed, as a reject: its data as the body (base64 when it is
/// not text SQS accepts), where it came from as attributes.
fn reject(
    record: &KinesisEventRecord,
    shard: &str,
    rejection: &Rejection,
    now: OffsetDateTime,
) -> Outgoing {
    let data = &record.kinesis.data.0;
    let mut source = vec![
        ("rejected-by", REJECTED_BY.to_owned()),
        ("source-shard", shard.to_owned()),
        (
            "source-sequence-number",
            record.kinesis.sequence_number.clone(),
        ),
    ];
    let mut body = match std::str::from_utf8(data) {
        Ok(text) if sinks::sqs_accepts(text) && !text.is_empty() => text.to_owned(),
        _ => {
            source.push(("body-encoding", "base64".to_owned()));
            base64::engine::general_purpose::STANDARD.encode(data)
        }
    };
    if body.len() > MAX_REJECT_BODY_BYTES {
        source.push(("body-truncated-from-bytes", body.len().to_string()));
        let mut end = MAX_REJECT_BODY_BYTES;
        while !body.is_char_boundary(end) {
            end -= 1;
        }
        body.truncate(end);
    }
    Outgoing::reject(
        Reject {
            origin: record.kinesis.sequence_number.clone(),
            code: rejection.code(),
            reason: rejection.to_string(),
            body,
            source,
        },
        now,
    )
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use shared::events::ActivityType;
    use time::macros::datetime;

    use super::*;

    fn incoming(sequence: u64, event_id: &str) -> Incoming {
        Incoming {
            index: 0,
            shard: "s".into(),
            sequence: SequenceNumber::new(sequence.to_string()),
            event: ActivityEvent {
                event_id: event_id.into(),
                user_id: "u".into(),
                activity_type: ActivityType::View,
                timestamp: datetime!(2026-11-23 10:00:00 UTC),
                item_id: None,
                amount: None,
                attributes: BTreeMap::new(),
            },
        }
    }

    #[test]
    fn the_state_changes_unless_every_record_was_applied_before() {
        let profile = ProfileAttributes::unknown();
        let mut state = UserState::new("u");
        let first = apply_user(&mut state, &profile, &[incoming(1, "a")]);
        assert!(first.changed_state());

        let before = state.clone();
        let retried = apply_user(&mut state, &profile, &[incoming(1, "a")]);
        assert!(!retried.changed_state());
        assert_eq!(state, before);

        let resent = apply_user(&mut state, &profile, &[incoming(2, "a")]);
        assert_eq!((resent.enriched.len(), resent.duplicates), (0, 1));
        assert!(resent.changed_state(), "the checkpoint moved");
        assert_ne!(state, before);
    }
}

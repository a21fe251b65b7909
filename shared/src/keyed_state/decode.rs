//! The decoding step both stream consumers share: each Kinesis record of a batch becomes its
//! user's activity event (records of one user kept in sequence order) or, when it can never be
//! processed, a reject for the rejects queue with its reason and where it came from.

use std::collections::{BTreeMap, HashSet};

use aws_lambda_events::kinesis::KinesisEventRecord;
use aws_lambda_events::streams::KinesisEventResponse;
use base64::Engine;
use time::OffsetDateTime;
use tokio::time::Instant;

use super::checkpoints::SequenceNumber;
use crate::delivery::{Backoff, deliver};
use crate::events::{ActivityEvent, Rejection};
use crate::sinks::{self, Outgoing, Reject};

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

/// Decodes `records` (activity records, or records that extend them such as enriched ones);
/// event times may be up to `max_future_skew` ahead of each record's arrival. Rejects name
/// `rejected_by`.
pub fn decode(
    records: &[KinesisEventRecord],
    max_future_skew: time::Duration,
    now: OffsetDateTime,
    rejected_by: &str,
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
                    .push((index, reject(record, &shard, &rejection, now, rejected_by)));
            }
        }
    }
    decoded
}

/// What sending a batch's rejects did.
#[derive(Debug, Default)]
pub struct SentRejects {
    /// SendMessageBatch calls made.
    pub calls: usize,
    /// The origins of the rejects not sent (each logged): their records must be retried.
    pub unsent: HashSet<String>,
}

impl Decoded {
    /// Sends the batch's rejects to the rejects queue, retrying what failed transiently while
    /// `deadline` allows.
    pub async fn send_rejects(
        &self,
        sqs: &aws_sdk_sqs::Client,
        queue_url: &str,
        deadline: Instant,
        backoff: Backoff,
    ) -> SentRejects {
        let rejects = self
            .rejects
            .iter()
            .map(|(_, reject)| reject.clone())
            .collect();
        let delivery = deliver(rejects, deadline, backoff, |batch| {
            sinks::send_messages(sqs, queue_url, batch)
        })
        .await;
        let unsent = delivery
            .failed
            .into_iter()
            .map(|(reject, reason)| {
                tracing::warn!(sequence_number = %reject.origin, %reason, "reject not sent; the record will be retried");
                reject.origin
            })
            .collect();
        SentRejects {
            calls: delivery.calls,
            unsent,
        }
    }

    /// The batch's answer, once `failed_users` and the rejects of `unsent_rejects` (their
    /// origins) are known: the first record of any of them, from which Kinesis retries, and how
    /// many records that leaves to retry. Everything before it was fully done.
    pub fn response(
        &self,
        records: &[KinesisEventRecord],
        failed_users: &HashSet<String>,
        unsent_rejects: &HashSet<String>,
    ) -> (KinesisEventResponse, usize) {
        let first_failed = self
            .by_user
            .iter()
            .filter(|(user_id, _)| failed_users.contains(*user_id))
            .flat_map(|(_, incoming)| incoming.iter().map(|record| record.index))
            .chain(
                self.rejects
                    .iter()
                    .filter(|(_, reject)| unsent_rejects.contains(&reject.origin))
                    .map(|(index, _)| *index),
            )
            .min();
        let mut response = KinesisEventResponse::default();
        let Some(index) = first_failed else {
            return (response, 0);
        };
        response.add_failure(records[index].kinesis.sequence_number.clone());
        (response, records.len() - index)
    }
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
    rejected_by: &str,
) -> Outgoing {
    let data = &record.kinesis.data.0;
    let mut source = vec![
        ("rejected-by", rejected_by.to_owned()),
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

//! The write adapters of the batch consumers: one PutRecords per stream chunk, one
//! SendMessageBatch per queue chunk, each answering which entries failed and whether trying
//! again may help (feed them to [`crate::delivery::deliver`]). Rejects, the records that can
//! never be processed, are SQS messages built by [`Outgoing::reject`].

use aws_sdk_kinesis::primitives::Blob;
use aws_sdk_kinesis::types::PutRecordsRequestEntry;
use aws_sdk_sqs::types::{MessageAttributeValue, SendMessageBatchRequestEntry};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::delivery::{Failure, chunks};
use crate::dynamo::{describe, is_transient};

/// A record to put on a stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamRecord {
    /// What the record came from (an SQS message id, a Kinesis sequence number), to report it.
    pub origin: String,
    pub partition_key: String,
    pub data: Vec<u8>,
}

/// PutRecords limits: records per call and bytes per call (data plus partition keys).
pub const MAX_RECORDS_PER_CALL: usize = 500;
pub const MAX_RECORD_BYTES_PER_CALL: usize = 10 * 1024 * 1024;
/// SendMessageBatch limits: entries per call and bytes per call.
pub const MAX_MESSAGES_PER_CALL: usize = 10;
pub const MAX_MESSAGE_BYTES_PER_CALL: usize = 256 * 1024;

/// Per-record error codes Kinesis may take back a moment later.
const TRANSIENT_RECORD_CODES: &[&str] = &[
    "ProvisionedThroughputExceededException",
    "InternalFailure",
    "KMSThrottlingException",
];

/// Writes `records` to `stream`, chunked; returns the failed records and the calls made.
pub async fn put_records(
    client: &aws_sdk_kinesis::Client,
    stream: &str,
    records: Vec<StreamRecord>,
) -> (Vec<(StreamRecord, Failure)>, usize) {
    let mut failures = Vec::new();
    let chunked = chunks(
        records,
        MAX_RECORDS_PER_CALL,
        MAX_RECORD_BYTES_PER_CALL,
        |record| record.data.len() + record.partition_key.len(),
    );
    let calls = chunked.len();
    for chunk in chunked {
        let entries = chunk
            .iter()
            .map(|record| {
                PutRecordsRequestEntry::builder()
                    .partition_key(&record.partition_key)
                    .data(Blob::new(record.data.clone()))
                    .build()
                    .expect("partition key and data set")
            })
            .collect();
        match client
            .put_records()
            .stream_name(stream)
            .set_records(Some(entries))
            .send()
            .await
        {
            Ok(output) => {
                let results = output.records();
                for (index, record) in chunk.into_iter().enumerate() {
                    let Some(result) = results.get(index) else {
                        failures.push((
                            record,
                            Failure::Transient("no result for the record".into()),
                        ));
                        continue;
                    };
                    if let Some(code) = result.error_code() {
                        let reason =
                            format!("{code}: {}", result.error_message().unwrap_or_default());
                        let failure = if TRANSIENT_RECORD_CODES.contains(&code) {
                            Failure::Transient(reason)
                        } else {
                            Failure::Permanent(reason)
                        };
                        failures.push((record, failure));
                    }
                }
            }
            Err(error) => {
                let reason = format!("PutRecords to {stream}: {}", describe(&error));
                let transient = is_transient(&error);
                failures.extend(chunk.into_iter().map(|record| {
                    let failure = if transient {
                        Failure::Transient(reason.clone())
                    } else {
                        Failure::Permanent(reason.clone())
                    };
                    (record, failure)
                }));
            }
        }
    }
    (failures, calls)
}

/// An SQS message to send: a routed one, or a reject with its reason as attributes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outgoing {
    /// What the message came from, to report it when it cannot be sent.
    pub origin: String,
    pub body: String,
    pub group_id: Option<String>,
    pub deduplication_id: Option<String>,
    pub attributes: Vec<(&'static str, String)>,
}

/// A record that can never be processed, as the consumer saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reject {
    /// What the record came from, to report it when the reject cannot be sent.
    pub origin: String,
    /// A stable code for counting and filtering (`schema-violation`).
    pub code: &'static str,
    pub reason: String,
    /// The record as received, so it can be replayed once fixed.
    pub body: String,
    /// Where it came from, as message attributes (`source-message-id`, ...).
    pub source: Vec<(&'static str, String)>,
}

/// Whether SQS takes `c` in a message body or attribute (the characters of XML 1.0).
pub fn sqs_accepts_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

/// Whether SQS takes `text` as a message body.
pub fn sqs_accepts(text: &str) -> bool {
    text.chars().all(sqs_accepts_char)
}

/// Longest reason kept in a reject's attribute.
const MAX_REASON_CHARS: usize = 1024;

impl Outgoing {
    /// A reject: the original body, unchanged (so it can be sent to its source again once
    /// fixed), with the reason and origin in message attributes.
    pub fn reject(reject: Reject, rejected_at: OffsetDateTime) -> Self {
        // The reason can quote the producer's input; SQS refuses some characters in attributes.
        let reason: String = reject
            .reason
            .chars()
            .take(MAX_REASON_CHARS)
            .flat_map(|c| {
                let escaped: Vec<char> = if sqs_accepts_char(c) {
                    vec![c]
                } else {
                    c.escape_unicode().collect()
                };
                escaped
            })
            .collect();
        let mut attributes = vec![
            ("reject-code", reject.code.to_owned()),
            ("reject-reason", reason),
        ];
        attributes.extend(reject.source);
        attributes.push((
            "rejected-at",
            rejected_at.format(&Rfc3339).unwrap_or_default(),
        ));
        Self {
            origin: reject.origin,
            body: reject.body,
            group_id: None,
            deduplication_id: None,
            attributes,
        }
    }

    fn size(&self) -> usize {
        self.body.len()
            + self
                .attributes
                .iter()
                .map(|(name, value)| name.len() + value.len() + "String".len())
                .sum::<usize>()
    }
}

/// Sends `messages` to `queue_url`, chunked; returns the failed messages and the calls made.
pub async fn send_messages(
    client: &aws_sdk_sqs::Client,
    queue_url: &str,
    messages: Vec<Outgoing>,
) -> (Vec<(Outgoing, Failure)>, usize) {
    let mut failures = Vec::new();
    let chunked = chunks(
        messages,
        MAX_MESSAGES_PER_CALL,
        MAX_MESSAGE_BYTES_PER_CALL,
        Outgoing::size,
    );
    let calls = chunked.len();
    for chunk in chunked {
        let entries = chunk
            .iter()
            .enumerate()
            .map(|(index, message)| {
                let mut entry = SendMessageBatchRequestEntry::builder()
                    // Batch entry ids only need to be unique within the call.
                    .id(index.to_string())
                    .message_body(&message.body)
                    .set_message_group_id(message.group_id.clone())
                    .set_message_deduplication_id(message.deduplication_id.clone());
                for (name, value) in &message.attributes {
                    entry = entry.message_attributes(
                        *name,
                        MessageAttributeValue::builder()
                            .data_type("String")
                            .string_value(value)
                            .build()
                            .expect("data type set"),
                    );
                }
                entry.build().expect("id and body set")
            })
            .collect();
        match client
            .send_message_batch()
            .queue_url(queue_url)
            .set_entries(Some(entries))
            .send()
            .await
        {
            Ok(output) => {
                // An entry SQS names neither as sent nor as failed is not known to be sent.
                let mut by_index: Vec<Option<Failure>> = vec![
                    Some(Failure::Transient(
                        "not confirmed by SendMessageBatch".into()
                    ));
                    chunk.len()
                ];
                for sent in output.successful() {
                    if let Some(slot) = sent
                        .id()
                        .parse::<usize>()
                        .ok()
                        .and_then(|i| by_index.get_mut(i))
                    {
                        *slot = None;
                    }
                }
                for failed in output.failed() {
                    if let Some(slot) = failed
                        .id()
                        .parse::<usize>()
                        .ok()
                        .and_then(|i| by_index.get_mut(i))
                    {
                        let reason = format!(
                            "{}: {}",
                            failed.code(),
                            failed.message().unwrap_or_default()
                        );
                        *slot = Some(if failed.sender_fault() {
                            Failure::Permanent(reason)
                        } else {
                            Failure::Transient(reason)
                        });
                    }
                }
                for (message, failure) in chunk.into_iter().zip(by_index) {
                    if let Some(failure) = failure {
                        failures.push((message, failure));
                    }
                }
            }
            Err(error) => {
                let reason = format!("SendMessageBatch to {queue_url}: {}", describe(&error));
                let transient = is_transient(&error);
                failures.extend(chunk.into_iter().map(|message| {
                    let failure = if transient {
                        Failure::Transient(reason.clone())
                    } else {
                        Failure::Permanent(reason.clone())
                    };
                    (message, failure)
                }));
            }
        }
    }
    (failures, calls)
}

//! Lambda's SQS event source mapping, emulated with the manifest's settings: pollers receive up
//! to `batch_size` messages or whatever arrived within `maximum_batching_window_seconds`, invoke
//! the function with an SQS event, delete the messages it processed and leave the rest to come
//! back after the queue's visibility timeout (and, past `max_receive_count`, to be moved to the
//! dead-letter queue by SQS). With `report_batch_item_failures`, only the messages the function
//! names in `batchItemFailures` are left; a failed invocation leaves the whole batch.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent, SqsMessage, SqsMessageAttribute};
use aws_sdk_sqs::types::{DeleteMessageBatchRequestEntry, Message, MessageSystemAttributeName};
use stack::EventSourceSpec;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::functions::FunctionPool;
use crate::kinesis_source::order::OrderAudit;
use crate::logs::LogSink;
use crate::resources::Queue;

/// How long a poller's `ReceiveMessage` waits for a first message. The emulator fixes a
/// received message's visibility timeout when the call begins, not when the message comes.
pub const LONG_POLL_SECONDS: i32 = 1;

/// What an event source has done, for summaries and tests.
#[derive(Debug, Default)]
pub struct EventSourceStats {
    pub batches: AtomicUsize,
    pub messages: AtomicUsize,
    /// Messages left on the queue to be received again (records to be retried, for a stream).
    pub failed: AtomicUsize,
    /// Stream records given up (retries or age exhausted) and sent to the on-failure queue.
    pub discarded: AtomicUsize,
    /// Batches being worked on right now: invoked, or waiting to be retried; and the most at once.
    pub busy: AtomicUsize,
    pub busy_peak: AtomicUsize,
    /// Stream sources: shards whose reading began, and closed shards read to their end.
    pub shards_read: AtomicUsize,
    pub shards_drained: AtomicUsize,
    /// Stream sources: every record done, checked against its key's last one.
    pub order: OrderAudit,
}

impl EventSourceStats {
    /// Counts a batch as busy until the returned guard is dropped.
    pub fn busy_guard(&self) -> BusyGuard<'_> {
        let now = self.busy.fetch_add(1, Ordering::Relaxed) + 1;
        self.busy_peak.fetch_max(now, Ordering::Relaxed);
        BusyGuard(&self.busy)
    }
}

/// See [`EventSourceStats::busy_guard`].
pub struct BusyGuard<'a>(&'a AtomicUsize);

impl Drop for BusyGuard<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

pub struct QueueSource {
    pub function: String,
    pub pool: Arc<FunctionPool>,
    pub queue: Queue,
    pub spec: EventSourceSpec,
    pub region: String,
    pub sqs: aws_sdk_sqs::Client,
    pub logs: Arc<LogSink>,
    pub stats: Arc<EventSourceStats>,
}

/// Starts `pollers` concurrent pollers (Lambda scales them up to the maximum concurrency).
pub fn start(source: Arc<QueueSource>, pollers: usize) -> Vec<JoinHandle<()>> {
    (0..pollers.max(1))
        .map(|_| tokio::spawn(poll(Arc::clone(&source))))
        .collect()
}

async fn poll(source: Arc<QueueSource>) {
    let component = format!("{}<-{}", source.function, source.queue.name);
    let batch_size = source.spec.batch_size as usize;
    let window = Duration::from_secs(source.spec.maximum_batching_window_seconds.into());
    loop {
        let mut messages: Vec<Message> = Vec::new();
        let mut first_at: Option<Instant> = None;
        while messages.len() < batch_size {
            let waited_enough = first_at.is_some_and(|at| at.elapsed() >= window);
            if waited_enough {
                break;
            }
            let wanted = (batch_size - messages.len()).min(10) as i32;
            let received = source
                .sqs
                .receive_message()
                .queue_url(&source.queue.url)
                .max_number_of_messages(wanted)
                .wait_time_seconds(if messages.is_empty() {
                    LONG_POLL_SECONDS
                } else {
                    0
                })
                .message_system_attribute_names(MessageSystemAttributeName::All)
                .message_attribute_names("All")
                .send()
                .await;
            match received {
                Ok(output) => {
                    let page = output.messages.unwrap_or_default();
                    if page.is_empty() {
                        if messages.is_empty() {
                            continue;
                        }
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                    first_at.get_or_insert_with(Instant::now);
                    // A message seen again inside one batch window is one message.
                    for message in page {
                        if !messages.iter().any(|m| m.message_id == message.message_id) {
                            messages.push(message);
                        }
                    }
                }
                Err(error) => {
                    source.logs.line(
                        &component,
                        &format!(
                            "ReceiveMessage failed: {}",
                            aws_sdk_sqs::error::DisplayErrorContext(error)
                        ),
                    );
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        }
        deliver(&source, &component, messages).await;
    }
}

async fn deliver(source: &QueueSource, component: &str, messages: Vec<Message>) {
    let _busy = source.stats.busy_guard();
    let event = sqs_event(&messages, &source.queue.arn, &source.region);
    let payload = serde_json::to_vec(&event).expect("events serialize");
    let outcome = source.pool.invoke(payload.into()).await;
    let all: HashSet<String> = messages
        .iter()
        .filter_map(|m| m.message_id.clone())
        .collect();
    let failed: HashSet<String> = match outcome {
        Ok(response) if source.spec.report_batch_item_failures => batch_failures(&response, &all),
        Ok(_) => HashSet::new(),
        Err(error) => {
            source.logs.line(
                component,
                &format!("invocation failed, the batch stays on the queue: {error}"),
            );
            all.clone()
        }
    };
    let done: Vec<&Message> = messages
        .iter()
        .filter(|m| m.message_id.as_ref().is_some_and(|id| !failed.contains(id)))
        .collect();
    for chunk in done.chunks(10) {
        let entries = chunk
            .iter()
            .enumerate()
            .map(|(index, message)| {
                DeleteMessageBatchRequestEntry::builder()
                    .id(index.to_string())
                    .receipt_handle(message.receipt_handle.clone().unwrap_or_default())
                    .build()
                    .expect("id and receipt handle set")
            })
            .collect();
        match source
            .sqs
            .delete_message_batch()
            .queue_url(&source.queue.url)
            .set_entries(Some(entries))
            .send()
            .await
        {
            Ok(output) if output.failed().is_empty() => {}
            Ok(output) => source.logs.line(
                component,
                &format!(
                    "DeleteMessageBatch left {} message(s), which will be delivered again: {}",
                    output.failed().len(),
                    output
                        .failed()
                        .iter()
                        .map(|f| f.code())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ),
            Err(error) => source.logs.line(
                component,
                &format!(
                    "DeleteMessageBatch failed: {}",
                    aws_sdk_sqs::error::DisplayErrorContext(error)
                ),
            ),
        }
    }
    source.stats.batches.fetch_add(1, Ordering::Relaxed);
    source
        .stats
        .messages
        .fetch_add(messages.len(), Ordering::Relaxed);
    source
        .stats
        .failed
        .fetch_add(failed.len(), Ordering::Relaxed);
    source.logs.line(
        component,
        &format!(
            "batch of {}: {} done, {} left for redelivery",
            messages.len(),
            done.len(),
            failed.len()
        ),
    );
}

/// The messages a function's answer leaves for redelivery, as Lambda reads it: an empty or null
/// answer, `{}` or a null list is success; an id that is not in the batch, or an answer that is
/// not a batch response, fails the whole batch.
fn batch_failures(response: &[u8], all: &HashSet<String>) -> HashSet<String> {
    let value: serde_json::Value = if response.iter().all(u8::is_ascii_whitespace) {
        serde_json::Value::Null
    } else {
        match serde_json::from_slice(response) {
            Ok(value) => value,
            Err(_) => return all.clone(),
        }
    };
    let list = match &value {
        serde_json::Value::Null => return HashSet::new(),
        serde_json::Value::Object(object) => match object.get("batchItemFailures") {
            None | Some(serde_json::Value::Null) => return HashSet::new(),
            Some(list) => list.clone(),
        },
        _ => return all.clone(),
    };
    match serde_json::from_value::<SqsBatchResponse>(
        serde_json::json!({ "batchItemFailures": list }),
    ) {
        Ok(parsed) => {
            let named: HashSet<String> = parsed
                .batch_item_failures
                .into_iter()
                .map(|failure| failure.item_identifier)
                .collect();
            if named.iter().all(|id| all.contains(id)) {
                named
            } else {
                all.clone()
            }
        }
        Err(_) => all.clone(),
    }
}

/// The event Lambda builds from received messages.
fn sqs_event(messages: &[Message], queue_arn: &str, region: &str) -> SqsEvent {
    let mut event = SqsEvent::default();
    event.records = messages
        .iter()
        .map(|message| {
            let mut record = SqsMessage::default();
            record.message_id = message.message_id.clone();
            record.receipt_handle = message.receipt_handle.clone();
            record.body = message.body.clone();
            record.md5_of_body = message.md5_of_body.clone();
            record.md5_of_message_attributes = message.md5_of_message_attributes.clone();
            record.attributes = message
                .attributes
                .iter()
                .flatten()
                .map(|(name, value)| (name.as_str().to_owned(), value.clone()))
                .collect();
            record.message_attributes = message
                .message_attributes
                .iter()
                .flatten()
                .map(|(name, value)| {
                    let mut attribute = SqsMessageAttribute::default();
                    attribute.string_value = value.string_value.clone();
                    attribute.data_type = Some(value.data_type.clone());
                    (name.clone(), attribute)
                })
                .collect::<HashMap<_, _>>();
            record.event_source = Some("aws:sqs".into());
            record.event_source_arn = Some(queue_arn.to_owned());
            record.aws_region = Some(region.to_owned());
            record
        })
        .collect();
    event
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_read_as_lambda_reads_them() {
        let all: HashSet<String> = ["a", "b"].into_iter().map(String::from).collect();
        let failed = |answer: &str| {
            let mut ids: Vec<String> = batch_failures(answer.as_bytes(), &all)
                .into_iter()
                .collect();
            ids.sort();
            ids
        };
        assert!(failed("").is_empty());
        assert!(failed("null").is_empty());
        assert!(failed("{}").is_empty());
        assert!(failed(r#"{"batchItemFailures": null}"#).is_empty());
        assert!(failed(r#"{"batchItemFailures": []}"#).is_empty());
        assert_eq!(
            failed(r#"{"batchItemFailures": [{"itemIdentifier": "b"}]}"#),
            ["b"]
        );
        assert_eq!(
            failed(r#"{"batchItemFailures": [{"itemIdentifier": "zzz"}]}"#),
            ["a", "b"]
        );
        assert_eq!(failed("[1, 2]"), ["a", "b"]);
        assert_eq!(failed("not json"), ["a", "b"]);
    }
}

//! The event ids a stream consumer applied in the last 24 hours: one item per event in the
//! consumer's own table (partition key `userId`, sort key `eventId`, TTL `expiresAt`). They
//! recognize a producer's resend, or the copy a retried PutRecords call writes, however many of
//! the user's events came in between; the ids in the user's item
//! ([`crate::exactly_once::RecentEventIds`]) only reach back a fixed number of events.
//!
//! - [`keys`]: what to read with a batch's user items, in the same strongly consistent
//!   BatchGetItem: one key per distinct event id of the batch.
//! - [`unmarked`]: after a user's item is written (or needed no write), the event ids of its
//!   records that were not found marked, to [`record`] with BatchWriteItem (25 per call).
//!
//! The user's item is written first. If recording then fails, the user's records are reported
//! for retry: they come back at or below their shard's checkpoint, are skipped as applied,
//! and their ids are recorded then. Until then the item's recent ids recognize a copy.
//!
//! Cost: one read unit (strongly consistent, under 4 KB) and one write unit (under 1 KB) per
//! distinct event; the items expire for free.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::hash::Hash;

use aws_sdk_dynamodb::types::{AttributeValue, PutRequest, ReturnConsumedCapacity, WriteRequest};
use time::OffsetDateTime;
use tokio::time::Instant;

use crate::delivery::{Backoff, Failure};
use crate::dynamo::{Item, describe, failure};
use crate::stream_batch::Incoming;
use crate::user_items::{EVENT_ID, USER_ID, UserKey, deliver_batches};

/// How long an applied event id is kept: a resend within this long is not applied again.
pub const LIFETIME: time::Duration = time::Duration::hours(24);
/// The TTL attribute, epoch seconds.
pub const EXPIRES_AT: &str = "expiresAt";
/// BatchWriteItem's limit on items per call.
pub const MAX_ITEMS_PER_CALL: usize = 25;

/// One applied event of a user.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AppliedEvent {
    pub user_id: String,
    pub event_id: String,
}

/// The event ids of each user found applied, from a batch read.
pub type Marked = HashMap<String, HashSet<String>>;

/// The keys of the batch's events in table `table`, one per distinct (user, event id).
pub fn keys<T: Copy>(table: T, by_user: &BTreeMap<String, Vec<Incoming>>) -> Vec<UserKey<T>> {
    let mut keys = Vec::new();
    for (user_id, incoming) in by_user {
        let mut seen = HashSet::new();
        for record in incoming {
            if seen.insert(record.event.event_id.as_str()) {
                keys.push(UserKey::event(table, user_id, &record.event.event_id));
            }
        }
    }
    keys
}

/// The event ids found in table `table` among the items of a batch read.
pub fn marked<T: Eq + Hash>(found: &HashMap<UserKey<T>, Item>, table: T) -> Marked {
    let mut marked = Marked::new();
    for key in found.keys().filter(|key| key.table == table) {
        if let Some(event_id) = &key.event_id {
            marked
                .entry(key.user_id.clone())
                .or_default()
                .insert(event_id.clone());
        }
    }
    marked
}

/// The distinct events of a user's records not found in `marked`, to record once applied.
pub fn unmarked(user_id: &str, incoming: &[Incoming], marked: &Marked) -> Vec<AppliedEvent> {
    let known = marked.get(user_id);
    let mut seen = HashSet::new();
    incoming
        .iter()
        .map(|record| record.event.event_id.as_str())
        .filter(|event_id| known.is_none_or(|known| !known.contains(*event_id)))
        .filter(|event_id| seen.insert(*event_id))
        .map(|event_id| AppliedEvent {
            user_id: user_id.to_owned(),
            event_id: event_id.to_owned(),
        })
        .collect()
}

/// The item recording `event`, applied at `now`.
pub fn item(event: &AppliedEvent, now: OffsetDateTime) -> Item {
    HashMap::from([
        (USER_ID.to_owned(), AttributeValue::S(event.user_id.clone())),
        (
            EVENT_ID.to_owned(),
            AttributeValue::S(event.event_id.clone()),
        ),
        (
            EXPIRES_AT.to_owned(),
            AttributeValue::N((now + LIFETIME).unix_timestamp().to_string()),
        ),
    ])
}

/// What recording a batch's events did.
#[derive(Debug, Default)]
pub struct Recorded {
    /// Events recorded.
    pub recorded: usize,
    /// Events not recorded, with why.
    pub failed: Vec<(AppliedEvent, String)>,
    pub calls: usize,
    pub capacity_units: f64,
}

impl Recorded {
    /// Adds the users of the events not recorded to `failed_users`, logging why: their records
    /// must come again, to be recorded then.
    pub fn fail_users(&self, failed_users: &mut HashSet<String>) {
        for (event, reason) in &self.failed {
            tracing::warn!(user_id = %event.user_id, event_id = %event.event_id, %reason, "applied event id not recorded; the user's records will be retried");
            failed_users.insert(event.user_id.clone());
        }
    }
}

/// A consumer's table of applied event ids, for recording.
pub struct AppliedEventsTable {
    client: aws_sdk_dynamodb::Client,
    name: String,
    backoff: Backoff,
}

impl AppliedEventsTable {
    pub fn new(client: aws_sdk_dynamodb::Client, name: String) -> Self {
        Self {
            client,
            name,
            backoff: Backoff::default(),
        }
    }

    /// Records `events` as applied at `now`.
    pub async fn record(
        &self,
        events: Vec<AppliedEvent>,
        now: OffsetDateTime,
        deadline: Instant,
    ) -> Recorded {
        record(
            &self.client,
            &self.name,
            events,
            now,
            deadline,
            self.backoff,
        )
        .await
    }
}

/// Records `events` in `table`; unprocessed items are sent again while `deadline` allows.
pub async fn record(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
    events: Vec<AppliedEvent>,
    now: OffsetDateTime,
    deadline: Instant,
    backoff: Backoff,
) -> Recorded {
    let attempted = events.len();
    let (delivery, capacity_units) = deliver_batches(
        events,
        MAX_ITEMS_PER_CALL,
        "BatchWriteItem",
        deadline,
        backoff,
        |chunk| async move { write(client, table, &chunk, now).await },
    )
    .await;
    Recorded {
        recorded: attempted - delivery.failed.len(),
        failed: delivery.failed,
        calls: delivery.calls,
        capacity_units,
    }
}

/// One BatchWriteItem: the events left unprocessed, the write units used.
async fn write(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
    events: &[AppliedEvent],
    now: OffsetDateTime,
) -> Result<(Vec<AppliedEvent>, f64), Failure> {
    let requests = events
        .iter()
        .map(|event| {
            let put = PutRequest::builder()
                .set_item(Some(item(event, now)))
                .build()
                .expect("item set");
            WriteRequest::builder().put_request(put).build()
        })
        .collect();
    let output = client
        .batch_write_item()
        .request_items(table, requests)
        .return_consumed_capacity(ReturnConsumedCapacity::Total)
        .send()
        .await
        .map_err(|error| failure("BatchWriteItem", &error))?;
    // An unprocessed item that names none of the ids sent could be any of them: send all again
    // (a put of an id already there only moves its expiry).
    let text = |item: &Item, name: &str| item.get(name)?.as_s().ok().cloned();
    let unprocessed = output
        .unprocessed_items
        .unwrap_or_default()
        .into_values()
        .flatten()
        .map(|request| {
            let item = request.put_request.map(|put| put.item).unwrap_or_default();
            let event = AppliedEvent {
                user_id: text(&item, USER_ID).unwrap_or_default(),
                event_id: text(&item, EVENT_ID).unwrap_or_default(),
            };
            if events.contains(&event) {
                Ok(event)
            } else {
                Err(Failure::Transient(
                    "BatchWriteItem left unprocessed an item it does not name".into(),
                ))
            }
        })
        .collect::<Result<Vec<_>, _>>()?;
    let units = output
        .consumed_capacity
        .unwrap_or_default()
        .iter()
        .filter_map(|consumed| consumed.capacity_units())
        .sum();
    Ok((unprocessed, units))
}

/// The event ids recorded for `user_id` in `table`, with when each expires (epoch seconds):
/// for operators and checks, not for the batch path.
pub async fn recorded(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
    user_id: &str,
) -> Result<BTreeMap<String, i64>, String> {
    let mut recorded = BTreeMap::new();
    let mut pages = client
        .query()
        .table_name(table)
        .key_condition_expression("#user = :user")
        .expression_attribute_names("#user", USER_ID)
        .expression_attribute_values(":user", AttributeValue::S(user_id.to_owned()))
        .consistent_read(true)
        .into_paginator()
        .items()
        .send();
    while let Some(item) = pages.next().await {
        let item = item.map_err(|error| format!("Query: {}", describe(&error)))?;
        let event_id = item.get(EVENT_ID).and_then(|value| value.as_s().ok());
        let expires_at = item
            .get(EXPIRES_AT)
            .and_then(|value| value.as_n().ok())
            .and_then(|value| value.parse().ok());
        match (event_id, expires_at) {
            (Some(event_id), Some(expires_at)) => {
                recorded.insert(event_id.clone(), expires_at);
            }
            _ => {
                return Err(format!(
                    "an item of {table} lacks {EVENT_ID} or {EXPIRES_AT}"
                ));
            }
        }
    }
    Ok(recorded)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap as Map;

    use time::macros::datetime;

    use super::*;
    use crate::events::{ActivityEvent, ActivityType};
    use crate::exactly_once::SequenceNumber;

    fn incoming(user_id: &str, sequence: u64, event_id: &str) -> Incoming {
        Incoming {
            index: 0,
            shard: "s".into(),
            sequence: SequenceNumber::new(sequence.to_string()),
            event: ActivityEvent {
                event_id: event_id.into(),
                user_id: user_id.into(),
                activity_type: ActivityType::View,
                timestamp: datetime!(2026-11-23 10:00:00 UTC),
                item_id: None,
                amount: None,
                attributes: Map::new(),
            },
        }
    }

    #[test]
    fn a_batch_reads_each_users_distinct_event_ids_once() {
        let by_user = Map::from([
            (
                "u1".to_owned(),
                vec![
                    incoming("u1", 1, "a"),
                    incoming("u1", 2, "b"),
                    incoming("u1", 3, "a"),
                ],
            ),
            ("u2".to_owned(), vec![incoming("u2", 4, "a")]),
        ]);
        let keys = keys((), &by_user);
        assert_eq!(
            keys,
            vec![
                UserKey::event((), "u1", "a"),
                UserKey::event((), "u1", "b"),
                UserKey::event((), "u2", "a"),
            ]
        );
    }

    #[test]
    fn only_ids_not_found_marked_are_recorded_each_once() {
        let found = HashMap::from([
            (UserKey::event(1, "u1", "a"), Item::new()),
            (UserKey::event(2, "u1", "b"), Item::new()),
            (UserKey::user(1, "u1"), Item::new()),
        ]);
        let marked = marked(&found, 1);
        assert_eq!(
            marked,
            Marked::from([("u1".to_owned(), HashSet::from(["a".to_owned()]))])
        );
        let records = [
            incoming("u1", 1, "a"),
            incoming("u1", 2, "b"),
            incoming("u1", 3, "b"),
        ];
        assert_eq!(
            unmarked("u1", &records, &marked),
            vec![AppliedEvent {
                user_id: "u1".into(),
                event_id: "b".into()
            }],
            "b is in another table's items, a is marked here"
        );
        assert_eq!(unmarked("u2", &[incoming("u2", 4, "a")], &marked).len(), 1);
    }

    #[test]
    fn an_item_expires_a_day_after_it_was_applied() {
        let event = AppliedEvent {
            user_id: "u".into(),
            event_id: "e".into(),
        };
        let item = item(&event, datetime!(2026-11-23 10:00:00 UTC));
        assert_eq!(item[USER_ID], AttributeValue::S("u".into()));
        assert_eq!(item[EVENT_ID], AttributeValue::S("e".into()));
        assert_eq!(
            item[EXPIRES_AT],
            AttributeValue::N(
                datetime!(2026-11-24 10:00:00 UTC)
                    .unix_timestamp()
                    .to_string()
            )
        );
    }
}

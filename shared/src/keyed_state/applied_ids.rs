//! A consumer's table of spilled event ids: immutable items, one per spill (partition key
//! `userId`, sort key `slice`, TTL `expiresAt`), each holding the digests of committed ids
//! moved out of the user's state item ([`super::memory`]).
//!
//! `slice` is `<level>#<first event time, epoch ms, 13 digits>#<16 hex digits of the ids'
//! digest>`: a lookup for an event at `t` reads, per level whose span holds `t`, the spills
//! whose first event time is at most `t` and less than the level's width before it (one
//! strongly consistent Query). The digest suffix makes a spill's key its content's: written
//! again after a crash, it lands on itself; written by two writers from different states, it
//! makes two items, never one naming ids the other applied.
//!
//! The table also holds one item per Kinesis shard, its mark (the shard's id as `userId`, sort
//! key [`MARK`]): the execution environment that last wrote states from the shard, which every
//! environment names there before its first state write. An environment whose cache the mark
//! does not name reads the states again ([`super::cache`]).
//!
//! Cost: a write unit per KB of spilled digests (about 120 ids per unit), and a lookup a read
//! unit per 4 KB of the spills it reads (at least one). Items expire 24 hours after they are
//! written, for free.

use std::collections::{HashMap, HashSet};

use aws_sdk_dynamodb::types::{AttributeValue, PutRequest, ReturnConsumedCapacity, WriteRequest};
use sha2::{Digest, Sha256};
use tokio::time::Instant;

use super::memory::{DIGEST_BYTES, EventDigest, LookupRange, PlannedSpill};
use crate::delivery::{Backoff, Failure};
use crate::dynamo::{Item, consumed_units, describe, failure, item_size};
use crate::user_items::{USER_ID, deliver_batches};

/// How long a spilled id is kept: a resend within this long of its original is not applied
/// again. Ids still in the state item are kept as long as the item.
pub const LIFETIME: time::Duration = time::Duration::hours(24);
/// The sort key.
pub const SLICE: &str = "slice";
/// The digests, a binary attribute.
pub const IDS: &str = "ids";
/// The TTL attribute, epoch seconds.
pub const EXPIRES_AT: &str = "expiresAt";
/// A shard's mark: its sort key (spills' keys start with two digits), and the attribute naming
/// the environment.
pub const MARK: &str = "mark";
pub const MARKED_BY: &str = "markedBy";
/// BatchWriteItem's limit on items per call.
pub const MAX_ITEMS_PER_CALL: usize = 25;
/// DynamoDB bills a strongly consistent read unit per 4 KB started.
pub const READ_UNIT_BYTES: usize = 4_096;

/// One spill of one user, ready to write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpillItem {
    pub user_id: String,
    pub slice: String,
    pub digests: Vec<u8>,
    /// Epoch seconds.
    pub expires_at: i64,
}

impl SpillItem {
    pub fn new(user_id: &str, spill: &PlannedSpill, expires_at: i64) -> Self {
        let hash = Sha256::digest(&spill.digests);
        let mut slice = format!("{:02}#{:013}#", spill.level, spill.first());
        for byte in &hash[..8] {
            slice.push_str(&format!("{byte:02x}"));
        }
        Self {
            user_id: user_id.to_owned(),
            slice,
            digests: spill.digests.clone(),
            expires_at,
        }
    }

    pub fn item(&self) -> Item {
        HashMap::from([
            (USER_ID.to_owned(), AttributeValue::S(self.user_id.clone())),
            (SLICE.to_owned(), AttributeValue::S(self.slice.clone())),
            (
                IDS.to_owned(),
                AttributeValue::B(self.digests.clone().into()),
            ),
            (
                EXPIRES_AT.to_owned(),
                AttributeValue::N(self.expires_at.to_string()),
            ),
        ])
    }

    /// The write units DynamoDB bills for it: one per KB started.
    pub fn write_units(&self) -> usize {
        item_size(&self.item()).div_ceil(1_024)
    }
}

/// The bounds of a [`LookupRange`] as sort keys: every slice of its level whose first event
/// time is in the range, whatever its digest.
pub fn slice_bounds(range: &LookupRange) -> (String, String) {
    (
        format!("{:02}#{:013}#", range.level, range.first_from),
        format!("{:02}#{:013}#~", range.level, range.first_to),
    )
}

/// What writing a batch's spills did.
#[derive(Debug, Default)]
pub struct Written {
    /// Users whose spill was not written, with why: their ids stay in their items.
    pub failed: Vec<(String, String)>,
    pub items: usize,
    pub calls: usize,
    /// As DynamoDB reported them.
    pub capacity_units: f64,
    /// As DynamoDB bills the items written, from their sizes.
    pub billed_units: usize,
    pub largest_item_bytes: usize,
}

/// What the lookups of one user found.
#[derive(Debug, Default)]
pub struct Found {
    pub digests: HashSet<EventDigest>,
    pub calls: usize,
    /// As DynamoDB reported them.
    pub capacity_units: f64,
    /// As DynamoDB bills them: per page, the items' sizes rounded up to 4 KB (at least one).
    pub billed_units: usize,
}

/// A consumer's applied-ids table.
pub struct AppliedIdsTable {
    client: aws_sdk_dynamodb::Client,
    name: String,
    backoff: Backoff,
}

impl AppliedIdsTable {
    pub fn new(client: aws_sdk_dynamodb::Client, name: String) -> Self {
        Self {
            client,
            name,
            backoff: Backoff::default(),
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// Writes `spills` with BatchWriteItem, 25 per call; unprocessed items are sent again
    /// while `deadline` allows.
    pub async fn write(&self, spills: Vec<SpillItem>, deadline: Instant) -> Written {
        let mut written = Written {
            items: spills.len(),
            ..Written::default()
        };
        let sizes: Vec<(String, usize)> = spills
            .iter()
            .map(|spill| (spill.user_id.clone(), item_size(&spill.item())))
            .collect();
        let (client, table) = (&self.client, self.name.as_str());
        let (delivery, capacity_units) = deliver_batches(
            spills,
            MAX_ITEMS_PER_CALL,
            "BatchWriteItem",
            deadline,
            self.backoff,
            |chunk| async move { write_call(client, table, &chunk).await },
        )
        .await;
        written.calls = delivery.calls;
        written.capacity_units = capacity_units;
        written.failed = delivery
            .failed
            .into_iter()
            .map(|(spill, reason)| (spill.user_id, reason))
            .collect();
        // What was written is billed: a write unit per KB started of each item.
        for (user_id, bytes) in sizes {
            if written.failed.iter().all(|(failed, _)| *failed != user_id) {
                written.billed_units += bytes.div_ceil(1_024);
                written.largest_item_bytes = written.largest_item_bytes.max(bytes);
            }
        }
        written
    }

    /// The digests spilled for `user_id` in `ranges` (strongly consistent: a spill is written
    /// just before the state write that drops its ids from the item).
    pub async fn lookup(&self, user_id: &str, ranges: &[LookupRange]) -> Result<Found, String> {
        let mut found = Found::default();
        for range in ranges {
            let (low, high) = slice_bounds(range);
            let mut pages = self
                .client
                .query()
                .table_name(&self.name)
                .key_condition_expression("#user = :user AND #slice BETWEEN :low AND :high")
                .expression_attribute_names("#user", USER_ID)
                .expression_attribute_names("#slice", SLICE)
                .expression_attribute_values(":user", AttributeValue::S(user_id.to_owned()))
                .expression_attribute_values(":low", AttributeValue::S(low))
                .expression_attribute_values(":high", AttributeValue::S(high))
                .consistent_read(true)
                .return_consumed_capacity(ReturnConsumedCapacity::Total)
                .into_paginator()
                .send();
            while let Some(page) = pages.next().await {
                let page = page.map_err(|error| format!("Query: {}", describe(&error)))?;
                found.calls += 1;
                found.capacity_units += consumed_units(page.consumed_capacity().into_iter());
                let bytes: usize = page.items().iter().map(item_size).sum();
                found.billed_units += bytes.div_ceil(READ_UNIT_BYTES).max(1);
                for item in page.items() {
                    found.digests.extend(digests_of(item, &self.name)?);
                }
            }
        }
        Ok(found)
    }
}

fn digests_of(item: &Item, table: &str) -> Result<Vec<EventDigest>, String> {
    let ids = item
        .get(IDS)
        .and_then(|value| value.as_b().ok())
        .ok_or_else(|| format!("an item of {table} has no binary {IDS}"))?;
    let bytes = ids.as_ref();
    if bytes.len() % DIGEST_BYTES != 0 {
        return Err(format!(
            "an item of {table} holds {} bytes of ids, not a whole number of {DIGEST_BYTES}-byte digests",
            bytes.len()
        ));
    }
    Ok(bytes
        .chunks_exact(DIGEST_BYTES)
        .map(|chunk| EventDigest::from_bytes(chunk.try_into().expect("a whole digest")))
        .collect())
}

/// One BatchWriteItem: the spills left unprocessed, the write units reported.
async fn write_call(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
    spills: &[SpillItem],
) -> Result<(Vec<SpillItem>, f64), Failure> {
    let requests = spills
        .iter()
        .map(|spill| {
            let put = PutRequest::builder()
                .set_item(Some(spill.item()))
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
    let key_of = |item: &Item| {
        let text = |name: &str| item.get(name)?.as_s().ok().cloned();
        Some((text(USER_ID)?, text(SLICE)?))
    };
    let mut unprocessed = Vec::new();
    for request in output
        .unprocessed_items
        .unwrap_or_default()
        .into_values()
        .flatten()
    {
        let item = request.put_request.map(|put| put.item).unwrap_or_default();
        // An unprocessed item that names none of those sent could be any of them: send all
        // again (a spill written twice is the same item).
        let spill = key_of(&item).and_then(|(user_id, slice)| {
            spills
                .iter()
                .find(|spill| spill.user_id == user_id && spill.slice == slice)
        });
        match spill {
            Some(spill) => unprocessed.push(spill.clone()),
            None => {
                return Err(Failure::Transient(
                    "BatchWriteItem left unprocessed an item it does not name".into(),
                ));
            }
        }
    }
    let units = consumed_units(output.consumed_capacity.iter().flatten());
    Ok((unprocessed, units))
}

/// Names `environment` on `shard`'s mark in `table`; returns the write units used.
pub async fn put_mark(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
    shard: &str,
    environment: &str,
) -> Result<f64, String> {
    let output = client
        .put_item()
        .table_name(table)
        .item(USER_ID, AttributeValue::S(shard.to_owned()))
        .item(SLICE, AttributeValue::S(MARK.to_owned()))
        .item(MARKED_BY, AttributeValue::S(environment.to_owned()))
        .return_consumed_capacity(ReturnConsumedCapacity::Total)
        .send()
        .await
        .map_err(|error| format!("PutItem: {}", describe(&error)))?;
    Ok(consumed_units(output.consumed_capacity().into_iter()))
}

/// The environment `shard`'s mark in `table` names, if any (strongly consistent). For
/// operators and checks, not for the batch path (which reads it with the states).
pub async fn marked_by(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
    shard: &str,
) -> Result<Option<String>, String> {
    let output = client
        .get_item()
        .table_name(table)
        .key(USER_ID, AttributeValue::S(shard.to_owned()))
        .key(SLICE, AttributeValue::S(MARK.to_owned()))
        .consistent_read(true)
        .send()
        .await
        .map_err(|error| format!("GetItem: {}", describe(&error)))?;
    Ok(output
        .item
        .and_then(|item| item.get(MARKED_BY)?.as_s().ok().cloned()))
}

/// Every spill of `user_id` in `table`: its slice, digests and expiry (epoch seconds). For
/// operators and checks, not for the batch path.
pub async fn spills_of(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
    user_id: &str,
) -> Result<Vec<(String, Vec<EventDigest>, i64)>, String> {
    let mut spills = Vec::new();
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
        let slice = item
            .get(SLICE)
            .and_then(|value| value.as_s().ok())
            .cloned()
            .ok_or_else(|| format!("an item of {table} has no {SLICE}"))?;
        if slice == MARK {
            // A shard's mark, under a shard id that is also a user id.
            continue;
        }
        let expires_at = item
            .get(EXPIRES_AT)
            .and_then(|value| value.as_n().ok())
            .and_then(|value| value.parse().ok())
            .ok_or_else(|| format!("an item of {table} has no numeric {EXPIRES_AT}"))?;
        spills.push((slice, digests_of(&item, table)?, expires_at));
    }
    Ok(spills)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keyed_state::memory::{Span, width};

    fn spill(level: u8, first: i64, ids: &[&str]) -> PlannedSpill {
        PlannedSpill {
            level,
            span: Some(Span { first, last: first }),
            digests: ids
                .iter()
                .flat_map(|id| EventDigest::of(id).bytes().to_vec())
                .collect(),
        }
    }

    #[test]
    fn a_spills_key_is_its_level_first_time_and_content() {
        let a = SpillItem::new("u", &spill(3, 1_764_000_000_123, &["a", "b"]), 9);
        assert!(a.slice.starts_with("03#1764000000123#"), "{}", a.slice);
        assert_eq!(a.slice.len(), "03#1764000000123#".len() + 16);
        let again = SpillItem::new("u", &spill(3, 1_764_000_000_123, &["a", "b"]), 10);
        assert_eq!(a.slice, again.slice, "the same content, the same item");
        let other = SpillItem::new("u", &spill(3, 1_764_000_000_123, &["a", "c"]), 9);
        assert_ne!(a.slice, other.slice, "other ids, another item");
    }

    #[test]
    fn a_lookup_range_holds_exactly_the_slices_that_may_hold_the_time() {
        let at = 1_764_000_100_000;
        let range = LookupRange {
            level: 2,
            first_from: at - width(2).unwrap() + 1,
            first_to: at,
        };
        let (low, high) = slice_bounds(&range);
        let key =
            |level: u8, first: i64| SpillItem::new("u", &spill(level, first, &["x"]), 0).slice;
        for first in [at, at - 1, at - width(2).unwrap() + 1] {
            let slice = key(2, first);
            assert!(low <= slice && slice <= high, "{slice} in {low}..{high}");
        }
        for (level, first) in [(2, at + 1), (2, at - width(2).unwrap()), (1, at), (3, at)] {
            let slice = key(level, first);
            assert!(
                !(low <= slice && slice <= high),
                "{slice} outside {low}..{high}"
            );
        }
    }

    #[test]
    fn a_full_spill_is_about_one_write_unit() {
        let ids: Vec<String> = (0..110).map(|n| format!("event-{n}")).collect();
        let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
        let item = SpillItem::new(
            "user-12345",
            &spill(4, 1_764_000_000_000, &refs),
            1_764_086_400,
        );
        assert_eq!(item.write_units(), 1, "{} bytes", item_size(&item.item()));
    }

    #[test]
    fn digests_are_read_back_and_a_torn_item_is_refused() {
        let item = SpillItem::new("u", &spill(0, 5, &["a", "b"]), 1).item();
        assert_eq!(
            digests_of(&item, "t").unwrap(),
            vec![EventDigest::of("a"), EventDigest::of("b")]
        );
        let mut torn = item.clone();
        torn.insert(IDS.into(), AttributeValue::B(vec![1, 2, 3].into()));
        assert!(digests_of(&torn, "t").unwrap_err().contains("3 bytes"));
        let mut missing = item;
        missing.remove(IDS);
        assert!(digests_of(&missing, "t").is_err());
    }
}

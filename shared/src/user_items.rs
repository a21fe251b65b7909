//! Items keyed by `userId`, read many at a time and written back one at a time under optimistic
//! concurrency: the DynamoDB adapter of the keyed-state stream core, and inference's reads.
//!
//! - [`batch_get`]: one BatchGetItem per 100 keys, across tables, unprocessed keys asked again
//!   with backoff while the deadline allows.
//! - [`put_versioned`]: a PutItem conditional on the `version` read (or on the item being
//!   absent), so a concurrent writer's update is never overwritten.

use std::collections::HashMap;
use std::future::Future;
use std::hash::Hash;
use std::sync::Mutex;

use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::types::{AttributeValue, KeysAndAttributes, ReturnConsumedCapacity};
use serde::Serialize;
use tokio::time::Instant;

use crate::delivery::{Backoff, Delivery, Failure, deliver};
use crate::dynamo::{Item, consumed_units, describe, failure};

/// BatchGetItem's limit on keys per call, across tables.
pub const MAX_KEYS_PER_CALL: usize = 100;
/// The partition key of every user-keyed table.
pub const USER_ID: &str = "userId";
/// The attribute writes are conditional on.
pub const VERSION: &str = "version";

/// A user's item in table `table` (the caller's name for it); in a table with a sort key, the
/// user's item of sort key `sort`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct UserKey<T> {
    pub table: T,
    pub user_id: String,
    pub sort: Option<String>,
}

impl<T> UserKey<T> {
    pub fn user(table: T, user_id: impl Into<String>) -> Self {
        Self {
            table,
            user_id: user_id.into(),
            sort: None,
        }
    }

    pub fn sorted(table: T, user_id: impl Into<String>, sort: impl Into<String>) -> Self {
        Self {
            table,
            user_id: user_id.into(),
            sort: Some(sort.into()),
        }
    }

    fn to_item(&self, sort_key: Option<&str>) -> Item {
        let mut key =
            HashMap::from([(USER_ID.to_owned(), AttributeValue::S(self.user_id.clone()))]);
        if let (Some(name), Some(sort)) = (sort_key, &self.sort) {
            key.insert(name.to_owned(), AttributeValue::S(sort.clone()));
        }
        key
    }

    /// Whether `item` (an item or a key DynamoDB answered with) is the one this key names.
    /// Matched against the keys asked for, never rebuilt from the item: an item may carry an
    /// attribute named like another table's key.
    fn identifies(&self, item: &Item, sort_key: Option<&str>) -> bool {
        let text = |name| item.get(name).and_then(|value| value.as_s().ok());
        text(USER_ID) == Some(&self.user_id)
            && match (sort_key, &self.sort) {
                (Some(name), Some(sort)) => text(name) == Some(sort),
                _ => true,
            }
    }
}

/// A table read by [`batch_get`].
#[derive(Debug, Clone, Copy)]
pub struct TableRead<'a, T> {
    pub table: T,
    pub name: &'a str,
    /// Strongly consistent: needed where a conditional write follows the read.
    pub consistent_read: bool,
    /// The table's sort key, if it has one.
    pub sort_key: Option<&'a str>,
}

/// What a [`batch_get`] found.
#[derive(Debug)]
pub struct BatchRead<T> {
    /// The items that exist; a key read but absent is in neither map nor `unread`.
    pub found: HashMap<UserKey<T>, Item>,
    /// Keys not read (still unprocessed at the deadline, or a failed call), with why.
    pub unread: Vec<(UserKey<T>, String)>,
    /// How many of `unread` failed permanently (no such table, access denied): asking again
    /// cannot help.
    pub permanent: usize,
    pub calls: usize,
    pub capacity_units: f64,
}

/// Reads `keys` from `tables`; unprocessed keys are asked again while `deadline` allows.
pub async fn batch_get<T: Copy + Eq + Hash>(
    client: &aws_sdk_dynamodb::Client,
    tables: &[TableRead<'_, T>],
    keys: Vec<UserKey<T>>,
    deadline: Instant,
    backoff: Backoff,
) -> BatchRead<T> {
    // A Mutex, not a RefCell: an HTTP handler's future must be Send. Never held across an await.
    let found: Mutex<HashMap<UserKey<T>, Item>> = Mutex::default();
    let (delivery, capacity_units) = deliver_batches(
        keys,
        MAX_KEYS_PER_CALL,
        "BatchGetItem",
        deadline,
        backoff,
        |chunk| {
            let found = &found;
            async move {
                let (items, unprocessed, units) = call(client, tables, &chunk).await?;
                found.lock().expect("found lock").extend(items);
                Ok((unprocessed, units))
            }
        },
    )
    .await;
    BatchRead {
        found: found.into_inner().expect("found lock"),
        unread: delivery.failed,
        permanent: delivery.permanent,
        calls: delivery.calls,
        capacity_units,
    }
}

/// Sends `entries` to DynamoDB `per_call` at a time with `call` (one `operation` request),
/// which answers with the entries it left unprocessed and the capacity units used, or fails
/// the whole chunk. Unprocessed entries and transient failures are sent again, alone, while
/// `deadline` allows. Returns what was never accepted and the capacity units used.
pub(crate) async fn deliver_batches<E, F, Fut>(
    entries: Vec<E>,
    per_call: usize,
    operation: &'static str,
    deadline: Instant,
    backoff: Backoff,
    call: F,
) -> (Delivery<E>, f64)
where
    E: Clone,
    F: Fn(Vec<E>) -> Fut,
    Fut: Future<Output = Result<(Vec<E>, f64), Failure>>,
{
    let capacity = Mutex::new(0.0);
    // Boxed: nested in a caller's handler future, the retry loop's future is deep enough to
    // overflow the compiler's layout queries.
    let delivery = Box::pin(deliver(entries, deadline, backoff, |batch| {
        let (capacity, call) = (&capacity, &call);
        async move {
            let chunks: Vec<Vec<E>> = batch.chunks(per_call).map(<[E]>::to_vec).collect();
            let calls = chunks.len();
            let mut failures = Vec::new();
            for chunk in chunks {
                match call(chunk.clone()).await {
                    Ok((unprocessed, units)) => {
                        *capacity.lock().expect("capacity lock") += units;
                        failures.extend(unprocessed.into_iter().map(|entry| {
                            (
                                entry,
                                Failure::Transient(format!("unprocessed by {operation}")),
                            )
                        }));
                    }
                    Err(failure) => {
                        failures.extend(chunk.into_iter().map(|entry| (entry, failure.clone())))
                    }
                }
            }
            (failures, calls)
        }
    }))
    .await;
    (delivery, capacity.into_inner().expect("capacity lock"))
}

/// Reads the items of `users` from the one table `table`.
pub async fn batch_get_users(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
    consistent_read: bool,
    users: &[String],
    deadline: Instant,
    backoff: Backoff,
) -> BatchRead<()> {
    let tables = [TableRead {
        table: (),
        name: table,
        consistent_read,
        sort_key: None,
    }];
    let keys = users
        .iter()
        .map(|user_id| UserKey::user((), user_id.clone()))
        .collect();
    batch_get(client, &tables, keys, deadline, backoff).await
}

type CallOutcome<T> = (Vec<(UserKey<T>, Item)>, Vec<UserKey<T>>, f64);

/// One BatchGetItem: the items found, the keys left unprocessed, the read units used.
async fn call<T: Copy + Eq>(
    client: &aws_sdk_dynamodb::Client,
    tables: &[TableRead<'_, T>],
    keys: &[UserKey<T>],
) -> Result<CallOutcome<T>, Failure> {
    let mut request: HashMap<String, KeysAndAttributes> = HashMap::new();
    for table in tables {
        let table_keys: Vec<Item> = keys
            .iter()
            .filter(|key| key.table == table.table)
            .map(|key| key.to_item(table.sort_key))
            .collect();
        if !table_keys.is_empty() {
            request.insert(
                table.name.to_owned(),
                KeysAndAttributes::builder()
                    .set_keys(Some(table_keys))
                    .consistent_read(table.consistent_read)
                    .build()
                    .expect("keys set"),
            );
        }
    }
    let output = client
        .batch_get_item()
        .set_request_items(Some(request))
        .return_consumed_capacity(ReturnConsumedCapacity::Total)
        .send()
        .await
        .map_err(|error| failure("BatchGetItem", &error))?;
    // Every item and unprocessed key must be one asked for: anything else would leave a key
    // neither found nor unprocessed, which reads as absent.
    let asked = |name: &str, item: &Item| {
        let table = tables.iter().find(|table| table.name == name)?;
        keys.iter()
            .find(|key| key.table == table.table && key.identifies(item, table.sort_key))
            .cloned()
    };
    let unexpected = |name: &str| {
        Failure::Permanent(format!(
            "BatchGetItem answered with a key of table {name} that was not asked for"
        ))
    };
    let mut items = Vec::new();
    for (name, table_items) in output.responses.unwrap_or_default() {
        for item in table_items {
            let key = asked(&name, &item).ok_or_else(|| unexpected(&name))?;
            items.push((key, item));
        }
    }
    let mut unprocessed = Vec::new();
    for (name, left) in output.unprocessed_keys.unwrap_or_default() {
        for key in left.keys() {
            unprocessed.push(asked(&name, key).ok_or_else(|| unexpected(&name))?);
        }
    }
    let units = consumed_units(output.consumed_capacity.iter().flatten());
    Ok((items, unprocessed, units))
}

/// Why an item was not written.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    /// Someone wrote the item since it was read: read it again and re-apply.
    #[error("the item changed since it was read")]
    Conflict,
    #[error("{0}")]
    Failed(String),
}

/// Writes `value` to `table` if the stored item is still at `read_version` (absent when
/// `None`); returns the write units used.
pub async fn put_versioned<V: Serialize>(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
    value: &V,
    read_version: Option<u64>,
) -> Result<f64, WriteError> {
    let item: Item = serde_dynamo::to_item(value)
        .map_err(|error| WriteError::Failed(format!("the item does not serialize: {error}")))?;
    put_item_versioned(client, table, item, read_version).await
}

/// [`put_versioned`] of an item already serialized.
pub async fn put_item_versioned(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
    item: Item,
    read_version: Option<u64>,
) -> Result<f64, WriteError> {
    let request = client
        .put_item()
        .table_name(table)
        .set_item(Some(item))
        .return_consumed_capacity(ReturnConsumedCapacity::Total);
    let request = match read_version {
        None => request
            .condition_expression("attribute_not_exists(#user)")
            .expression_attribute_names("#user", USER_ID),
        Some(version) => request
            .condition_expression("#version = :read")
            .expression_attribute_names("#version", VERSION)
            .expression_attribute_values(":read", AttributeValue::N(version.to_string())),
    };
    match request.send().await {
        Ok(output) => Ok(consumed_units(output.consumed_capacity().into_iter())),
        Err(SdkError::ServiceError(error))
            if matches!(
                error.err(),
                PutItemError::ConditionalCheckFailedException(_)
            ) =>
        {
            Err(WriteError::Conflict)
        }
        Err(error) => Err(WriteError::Failed(format!("PutItem: {}", describe(&error)))),
    }
}

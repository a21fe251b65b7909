//! The DynamoDB adapter: one BatchGetItem reads a batch's profiles and user states together
//! (100 keys per call, unprocessed keys retried with backoff), and one conditional PutItem per
//! user writes the state back.

use std::cell::RefCell;
use std::collections::{HashMap, HashSet};

use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::types::{AttributeValue, KeysAndAttributes, ReturnConsumedCapacity};
use shared::delivery::{Backoff, Failure, deliver};
use shared::dynamo::{describe, is_transient};
use shared::enriched::{Profile, ProfileAttributes};
use tokio::time::Instant;

use crate::state::UserState;

/// BatchGetItem's limit on keys per call, across tables.
pub const MAX_KEYS_PER_CALL: usize = 100;
/// The partition key of both tables.
pub const USER_ID: &str = "userId";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Table {
    Profiles,
    Aggregates,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Key {
    pub table: Table,
    pub user_id: String,
}

/// What a batch read found.
#[derive(Debug, Default)]
pub struct Reads {
    /// Every profile asked for and read: found, or `unknown` when absent or unreadable.
    pub profiles: HashMap<String, ProfileAttributes>,
    /// Every state asked for and read: `None` for a user seen for the first time.
    pub states: HashMap<String, Option<UserState>>,
    /// Keys not read (still unprocessed at the deadline, or a failed call), with why.
    pub unread: Vec<(Key, String)>,
    /// Profile items that exist but do not parse; they enrich as `unknown`.
    pub unreadable_profiles: usize,
    pub calls: usize,
    pub capacity_units: f64,
}

/// Why a state was not written.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    /// Someone wrote the item since it was read: read again on the retry.
    #[error("the state changed since it was read")]
    Conflict,
    #[error("{0}")]
    Failed(String),
}

pub struct Store {
    client: aws_sdk_dynamodb::Client,
    profiles_table: String,
    aggregates_table: String,
    backoff: Backoff,
}

impl Store {
    pub fn new(
        client: aws_sdk_dynamodb::Client,
        profiles_table: String,
        aggregates_table: String,
    ) -> Self {
        Self {
            client,
            profiles_table,
            aggregates_table,
            backoff: Backoff::default(),
        }
    }

    fn table_name(&self, table: Table) -> &str {
        match table {
            Table::Profiles => &self.profiles_table,
            Table::Aggregates => &self.aggregates_table,
        }
    }

    /// Reads `keys`; unprocessed keys are asked again while `deadline` allows.
    pub async fn read(&self, keys: Vec<Key>, deadline: Instant) -> Reads {
        let found: RefCell<HashMap<Key, HashMap<String, AttributeValue>>> = RefCell::default();
        let capacity = RefCell::new(0.0);
        let asked: HashSet<Key> = keys.iter().cloned().collect();
        let delivery = deliver(keys, deadline, self.backoff, |batch| {
            let (found, capacity) = (&found, &capacity);
            async move {
                let mut failures = Vec::new();
                let chunks: Vec<Vec<Key>> = batch
                    .chunks(MAX_KEYS_PER_CALL)
                    .map(<[Key]>::to_vec)
                    .collect();
                let calls = chunks.len();
                for chunk in chunks {
                    match self.batch_get(&chunk).await {
                        Ok((items, unprocessed, units)) => {
                            *capacity.borrow_mut() += units;
                            found.borrow_mut().extend(items);
                            failures.extend(unprocessed.into_iter().map(|key| {
                                (
                                    key,
                                    Failure::Transient("unprocessed by BatchGetItem".into()),
                                )
                            }));
                        }
                        Err(failure) => {
                            failures.extend(chunk.into_iter().map(|key| (key, failure.clone())))
                        }
                    }
                }
                (failures, calls)
            }
        })
        .await;
        let mut reads = Reads {
            unread: delivery.failed,
            calls: delivery.calls,
            capacity_units: capacity.into_inner(),
            ..Reads::default()
        };
        let unread: HashSet<Key> = reads.unread.iter().map(|(key, _)| key.clone()).collect();
        let mut found = found.into_inner();
        for key in asked.iter().filter(|key| !unread.contains(key)) {
            let item = found.remove(key);
            match key.table {
                Table::Profiles => {
                    let profile = match item.map(serde_dynamo::from_item::<_, Profile>) {
                        Some(Ok(profile)) => ProfileAttributes::from(&profile),
                        Some(Err(error)) => {
                            tracing::warn!(user_id = %key.user_id, %error, "profile item does not parse; enriching as unknown");
                            reads.unreadable_profiles += 1;
                            ProfileAttributes::unknown()
                        }
                        None => ProfileAttributes::unknown(),
                    };
                    reads.profiles.insert(key.user_id.clone(), profile);
                }
                Table::Aggregates => match item.map(serde_dynamo::from_item::<_, UserState>) {
                    Some(Ok(state)) => {
                        reads.states.insert(key.user_id.clone(), Some(state));
                    }
                    Some(Err(error)) => reads.unread.push((
                        key.clone(),
                        format!("the aggregates item does not parse: {error}"),
                    )),
                    None => {
                        reads.states.insert(key.user_id.clone(), None);
                    }
                },
            }
        }
        reads
    }

    /// One BatchGetItem: the items found, the keys left unprocessed, the read units used.
    #[allow(clippy::type_complexity)]
    async fn batch_get(
        &self,
        keys: &[Key],
    ) -> Result<(Vec<(Key, HashMap<String, AttributeValue>)>, Vec<Key>, f64), Failure> {
        let mut request: HashMap<String, KeysAndAttributes> = HashMap::new();
        for table in [Table::Profiles, Table::Aggregates] {
            let table_keys: Vec<HashMap<String, AttributeValue>> = keys
                .iter()
                .filter(|key| key.table == table)
                .map(|key| {
                    HashMap::from([(USER_ID.to_owned(), AttributeValue::S(key.user_id.clone()))])
                })
                .collect();
            if !table_keys.is_empty() {
                request.insert(
                    self.table_name(table).to_owned(),
                    KeysAndAttributes::builder()
                        .set_keys(Some(table_keys))
                        // A state read must see the last batch's write, or its conditional
                        // write fails and the batch is retried; profiles may lag.
                        .consistent_read(table == Table::Aggregates)
                        .build()
                        .expect("keys set"),
                );
            }
        }
        let output = self
            .client
            .batch_get_item()
            .set_request_items(Some(request))
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .send()
            .await
            .map_err(|error| {
                let reason = format!("BatchGetItem: {}", describe(&error));
                if is_transient(&error) {
                    Failure::Transient(reason)
                } else {
                    Failure::Permanent(reason)
                }
            })?;
        let table_of = |name: &str| {
            if name == self.profiles_table {
                Some(Table::Profiles)
            } else if name == self.aggregates_table {
                Some(Table::Aggregates)
            } else {
                None
            }
        };
        let user_of = |item: &HashMap<String, AttributeValue>| {
            item.get(USER_ID)
                .and_then(|value| value.as_s().ok())
                .cloned()
        };
        let mut items = Vec::new();
        for (name, table_items) in output.responses.unwrap_or_default() {
            let Some(table) = table_of(&name) else {
                continue;
            };
            for item in table_items {
                if let Some(user_id) = user_of(&item) {
                    items.push((Key { table, user_id }, item));
                }
            }
        }
        let mut unprocessed = Vec::new();
        for (name, left) in output.unprocessed_keys.unwrap_or_default() {
            let Some(table) = table_of(&name) else {
                continue;
            };
            unprocessed.extend(
                left.keys()
                    .iter()
                    .filter_map(user_of)
                    .map(|user_id| Key { table, user_id }),
            );
        }
        let units = output
            .consumed_capacity
            .unwrap_or_default()
            .iter()
            .filter_map(|consumed| consumed.capacity_units())
            .sum();
        Ok((items, unprocessed, units))
    }

    /// Writes `state` if the item is still at `read_version` (absent when `None`); returns the
    /// write units used.
    pub async fn write(
        &self,
        state: &UserState,
        read_version: Option<u64>,
    ) -> Result<f64, WriteError> {
        let item = serde_dynamo::to_item(state)
            .map_err(|error| WriteError::Failed(format!("state does not serialize: {error}")))?;
        let request = self
            .client
            .put_item()
            .table_name(&self.aggregates_table)
            .set_item(Some(item))
            .return_consumed_capacity(ReturnConsumedCapacity::Total);
        let request = match read_version {
            None => request
                .condition_expression("attribute_not_exists(#user)")
                .expression_attribute_names("#user", USER_ID),
            Some(version) => request
                .condition_expression("#version = :read")
                .expression_attribute_names("#version", "version")
                .expression_attribute_values(":read", AttributeValue::N(version.to_string())),
        };
        match request.send().await {
            Ok(output) => Ok(output
                .consumed_capacity()
                .and_then(|consumed| consumed.capacity_units())
                .unwrap_or_default()),
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
}

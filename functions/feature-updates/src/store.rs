//! The DynamoDB adapter: a batch's users' items read in one BatchGetItem (strongly consistent,
//! through [`shared::user_items`]), one item re-read with GetItem after a conditional-check
//! race, and each changed item written back with a PutItem conditional on its version.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::{AttributeValue, ReturnConsumedCapacity};
use shared::delivery::Backoff;
use shared::dynamo::describe;
use shared::features::FeatureItem;
use shared::user_items::{self, USER_ID, UserKey};
use tokio::time::Instant;

pub use shared::user_items::WriteError;

/// What a batch read found.
#[derive(Debug, Default)]
pub struct Reads {
    /// Every item asked for and read: `None` for a user seen for the first time.
    pub items: HashMap<String, Option<FeatureItem>>,
    /// Users not read (unprocessed at the deadline, a failed call, an item that does not parse
    /// or is of another spec version), with why.
    pub unread: Vec<(String, String)>,
    pub calls: usize,
    pub capacity_units: f64,
}

pub struct Store {
    client: aws_sdk_dynamodb::Client,
    table: String,
    backoff: Backoff,
}

impl Store {
    pub fn new(client: aws_sdk_dynamodb::Client, table: String) -> Self {
        Self {
            client,
            table,
            backoff: Backoff::default(),
        }
    }

    /// Reads the items of `users`; unprocessed keys are asked again while `deadline` allows.
    pub async fn read(&self, users: Vec<String>, deadline: Instant) -> Reads {
        // A read must see the last batch's write, or the conditional write after it fails.
        let read = user_items::batch_get_users(
            &self.client,
            &self.table,
            true,
            &users,
            deadline,
            self.backoff,
        )
        .await;
        let mut reads = Reads {
            unread: read
                .unread
                .into_iter()
                .map(|(key, reason)| (key.user_id, reason))
                .collect(),
            calls: read.calls,
            capacity_units: read.capacity_units,
            ..Reads::default()
        };
        let mut found = read.found;
        for user_id in users {
            if reads.unread.iter().any(|(unread, _)| *unread == user_id) {
                continue;
            }
            let key = UserKey { table: (), user_id };
            let item = found.remove(&key);
            match item.map(FeatureItem::from_stored).transpose() {
                Ok(item) => {
                    reads.items.insert(key.user_id, item);
                }
                Err(reason) => reads.unread.push((key.user_id, reason)),
            }
        }
        reads
    }

    /// Reads one user's item again, strongly consistent; returns it and the read units used.
    pub async fn read_one(&self, user_id: &str) -> Result<(Option<FeatureItem>, f64), String> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .key(USER_ID, AttributeValue::S(user_id.to_owned()))
            .consistent_read(true)
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .send()
            .await
            .map_err(|error| format!("GetItem: {}", describe(&error)))?;
        let units = output
            .consumed_capacity()
            .and_then(|consumed| consumed.capacity_units())
            .unwrap_or_default();
        let item = output.item.map(FeatureItem::from_stored).transpose()?;
        Ok((item, units))
    }

    /// Writes `item` if the stored one is still at `read_version` (absent when `None`);
    /// returns the write units used.
    pub async fn write(
        &self,
        item: &FeatureItem,
        read_version: Option<u64>,
    ) -> Result<f64, WriteError> {
        user_items::put_versioned(&self.client, &self.table, item, read_version).await
    }
}

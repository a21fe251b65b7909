//! The DynamoDB adapter: a batch's users' items and which of its event ids were applied in the
//! last 24 hours read in one BatchGetItem (strongly consistent, through
//! [`shared::user_items`]; the same read for one user again after a conditional-check race),
//! each changed item written back with a PutItem conditional on its version.

use std::collections::{BTreeMap, HashMap};

use shared::applied_events::{self, Marked};
use shared::delivery::Backoff;
use shared::features::FeatureItem;
use shared::stream_batch::Incoming;
use shared::user_items::{self, TableRead, UserKey};
use tokio::time::Instant;

pub use shared::user_items::WriteError;

/// What a batch read found.
#[derive(Debug, Default)]
pub struct Reads {
    /// Every item asked for and read: `None` for a user seen for the first time.
    pub items: HashMap<String, Option<FeatureItem>>,
    /// Each user's event ids asked for and found applied in the last 24 hours.
    pub marked: Marked,
    /// Users not read (unprocessed at the deadline, a failed call, an item that does not parse
    /// or is of another spec version), with why.
    pub unread: Vec<(String, String)>,
    pub calls: usize,
    pub capacity_units: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Table {
    Features,
    AppliedEvents,
}

pub struct Store {
    client: aws_sdk_dynamodb::Client,
    table: String,
    applied_events_table: String,
    backoff: Backoff,
}

impl Store {
    pub fn new(
        client: aws_sdk_dynamodb::Client,
        table: String,
        applied_events_table: String,
    ) -> Self {
        Self {
            client,
            table,
            applied_events_table,
            backoff: Backoff::default(),
        }
    }

    /// Reads the items of the users of `by_user` and which of their event ids were applied;
    /// unprocessed keys are asked again while `deadline` allows.
    pub async fn read(
        &self,
        by_user: &BTreeMap<String, Vec<Incoming>>,
        deadline: Instant,
    ) -> Reads {
        // Strongly consistent: a read must see the last batch's writes, or the conditional
        // write after it fails, and a recorded event id could be missed.
        let tables = [
            TableRead {
                table: Table::Features,
                name: &self.table,
                consistent_read: true,
            },
            TableRead {
                table: Table::AppliedEvents,
                name: &self.applied_events_table,
                consistent_read: true,
            },
        ];
        let mut keys: Vec<UserKey<Table>> = by_user
            .keys()
            .map(|user_id| UserKey::user(Table::Features, user_id.clone()))
            .collect();
        keys.extend(applied_events::keys(Table::AppliedEvents, by_user));
        let read = user_items::batch_get(&self.client, &tables, keys, deadline, self.backoff).await;
        let mut reads = Reads {
            unread: Vec::new(),
            marked: applied_events::marked(&read.found, Table::AppliedEvents),
            calls: read.calls,
            capacity_units: read.capacity_units,
            ..Reads::default()
        };
        for (key, reason) in read.unread {
            if !reads
                .unread
                .iter()
                .any(|(user_id, _)| *user_id == key.user_id)
            {
                reads.unread.push((key.user_id, reason));
            }
        }
        let mut found = read.found;
        for user_id in by_user.keys().cloned() {
            if reads.unread.iter().any(|(unread, _)| *unread == user_id) {
                continue;
            }
            let key = UserKey::user(Table::Features, user_id);
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

//! The DynamoDB adapter: one BatchGetItem reads a batch's profiles, user states and which of
//! its event ids were applied ([`shared::applied_events`]) together (through
//! [`shared::user_items`]), and one conditional PutItem per user writes the state back.

use std::collections::HashMap;

use shared::applied_events::{self, Marked};
use shared::delivery::Backoff;
use shared::enriched::{Profile, ProfileAttributes};
use shared::user_items::{self, TableRead, UserKey};
use tokio::time::Instant;

use crate::state::UserState;

pub use shared::user_items::{MAX_KEYS_PER_CALL, USER_ID, WriteError};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Table {
    Profiles,
    Aggregates,
    AppliedEvents,
}

pub type Key = UserKey<Table>;

/// What a batch read found.
#[derive(Debug, Default)]
pub struct Reads {
    /// Every profile asked for and read: found, or `unknown` when absent or unreadable.
    pub profiles: HashMap<String, ProfileAttributes>,
    /// Every state asked for and read: `None` for a user seen for the first time.
    pub states: HashMap<String, Option<UserState>>,
    /// Each user's event ids asked for and found applied in the last 24 hours.
    pub marked: Marked,
    /// Keys not read (still unprocessed at the deadline, or a failed call), with why.
    pub unread: Vec<(Key, String)>,
    /// Profile items that exist but do not parse; they enrich as `unknown`.
    pub unreadable_profiles: usize,
    pub calls: usize,
    pub capacity_units: f64,
}

pub struct Store {
    client: aws_sdk_dynamodb::Client,
    profiles_table: String,
    aggregates_table: String,
    applied_events_table: String,
    backoff: Backoff,
}

impl Store {
    pub fn new(
        client: aws_sdk_dynamodb::Client,
        profiles_table: String,
        aggregates_table: String,
        applied_events_table: String,
    ) -> Self {
        Self {
            client,
            profiles_table,
            aggregates_table,
            applied_events_table,
            backoff: Backoff::default(),
        }
    }

    /// Reads `keys`; unprocessed keys are asked again while `deadline` allows.
    pub async fn read(&self, keys: Vec<Key>, deadline: Instant) -> Reads {
        let tables = [
            TableRead {
                table: Table::Profiles,
                name: &self.profiles_table,
                consistent_read: false,
            },
            // A state read must see the last batch's write, or its conditional write fails
            // and the batch is retried; profiles may lag.
            TableRead {
                table: Table::Aggregates,
                name: &self.aggregates_table,
                consistent_read: true,
            },
            // Must see the ids the last batch recorded.
            TableRead {
                table: Table::AppliedEvents,
                name: &self.applied_events_table,
                consistent_read: true,
            },
        ];
        let asked = keys.clone();
        let read = user_items::batch_get(&self.client, &tables, keys, deadline, self.backoff).await;
        let mut reads = Reads {
            unread: read.unread,
            calls: read.calls,
            capacity_units: read.capacity_units,
            ..Reads::default()
        };
        reads.marked = applied_events::marked(&read.found, Table::AppliedEvents);
        let mut found = read.found;
        for key in asked {
            if reads.unread.iter().any(|(unread, _)| *unread == key) {
                continue;
            }
            let item = found.remove(&key);
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
                    reads.profiles.insert(key.user_id, profile);
                }
                Table::Aggregates => match item.map(serde_dynamo::from_item::<_, UserState>) {
                    Some(Ok(state)) => {
                        reads.states.insert(key.user_id, Some(state));
                    }
                    Some(Err(error)) => reads
                        .unread
                        .push((key, format!("the aggregates item does not parse: {error}"))),
                    None => {
                        reads.states.insert(key.user_id, None);
                    }
                },
                Table::AppliedEvents => {}
            }
        }
        reads
    }

    /// Writes `state` if the item is still at `read_version` (absent when `None`); returns the
    /// write units used.
    pub async fn write(
        &self,
        state: &UserState,
        read_version: Option<u64>,
    ) -> Result<f64, WriteError> {
        user_items::put_versioned(&self.client, &self.aggregates_table, state, read_version).await
    }
}

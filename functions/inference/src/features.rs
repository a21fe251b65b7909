//! The feature store adapter: every user of a request read in one BatchGetItem.

use std::collections::HashMap;
use std::time::Duration;

use shared::delivery::Backoff;
use shared::features::FeatureItem;
use shared::user_items::{self, UserKey};
use tokio::time::Instant;

/// The whole read, unprocessed keys asked again included, is abandoned at this deadline,
/// leaving the model call its time inside the function's.
pub const READ_DEADLINE: Duration = Duration::from_secs(3);

/// Why features could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReadFailure {
    /// Throttled, unprocessed until the deadline, or the call failing transiently.
    #[error("features of {user_id} not read: {reason}")]
    Unread { user_id: String, reason: String },
    /// The call failed in a way asking again cannot mend (no such table, access denied).
    #[error("features of {user_id} not readable: {reason}")]
    Refused { user_id: String, reason: String },
    /// A stored item that does not parse or is of another spec version.
    #[error("features of {user_id} unusable: {reason}")]
    Unusable { user_id: String, reason: String },
}

/// What a read found: every user asked for, `None` for a user without stored features.
pub type Found = HashMap<String, Option<FeatureItem>>;

#[derive(Debug, Clone)]
pub struct FeatureStore {
    client: aws_sdk_dynamodb::Client,
    table: String,
    consistent_read: bool,
}

impl FeatureStore {
    /// A store read eventually consistent.
    pub fn new(client: aws_sdk_dynamodb::Client, table: String) -> Self {
        Self {
            client,
            table,
            consistent_read: false,
        }
    }

    /// Reads strongly consistent (`FEATURES_CONSISTENT_READ`): a read unit per item instead of
    /// half of one, and no replication lag between a feature written and a feature read.
    pub fn with_consistent_read(mut self, consistent_read: bool) -> Self {
        self.consistent_read = consistent_read;
        self
    }

    /// Reads the items of `users` (distinct). Eventually consistent by default: half the price
    /// of a strong read, and a score may lag the newest event by the replication delay (usually
    /// under a second); the low-latency profile reads strongly consistent.
    pub async fn read(&self, users: &[String]) -> Result<Found, ReadFailure> {
        let deadline = Instant::now() + READ_DEADLINE;
        let mut read = user_items::batch_get_users(
            &self.client,
            &self.table,
            self.consistent_read,
            users,
            deadline,
            Backoff::default(),
        )
        .await;
        let permanent = read.permanent > 0;
        if let Some((key, reason)) = read.unread.pop() {
            let user_id = key.user_id;
            return Err(if permanent {
                ReadFailure::Refused { user_id, reason }
            } else {
                ReadFailure::Unread { user_id, reason }
            });
        }
        users
            .iter()
            .map(|user_id| {
                let key = UserKey::user((), user_id.clone());
                let item = read
                    .found
                    .remove(&key)
                    .map(FeatureItem::from_stored)
                    .transpose()
                    .map_err(|reason| ReadFailure::Unusable {
                        user_id: user_id.clone(),
                        reason,
                    })?;
                Ok((user_id.clone(), item))
            })
            .collect()
    }
}

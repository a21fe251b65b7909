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
}

impl FeatureStore {
    pub fn new(client: aws_sdk_dynamodb::Client, table: String) -> Self {
        Self { client, table }
    }

    /// Reads the items of `users` (distinct). Eventually consistent: half the price of a
    /// strong read, and a score may lag the newest event by the replication delay (under a
    /// second), which the windows' bucket sizes dwarf anyway.
    pub async fn read(&self, users: &[String]) -> Result<Found, ReadFailure> {
        let deadline = Instant::now() + READ_DEADLINE;
        let mut read = user_items::batch_get_users(
            &self.client,
            &self.table,
            false,
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

//! The profiles adapter: one BatchGetItem (eventually consistent: profiles may lag) per 100 of a
//! batch's users not in the warm cache, through [`shared::user_items`].

use std::collections::HashMap;

use shared::delivery::Backoff;
use shared::dynamo::item_size;
use shared::enriched::{Profile, ProfileAttributes};
use shared::user_items::{self, UserKey};
use tokio::time::Instant;

/// DynamoDB bills an eventually consistent read half a unit per 4 KB started.
const READ_UNIT_BYTES: usize = 4_096;

/// What a profile read found.
#[derive(Debug, Default)]
pub struct Profiles {
    /// Every profile asked for and read: found, or `unknown` when absent or unreadable.
    pub profiles: HashMap<String, ProfileAttributes>,
    /// Users whose profile was not read (still unprocessed at the deadline, or a failed call),
    /// with why.
    pub unread: Vec<(String, String)>,
    /// Profile items that exist but do not parse; they enrich as `unknown`.
    pub unreadable: usize,
    pub calls: usize,
    pub capacity_units: f64,
    /// As DynamoDB bills them, from the items' sizes.
    pub billed_units: f64,
}

pub struct ProfileStore {
    client: aws_sdk_dynamodb::Client,
    table: String,
    backoff: Backoff,
}

impl ProfileStore {
    pub fn new(client: aws_sdk_dynamodb::Client, table: String) -> Self {
        Self {
            client,
            table,
            backoff: Backoff::default(),
        }
    }

    /// Reads the profiles of `users`; unprocessed keys are asked again while `deadline` allows.
    pub async fn read(&self, users: &[String], deadline: Instant) -> Profiles {
        let read = user_items::batch_get_users(
            &self.client,
            &self.table,
            false,
            users,
            deadline,
            self.backoff,
        )
        .await;
        let mut profiles = Profiles {
            calls: read.calls,
            capacity_units: read.capacity_units,
            ..Profiles::default()
        };
        let unread: Vec<String> = read
            .unread
            .iter()
            .map(|(key, _)| key.user_id.clone())
            .collect();
        profiles.unread = read
            .unread
            .into_iter()
            .map(|(key, reason)| (key.user_id, reason))
            .collect();
        let mut found = read.found;
        for user_id in users.iter().filter(|user_id| !unread.contains(user_id)) {
            let item = found.remove(&UserKey::user((), user_id.clone()));
            let bytes = item.as_ref().map_or(0, item_size);
            profiles.billed_units += bytes.div_ceil(READ_UNIT_BYTES).max(1) as f64 * 0.5;
            let profile = match item.map(serde_dynamo::from_item::<_, Profile>) {
                Some(Ok(profile)) => ProfileAttributes::from(&profile),
                Some(Err(error)) => {
                    tracing::warn!(%user_id, %error, "profile item does not parse; enriching as unknown");
                    profiles.unreadable += 1;
                    ProfileAttributes::unknown()
                }
                None => ProfileAttributes::unknown(),
            };
            profiles.profiles.insert(user_id.clone(), profile);
        }
        profiles
    }
}

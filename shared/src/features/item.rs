//! A user's item in the features table, the rule that applies an event to it, and [`evaluate`],
//! which turns it into the feature vector at a read time. Applying a record exactly once is the
//! keyed-state core's ([`crate::keyed_state`]): the item carries its [`Memory`].
//!
//! The item (partition key `userId`):
//!
//! | attribute | type | holds |
//! |---|---|---|
//! | `specVersion` | N | the newest [`SpecVersion`] whose state the item holds in full (below) |
//! | `version` | N | incremented by every write; writes are conditional on the version read |
//! | `expiresAt` | N | TTL, epoch seconds: 30 days after the newest event |
//! | `lastEventAt`, `lastEventType` | N, S | the newest event's time (epoch ms) and type |
//! | `lastCartAt`, `lastPurchaseAt` | N | the newest `add_to_cart` and `purchase` times (epoch ms; version 2) |
//! | `windows` | B | the buckets of the three windows (postcard: varints) |
//! | `sessions` | B | the session spans within reach of a late event (postcard) |
//! | `recentEventIds` | B | digests of the event ids applied and not spilled ([`crate::keyed_state::memory`]) |
//! | `spilledIds` | B | the span of their event times, and where spilled ids are (absent when neither) |
//! | `checkpoints` | L | the highest sequence number applied from the user's current shard |
//!
//! The windows and sessions are binary because every write pays for the whole item (a write
//! unit per KB started): varints take 3 to 6 bytes per bucket where DynamoDB maps and numbers
//! take 25 to 100.
//!
//! **Spec versions.** feature-updates writes the state of [`SpecVersion::LATEST`] into every item
//! it writes, but an item holds a version's state in full only if every event of the user was
//! applied by code of that version: an item created by it is marked with it; an item of an
//! earlier version keeps its mark (its new attributes know only the events since) until the
//! backfill folds the user's archived events into it. A read at version N refuses an item
//! marked below N, and every code refuses an item marked with a version it does not know.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::session::Sessions;
use super::spec::{
    AMOUNT_SCALE, FeatureKind, FeatureValue, FeatureVector, LONGEST_WINDOW_MS,
    MAX_SECONDS_SINCE_LAST_EVENT, NO_EVENT_TYPE, OPEN_CART_HORIZON_MS, SESSION_GAP_MS, SpecVersion,
    WINDOWS,
};
use super::window::{Buckets, Totals};
use crate::events::{ActivityEvent, ActivityType};
use crate::keyed_state::{Memory, Outcome};

/// One item of the features table.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FeatureItem {
    pub user_id: String,
    pub spec_version: u32,
    pub version: u64,
    pub expires_at: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_event_at: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_event_type: Option<ActivityType>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_cart_at: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_purchase_at: Option<i64>,
    #[serde(with = "compact")]
    pub windows: [Buckets; WINDOWS.len()],
    #[serde(with = "compact")]
    pub sessions: Sessions,
    #[serde(flatten)]
    pub memory: Memory,
}

/// An item that cannot be read at the version asked for.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SpecMismatch {
    #[error(
        "the features item of user {user_id} holds feature spec version {stored}, not version {read}: backfill it from the archive before reading version {read} (docs/operations.md, rolling out a feature spec version)"
    )]
    NotMigrated {
        user_id: String,
        stored: u32,
        read: u32,
    },
    #[error(
        "the features item of user {user_id} was written with feature spec version {stored}; this code knows versions 1 to {latest}"
    )]
    Unknown {
        user_id: String,
        stored: u32,
        latest: u32,
    },
}

impl FeatureItem {
    /// A user's first item: it holds every event of the user, so the latest version's state.
    pub fn new(user_id: &str) -> Self {
        Self {
            user_id: user_id.to_owned(),
            spec_version: SpecVersion::LATEST.number(),
            ..Self::default()
        }
    }

    /// A stored item, refused (with why) when it does not parse or is of a spec version this
    /// code does not know.
    pub fn from_stored(item: crate::dynamo::Item) -> Result<Self, String> {
        let item: FeatureItem = serde_dynamo::from_item(item)
            .map_err(|error| format!("the features item does not parse: {error}"))?;
        item.held_version()
            .map_err(|mismatch| mismatch.to_string())?;
        Ok(item)
    }

    /// The newest version whose state the item holds in full.
    pub fn held_version(&self) -> Result<SpecVersion, SpecMismatch> {
        SpecVersion::from_number(self.spec_version).map_err(|_| SpecMismatch::Unknown {
            user_id: self.user_id.clone(),
            stored: self.spec_version,
            latest: SpecVersion::LATEST.number(),
        })
    }

    /// Refuses to be read at `version` unless the item holds its state.
    pub fn check_readable_at(&self, version: SpecVersion) -> Result<(), SpecMismatch> {
        if self.held_version()? >= version {
            Ok(())
        } else {
            Err(SpecMismatch::NotMigrated {
                user_id: self.user_id.clone(),
                stored: self.spec_version,
                read: version.number(),
            })
        }
    }

    /// Folds in the newest cart and purchase times of events applied elsewhere (the backfill's
    /// replay of the archive): a maximum of event times, so folding is idempotent and commutes
    /// with the writer's own updates.
    pub fn merge_cart_times(&mut self, last_cart_at: Option<i64>, last_purchase_at: Option<i64>) {
        self.last_cart_at = self.last_cart_at.max(last_cart_at);
        self.last_purchase_at = self.last_purchase_at.max(last_purchase_at);
    }

    /// Applies `event` (this user's); see [`FeatureItem::apply`].
    pub fn apply_event(&mut self, event: &ActivityEvent) -> Outcome<()> {
        self.apply(event.timestamp, event.activity_type, event.amount)
    }

    /// Applies one event at `at`: to the bucket of every window that still reaches it, and to its
    /// session. Unless it is a day or more older than the newest event: then it is dropped.
    pub fn apply(
        &mut self,
        at: OffsetDateTime,
        activity_type: ActivityType,
        amount: Option<f64>,
    ) -> Outcome<()> {
        let at_ms = epoch_ms(at);
        if self
            .last_event_at
            .is_some_and(|newest| at_ms <= newest - LONGEST_WINDOW_MS)
        {
            return Outcome::Dropped;
        }
        // The newest event wins; at the same millisecond, the one applied first.
        if self.last_event_at.is_none_or(|newest| at_ms > newest) {
            self.last_event_at = Some(at_ms);
            self.last_event_type = Some(activity_type);
        }
        let newest = self.last_event_at.unwrap_or(at_ms);
        let purchase_amount = match (activity_type, amount) {
            (ActivityType::Purchase, Some(amount)) => (amount * AMOUNT_SCALE).round() as u64,
            _ => 0,
        };
        for (window, buckets) in WINDOWS.iter().zip(&mut self.windows) {
            // No read at or after the newest event can reach before this bucket.
            let first = window.first_bucket(newest);
            buckets.prune(first);
            let index = window.bucket_of(at_ms);
            if index >= first {
                buckets.add(index, activity_type, purchase_amount);
            }
        }
        match activity_type {
            ActivityType::AddToCart => self.last_cart_at = self.last_cart_at.max(Some(at_ms)),
            ActivityType::Purchase => {
                self.last_purchase_at = self.last_purchase_at.max(Some(at_ms));
            }
            _ => {}
        }
        self.sessions.add(at_ms);
        // A session ending this far back cannot be reached by an event that is not dropped.
        self.sessions
            .prune(newest - LONGEST_WINDOW_MS - SESSION_GAP_MS);
        self.expires_at = newest.div_euclid(1_000) + MAX_SECONDS_SINCE_LAST_EVENT as i64;
        Outcome::Applied(())
    }
}

crate::impl_keyed_state!(FeatureItem, from_item = FeatureItem::from_stored);

/// The features of `stored` (`None`: a user without data) at spec `version`, read at `now`.
/// Windows end at `now`, or at the newest event if that is later (an event stamped by a clock
/// ahead of the reader's): counts decay without new events.
pub fn evaluate(
    stored: Option<&FeatureItem>,
    now: OffsetDateTime,
    version: SpecVersion,
) -> Result<FeatureVector, SpecMismatch> {
    let Some(item) = stored else {
        return Ok(FeatureVector::defaults(version));
    };
    item.check_readable_at(version)?;
    let Some(newest) = item.last_event_at else {
        return Ok(FeatureVector::defaults(version));
    };
    let read_at = epoch_ms(now).max(newest);
    let totals: Vec<Totals> = WINDOWS
        .iter()
        .zip(&item.windows)
        .map(|(window, buckets)| buckets.totals_from(window.first_bucket(read_at)))
        .collect();
    let values = version
        .definitions()
        .iter()
        .map(|definition| match definition.kind {
            FeatureKind::Count {
                window,
                activity_type,
            } => FeatureValue::Integer(match activity_type {
                Some(activity_type) => totals[window].of_type(activity_type),
                None => totals[window].events(),
            }),
            FeatureKind::PurchaseAmount { window } => {
                FeatureValue::Decimal(totals[window].purchase_amount as f64 / AMOUNT_SCALE)
            }
            FeatureKind::SecondsSinceLastEvent => FeatureValue::Integer(
                (((read_at - newest) / 1_000) as u64).min(MAX_SECONDS_SINCE_LAST_EVENT),
            ),
            FeatureKind::LastEventType => FeatureValue::Category(
                item.last_event_type
                    .map_or(NO_EVENT_TYPE, ActivityType::as_str),
            ),
            FeatureKind::SessionEventCount => {
                FeatureValue::Integer(u64::from(item.sessions.current_events(read_at)))
            }
            FeatureKind::SessionsStarted { window } => FeatureValue::Integer(
                item.sessions
                    .started_after(read_at - WINDOWS[window].length_ms) as u64,
            ),
            FeatureKind::SecondsSinceOpenCart => FeatureValue::Integer(
                (match item.last_cart_at {
                    // A cart folded in by the backfill can be newer than the newest event
                    // applied (stamped ahead of the read): it counts as just now.
                    Some(cart)
                        if item.last_purchase_at.is_none_or(|purchase| purchase < cart)
                            && read_at - cart < OPEN_CART_HORIZON_MS =>
                    {
                        (read_at - cart).max(0)
                    }
                    _ => OPEN_CART_HORIZON_MS,
                } / 1_000) as u64,
            ),
        })
        .collect();
    Ok(FeatureVector::from_values(version, values))
}

/// Epoch milliseconds of `at` (sub-millisecond digits dropped, towards the past).
pub fn epoch_ms(at: OffsetDateTime) -> i64 {
    (at.unix_timestamp_nanos().div_euclid(1_000_000)) as i64
}

/// A value stored as one binary attribute holding its postcard encoding.
mod compact {
    use serde::de::{DeserializeOwned, Error as _};
    use serde::ser::Error as _;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<T: Serialize, S: Serializer>(
        value: &T,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        let bytes = postcard::to_allocvec(value).map_err(S::Error::custom)?;
        serializer.serialize_bytes(&bytes)
    }

    pub fn deserialize<'de, T: DeserializeOwned, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<T, D::Error> {
        let bytes = serde_bytes::ByteBuf::deserialize(deserializer)?;
        postcard::from_bytes(&bytes).map_err(D::Error::custom)
    }
}

//! Names, windows, bucket sizes and defaults of the online features, defined once.
//!
//! Windows are sliding and defined on event time. A window of length `W` with buckets of `B`,
//! read at time `T`, counts the events of every bucket that overlaps `(T - W, T]`: it covers at
//! least `W` and less than `W + B` of history, so the only error is the part of the one bucket
//! at the trailing edge that lies before `T - W` (counted in full).

use std::sync::LazyLock;

use serde::ser::{Serialize, SerializeMap, Serializer};

use crate::events::ActivityType;

/// A version of the spec: a new one comes with every change to a window, bucket size, feature
/// or stored layout. Each version's features are the previous version's with new ones
/// appended, so a row of version N begins with the row of version N - 1, and an item that holds
/// the state of version N holds that of every earlier one. A model trained on one version is
/// served rows of that version only; an item is read at a version only if it holds its state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SpecVersion {
    /// Windows, recency, the last event type and sessions.
    V1 = 1,
    /// Adds `seconds_since_open_cart`: the item keeps its newest add-to-cart and purchase times.
    V2 = 2,
}

/// A spec version this code does not know.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("feature spec version {0} is not one this code knows (1 to {latest})", latest = SpecVersion::LATEST.number())]
pub struct UnknownSpecVersion(pub String);

impl SpecVersion {
    /// The version feature-updates writes: new items hold its state.
    pub const LATEST: SpecVersion = SpecVersion::V2;
    pub const ALL: [SpecVersion; 2] = [SpecVersion::V1, SpecVersion::V2];

    pub const fn number(self) -> u32 {
        self as u32
    }

    pub fn from_number(number: u32) -> Result<Self, UnknownSpecVersion> {
        Self::ALL
            .into_iter()
            .find(|version| version.number() == number)
            .ok_or_else(|| UnknownSpecVersion(number.to_string()))
    }

    /// The column of feature `name` in this version's rows.
    pub fn column(self, name: &str) -> Option<usize> {
        self.definitions().iter().position(|d| d.name == name)
    }

    /// Every feature of this version, in its column order.
    pub fn definitions(self) -> &'static [FeatureDef] {
        static V2: LazyLock<Vec<FeatureDef>> = LazyLock::new(build_definitions);
        let all = V2.as_slice();
        match self {
            // Version 1 is version 2 without the column version 2 appended.
            SpecVersion::V1 => &all[..all.len() - 1],
            SpecVersion::V2 => all,
        }
    }
}

impl std::fmt::Display for SpecVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.number())
    }
}

impl std::str::FromStr for SpecVersion {
    type Err = UnknownSpecVersion;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        text.trim()
            .parse::<u32>()
            .map_err(|_| UnknownSpecVersion(text.to_owned()))
            .and_then(Self::from_number)
    }
}

const SECOND_MS: i64 = 1_000;
const MINUTE_MS: i64 = 60 * SECOND_MS;
const HOUR_MS: i64 = 60 * MINUTE_MS;
const DAY_MS: i64 = 24 * HOUR_MS;

/// A session ends after this long without events (event time).
pub const SESSION_GAP_MS: i64 = 30 * MINUTE_MS;
/// Events this much older than a user's newest event, or more, are dropped, not applied.
pub const LONGEST_WINDOW_MS: i64 = DAY_MS;
/// `seconds_since_open_cart` looks back this far: an older cart reads as none.
pub const OPEN_CART_HORIZON_MS: i64 = DAY_MS;
/// `seconds_since_last_event` is capped here, and a user's item expires this long after its
/// newest event (DynamoDB TTL): past it, the user reads as one without data.
pub const MAX_SECONDS_SINCE_LAST_EVENT: u64 = 30 * 86_400;
/// Amounts are summed in ten-thousandths of the currency's major unit: exact and
/// order-independent, unlike sums of floats.
pub const AMOUNT_SCALE: f64 = 10_000.0;
/// What `last_event_type` reads as for a user without events.
pub const NO_EVENT_TYPE: &str = "none";
/// The categories of `last_event_type` in the order of their codes in a model's input row:
/// `none` is 0, then the activity types as [`ActivityType::ALL`] lists them.
pub const EVENT_TYPE_CODES: [&str; 1 + ActivityType::ALL.len()] = [
    NO_EVENT_TYPE,
    ActivityType::ALL[0].as_str(),
    ActivityType::ALL[1].as_str(),
    ActivityType::ALL[2].as_str(),
    ActivityType::ALL[3].as_str(),
    ActivityType::ALL[4].as_str(),
    ActivityType::ALL[5].as_str(),
];

/// One sliding window and the size of its buckets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WindowSpec {
    /// Suffix of the window's feature names (`5m`).
    pub name: &'static str,
    pub length_ms: i64,
    pub bucket_ms: i64,
}

impl WindowSpec {
    /// The bucket an event time falls in.
    pub fn bucket_of(&self, at_ms: i64) -> i64 {
        at_ms.div_euclid(self.bucket_ms)
    }

    /// The first bucket overlapping the window that ends at `end_ms`.
    pub fn first_bucket(&self, end_ms: i64) -> i64 {
        self.bucket_of(end_ms - self.length_ms)
    }
}

/// The windows, shortest first. Buckets: 30 per 5 minutes, 60 per hour, 96 per day, so a user
/// with events in every bucket keeps at most 31 + 61 + 97 of them.
pub const WINDOWS: [WindowSpec; 3] = [
    WindowSpec {
        name: "5m",
        length_ms: 5 * MINUTE_MS,
        bucket_ms: 10 * SECOND_MS,
    },
    WindowSpec {
        name: "1h",
        length_ms: HOUR_MS,
        bucket_ms: MINUTE_MS,
    },
    WindowSpec {
        name: "24h",
        length_ms: DAY_MS,
        bucket_ms: 15 * MINUTE_MS,
    },
];

/// The index in [`WINDOWS`] of the 24-hour window.
pub const DAY_WINDOW: usize = 2;

/// What a feature measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FeatureKind {
    /// Events in window `window` (an index in [`WINDOWS`]), of one type or (`None`) of all.
    Count {
        window: usize,
        activity_type: Option<ActivityType>,
    },
    /// Sum of `purchase` amounts in the window.
    PurchaseAmount { window: usize },
    /// Seconds from the newest event to the read time, capped.
    SecondsSinceLastEvent,
    /// Type of the newest event.
    LastEventType,
    /// Events of the current session (0 once 30 minutes passed without events).
    SessionEventCount,
    /// Sessions whose first event is in the window.
    SessionsStarted { window: usize },
    /// Seconds from the newest `add_to_cart` to the read time, when no `purchase` came at or
    /// after it and it is within [`OPEN_CART_HORIZON_MS`]; the horizon in seconds otherwise.
    SecondsSinceOpenCart,
}

#[derive(Debug, Clone, PartialEq)]
pub struct FeatureDef {
    pub name: String,
    pub kind: FeatureKind,
    /// The value for a user without data.
    pub default: FeatureValue,
    pub description: String,
}

/// A feature's value: counts and seconds are integers, amounts decimals, the event type a
/// category.
#[derive(Debug, Clone, PartialEq)]
pub enum FeatureValue {
    Integer(u64),
    Decimal(f64),
    Category(&'static str),
}

impl FeatureValue {
    /// The value in a model's input row: counts, seconds and amounts as numbers, a category as
    /// its code in [`EVENT_TYPE_CODES`] (the numeric rows the built-in XGBoost and Linear
    /// Learner containers take).
    pub fn model_input(&self) -> f64 {
        match self {
            FeatureValue::Integer(value) => *value as f64,
            FeatureValue::Decimal(value) => *value,
            FeatureValue::Category(value) => EVENT_TYPE_CODES
                .iter()
                .position(|code| code == value)
                .expect("categories come from EVENT_TYPE_CODES")
                as f64,
        }
    }
}

impl Serialize for FeatureValue {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            FeatureValue::Integer(value) => serializer.serialize_u64(*value),
            FeatureValue::Decimal(value) => serializer.serialize_f64(*value),
            FeatureValue::Category(value) => serializer.serialize_str(value),
        }
    }
}

fn build_definitions() -> Vec<FeatureDef> {
    let mut definitions = Vec::new();
    for (window, spec) in WINDOWS.iter().enumerate() {
        definitions.push(FeatureDef {
            name: format!("event_count_{}", spec.name),
            kind: FeatureKind::Count {
                window,
                activity_type: None,
            },
            default: FeatureValue::Integer(0),
            description: format!("events of any type in the last {}", spec.name),
        });
        for activity_type in ActivityType::ALL {
            definitions.push(FeatureDef {
                name: format!("{}_count_{}", activity_type.as_str(), spec.name),
                kind: FeatureKind::Count {
                    window,
                    activity_type: Some(activity_type),
                },
                default: FeatureValue::Integer(0),
                description: format!(
                    "`{}` events in the last {}",
                    activity_type.as_str(),
                    spec.name
                ),
            });
        }
    }
    definitions.extend([
        FeatureDef {
            name: "purchase_amount_24h".into(),
            kind: FeatureKind::PurchaseAmount { window: DAY_WINDOW },
            default: FeatureValue::Decimal(0.0),
            description: "sum of the `amount` of `purchase` events in the last 24h".into(),
        },
        FeatureDef {
            name: "seconds_since_last_event".into(),
            kind: FeatureKind::SecondsSinceLastEvent,
            default: FeatureValue::Integer(MAX_SECONDS_SINCE_LAST_EVENT),
            description: "whole seconds from the newest event to the read time, at most 30 days"
                .into(),
        },
        FeatureDef {
            name: "last_event_type".into(),
            kind: FeatureKind::LastEventType,
            default: FeatureValue::Category(NO_EVENT_TYPE),
            description: "type of the newest event".into(),
        },
        FeatureDef {
            name: "session_event_count".into(),
            kind: FeatureKind::SessionEventCount,
            default: FeatureValue::Integer(0),
            description: "events in the current session; 0 after 30 minutes without events".into(),
        },
        FeatureDef {
            name: "sessions_started_24h".into(),
            kind: FeatureKind::SessionsStarted { window: DAY_WINDOW },
            default: FeatureValue::Integer(0),
            description: "sessions whose first event is in the last 24h".into(),
        },
        // Version 2.
        FeatureDef {
            name: "seconds_since_open_cart".into(),
            kind: FeatureKind::SecondsSinceOpenCart,
            default: FeatureValue::Integer((OPEN_CART_HORIZON_MS / SECOND_MS) as u64),
            description: "whole seconds since the newest `add_to_cart` when no `purchase` came at or after it, within the last 24h; 86400 otherwise".into(),
        },
    ]);
    definitions
}

/// One user's features at a read time, in the column order of their version.
#[derive(Debug, Clone, PartialEq)]
pub struct FeatureVector {
    version: SpecVersion,
    values: Vec<FeatureValue>,
}

impl FeatureVector {
    /// The features of a user without data.
    pub fn defaults(version: SpecVersion) -> Self {
        Self {
            version,
            values: version
                .definitions()
                .iter()
                .map(|d| d.default.clone())
                .collect(),
        }
    }

    pub(crate) fn from_values(version: SpecVersion, values: Vec<FeatureValue>) -> Self {
        debug_assert_eq!(values.len(), version.definitions().len());
        Self { version, values }
    }

    pub fn version(&self) -> SpecVersion {
        self.version
    }

    pub fn get(&self, name: &str) -> Option<&FeatureValue> {
        self.version.column(name).map(|index| &self.values[index])
    }

    /// The model input row: every value as [`FeatureValue::model_input`], in column order.
    pub fn model_row(&self) -> Vec<f64> {
        self.values.iter().map(FeatureValue::model_input).collect()
    }

    /// (name, value) pairs in the spec's column order.
    pub fn iter(&self) -> impl Iterator<Item = (&'static str, &FeatureValue)> {
        self.version
            .definitions()
            .iter()
            .map(|definition| definition.name.as_str())
            .zip(&self.values)
    }
}

/// A JSON object of name -> value, in column order.
impl Serialize for FeatureVector {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.values.len()))?;
        for (name, value) in self.iter() {
            map.serialize_entry(name, value)?;
        }
        map.end()
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn every_feature_has_a_unique_name_and_a_default() {
        for version in SpecVersion::ALL {
            let definitions = version.definitions();
            let names: HashSet<_> = definitions.iter().map(|d| d.name.as_str()).collect();
            assert_eq!(names.len(), definitions.len(), "version {version}");
        }
        assert_eq!(SpecVersion::V1.definitions().len(), 3 * 7 + 5);
        assert_eq!(SpecVersion::V2.definitions().len(), 3 * 7 + 6);
        let defaults = serde_json::to_value(FeatureVector::defaults(SpecVersion::V2)).unwrap();
        assert_eq!(defaults["click_count_5m"], 0);
        assert_eq!(defaults["event_count_24h"], 0);
        assert_eq!(defaults["purchase_amount_24h"], 0.0);
        assert_eq!(defaults["seconds_since_last_event"], 2_592_000);
        assert_eq!(defaults["last_event_type"], "none");
        assert_eq!(defaults["seconds_since_open_cart"], 86_400);
        let v1 = serde_json::to_value(FeatureVector::defaults(SpecVersion::V1)).unwrap();
        assert!(v1.get("seconds_since_open_cart").is_none());
    }

    #[test]
    fn each_version_appends_to_the_previous_ones_columns() {
        let v1 = SpecVersion::V1.definitions();
        let v2 = SpecVersion::V2.definitions();
        assert_eq!(&v2[..v1.len()], v1);
        assert_eq!(v2.last().unwrap().name, "seconds_since_open_cart");
        assert_eq!(SpecVersion::LATEST, *SpecVersion::ALL.last().unwrap());
    }

    #[test]
    fn versions_parse_from_their_numbers_only() {
        assert_eq!("2".parse::<SpecVersion>(), Ok(SpecVersion::V2));
        assert_eq!(SpecVersion::from_number(1), Ok(SpecVersion::V1));
        for bad in ["0", "3", "v2", ""] {
            let error = bad.parse::<SpecVersion>().unwrap_err();
            assert!(error.to_string().contains("1 to 2"), "{error}");
        }
    }

    #[test]
    fn model_rows_are_numeric_in_column_order_with_category_codes() {
        assert_eq!(EVENT_TYPE_CODES[0], NO_EVENT_TYPE);
        assert_eq!(EVENT_TYPE_CODES[4], "add_to_cart");
        assert_eq!(EVENT_TYPE_CODES[6], "login");
        let version = SpecVersion::V1;
        let row = FeatureVector::defaults(version).model_row();
        assert_eq!(row.len(), version.definitions().len());
        let column = |name: &str| version.column(name).unwrap();
        assert_eq!(row[column("seconds_since_last_event")], 2_592_000.0);
        assert_eq!(row[column("last_event_type")], 0.0);
        let mut values = FeatureVector::defaults(version).values;
        values[column("last_event_type")] = FeatureValue::Category("purchase");
        values[column("purchase_amount_24h")] = FeatureValue::Decimal(19.99);
        values[column("event_count_5m")] = FeatureValue::Integer(3);
        let row = FeatureVector::from_values(version, values).model_row();
        assert_eq!(row[column("last_event_type")], 5.0);
        assert_eq!(row[column("purchase_amount_24h")], 19.99);
        assert_eq!(row[0], 3.0);
    }

    #[test]
    fn windows_are_whole_numbers_of_buckets_and_nested() {
        for window in WINDOWS {
            assert_eq!(window.length_ms % window.bucket_ms, 0, "{}", window.name);
        }
        assert!(WINDOWS.is_sorted_by_key(|w| w.length_ms));
        assert_eq!(WINDOWS[DAY_WINDOW].length_ms, LONGEST_WINDOW_MS);
    }

    #[test]
    fn the_first_bucket_overlaps_the_trailing_edge() {
        let window = WINDOWS[0];
        // Read at 1000 s: the window is (700 s, 1000 s]; bucket 70 is [700 s, 710 s).
        assert_eq!(window.first_bucket(1_000_000), 70);
        assert_eq!(window.first_bucket(1_000_001), 70);
        assert_eq!(window.first_bucket(1_009_999), 70);
        assert_eq!(window.first_bucket(1_010_000), 71);
        assert_eq!(window.bucket_of(-1), -1, "before 1970 still floors");
    }
}

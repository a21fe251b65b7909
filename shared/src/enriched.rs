//! The enriched stream's records and the profiles they join, defined once: stream-enrichment
//! writes them, feature-updates reads them, the local stack seeds profiles.
//!
//! An enriched record is the activity record's fields, as on the activity stream, plus the
//! user's `profile` and the event's `session`:
//!
//! ```json
//! {"eventId": "e-1", "userId": "u-1", "type": "view", "timestamp": "2026-11-23T10:00:00Z",
//!  "profile": {"found": true, "segment": "frequent", "country": "DE", "plan": "pro",
//!              "signupTime": "2025-03-01T09:00:00Z"},
//!  "session": {"id": "s-3f2a…", "position": 4}}
//! ```

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::events::ActivityEvent;

/// What the profile attributes of a user without a profile read as.
pub const UNKNOWN: &str = "unknown";

/// An item of the profiles table (partition key `userId`). Every attribute but the key is
/// optional: what is absent enriches as [`UNKNOWN`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Profile {
    pub user_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub segment: Option<String>,
    /// ISO 3166-1 alpha-2.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub country: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan: Option<String>,
    #[serde(
        default,
        with = "time::serde::rfc3339::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub signup_time: Option<OffsetDateTime>,
}

/// The profile as an enriched event carries it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProfileAttributes {
    /// Whether the user has a profile; without one every attribute is `unknown`.
    pub found: bool,
    pub segment: String,
    pub country: String,
    pub plan: String,
    #[serde(with = "time::serde::rfc3339::option")]
    pub signup_time: Option<OffsetDateTime>,
}

impl ProfileAttributes {
    /// A user without a profile (or whose profile could not be read).
    pub fn unknown() -> Self {
        Self {
            found: false,
            segment: UNKNOWN.to_owned(),
            country: UNKNOWN.to_owned(),
            plan: UNKNOWN.to_owned(),
            signup_time: None,
        }
    }
}

impl From<&Profile> for ProfileAttributes {
    fn from(profile: &Profile) -> Self {
        let or_unknown = |value: &Option<String>| value.clone().unwrap_or_else(|| UNKNOWN.into());
        Self {
            found: true,
            segment: or_unknown(&profile.segment),
            country: or_unknown(&profile.country),
            plan: or_unknown(&profile.plan),
            signup_time: profile.signup_time,
        }
    }
}

/// The session an event belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionRef {
    /// Stable: derived from the user and the event that opened the session.
    pub id: String,
    /// 1 for the event that opened the session, then one more per event, in processing order.
    pub position: u32,
}

/// One record of the enriched stream (partition key `userId`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EnrichedEvent {
    #[serde(flatten)]
    pub event: ActivityEvent,
    pub profile: ProfileAttributes,
    pub session: SessionRef,
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use time::macros::datetime;

    use super::*;
    use crate::events::ActivityType;

    #[test]
    fn an_enriched_event_is_the_activity_record_plus_profile_and_session() {
        let enriched = EnrichedEvent {
            event: ActivityEvent {
                event_id: "e-1".into(),
                user_id: "u-1".into(),
                activity_type: ActivityType::View,
                timestamp: datetime!(2026-11-23 10:00:00 UTC),
                item_id: None,
                amount: None,
                attributes: BTreeMap::new(),
            },
            profile: ProfileAttributes::unknown(),
            session: SessionRef {
                id: "s-1".into(),
                position: 2,
            },
        };
        let json = serde_json::to_value(&enriched).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"eventId": "e-1", "userId": "u-1", "type": "view",
                "timestamp": "2026-11-23T10:00:00Z",
                "profile": {"found": false, "segment": "unknown", "country": "unknown",
                            "plan": "unknown", "signupTime": null},
                "session": {"id": "s-1", "position": 2}})
        );
        let back: EnrichedEvent = serde_json::from_value(json).unwrap();
        assert_eq!(back, enriched);
    }

    #[test]
    fn absent_profile_attributes_read_as_unknown() {
        let profile = Profile {
            user_id: "u".into(),
            segment: Some("new".into()),
            country: None,
            plan: None,
            signup_time: None,
        };
        let attributes = ProfileAttributes::from(&profile);
        assert!(attributes.found);
        assert_eq!(attributes.segment, "new");
        assert_eq!(attributes.country, UNKNOWN);
    }
}

//! A user's item in the aggregates table and the pure rule that applies one activity event to
//! it, sessionized on event time.
//!
//! The item holds the lifetime aggregates (counts per type, first and last seen), the user's
//! recent sessions, and the keyed-state core's [`Memory`] of what was applied
//! ([`shared::keyed_state`]): per-shard checkpoints, and the event ids applied (recent ones in
//! the item, older ones spilled to the applied-ids table).
//!
//! Every write pays for the whole item (1 write unit per KB started): sessions are kept as epoch
//! milliseconds, and without its applied ids a full item (every session and type counted, one
//! shard) stays far enough under 1 KB to leave the core room for them, as a test checks.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use shared::enriched::SessionRef;
use shared::events::ActivityEvent;
use shared::keyed_state::Memory;
use time::{Duration, OffsetDateTime};

/// A session ends after this long without events (event time).
pub const SESSION_GAP: Duration = Duration::minutes(30);
/// Sessions kept per user to place late events in.
pub const RECENT_SESSIONS: usize = 4;

/// One item of the aggregates table (partition key `userId`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserState {
    pub user_id: String,
    /// Incremented by every write; writes are conditional on the version read.
    pub version: u64,
    /// Lifetime events per activity type (`click`, `add_to_cart`, ...).
    pub counts: BTreeMap<String, u64>,
    pub total_events: u64,
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub first_seen: Option<OffsetDateTime>,
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub last_seen: Option<OffsetDateTime>,
    /// Lifetime sessions opened.
    pub sessions_started: u64,
    /// The most recent sessions, by start time.
    pub sessions: Vec<Session>,
    /// Checkpoints and the event ids applied.
    #[serde(flatten)]
    pub memory: Memory,
}

/// A session, its bounds kept to the millisecond (as epoch milliseconds: half the bytes of
/// RFC 3339 text in every write).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Session {
    pub id: String,
    #[serde(with = "time::serde::timestamp::milliseconds_i64")]
    pub start: OffsetDateTime,
    #[serde(with = "time::serde::timestamp::milliseconds_i64")]
    pub last: OffsetDateTime,
    pub events: u32,
}

impl UserState {
    pub fn new(user_id: &str) -> Self {
        Self {
            user_id: user_id.to_owned(),
            ..Self::default()
        }
    }

    /// Counts `event` (this user's) and places it in its session.
    pub fn apply(&mut self, event: &ActivityEvent) -> SessionRef {
        *self
            .counts
            .entry(event.activity_type.as_str().to_owned())
            .or_default() += 1;
        self.total_events += 1;
        let at = event.timestamp;
        self.first_seen = Some(self.first_seen.map_or(at, |seen| seen.min(at)));
        self.last_seen = Some(self.last_seen.map_or(at, |seen| seen.max(at)));
        self.place(at, &event.event_id)
    }

    /// Puts an event at `at` in its session: the retained session whose reach (its span widened
    /// by the gap on both sides) holds it, the nearest if several do, the earlier on a tie;
    /// else a new session. Sessions are never merged afterwards: their ids were emitted.
    fn place(&mut self, at: OffsetDateTime, event_id: &str) -> SessionRef {
        // To the millisecond, as stored: the same placement whether or not the item was
        // written and read back in between.
        let at = at
            .replace_nanosecond(at.nanosecond() / 1_000_000 * 1_000_000)
            .expect("a valid nanosecond");
        let distance = |session: &Session| {
            if at < session.start {
                session.start - at
            } else if at > session.last {
                at - session.last
            } else {
                Duration::ZERO
            }
        };
        let nearest = self
            .sessions
            .iter_mut()
            .filter(|session| distance(session) < SESSION_GAP)
            .min_by_key(|session| distance(session));
        if let Some(session) = nearest {
            session.start = session.start.min(at);
            session.last = session.last.max(at);
            session.events += 1;
            return SessionRef {
                id: session.id.clone(),
                position: session.events,
            };
        }
        let session = Session {
            id: session_id(&self.user_id, event_id),
            start: at,
            last: at,
            events: 1,
        };
        let opened = SessionRef {
            id: session.id.clone(),
            position: 1,
        };
        self.sessions_started += 1;
        let index = self.sessions.partition_point(|s| s.start <= at);
        self.sessions.insert(index, session);
        if self.sessions.len() > RECENT_SESSIONS {
            // The session that ended longest ago makes room.
            let oldest = (0..self.sessions.len())
                .min_by_key(|&i| self.sessions[i].last)
                .expect("not empty");
            self.sessions.remove(oldest);
        }
        opened
    }
}

shared::impl_keyed_state!(UserState);

/// `s-` and 32 hex digits of SHA-256 over the user and the opening event: the same on every
/// retry, different across users.
fn session_id(user_id: &str, event_id: &str) -> String {
    use std::fmt::Write;
    let mut hasher = Sha256::new();
    hasher.update(user_id.as_bytes());
    hasher.update([0]);
    hasher.update(event_id.as_bytes());
    let hash = hasher.finalize();
    let mut id = String::with_capacity(34);
    id.push_str("s-");
    for byte in &hash[..16] {
        let _ = write!(id, "{byte:02x}");
    }
    id
}

#[cfg(test)]
mod tests {
    use aws_sdk_dynamodb::types::AttributeValue;
    use shared::events::ActivityType;
    use time::macros::datetime;

    use super::*;

    const T0: OffsetDateTime = datetime!(2026-11-23 10:00:00 UTC);

    fn event(id: &str, minutes: i64, activity_type: ActivityType) -> ActivityEvent {
        ActivityEvent {
            event_id: id.into(),
            user_id: "u-1".into(),
            activity_type,
            timestamp: T0 + Duration::minutes(minutes),
            item_id: None,
            amount: None,
            attributes: BTreeMap::new(),
        }
    }

    /// Applies events (id, minute) in order.
    fn run(state: &mut UserState, events: &[(&str, i64)]) -> Vec<SessionRef> {
        events
            .iter()
            .map(|(id, minute)| state.apply(&event(id, *minute, ActivityType::View)))
            .collect()
    }

    fn positions(placed: &[SessionRef]) -> Vec<(String, u32)> {
        placed
            .iter()
            .map(|session| (session.id.clone(), session.position))
            .collect()
    }

    #[test]
    fn counts_first_and_last_seen_are_lifetime_aggregates() {
        let mut state = UserState::new("u-1");
        state.apply(&event("a", 5, ActivityType::Click));
        state.apply(&event("b", 0, ActivityType::Click));
        state.apply(&event("c", 9, ActivityType::Purchase));
        assert_eq!(state.counts["click"], 2);
        assert_eq!(state.counts["purchase"], 1);
        assert_eq!(state.total_events, 3);
        assert_eq!(state.first_seen, Some(T0));
        assert_eq!(state.last_seen, Some(T0 + Duration::minutes(9)));
    }

    #[test]
    fn a_gap_of_thirty_minutes_opens_a_new_session() {
        let mut state = UserState::new("u-1");
        let placed = positions(&run(
            &mut state,
            &[("a", 0), ("b", 29), ("c", 59), ("d", 89)],
        ));
        // 29 -> 59 is exactly the gap: a new session; 59 -> 89 likewise.
        assert_eq!(placed[0].0, placed[1].0);
        assert_eq!((placed[0].1, placed[1].1), (1, 2));
        assert_ne!(placed[1].0, placed[2].0);
        assert_ne!(placed[2].0, placed[3].0);
        assert_eq!(placed[2].1, 1);
        assert_eq!(state.sessions_started, 3);
    }

    #[test]
    fn out_of_order_events_inside_the_gap_join_the_session() {
        let mut state = UserState::new("u-1");
        let placed = positions(&run(
            &mut state,
            &[
                ("a", 10),
                ("b", 20),
                ("late", 0),
                ("earlier", -15),
                ("c", 40),
            ],
        ));
        let first = &placed[0].0;
        assert!(placed.iter().all(|(id, _)| id == first), "{placed:?}");
        assert_eq!(
            placed.iter().map(|(_, p)| *p).collect::<Vec<_>>(),
            [1, 2, 3, 4, 5]
        );
        assert_eq!(state.sessions_started, 1);
        assert_eq!(state.sessions[0].start, T0 - Duration::minutes(15));
        assert_eq!(state.sessions[0].last, T0 + Duration::minutes(40));
    }

    #[test]
    fn a_late_event_goes_to_the_earlier_session_it_belongs_to() {
        let mut state = UserState::new("u-1");
        let placed = positions(&run(
            &mut state,
            &[("a", 0), ("b", 120), ("late-for-a", 20), ("lonely", 60)],
        ));
        assert_eq!(
            placed[2],
            (placed[0].0.clone(), 2),
            "joins the first session"
        );
        assert_ne!(
            placed[3].0, placed[0].0,
            "60 is 40 min from both: its own session"
        );
        assert_ne!(placed[3].0, placed[1].0);
        assert_eq!(state.sessions_started, 3);
        let starts: Vec<_> = state.sessions.iter().map(|s| s.start).collect();
        assert!(starts.is_sorted(), "sessions stay ordered by start");
    }

    #[test]
    fn a_bridging_event_joins_the_nearer_session_and_sessions_never_merge() {
        let mut state = UserState::new("u-1");
        let placed = positions(&run(&mut state, &[("a", 0), ("b", 50), ("bridge", 30)]));
        assert_eq!(placed[2].0, placed[1].0, "20 min from b, 30 from a");
        assert_eq!(state.sessions.len(), 2);
    }

    #[test]
    fn only_the_recent_sessions_are_kept() {
        let mut state = UserState::new("u-1");
        let events: Vec<(String, i64)> = (0..6).map(|i| (format!("e{i}"), i * 60)).collect();
        let refs: Vec<(&str, i64)> = events.iter().map(|(id, m)| (id.as_str(), *m)).collect();
        run(&mut state, &refs);
        assert_eq!(state.sessions.len(), RECENT_SESSIONS);
        assert_eq!(state.sessions[0].start, T0 + Duration::minutes(120));
        assert_eq!(state.sessions_started, 6);
    }

    #[test]
    fn a_full_item_leaves_room_under_one_kilobyte_for_its_applied_ids() {
        let mut state = UserState::new(&"u".repeat(36));
        for n in 0..2_000u32 {
            let activity_type = ActivityType::ALL[n as usize % ActivityType::ALL.len()];
            let mut record = event(&uuid_like(n), i64::from(n) * 40, activity_type);
            record.timestamp += Duration::nanoseconds(123_456_789);
            state.apply(&record);
        }
        state.memory.checkpoints.advance(
            "shardId-000000000000",
            &shared::keyed_state::checkpoints::SequenceNumber::new(
                "49590338271490256608559692538361571095921575989136588898",
            ),
        );
        state.version = u64::MAX >> 11;
        assert_eq!(state.sessions.len(), RECENT_SESSIONS);
        let item: std::collections::HashMap<String, AttributeValue> =
            serde_dynamo::to_item(&state).unwrap();
        let size = shared::dynamo::item_size(&item);
        println!("a full aggregates item without applied ids: {size} bytes");
        // Room for 40 recent ids (8 bytes each) before a write costs 2 units.
        assert!(size + 40 * 8 < 1024, "{size} bytes");
        let back: UserState = serde_dynamo::from_item(item).unwrap();
        assert_eq!(back, state, "sessions round-trip at millisecond precision");
    }

    fn uuid_like(n: u32) -> String {
        format!("{n:08x}-7a52-4b8e-9f3c-2f7a1d9c0b11")
    }

    #[test]
    fn session_ids_are_stable_and_per_user() {
        assert_eq!(session_id("u", "e"), session_id("u", "e"));
        assert_ne!(session_id("u", "e"), session_id("v", "e"));
        assert_ne!(session_id("ab", "c"), session_id("a", "bc"));
        assert_eq!(session_id("u", "e").len(), 34);
    }
}

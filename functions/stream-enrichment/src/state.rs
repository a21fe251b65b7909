//! A user's item in the aggregates table and the pure rules that apply one activity record to
//! it: exactly once, sessionized on event time.
//!
//! The item holds the lifetime aggregates (counts per type, first and last seen), the user's
//! recent sessions, and what makes applying a record idempotent ([`shared::exactly_once`]):
//! per-shard checkpoints, which skip Kinesis retries, and digests of the last
//! [`RECENT_EVENT_IDS`] event ids applied, which skip a producer's resend while it is among
//! the user's last 32 events at no extra cost. A resend further back is recognized by the
//! event ids applied in the last 24 hours ([`shared::applied_events`]), which the caller reads.
//!
//! Both live in the one item the batch writes anyway. They do cost item size, which every
//! write pays for (1 write unit per KB started): sessions
//! are kept as epoch milliseconds and the digests are bounded so that a full item (every
//! session, digest and type counted, one shard) stays under 1 KB, as a test checks.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use shared::enriched::SessionRef;
use shared::events::ActivityEvent;
use shared::exactly_once::{Admission, Checkpoints, RecentEventIds, Record, SequenceNumber, admit};
use time::{Duration, OffsetDateTime};

/// A session ends after this long without events (event time).
pub const SESSION_GAP: Duration = Duration::minutes(30);
/// Sessions kept per user to place late events in.
pub const RECENT_SESSIONS: usize = 4;
/// Event ids remembered per user to recognize a producer's duplicates: enough for resends that
/// come within a user's next 32 events, small enough to keep the item under 1 KB.
pub const RECENT_EVENT_IDS: usize = 32;

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
    /// Digests of the last event ids applied, oldest first.
    pub recent_event_ids: RecentEventIds,
    /// Highest sequence number applied per shard, most recently written first.
    pub checkpoints: Checkpoints,
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

/// What became of one record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Applied {
    /// Counted, placed in a session: enrich and emit it.
    New(SessionRef),
    /// At or below its shard's checkpoint: a Kinesis retry of a record already applied.
    AlreadyApplied,
    /// Its event id was applied before under another record.
    Duplicate,
}

impl UserState {
    pub fn new(user_id: &str) -> Self {
        Self {
            user_id: user_id.to_owned(),
            ..Self::default()
        }
    }

    pub fn checkpoint(&self, shard: &str) -> Option<&SequenceNumber> {
        self.checkpoints.of(shard)
    }

    /// Applies the record `sequence` of `shard`, carrying `event` (this user's), once; `marked`
    /// when its event id is among those applied in the last 24 hours.
    pub fn apply(
        &mut self,
        shard: &str,
        sequence: &SequenceNumber,
        event: &ActivityEvent,
        marked: bool,
    ) -> Applied {
        let record = Record {
            shard,
            sequence,
            event_id: &event.event_id,
            marked,
        };
        let digest = match admit(&mut self.checkpoints, &self.recent_event_ids, record) {
            Admission::AlreadyApplied => return Applied::AlreadyApplied,
            Admission::Duplicate => return Applied::Duplicate,
            Admission::New(digest) => digest,
        };
        self.recent_event_ids.remember(digest, RECENT_EVENT_IDS);

        *self
            .counts
            .entry(event.activity_type.as_str().to_owned())
            .or_default() += 1;
        self.total_events += 1;
        let at = event.timestamp;
        self.first_seen = Some(self.first_seen.map_or(at, |seen| seen.min(at)));
        self.last_seen = Some(self.last_seen.map_or(at, |seen| seen.max(at)));
        Applied::New(self.place(at, &event.event_id))
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

    fn seq(n: u64) -> SequenceNumber {
        SequenceNumber::new(n.to_string())
    }

    /// Applies events (id, minute) from shard "s" with sequence numbers 1, 2, ...
    fn run(state: &mut UserState, events: &[(&str, i64)]) -> Vec<Applied> {
        events
            .iter()
            .enumerate()
            .map(|(i, (id, minute))| {
                state.apply(
                    "s",
                    &seq(i as u64 + 1),
                    &event(id, *minute, ActivityType::View),
                    false,
                )
            })
            .collect()
    }

    fn positions(applied: &[Applied]) -> Vec<(String, u32)> {
        applied
            .iter()
            .map(|a| match a {
                Applied::New(session) => (session.id.clone(), session.position),
                other => panic!("not applied: {other:?}"),
            })
            .collect()
    }

    #[test]
    fn counts_first_and_last_seen_are_lifetime_aggregates() {
        let mut state = UserState::new("u-1");
        state.apply("s", &seq(1), &event("a", 5, ActivityType::Click), false);
        state.apply("s", &seq(2), &event("b", 0, ActivityType::Click), false);
        state.apply("s", &seq(3), &event("c", 9, ActivityType::Purchase), false);
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
    fn a_redelivered_record_is_skipped_by_its_shard_checkpoint() {
        let mut state = UserState::new("u-1");
        run(&mut state, &[("a", 0), ("b", 1), ("c", 2)]);
        let before = state.clone();
        // Kinesis retries the batch from record 2: records 2 and 3 come again.
        assert_eq!(
            state.apply("s", &seq(2), &event("b", 1, ActivityType::View), false),
            Applied::AlreadyApplied
        );
        assert_eq!(
            state.apply("s", &seq(3), &event("c", 2, ActivityType::View), false),
            Applied::AlreadyApplied
        );
        assert_eq!(state, before);
        // Numbers, not strings: 10 is after 3.
        assert!(matches!(
            state.apply("s", &seq(10), &event("d", 3, ActivityType::View), false),
            Applied::New(_)
        ));
    }

    #[test]
    fn the_same_event_id_under_a_new_record_counts_once() {
        let mut state = UserState::new("u-1");
        run(&mut state, &[("a", 0)]);
        let resent = state.apply("s", &seq(7), &event("a", 0, ActivityType::View), false);
        assert_eq!(resent, Applied::Duplicate);
        assert_eq!(state.total_events, 1);
        assert_eq!(
            state.checkpoint("s"),
            Some(&seq(7)),
            "the duplicate's record is done with"
        );
        // From another shard (after resharding) too.
        assert_eq!(
            state.apply("s2", &seq(1), &event("a", 0, ActivityType::View), false),
            Applied::Duplicate
        );
    }

    #[test]
    fn event_ids_are_remembered_up_to_the_limit() {
        let mut state = UserState::new("u-1");
        for n in 0..=RECENT_EVENT_IDS as u64 {
            state.apply(
                "s",
                &seq(n + 1),
                &event(&format!("e{n}"), 0, ActivityType::View),
                false,
            );
        }
        assert_eq!(state.recent_event_ids.len(), RECENT_EVENT_IDS);
        let next = RECENT_EVENT_IDS as u64 + 2;
        let newest = format!("e{}", RECENT_EVENT_IDS);
        assert_eq!(
            state.apply(
                "s",
                &seq(next),
                &event(&newest, 0, ActivityType::View),
                false
            ),
            Applied::Duplicate
        );
        let before = state.clone();
        assert_eq!(
            state.apply(
                "s",
                &seq(next + 1),
                &event("e0", 0, ActivityType::View),
                true
            ),
            Applied::Duplicate,
            "the oldest id was forgotten here, but is among those applied in the last day"
        );
        assert_eq!(state.total_events, before.total_events);
        assert!(
            matches!(
                state.apply(
                    "s",
                    &seq(next + 2),
                    &event("e0", 0, ActivityType::View),
                    false
                ),
                Applied::New(_)
            ),
            "the oldest id was forgotten"
        );
    }

    #[test]
    fn a_full_item_stays_under_one_kilobyte() {
        let mut state = UserState::new(&"u".repeat(36));
        let mut sequence = 49_590_338_271_490_256_608_559_692_538_361_571_095u128;
        for n in 0..2_000u32 {
            sequence += 1_000_000;
            let activity_type = ActivityType::ALL[n as usize % ActivityType::ALL.len()];
            let mut record = event(&uuid_like(n), i64::from(n) * 40, activity_type);
            record.timestamp += Duration::nanoseconds(123_456_789);
            let digits = format!("{sequence}{sequence}");
            state.apply(
                "shardId-000000000000",
                &SequenceNumber::new(&digits[..56]),
                &record,
                false,
            );
        }
        state.version = 2_000;
        assert_eq!(state.sessions.len(), RECENT_SESSIONS);
        let item: std::collections::HashMap<String, AttributeValue> =
            serde_dynamo::to_item(&state).unwrap();
        let size = shared::dynamo::item_size(&item);
        println!("a full aggregates item: {size} bytes");
        assert!(size < 1024, "{size} bytes: a write would cost 2 units");
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

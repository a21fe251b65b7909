//! The memory of applied event ids that a user's state item carries, and how a record is
//! admitted against it. Pure: no I/O.
//!
//! Every event id a consumer applied is in one of two places:
//!
//! - **recent**: in the state item (`recentEventIds`, 8-byte digests in the order applied),
//!   written by the same conditional write as the state the events changed;
//! - **spilled**: moved out of the item once committed, into an immutable item of the
//!   consumer's applied-ids table ([`super::applied_ids`]). The item keeps, per level of
//!   event-time span ([`level_of`]), the span of the ids spilled there (`spilledIds`), so a
//!   record needs a lookup only when its event time falls inside one, and the lookup reads
//!   only the spills that can hold that time ([`Spilled::lookup_ranges`]).
//!
//! Only ids already committed (in the item as read) are ever spilled, and a spill is written
//! before the state write that drops the ids from the item: a spill therefore never names an
//! event that was not applied, whatever happens to the write that follows it.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::checkpoints::{Checkpoints, SequenceNumber};

/// Bytes of an event id's digest. A lookup compares a digest with at most a few thousand
/// others of the same user: a false match is a 1 in 10^15 event.
pub const DIGEST_BYTES: usize = 8;
/// The narrowest level's width of event time: spills at level `l` span less than
/// `BASE_WIDTH_MS * 4^l`.
pub const BASE_WIDTH_MS: i64 = 1_000;
/// Levels of span; the last has no bound (spans of 4^10 s, about 12 days, and more, and ids
/// whose span was never recorded).
pub const LEVELS: u8 = 12;
/// The fewest committed ids worth a spill of their own (each spill is at least a write unit).
pub const MIN_SPILL_IDS: usize = 8;
/// Committed ids that are spilled whatever the item's size: about one write unit of digests.
pub const MAX_RECENT_IDS: usize = 120;
/// Ids an item may hold while its spills keep failing (16 KB of digests): past them, the user's
/// records are retried instead of its item growing towards DynamoDB's 400 KB limit.
pub const MAX_UNSPILLED_IDS: usize = 2_048;
/// DynamoDB bills a write unit per KB started.
pub const WRITE_UNIT_BYTES: usize = 1_024;

/// An event id's first [`DIGEST_BYTES`] bytes of SHA-256.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EventDigest([u8; DIGEST_BYTES]);

impl EventDigest {
    pub fn of(event_id: &str) -> Self {
        let hash = Sha256::digest(event_id.as_bytes());
        let mut digest = [0; DIGEST_BYTES];
        digest.copy_from_slice(&hash[..DIGEST_BYTES]);
        Self(digest)
    }

    pub fn from_bytes(bytes: [u8; DIGEST_BYTES]) -> Self {
        Self(bytes)
    }

    pub fn bytes(&self) -> &[u8; DIGEST_BYTES] {
        &self.0
    }
}

/// Digests of the event ids applied and not spilled, oldest first (a DynamoDB binary).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct RecentEventIds(#[serde(with = "serde_bytes")] Vec<u8>);

impl RecentEventIds {
    pub fn contains(&self, digest: &EventDigest) -> bool {
        self.0
            .chunks_exact(DIGEST_BYTES)
            .any(|known| known == digest.0)
    }

    pub fn push(&mut self, digest: EventDigest) {
        self.0.extend_from_slice(&digest.0);
    }

    pub fn len(&self) -> usize {
        self.0.len() / DIGEST_BYTES
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The first `count` digests, as one byte string.
    fn first(&self, count: usize) -> &[u8] {
        &self.0[..count * DIGEST_BYTES]
    }

    fn drop_first(&mut self, count: usize) {
        self.0.drain(..count * DIGEST_BYTES);
    }
}

/// Event times from `first` to `last`, epoch milliseconds, both included.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Span {
    pub first: i64,
    pub last: i64,
}

impl Span {
    pub fn at(ms: i64) -> Self {
        Self {
            first: ms,
            last: ms,
        }
    }

    pub fn widen(&mut self, ms: i64) {
        self.first = self.first.min(ms);
        self.last = self.last.max(ms);
    }

    pub fn union(self, other: Span) -> Span {
        Span {
            first: self.first.min(other.first),
            last: self.last.max(other.last),
        }
    }

    pub fn contains(&self, ms: i64) -> bool {
        (self.first..=self.last).contains(&ms)
    }

    /// Milliseconds from first to last.
    pub fn length(&self) -> i64 {
        self.last.saturating_sub(self.first)
    }
}

/// Width of event time of level `level`: every spill there spans less. `None`: no bound.
pub fn width(level: u8) -> Option<i64> {
    (level < LEVELS - 1).then(|| BASE_WIDTH_MS * 4_i64.pow(u32::from(level)))
}

/// The level of a spill spanning `span` (`None`: unknown, the last level).
pub fn level_of(span: Option<Span>) -> u8 {
    let Some(span) = span else {
        return LEVELS - 1;
    };
    (0..LEVELS)
        .find(|&level| width(level).is_none_or(|width| span.length() < width))
        .unwrap_or(LEVELS - 1)
}

/// One level's spilled ids: the span of their event times, and when the last of them expires.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SpilledLevel {
    pub level: u8,
    pub span: Span,
    /// Epoch seconds.
    pub expires_at: i64,
}

/// What the item knows of its ids: the span of the recent ones, and where spilled ones are.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Spilled {
    /// The event times of the recent ids; `None` when there are none, or when they were
    /// applied before spans were kept (they then spill to the last level).
    pub recent: Option<Span>,
    /// The levels holding spilled ids that have not expired.
    pub levels: Vec<SpilledLevel>,
}

impl Spilled {
    pub fn is_empty(&self) -> bool {
        self.recent.is_none() && self.levels.is_empty()
    }

    /// The spills to read for records at `times`: per level whose span holds one of them, the
    /// range of first event times a spill holding it can have. Nearby times of one level share
    /// a range (one Query), distant ones do not.
    pub fn lookup_ranges(&self, times: &[i64]) -> Vec<LookupRange> {
        let mut ranges: Vec<LookupRange> = Vec::new();
        for level in &self.levels {
            let mut held: Vec<i64> = times
                .iter()
                .copied()
                .filter(|&at| level.span.contains(at))
                .collect();
            held.sort_unstable();
            for at in held {
                let range = LookupRange::holding(level.level, at);
                match ranges.last_mut() {
                    Some(last)
                        if last.level == level.level && range.first_from <= last.first_to =>
                    {
                        last.first_to = range.first_to;
                    }
                    _ => ranges.push(range),
                }
            }
        }
        ranges
    }

    fn record(&mut self, level: u8, span: Span, expires_at: i64) {
        match self.levels.iter_mut().find(|known| known.level == level) {
            Some(known) => {
                known.span = known.span.union(span);
                known.expires_at = known.expires_at.max(expires_at);
            }
            None => {
                self.levels.push(SpilledLevel {
                    level,
                    span,
                    expires_at,
                });
                self.levels.sort_by_key(|known| known.level);
            }
        }
    }

    /// Forgets levels whose every spill expired before `now` (epoch seconds).
    pub fn prune(&mut self, now: i64) {
        self.levels.retain(|level| level.expires_at >= now);
    }
}

/// Spills of one level whose first event time is in `first_from..=first_to` (epoch ms).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LookupRange {
    pub level: u8,
    pub first_from: i64,
    pub first_to: i64,
}

impl LookupRange {
    /// The spills of `level` that can hold an event at `at`: a spill holding it starts at or
    /// before it, and less than the level's width before it.
    fn holding(level: u8, at: i64) -> Self {
        let first_from = width(level).map_or(0, |width| at - width + 1);
        Self {
            level,
            first_from: first_from.max(0),
            first_to: at.max(0),
        }
    }
}

/// Whether a record's effect is still to be applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// Neither applied before nor a known event id: apply it, then [`Memory::remember`] it.
    New(EventDigest),
    /// At or below its shard's checkpoint: a Kinesis retry of a record already applied.
    AlreadyApplied,
    /// Its event id was applied before under another record.
    Duplicate,
}

/// The exactly-once bookkeeping of a state item: checkpoints and the ids applied.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Memory {
    pub recent_event_ids: RecentEventIds,
    #[serde(default, with = "compact", skip_serializing_if = "Spilled::is_empty")]
    pub spilled_ids: Spilled,
    pub checkpoints: Checkpoints,
}

/// The recent ids as read, before a batch applies anything: the only ones that may be spilled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Committed {
    pub count: usize,
    pub span: Option<Span>,
}

/// Committed ids moved out of the item, to write to the applied-ids table before the state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedSpill {
    pub level: u8,
    /// Their event times; `None` if never recorded (the last level, from time 0).
    pub span: Option<Span>,
    pub digests: Vec<u8>,
}

impl PlannedSpill {
    /// The first event time its key sorts by.
    pub fn first(&self) -> i64 {
        self.span.map_or(0, |span| span.first.max(0))
    }
}

impl Memory {
    /// Admits record `sequence` of `shard`, event `digest`; `marked` when a lookup found its id
    /// spilled. The checkpoint moves past the record whatever the verdict: it is done with once
    /// the item is written.
    pub fn admit(
        &mut self,
        shard: &str,
        sequence: &SequenceNumber,
        digest: EventDigest,
        marked: bool,
    ) -> Admission {
        if self.checkpoints.covers(shard, sequence) {
            return Admission::AlreadyApplied;
        }
        self.checkpoints.advance(shard, sequence);
        if marked || self.recent_event_ids.contains(&digest) {
            Admission::Duplicate
        } else {
            Admission::New(digest)
        }
    }

    /// Whether a record needs no lookup: covered by its checkpoint, or its id is recent.
    pub fn settles(&self, shard: &str, sequence: &SequenceNumber, digest: &EventDigest) -> bool {
        self.checkpoints.covers(shard, sequence) || self.recent_event_ids.contains(digest)
    }

    /// Remembers an applied event at `at` (epoch ms).
    pub fn remember(&mut self, digest: EventDigest, at: i64) {
        let spilled = &mut self.spilled_ids;
        if self.recent_event_ids.is_empty() {
            spilled.recent = Some(Span::at(at));
        } else if let Some(span) = spilled.recent.as_mut() {
            span.widen(at);
        }
        self.recent_event_ids.push(digest);
    }

    pub fn committed(&self) -> Committed {
        Committed {
            count: self.recent_event_ids.len(),
            span: self.spilled_ids.recent,
        }
    }

    /// The committed ids as a spill.
    pub fn plan_spill(&self, committed: Committed) -> PlannedSpill {
        PlannedSpill {
            level: level_of(committed.span),
            span: committed.span,
            digests: self.recent_event_ids.first(committed.count).to_vec(),
        }
    }

    /// Drops the ids of `spill` (written, expiring at `expires_at`, epoch seconds) from the
    /// recent ones; those applied since keep `rest` as their span.
    pub fn apply_spill(&mut self, spill: &PlannedSpill, rest: Option<Span>, expires_at: i64) {
        let count = spill.digests.len() / DIGEST_BYTES;
        debug_assert_eq!(self.recent_event_ids.first(count), spill.digests.as_slice());
        self.recent_event_ids.drop_first(count);
        let span = spill.span.unwrap_or(Span {
            first: 0,
            last: i64::MAX,
        });
        self.spilled_ids.record(spill.level, span, expires_at);
        self.spilled_ids.recent = if self.recent_event_ids.is_empty() {
            None
        } else {
            rest
        };
    }
}

/// Whether to spill `committed` ids out of an item of `item_bytes` (with them): when that
/// lowers the item's write units (which every later write of the user pays again), or when
/// they fill a spill of their own.
pub fn worth_spilling(committed: usize, item_bytes: usize) -> bool {
    if committed >= MAX_RECENT_IDS {
        return true;
    }
    // Spilling may add a level to the summary: a few bytes back.
    let without = (item_bytes + 24).saturating_sub(committed * DIGEST_BYTES);
    committed >= MIN_SPILL_IDS
        && item_bytes.div_ceil(WRITE_UNIT_BYTES) > without.div_ceil(WRITE_UNIT_BYTES)
}

/// A value stored as one binary attribute holding its postcard encoding.
mod compact {
    use serde::de::Error as _;
    use serde::ser::Error as _;
    use serde::{Deserialize, Deserializer, Serializer};

    use super::Spilled;

    pub fn serialize<S: Serializer>(value: &Spilled, serializer: S) -> Result<S::Ok, S::Error> {
        let bytes = postcard::to_allocvec(value).map_err(S::Error::custom)?;
        serializer.serialize_bytes(&bytes)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Spilled, D::Error> {
        let bytes = serde_bytes::ByteBuf::deserialize(deserializer)?;
        postcard::from_bytes(&bytes).map_err(D::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seq(n: u64) -> SequenceNumber {
        SequenceNumber::new(n.to_string())
    }

    fn digest(id: &str) -> EventDigest {
        EventDigest::of(id)
    }

    #[test]
    fn a_retry_is_covered_by_the_checkpoint_and_a_known_id_is_a_duplicate() {
        let mut memory = Memory::default();
        assert_eq!(
            memory.admit("s", &seq(3), digest("a"), false),
            Admission::New(digest("a"))
        );
        memory.remember(digest("a"), 1_000);
        assert_eq!(
            memory.admit("s", &seq(3), digest("a"), false),
            Admission::AlreadyApplied
        );
        assert_eq!(
            memory.admit("s", &seq(4), digest("a"), false),
            Admission::Duplicate,
            "the same id under a new record"
        );
        assert_eq!(
            memory.admit("other", &seq(1), digest("a"), false),
            Admission::Duplicate,
            "from another shard too"
        );
        assert_eq!(
            memory.admit("s", &seq(5), digest("b"), true),
            Admission::Duplicate,
            "found spilled"
        );
        assert_eq!(
            memory.admit("s", &seq(5), digest("b"), true),
            Admission::AlreadyApplied,
            "the checkpoint decides first"
        );
    }

    #[test]
    fn recent_ids_keep_the_span_of_their_event_times() {
        let mut memory = Memory::default();
        for (id, at) in [("a", 5_000), ("b", 2_000), ("c", 9_000)] {
            memory.remember(digest(id), at);
        }
        assert_eq!(
            memory.spilled_ids.recent,
            Some(Span {
                first: 2_000,
                last: 9_000
            })
        );
        assert_eq!(memory.recent_event_ids.len(), 3);
    }

    #[test]
    fn levels_bound_the_span_of_their_spills() {
        assert_eq!(level_of(Some(Span::at(7))), 0);
        assert_eq!(
            level_of(Some(Span {
                first: 0,
                last: 999
            })),
            0
        );
        assert_eq!(
            level_of(Some(Span {
                first: 0,
                last: 1_000
            })),
            1
        );
        assert_eq!(
            level_of(Some(Span {
                first: 0,
                last: 3_999
            })),
            1
        );
        assert_eq!(
            level_of(Some(Span {
                first: 0,
                last: 4_000
            })),
            2
        );
        assert_eq!(
            level_of(Some(Span {
                first: 0,
                last: 86_400_000
            })),
            9
        );
        assert_eq!(level_of(None), LEVELS - 1);
        assert_eq!(
            level_of(Some(Span {
                first: 0,
                last: i64::MAX
            })),
            LEVELS - 1
        );
        for level in 0..LEVELS - 1 {
            let width = width(level).unwrap();
            assert_eq!(
                level_of(Some(Span {
                    first: 10,
                    last: 10 + width - 1
                })),
                level
            );
        }
        assert_eq!(width(LEVELS - 1), None);
    }

    #[test]
    fn a_spill_moves_only_committed_ids_and_the_item_says_where_they_went() {
        let mut memory = Memory::default();
        memory.remember(digest("a"), 10_000);
        memory.remember(digest("b"), 12_500);
        let committed = memory.committed();
        memory.remember(digest("c"), 20_000);
        let spill = memory.plan_spill(committed);
        assert_eq!(spill.digests.len(), 2 * DIGEST_BYTES);
        assert_eq!(spill.level, 1, "a 2.5 s span: under 4 s");
        assert_eq!(spill.first(), 10_000);
        memory.apply_spill(&spill, Some(Span::at(20_000)), 1_000);
        assert_eq!(memory.recent_event_ids.len(), 1);
        assert!(memory.recent_event_ids.contains(&digest("c")));
        assert!(!memory.recent_event_ids.contains(&digest("a")));
        assert_eq!(memory.spilled_ids.recent, Some(Span::at(20_000)));
        assert_eq!(
            memory.spilled_ids.levels,
            vec![SpilledLevel {
                level: 1,
                span: Span {
                    first: 10_000,
                    last: 12_500
                },
                expires_at: 1_000
            }]
        );
        // a and b are no longer recent: only a lookup can find them now.
        assert_eq!(
            memory.admit("s", &seq(9), digest("a"), false),
            Admission::New(digest("a"))
        );
    }

    #[test]
    fn lookups_read_only_the_levels_and_ranges_that_can_hold_a_record() {
        let spilled = Spilled {
            recent: None,
            levels: vec![
                SpilledLevel {
                    level: 0,
                    span: Span {
                        first: 100_000,
                        last: 200_000,
                    },
                    expires_at: 0,
                },
                SpilledLevel {
                    level: 3,
                    span: Span {
                        first: 50_000,
                        last: 120_000,
                    },
                    expires_at: 0,
                },
            ],
        };
        assert!(spilled.lookup_ranges(&[300_000, 10_000]).is_empty());
        assert_eq!(
            spilled.lookup_ranges(&[150_000]),
            vec![LookupRange {
                level: 0,
                first_from: 149_001,
                first_to: 150_000
            }]
        );
        // Nearby times share a range, distant ones do not; level 3 (64 s) holds 110 s only.
        assert_eq!(
            spilled.lookup_ranges(&[110_000, 110_500, 190_000]),
            vec![
                LookupRange {
                    level: 0,
                    first_from: 109_001,
                    first_to: 110_500
                },
                LookupRange {
                    level: 0,
                    first_from: 189_001,
                    first_to: 190_000
                },
                LookupRange {
                    level: 3,
                    first_from: 46_001,
                    first_to: 110_500
                },
            ]
        );
    }

    #[test]
    fn ids_of_unknown_span_spill_to_the_last_level_which_every_lookup_reads() {
        let mut memory = Memory {
            recent_event_ids: RecentEventIds(digest("old").bytes().to_vec()),
            ..Memory::default()
        };
        memory.remember(digest("new"), 5_000);
        assert_eq!(memory.spilled_ids.recent, None, "still unknown");
        let spill = memory.plan_spill(Committed {
            count: 1,
            span: None,
        });
        assert_eq!((spill.level, spill.first()), (LEVELS - 1, 0));
        memory.apply_spill(&spill, Some(Span::at(5_000)), 50);
        assert_eq!(memory.spilled_ids.recent, Some(Span::at(5_000)));
        assert_eq!(
            memory.spilled_ids.lookup_ranges(&[77]),
            vec![LookupRange {
                level: LEVELS - 1,
                first_from: 0,
                first_to: 77
            }]
        );
    }

    #[test]
    fn expired_levels_are_forgotten() {
        let mut spilled = Spilled::default();
        spilled.record(1, Span::at(5), 100);
        spilled.record(2, Span::at(5), 200);
        spilled.record(1, Span::at(9), 150);
        assert_eq!(spilled.levels[0].expires_at, 150);
        assert_eq!(spilled.levels[0].span, Span { first: 5, last: 9 });
        spilled.prune(151);
        assert_eq!(spilled.levels.len(), 1);
        assert_eq!(spilled.levels[0].level, 2);
        spilled.prune(201);
        assert!(spilled.is_empty());
    }

    #[test]
    fn ids_spill_when_that_saves_a_write_unit_or_fills_a_spill() {
        assert!(!worth_spilling(0, 5_000));
        assert!(
            !worth_spilling(40, 900),
            "the item is one write unit either way"
        );
        assert!(
            worth_spilling(40, 1_100),
            "1,100 bytes: 2 units; without: 1"
        );
        assert!(
            !worth_spilling(MIN_SPILL_IDS - 1, 1_030),
            "too few for a spill of their own"
        );
        assert!(!worth_spilling(20, 2_500), "3 units with them, 3 without");
        assert!(worth_spilling(60, 2_500), "3 units with them, 2 without");
        assert!(worth_spilling(MAX_RECENT_IDS, 2_500));
    }

    #[test]
    fn after_a_reshard_the_childs_records_are_admitted_by_their_own_shard() {
        let mut memory = Memory::default();
        for n in 1..=500 {
            let admitted = memory.admit("parent", &seq(n), digest(&format!("p{n}")), false);
            if n == 500 {
                assert_eq!(admitted, Admission::New(digest("p500")));
            }
        }
        // The child numbers from 1: below the parent's checkpoint, and new all the same.
        assert_eq!(
            memory.admit("child", &seq(1), digest("c1"), false),
            Admission::New(digest("c1"))
        );
        memory.remember(digest("c1"), 1_000);
        assert_eq!(
            memory.admit("child", &seq(1), digest("c1"), false),
            Admission::AlreadyApplied,
            "the child's own retry"
        );
        assert_eq!(
            memory.admit("child", &seq(2), digest("c1"), false),
            Admission::Duplicate,
            "a resend of the same event through the child"
        );
        assert_eq!(
            memory.checkpoints.len(),
            1,
            "the parent's checkpoint is gone"
        );
    }

    #[test]
    fn the_memory_round_trips_through_an_item() {
        let mut memory = Memory::default();
        memory.remember(digest("a"), 1_000);
        memory.checkpoints.advance("s", &seq(4));
        let committed = memory.committed();
        memory.remember(digest("b"), 4_000);
        let spill = memory.plan_spill(committed);
        memory.apply_spill(&spill, Some(Span::at(4_000)), 99);
        let item: crate::dynamo::Item = serde_dynamo::to_item(&memory).unwrap();
        assert!(item.contains_key("spilledIds"), "{item:?}");
        let back: Memory = serde_dynamo::from_item(item).unwrap();
        assert_eq!(back, memory);
        let empty: crate::dynamo::Item = serde_dynamo::to_item(Memory::default()).unwrap();
        assert!(
            !empty.contains_key("spilledIds"),
            "absent when there is nothing to say"
        );
        assert_eq!(
            serde_dynamo::from_item::<_, Memory>(empty).unwrap(),
            Memory::default()
        );
    }
}

//! What makes applying a stream record to a per-user item idempotent:
//!
//! - [`Checkpoints`]: the highest sequence number applied from each shard. Kinesis retries a
//!   batch from its first failed record; a redelivered record at or below the checkpoint of its
//!   shard was applied already. A user's records all come from the shard their partition key
//!   (`userId`) maps to, in order, and the item is written once per batch with all of them, so
//!   a checkpoint never passes a record that was not applied.
//! - [`RecentEventIds`]: 8-byte digests of the last event ids applied, in the item. The same
//!   `eventId` sent again arrives as a new record with a new sequence number; it is recognized
//!   while it is among the ids remembered, at no extra cost.
//! - Beyond those, the event ids applied in the last 24 hours ([`crate::applied_events`]), read
//!   with the batch: the caller says whether a record's id is among them (`marked`).

use std::cmp::Ordering;
use std::fmt;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Shards a user's checkpoints are kept for (the current one and parents after resharding).
pub const CHECKPOINTED_SHARDS: usize = 4;
/// Bytes of an event id's digest: a collision among a few hundred ids is a 1 in 10^14 event.
pub const DIGEST_BYTES: usize = 8;

/// A Kinesis sequence number: a decimal string of up to 128 digits, ordered as a number, never
/// as a string ("9" < "10"), without parsing it into a fixed-width integer that could overflow.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SequenceNumber(String);

impl SequenceNumber {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The digits without leading zeros: numbers compare by length, then digit by digit.
    fn significant(&self) -> &str {
        self.0.trim_start_matches('0')
    }
}

impl Ord for SequenceNumber {
    fn cmp(&self, other: &Self) -> Ordering {
        let (a, b) = (self.significant(), other.significant());
        a.len()
            .cmp(&b.len())
            .then_with(|| a.cmp(b))
            // Equal numbers written differently ("07", "7") still order consistently with Eq.
            .then_with(|| self.0.cmp(&other.0))
    }
}

impl PartialOrd for SequenceNumber {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Display for SequenceNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Checkpoint {
    pub shard: String,
    pub sequence: SequenceNumber,
}

/// The highest sequence number applied per shard, most recently advanced first.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Checkpoints(Vec<Checkpoint>);

impl Checkpoints {
    pub fn of(&self, shard: &str) -> Option<&SequenceNumber> {
        self.0
            .iter()
            .find(|checkpoint| checkpoint.shard == shard)
            .map(|checkpoint| &checkpoint.sequence)
    }

    /// Whether record `sequence` of `shard` was applied before.
    pub fn covers(&self, shard: &str, sequence: &SequenceNumber) -> bool {
        self.of(shard).is_some_and(|applied| sequence <= applied)
    }

    pub fn advance(&mut self, shard: &str, sequence: &SequenceNumber) {
        self.0.retain(|checkpoint| checkpoint.shard != shard);
        self.0.insert(
            0,
            Checkpoint {
                shard: shard.to_owned(),
                sequence: sequence.clone(),
            },
        );
        self.0.truncate(CHECKPOINTED_SHARDS);
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = &Checkpoint> {
        self.0.iter()
    }
}

/// Digests of the event ids applied last, oldest first (a DynamoDB binary attribute).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct RecentEventIds(#[serde(with = "serde_bytes")] Vec<u8>);

impl RecentEventIds {
    pub fn contains(&self, digest: &EventDigest) -> bool {
        self.0
            .chunks_exact(DIGEST_BYTES)
            .any(|known| known == digest.0)
    }

    /// Remembers `digest`, forgetting the oldest beyond the last `capacity`.
    pub fn remember(&mut self, digest: EventDigest, capacity: usize) {
        self.0.extend_from_slice(&digest.0);
        let excess = self.0.len().saturating_sub(capacity * DIGEST_BYTES);
        self.0.drain(..excess);
    }

    pub fn len(&self) -> usize {
        self.0.len() / DIGEST_BYTES
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventDigest([u8; DIGEST_BYTES]);

impl EventDigest {
    pub fn of(event_id: &str) -> Self {
        let hash = Sha256::digest(event_id.as_bytes());
        let mut digest = [0; DIGEST_BYTES];
        digest.copy_from_slice(&hash[..DIGEST_BYTES]);
        Self(digest)
    }
}

/// Whether a record's effect is still to be applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// Neither applied before nor a known event id: apply it, then remember its digest.
    New(EventDigest),
    /// At or below its shard's checkpoint: a Kinesis retry of a record already applied.
    AlreadyApplied,
    /// Its event id was applied before under another record.
    Duplicate,
}

/// Where a record's event id was seen before the batch: `marked` when it is among the event ids
/// applied in the last 24 hours.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Record<'a> {
    pub shard: &'a str,
    pub sequence: &'a SequenceNumber,
    pub event_id: &'a str,
    pub marked: bool,
}

/// Admits `record`: the checkpoint moves past it whatever the verdict, as the record is done
/// with once the item is written.
pub fn admit(
    checkpoints: &mut Checkpoints,
    recent: &RecentEventIds,
    record: Record<'_>,
) -> Admission {
    if checkpoints.covers(record.shard, record.sequence) {
        return Admission::AlreadyApplied;
    }
    checkpoints.advance(record.shard, record.sequence);
    let digest = EventDigest::of(record.event_id);
    if record.marked || recent.contains(&digest) {
        Admission::Duplicate
    } else {
        Admission::New(digest)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seq(value: &str) -> SequenceNumber {
        SequenceNumber::new(value)
    }

    fn admit_at(
        checkpoints: &mut Checkpoints,
        recent: &RecentEventIds,
        shard: &str,
        sequence: &str,
        event_id: &str,
        marked: bool,
    ) -> Admission {
        let sequence = seq(sequence);
        admit(
            checkpoints,
            recent,
            Record {
                shard,
                sequence: &sequence,
                event_id,
                marked,
            },
        )
    }

    #[test]
    fn sequence_numbers_order_as_numbers() {
        assert!(seq("9") < seq("10"));
        assert!(seq("2") < seq("11"), "as strings, \"11\" < \"2\"");
        assert!(
            seq("49590338271490256608559692538361571095921575989136588898")
                < seq("49590338271490256608559692540925702759324208523137515618")
        );
        assert!(seq("100000000000000000000000000000000000000000") > seq("99999"));
        assert_eq!(seq("5").cmp(&seq("5")), Ordering::Equal);
        assert!(seq("007") < seq("8"));
    }

    #[test]
    fn a_redelivered_record_is_covered_by_its_shard_checkpoint() {
        let mut checkpoints = Checkpoints::default();
        let recent = RecentEventIds::default();
        assert!(matches!(
            admit_at(&mut checkpoints, &recent, "s", "3", "a", false),
            Admission::New(_)
        ));
        for sequence in ["1", "3"] {
            assert_eq!(
                admit_at(&mut checkpoints, &recent, "s", sequence, "a", false),
                Admission::AlreadyApplied
            );
        }
        assert!(
            matches!(
                admit_at(&mut checkpoints, &recent, "s", "10", "b", false),
                Admission::New(_)
            ),
            "10 is after 3 as a number"
        );
        assert_eq!(checkpoints.of("s"), Some(&seq("10")));
    }

    #[test]
    fn a_known_event_id_under_a_new_record_is_a_duplicate() {
        let mut checkpoints = Checkpoints::default();
        let mut recent = RecentEventIds::default();
        let Admission::New(digest) = admit_at(&mut checkpoints, &recent, "s", "1", "a", false)
        else {
            panic!("new");
        };
        recent.remember(digest, 4);
        assert_eq!(
            admit_at(&mut checkpoints, &recent, "s", "2", "a", false),
            Admission::Duplicate
        );
        assert_eq!(
            checkpoints.of("s"),
            Some(&seq("2")),
            "the record is done with"
        );
        assert_eq!(
            admit_at(&mut checkpoints, &recent, "other", "1", "a", false),
            Admission::Duplicate,
            "from another shard too"
        );
    }

    #[test]
    fn a_marked_event_id_is_a_duplicate_though_not_remembered_and_a_retry_stays_a_retry() {
        let mut checkpoints = Checkpoints::default();
        let recent = RecentEventIds::default();
        assert_eq!(
            admit_at(&mut checkpoints, &recent, "s", "5", "a", true),
            Admission::Duplicate
        );
        assert_eq!(
            checkpoints.of("s"),
            Some(&seq("5")),
            "the record is done with"
        );
        assert_eq!(
            admit_at(&mut checkpoints, &recent, "s", "5", "a", true),
            Admission::AlreadyApplied,
            "the checkpoint decides first"
        );
        assert!(matches!(
            admit_at(&mut checkpoints, &recent, "s", "6", "b", false),
            Admission::New(_)
        ));
    }

    #[test]
    fn event_ids_are_remembered_up_to_the_capacity() {
        let mut recent = RecentEventIds::default();
        for n in 0..5 {
            recent.remember(EventDigest::of(&format!("e{n}")), 3);
        }
        assert_eq!(recent.len(), 3);
        assert!(!recent.contains(&EventDigest::of("e1")));
        assert!(recent.contains(&EventDigest::of("e2")));
        assert!(recent.contains(&EventDigest::of("e4")));
    }

    #[test]
    fn checkpoints_are_kept_for_a_few_shards() {
        let mut checkpoints = Checkpoints::default();
        for shard in ["s0", "s1", "s2", "s3", "s4"] {
            checkpoints.advance(shard, &seq("5"));
        }
        assert_eq!(checkpoints.len(), CHECKPOINTED_SHARDS);
        assert_eq!(checkpoints.iter().next().unwrap().shard, "s4");
        assert_eq!(checkpoints.of("s0"), None);
    }
}

//! The checkpoint of a state item: the highest sequence number applied from the shard its key's
//! records come from. Kinesis retries a batch from its first failed record; a redelivered record
//! at or below the checkpoint of its shard was applied already. A user's records all come from
//! the shard their partition key (`userId`) maps to, in order, and the item is written once per
//! batch with all of them, so a checkpoint never passes a record that was not applied.
//!
//! After a reshard, a user's records come from a child shard, whose sequence numbers do not
//! compare with the parent's (a child may number from below the parent's last): only a
//! checkpoint of the record's own shard says anything about it. The event source reads a child
//! only once its parents are drained, so once a record of a new shard arrives, no record of the
//! key's earlier shard will come again: its checkpoint is dropped, and an item keeps one
//! checkpoint however often the stream is resharded. (A resend of an event through any shard
//! is caught by its event id, not by checkpoints.)

use std::cmp::Ordering;
use std::fmt;

use serde::{Deserialize, Serialize};

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

/// The highest sequence number applied from the key's shard: a list in the item, of one entry
/// (items written before reshards pruned checkpoints may hold more; the next advance drops them).
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

    /// Whether record `sequence` of `shard` was applied before: only its own shard's checkpoint
    /// can say so.
    pub fn covers(&self, shard: &str, sequence: &SequenceNumber) -> bool {
        self.of(shard).is_some_and(|applied| sequence <= applied)
    }

    /// Moves the checkpoint to record `sequence` of `shard`; the checkpoints of other shards,
    /// drained before this one was read, go.
    pub fn advance(&mut self, shard: &str, sequence: &SequenceNumber) {
        self.0 = vec![Checkpoint {
            shard: shard.to_owned(),
            sequence: sequence.clone(),
        }];
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

#[cfg(test)]
mod tests {
    use super::*;

    fn seq(value: &str) -> SequenceNumber {
        SequenceNumber::new(value)
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
    fn a_checkpoint_covers_its_shards_records_up_to_it() {
        let mut checkpoints = Checkpoints::default();
        assert!(!checkpoints.covers("s", &seq("1")));
        checkpoints.advance("s", &seq("3"));
        assert!(checkpoints.covers("s", &seq("1")));
        assert!(checkpoints.covers("s", &seq("3")));
        assert!(
            !checkpoints.covers("s", &seq("10")),
            "10 is after 3 as a number"
        );
        assert!(!checkpoints.covers("other", &seq("1")));
    }

    #[test]
    fn a_childs_records_are_never_compared_with_the_parents_checkpoint() {
        // The parent was read up to 500; its child numbers from 1 (as the emulator does), and
        // in Kinesis nothing promises a child's numbers start above its parent's last.
        let mut checkpoints = Checkpoints::default();
        checkpoints.advance("parent", &seq("500"));
        let first_of_child = seq("1");
        assert!(
            first_of_child < seq("500"),
            "compared across shards, the child's first record would pass for applied"
        );
        assert!(!checkpoints.covers("child", &first_of_child));
        checkpoints.advance("child", &first_of_child);
        assert!(checkpoints.covers("child", &seq("1")), "its redelivery");
        assert!(!checkpoints.covers("child", &seq("2")));
    }

    #[test]
    fn a_new_shards_checkpoint_replaces_the_drained_ones() {
        let mut checkpoints = Checkpoints::default();
        // Reshard after reshard, the item keeps one checkpoint.
        for (generation, shard) in ["s0", "s1", "s3", "s6", "s9"].iter().enumerate() {
            checkpoints.advance(shard, &seq(&(generation * 100 + 7).to_string()));
            checkpoints.advance(shard, &seq(&(generation * 100 + 9).to_string()));
            assert_eq!(checkpoints.len(), 1);
        }
        assert_eq!(checkpoints.of("s9"), Some(&seq("409")));
        assert_eq!(checkpoints.of("s0"), None);
        // An item written with several checkpoints reads, and sheds them on the next advance.
        let old: Checkpoints = serde_json::from_value(serde_json::json!([
            {"shard": "s1", "sequence": "20"},
            {"shard": "s0", "sequence": "90"}
        ]))
        .unwrap();
        assert!(old.covers("s1", &seq("20")) && old.covers("s0", &seq("90")));
        let mut old = old;
        old.advance("s2", &seq("1"));
        assert_eq!(old.len(), 1);
    }
}

//! Per-shard checkpoints: the highest sequence number applied from each shard. Kinesis retries a
//! batch from its first failed record; a redelivered record at or below the checkpoint of its
//! shard was applied already. A user's records all come from the shard their partition key
//! (`userId`) maps to, in order, and the item is written once per batch with all of them, so a
//! checkpoint never passes a record that was not applied.

use std::cmp::Ordering;
use std::fmt;

use serde::{Deserialize, Serialize};

/// Shards a user's checkpoints are kept for (the current one and parents after resharding).
pub const CHECKPOINTED_SHARDS: usize = 4;

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

//! Kinesis sequence numbers: decimal strings of up to 128 digits, ordered as numbers. They are
//! compared as numbers, never as strings ("9" < "10"), without parsing them into a fixed-width
//! integer that could overflow.

use std::cmp::Ordering;
use std::fmt;

use serde::{Deserialize, Serialize};

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
}

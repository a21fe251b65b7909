//! A check on the event source itself: Lambda keeps each partition key's records in stream order,
//! across concurrent batches of one shard (a parallelization factor above 1) and across a
//! reshard (a parent's records before its children's). Every record the source is done with
//! (processed, or given up) is reported here; one that comes before the last done record of its
//! key, or from a shard that does not descend from that record's shard, is out of order.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use shared::keyed_state::checkpoints::SequenceNumber;

use crate::kinesis_source::lineage::Lineage;

/// Examples kept of what went out of order (the count has them all).
const EXAMPLES: usize = 5;

#[derive(Debug, Default)]
pub struct OrderAudit {
    /// Per partition key, the shard and sequence number of its last record done.
    last: Mutex<HashMap<String, (String, SequenceNumber)>>,
    pub records: AtomicUsize,
    pub out_of_order: AtomicUsize,
    examples: Mutex<Vec<String>>,
}

impl OrderAudit {
    /// Notes that the record `sequence` of `shard`, with `partition_key`, is done.
    pub fn done(&self, lineage: &Lineage, shard: &str, partition_key: &str, sequence: &str) {
        self.records.fetch_add(1, Ordering::Relaxed);
        let sequence = SequenceNumber::new(sequence);
        let mut last = self
            .last
            .lock()
            .expect("the audit's lock is never poisoned");
        let previous = last.insert(
            partition_key.to_owned(),
            (shard.to_owned(), sequence.clone()),
        );
        let Some((previous_shard, previous_sequence)) = previous else {
            return;
        };
        let in_order = if previous_shard == shard {
            previous_sequence < sequence
        } else {
            // Sequence numbers of two shards do not compare; descent orders them.
            lineage.descends_from(shard, &previous_shard)
        };
        if !in_order {
            self.out_of_order.fetch_add(1, Ordering::Relaxed);
            let mut examples = self.examples.lock().expect("never poisoned");
            if examples.len() < EXAMPLES {
                examples.push(format!(
                    "key {partition_key}: {shard}/{sequence} after {previous_shard}/{previous_sequence}"
                ));
            }
        }
    }

    /// A few of the records out of order, if any.
    pub fn examples(&self) -> Vec<String> {
        self.examples.lock().expect("never poisoned").clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kinesis_source::lineage::ShardInfo;

    fn lineage() -> Lineage {
        Lineage::new([
            ShardInfo {
                id: "parent".into(),
                parents: vec![],
                closed: true,
            },
            ShardInfo {
                id: "child".into(),
                parents: vec!["parent".into()],
                closed: false,
            },
            ShardInfo {
                id: "sibling".into(),
                parents: vec!["parent".into()],
                closed: false,
            },
        ])
    }

    #[test]
    fn a_keys_records_in_shard_order_then_into_a_child_are_in_order() {
        let audit = OrderAudit::default();
        let lineage = lineage();
        audit.done(&lineage, "parent", "u1", "9");
        audit.done(&lineage, "parent", "u1", "10");
        audit.done(&lineage, "parent", "u2", "11");
        // A child's numbers start low again; it is later all the same.
        audit.done(&lineage, "child", "u1", "1");
        audit.done(&lineage, "sibling", "u2", "1");
        assert_eq!(audit.out_of_order.load(Ordering::Relaxed), 0);
        assert_eq!(audit.records.load(Ordering::Relaxed), 5);
    }

    #[test]
    fn going_back_in_a_shard_or_to_a_parent_or_across_siblings_is_out_of_order() {
        let audit = OrderAudit::default();
        let lineage = lineage();
        audit.done(&lineage, "parent", "u1", "10");
        audit.done(&lineage, "parent", "u1", "9");
        audit.done(&lineage, "child", "u2", "1");
        audit.done(&lineage, "parent", "u2", "3");
        audit.done(&lineage, "child", "u3", "1");
        audit.done(&lineage, "sibling", "u3", "2");
        assert_eq!(audit.out_of_order.load(Ordering::Relaxed), 3);
        let examples = audit.examples();
        assert_eq!(examples[0], "key u1: parent/9 after parent/10");
        assert_eq!(examples[1], "key u2: parent/3 after child/1");
    }
}

//! Bucketed partial aggregates of one sliding window: per bucket, the events of each type and
//! the purchase amount. Only buckets with events are kept, oldest first, and buckets that no
//! later read can overlap are pruned on every write.

use serde::{Deserialize, Serialize};

use crate::events::ActivityType;

/// Events per type, in the order of [`ActivityType::ALL`], and the purchase amount in
/// ten-thousandths, of one bucket.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Bucket {
    pub index: i64,
    pub counts: [u32; ActivityType::ALL.len()],
    pub purchase_amount: u64,
}

/// A window's non-empty buckets, by index.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Buckets(Vec<Bucket>);

/// What a window holds from a first bucket on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Totals {
    pub counts: [u64; ActivityType::ALL.len()],
    pub purchase_amount: u64,
}

impl Totals {
    pub fn events(&self) -> u64 {
        self.counts.iter().sum()
    }

    pub fn of_type(&self, activity_type: ActivityType) -> u64 {
        self.counts[type_index(activity_type)]
    }
}

pub fn type_index(activity_type: ActivityType) -> usize {
    ActivityType::ALL
        .iter()
        .position(|known| *known == activity_type)
        .expect("every type is in ALL")
}

impl Buckets {
    /// Counts one event of `activity_type` (with `purchase_amount`) in bucket `index`.
    pub fn add(&mut self, index: i64, activity_type: ActivityType, purchase_amount: u64) {
        let position = match self.0.binary_search_by_key(&index, |bucket| bucket.index) {
            Ok(position) => position,
            Err(position) => {
                self.0.insert(
                    position,
                    Bucket {
                        index,
                        ..Bucket::default()
                    },
                );
                position
            }
        };
        let bucket = &mut self.0[position];
        let count = &mut bucket.counts[type_index(activity_type)];
        *count = count.saturating_add(1);
        bucket.purchase_amount = bucket.purchase_amount.saturating_add(purchase_amount);
    }

    /// Drops the buckets before `first`.
    pub fn prune(&mut self, first: i64) {
        let keep_from = self.0.partition_point(|bucket| bucket.index < first);
        self.0.drain(..keep_from);
    }

    /// Sums the buckets from `first` on.
    pub fn totals_from(&self, first: i64) -> Totals {
        let keep_from = self.0.partition_point(|bucket| bucket.index < first);
        let mut totals = Totals::default();
        for bucket in &self.0[keep_from..] {
            for (total, count) in totals.counts.iter_mut().zip(bucket.counts) {
                *total += u64::from(count);
            }
            totals.purchase_amount = totals
                .purchase_amount
                .saturating_add(bucket.purchase_amount);
        }
        totals
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_accumulate_in_their_bucket_and_old_buckets_are_pruned() {
        let mut buckets = Buckets::default();
        buckets.add(7, ActivityType::Click, 0);
        buckets.add(5, ActivityType::Purchase, 12_500);
        buckets.add(7, ActivityType::Click, 0);
        buckets.add(9, ActivityType::View, 0);
        assert_eq!(buckets.len(), 3);
        let all = buckets.totals_from(i64::MIN);
        assert_eq!(all.events(), 4);
        assert_eq!(all.of_type(ActivityType::Click), 2);
        assert_eq!(all.purchase_amount, 12_500);
        let recent = buckets.totals_from(6);
        assert_eq!((recent.events(), recent.purchase_amount), (3, 0));
        buckets.prune(7);
        assert_eq!(buckets.len(), 2);
        assert_eq!(buckets.totals_from(i64::MIN), recent);
    }
}

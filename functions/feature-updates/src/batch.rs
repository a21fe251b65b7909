//! The pure part of a batch: apply one user's records (decoded by [`shared::stream_batch`]),
//! in sequence order, to its feature item. No I/O.

use std::collections::HashSet;

use shared::features::{FeatureItem, RecordOutcome};
use shared::stream_batch::Incoming;

/// The function's name on the rejects it sends.
pub const REJECTED_BY: &str = "feature-updates";

/// What applying one user's records did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct UserOutcome {
    pub applied: usize,
    /// A day or more older than the user's newest event: dropped.
    pub late: usize,
    pub already_applied: usize,
    pub duplicates: usize,
}

impl UserOutcome {
    /// Whether the item must be written: only applied records change what it reads as. A
    /// batch of only retries, duplicates and late records leaves it alone (their verdict is
    /// the same when they come again).
    pub fn changed_item(&self) -> bool {
        self.applied > 0
    }
}

/// Applies `incoming` (one user's, in sequence order) to `item`; `marked` holds the user's
/// event ids applied in the last 24 hours. An id met earlier in the batch counts as marked
/// too, however many records back: the item's recent ids only reach back 100.
pub fn apply_user(
    item: &mut FeatureItem,
    incoming: &[Incoming],
    marked: &HashSet<String>,
) -> UserOutcome {
    let mut outcome = UserOutcome::default();
    let mut met: HashSet<&str> = HashSet::new();
    for record in incoming {
        let event_id = record.event.event_id.as_str();
        let is_marked = !met.insert(event_id) || marked.contains(event_id);
        match item.apply_record(&record.shard, &record.sequence, &record.event, is_marked) {
            RecordOutcome::Applied => outcome.applied += 1,
            RecordOutcome::Late => outcome.late += 1,
            RecordOutcome::AlreadyApplied => outcome.already_applied += 1,
            RecordOutcome::Duplicate => outcome.duplicates += 1,
        }
    }
    outcome
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use shared::events::{ActivityEvent, ActivityType};
    use shared::exactly_once::SequenceNumber;
    use time::macros::datetime;

    use super::*;

    fn incoming(sequence: u64, event_id: &str, hours: i64) -> Incoming {
        Incoming {
            index: 0,
            shard: "s".into(),
            sequence: SequenceNumber::new(sequence.to_string()),
            event: ActivityEvent {
                event_id: event_id.into(),
                user_id: "u".into(),
                activity_type: ActivityType::View,
                timestamp: datetime!(2026-11-23 10:00:00 UTC) + time::Duration::hours(hours),
                item_id: None,
                amount: None,
                attributes: BTreeMap::new(),
            },
        }
    }

    #[test]
    fn only_applied_records_make_a_write() {
        let mut item = FeatureItem::new("u");
        let none = HashSet::new();
        let first = apply_user(
            &mut item,
            &[incoming(1, "a", 30), incoming(2, "b", 0)],
            &none,
        );
        assert_eq!(
            first,
            UserOutcome {
                applied: 1,
                late: 1,
                ..UserOutcome::default()
            }
        );
        assert!(first.changed_item());

        let again = apply_user(
            &mut item,
            &[
                incoming(1, "a", 30),
                incoming(3, "a", 30),
                incoming(4, "c", 1),
            ],
            &none,
        );
        assert_eq!(
            again,
            UserOutcome {
                already_applied: 1,
                duplicates: 1,
                late: 1,
                ..UserOutcome::default()
            }
        );
        assert!(!again.changed_item());
    }

    #[test]
    fn an_event_id_applied_in_the_last_day_is_not_applied_again() {
        let mut item = FeatureItem::new("u");
        let marked = HashSet::from(["a".to_owned()]);
        let outcome = apply_user(
            &mut item,
            &[incoming(1, "a", 0), incoming(2, "b", 0)],
            &marked,
        );
        assert_eq!((outcome.applied, outcome.duplicates), (1, 1));
        let mut only_b = FeatureItem::new("u");
        apply_user(&mut only_b, &[incoming(2, "b", 0)], &HashSet::new());
        let read_at = datetime!(2026-11-23 10:01:00 UTC);
        assert_eq!(
            shared::features::evaluate(Some(&item), read_at),
            shared::features::evaluate(Some(&only_b), read_at),
            "the marked event is not counted"
        );
    }

    #[test]
    fn a_copy_far_behind_its_original_in_one_batch_is_a_duplicate() {
        let mut item = FeatureItem::new("u");
        let mut batch: Vec<Incoming> = (1..=150)
            .map(|n| incoming(n, &format!("e{n}"), 0))
            .collect();
        batch.push(incoming(151, "e1", 0));
        let outcome = apply_user(&mut item, &batch, &HashSet::new());
        assert_eq!((outcome.applied, outcome.duplicates), (150, 1));
    }
}

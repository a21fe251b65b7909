//! The pure part of a batch: apply a user's events (decoded by [`shared::stream_batch`]) to its
//! state, producing the enriched records. No I/O.

use std::collections::HashSet;

use shared::enriched::{EnrichedEvent, ProfileAttributes};
use shared::sinks::StreamRecord;
use shared::stream_batch::Incoming;

use crate::state::{Applied, UserState};

/// The function's name on the rejects it sends.
pub const REJECTED_BY: &str = "stream-enrichment";

/// What applying one user's events did.
#[derive(Debug, Default)]
pub struct UserOutcome {
    /// The enriched records to emit; their origin is the user id.
    pub enriched: Vec<StreamRecord>,
    pub already_applied: usize,
    pub duplicates: usize,
}

impl UserOutcome {
    /// Whether the state changed and must be written: every record but one applied before moves
    /// a checkpoint (a duplicate too), and only those leave the state as it was.
    pub fn changed_state(&self) -> bool {
        !self.enriched.is_empty() || self.duplicates > 0
    }
}

/// Applies `incoming` (one user's, in sequence order) to `state`, enriching each new event
/// with `profile` and its session; `marked` holds the user's event ids applied in the last
/// 24 hours. An id met earlier in the batch counts as marked too, however many records back:
/// the state's recent ids only reach back 32.
pub fn apply_user(
    state: &mut UserState,
    profile: &ProfileAttributes,
    incoming: &[Incoming],
    marked: &HashSet<String>,
) -> UserOutcome {
    let mut outcome = UserOutcome::default();
    let mut met: HashSet<&str> = HashSet::new();
    for record in incoming {
        let event_id = record.event.event_id.as_str();
        let is_marked = !met.insert(event_id) || marked.contains(event_id);
        match state.apply(&record.shard, &record.sequence, &record.event, is_marked) {
            Applied::New(session) => {
                let data = serde_json::to_vec(&EnrichedEvent {
                    event: record.event.clone(),
                    profile: profile.clone(),
                    session,
                })
                .expect("enriched events serialize");
                outcome.enriched.push(StreamRecord {
                    origin: state.user_id.clone(),
                    partition_key: state.user_id.clone(),
                    data,
                });
            }
            Applied::AlreadyApplied => outcome.already_applied += 1,
            Applied::Duplicate => outcome.duplicates += 1,
        }
    }
    outcome
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use shared::events::ActivityType;
    use time::macros::datetime;

    use shared::events::ActivityEvent;
    use shared::exactly_once::SequenceNumber;

    use super::*;

    fn incoming(sequence: u64, event_id: &str) -> Incoming {
        Incoming {
            index: 0,
            shard: "s".into(),
            sequence: SequenceNumber::new(sequence.to_string()),
            event: ActivityEvent {
                event_id: event_id.into(),
                user_id: "u".into(),
                activity_type: ActivityType::View,
                timestamp: datetime!(2026-11-23 10:00:00 UTC),
                item_id: None,
                amount: None,
                attributes: BTreeMap::new(),
            },
        }
    }

    #[test]
    fn the_state_changes_unless_every_record_was_applied_before() {
        let profile = ProfileAttributes::unknown();
        let mut state = UserState::new("u");
        let none = HashSet::new();
        let first = apply_user(&mut state, &profile, &[incoming(1, "a")], &none);
        assert!(first.changed_state());

        let before = state.clone();
        let retried = apply_user(&mut state, &profile, &[incoming(1, "a")], &none);
        assert!(!retried.changed_state());
        assert_eq!(state, before);

        let resent = apply_user(&mut state, &profile, &[incoming(2, "a")], &none);
        assert_eq!((resent.enriched.len(), resent.duplicates), (0, 1));
        assert!(resent.changed_state(), "the checkpoint moved");
        assert_ne!(state, before);
    }

    #[test]
    fn an_event_id_applied_in_the_last_day_is_not_enriched_again() {
        let profile = ProfileAttributes::unknown();
        let mut state = UserState::new("u");
        let marked = HashSet::from(["a".to_owned()]);
        let outcome = apply_user(
            &mut state,
            &profile,
            &[incoming(1, "a"), incoming(2, "b")],
            &marked,
        );
        assert_eq!((outcome.enriched.len(), outcome.duplicates), (1, 1));
        assert_eq!(state.total_events, 1);
    }

    #[test]
    fn a_copy_far_behind_its_original_in_one_batch_is_a_duplicate() {
        let profile = ProfileAttributes::unknown();
        let mut state = UserState::new("u");
        let mut batch: Vec<Incoming> = (1..=40).map(|n| incoming(n, &format!("e{n}"))).collect();
        batch.push(incoming(41, "e1"));
        let outcome = apply_user(&mut state, &profile, &batch, &HashSet::new());
        assert_eq!((outcome.enriched.len(), outcome.duplicates), (40, 1));
        assert_eq!(state.total_events, 40);
    }
}

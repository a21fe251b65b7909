//! The pure step of a batch: one user's records applied, in sequence order, to its state.

use std::collections::HashSet;

use super::decode::Incoming;
use super::memory::{EventDigest, Span};
use super::record::{Outcome, State, Verdict, apply_record};
use super::report::BatchReport;
use crate::features::item::epoch_ms;

/// What applying a user's records did; in the batch's report once the user is done with (not
/// for an attempt that lost a race, nor for records that will be retried).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub applied: usize,
    pub dropped: usize,
    pub already_applied: usize,
    pub duplicates: usize,
    /// Duplicates found by a lookup of spilled ids.
    pub found_spilled: usize,
}

impl Counts {
    pub fn add_to<S>(self, report: &mut BatchReport<S>) {
        report.applied += self.applied;
        report.dropped += self.dropped;
        report.already_applied += self.already_applied;
        report.duplicates += self.duplicates;
        report.found_spilled += self.found_spilled;
    }
}

/// One user's records applied.
#[derive(Debug)]
pub struct UserApplied<O> {
    /// What the applied records emit, in sequence order.
    pub outputs: Vec<O>,
    pub counts: Counts,
    /// The event times of the records applied.
    pub fresh_span: Option<Span>,
}

/// The digests of `incoming`'s event ids, computed once per record.
pub fn digests(incoming: &[Incoming]) -> Vec<EventDigest> {
    incoming
        .iter()
        .map(|record| EventDigest::of(&record.event.event_id))
        .collect()
}

/// Applies `incoming` (one user's, in sequence order; `digests` theirs) to `state` exactly
/// once ([`apply_record`]); `spilled` holds the digests a lookup found among the user's
/// spilled ids, and `apply` is the consumer's rule for a new record.
pub fn apply_records<S: State, O>(
    state: &mut S,
    incoming: &[Incoming],
    digests: &[EventDigest],
    spilled: &HashSet<EventDigest>,
    mut apply: impl FnMut(&mut S, &Incoming) -> Outcome<O>,
) -> UserApplied<O> {
    let mut applied = UserApplied {
        outputs: Vec::new(),
        counts: Counts::default(),
        fresh_span: None,
    };
    for (record, digest) in incoming.iter().zip(digests) {
        let found = spilled.contains(digest);
        let at = epoch_ms(record.event.timestamp);
        let verdict = apply_record(
            state,
            &record.shard,
            &record.sequence,
            *digest,
            at,
            found,
            |state| apply(state, record),
        );
        let counts = &mut applied.counts;
        match verdict {
            Verdict::AlreadyApplied => counts.already_applied += 1,
            Verdict::Duplicate => {
                counts.duplicates += 1;
                counts.found_spilled += usize::from(found);
            }
            Verdict::Dropped => counts.dropped += 1,
            Verdict::Applied(output) => {
                match applied.fresh_span.as_mut() {
                    Some(span) => span.widen(at),
                    None => applied.fresh_span = Some(Span::at(at)),
                }
                applied.outputs.push(output);
                counts.applied += 1;
            }
        }
    }
    applied
}

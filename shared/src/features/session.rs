//! Sessions on event time: a session is a maximal run of a user's events in which consecutive
//! events are less than [`SESSION_GAP_MS`] apart. Events may come in any order: an event joins
//! every session it is within the gap of, merging them when it bridges two.

use serde::{Deserialize, Serialize};

use super::spec::SESSION_GAP_MS;

/// One session: its first and last event times (epoch milliseconds) and its events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Span {
    pub start_ms: i64,
    pub end_ms: i64,
    pub events: u32,
}

/// A user's sessions, disjoint and ordered by start.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Sessions(Vec<Span>);

impl Sessions {
    /// Places an event at `at_ms`.
    pub fn add(&mut self, at_ms: i64) {
        // Spans are disjoint and more than a gap apart, so those within a gap of the event are
        // consecutive: from the first that does not end a gap or more before it...
        let first = self
            .0
            .partition_point(|span| at_ms - span.end_ms >= SESSION_GAP_MS);
        // ...to the last that does not start a gap or more after it.
        let end = self
            .0
            .partition_point(|span| span.start_ms - at_ms < SESSION_GAP_MS);
        let mut merged = Span {
            start_ms: at_ms,
            end_ms: at_ms,
            events: 1,
        };
        for span in self.0.drain(first..end.max(first)) {
            merged.start_ms = merged.start_ms.min(span.start_ms);
            merged.end_ms = merged.end_ms.max(span.end_ms);
            merged.events = merged.events.saturating_add(span.events);
        }
        self.0.insert(first, merged);
    }

    /// Drops the sessions that ended at or before `horizon_ms`.
    pub fn prune(&mut self, horizon_ms: i64) {
        self.0.retain(|span| span.end_ms > horizon_ms);
    }

    /// Events of the session still open at `at_ms` (its last event less than a gap before).
    pub fn current_events(&self, at_ms: i64) -> u32 {
        self.0
            .last()
            .filter(|span| at_ms - span.end_ms < SESSION_GAP_MS)
            .map_or(0, |span| span.events)
    }

    /// Sessions whose first event is after `since_ms`.
    pub fn started_after(&self, since_ms: i64) -> usize {
        self.0
            .iter()
            .filter(|span| span.start_ms > since_ms)
            .count()
    }

    pub fn spans(&self) -> &[Span] {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINUTE: i64 = 60_000;

    fn sessions(minutes: &[i64]) -> Sessions {
        let mut sessions = Sessions::default();
        for minute in minutes {
            sessions.add(minute * MINUTE);
        }
        sessions
    }

    fn shape(sessions: &Sessions) -> Vec<(i64, i64, u32)> {
        sessions
            .spans()
            .iter()
            .map(|s| (s.start_ms / MINUTE, s.end_ms / MINUTE, s.events))
            .collect()
    }

    #[test]
    fn a_gap_of_thirty_minutes_or_more_separates_sessions() {
        assert_eq!(
            shape(&sessions(&[0, 29, 59, 60])),
            [(0, 29, 2), (59, 60, 2)]
        );
    }

    #[test]
    fn late_events_join_extend_or_bridge_sessions() {
        let mut s = sessions(&[0, 50]);
        assert_eq!(s.spans().len(), 2);
        s.add(-20 * MINUTE);
        assert_eq!(shape(&s), [(-20, 0, 2), (50, 50, 1)]);
        s.add(25 * MINUTE);
        assert_eq!(
            shape(&s),
            [(-20, 50, 4)],
            "25 is within 30 of both 0 and 50"
        );
        s.add(200 * MINUTE);
        s.add(120 * MINUTE);
        assert_eq!(shape(&s), [(-20, 50, 4), (120, 120, 1), (200, 200, 1)]);
    }

    #[test]
    fn the_current_session_closes_after_the_gap() {
        let s = sessions(&[0, 10, 20]);
        assert_eq!(s.current_events(49 * MINUTE), 3);
        assert_eq!(s.current_events(50 * MINUTE), 0);
        assert_eq!(s.started_after(-MINUTE), 1);
        assert_eq!(s.started_after(0), 0, "started at 0, not after it");
    }

    #[test]
    fn pruning_keeps_sessions_that_end_after_the_horizon() {
        let mut s = sessions(&[0, 100, 200]);
        s.prune(100 * MINUTE);
        assert_eq!(shape(&s), [(200, 200, 1)]);
    }
}

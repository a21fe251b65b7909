//! A user's activity as training reads it: event times, types and purchase amounts, oldest
//! first. Simulated users and archived users both come as this, so one piece of code turns
//! either into examples.

use shared::events::ActivityType;

/// One event of a user's history.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct UserEvent {
    /// Event time, epoch milliseconds.
    pub at_ms: i64,
    pub activity_type: ActivityType,
    /// Purchases only.
    pub amount: Option<f64>,
}

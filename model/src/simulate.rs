//! Simulated user activity with a known cause of purchases, so a model can learn it and a test
//! can tell whether it did.
//!
//! Each user has a session rate, a propensity to add to cart and a propensity to buy what is in
//! the cart. A session is a run of views, clicks and searches seconds apart; an `add_to_cart` is
//! followed within minutes by a `purchase` with the user's buying propensity. So what predicts
//! a purchase in the next 30 minutes is visible in the features: being in a session, recent
//! carts, and a history of buying.
//!
//! Every user is generated from its own random stream (seed and index), so a population is the
//! same whatever order or subset of it is generated.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use shared::events::ActivityType;

use crate::history::UserEvent;

const MINUTE_MS: i64 = 60_000;
const DAY_MS: i64 = 24 * 60 * MINUTE_MS;

/// A simulated user's events, oldest first.
#[derive(Debug, Clone, PartialEq)]
pub struct SimUser {
    pub index: usize,
    pub events: Vec<UserEvent>,
}

/// The random stream of user `index` of the population seeded `seed`.
pub fn user_rng(seed: u64, index: usize, stream: u64) -> StdRng {
    let mixed = seed
        ^ (index as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15)
        ^ stream.wrapping_mul(0xC2B2_AE3D_27D4_EB4F);
    StdRng::seed_from_u64(mixed)
}

/// User `index`'s events over `days` days from `start_ms`.
pub fn simulate_user(seed: u64, index: usize, start_ms: i64, days: u32) -> SimUser {
    let mut rng = user_rng(seed, index, 0);
    // Sessions per day: log-normal around 3, so some users are rare and some constant.
    let sessions_per_day = (3.0_f64.ln() + 0.9 * normal(&mut rng))
        .exp()
        .clamp(0.1, 30.0);
    let cart_rate = logistic(-2.2 + 0.9 * normal(&mut rng));
    let buy_rate = logistic(-0.6 + 1.4 * normal(&mut rng));
    let end_ms = start_ms + i64::from(days) * DAY_MS;
    let mut events = Vec::new();
    let mut at = start_ms as f64 + exponential(&mut rng, sessions_per_day / DAY_MS as f64);
    while (at as i64) < end_ms {
        session(&mut rng, at as i64, cart_rate, buy_rate, &mut events);
        at += exponential(&mut rng, sessions_per_day / DAY_MS as f64);
    }
    events.retain(|event| event.at_ms < end_ms);
    events.sort_by_key(|event| event.at_ms);
    SimUser { index, events }
}

fn session(rng: &mut StdRng, start: i64, cart_rate: f64, buy_rate: f64, out: &mut Vec<UserEvent>) {
    let length = 1 + geometric(rng, 1.0 / 7.0);
    let mut at = start;
    let first = if rng.random_bool(0.3) {
        ActivityType::Login
    } else {
        ActivityType::View
    };
    out.push(event(at, first, None));
    for _ in 1..length {
        // Seconds to a few minutes apart: well inside the 30-minute session gap.
        at += (exponential(rng, 1.0 / 40_000.0) as i64).clamp(1_000, 10 * MINUTE_MS);
        let draw: f64 = rng.random();
        let activity_type = if draw < cart_rate {
            ActivityType::AddToCart
        } else if draw < cart_rate + (1.0 - cart_rate) * 0.45 {
            ActivityType::View
        } else if draw < cart_rate + (1.0 - cart_rate) * 0.8 {
            ActivityType::Click
        } else {
            ActivityType::Search
        };
        out.push(event(at, activity_type, None));
        if activity_type == ActivityType::AddToCart && rng.random_bool(buy_rate) {
            at += (exponential(rng, 1.0 / (3.0 * MINUTE_MS as f64)) as i64)
                .clamp(5_000, 25 * MINUTE_MS);
            let amount = (20.0_f64.ln() + 0.8 * normal(rng)).exp();
            out.push(event(
                at,
                ActivityType::Purchase,
                Some((amount * 100.0).round() / 100.0),
            ));
        }
    }
}

fn event(at_ms: i64, activity_type: ActivityType, amount: Option<f64>) -> UserEvent {
    UserEvent {
        at_ms,
        activity_type,
        amount,
    }
}

fn logistic(z: f64) -> f64 {
    1.0 / (1.0 + (-z).exp())
}

/// A standard normal draw (Box–Muller).
fn normal(rng: &mut StdRng) -> f64 {
    let u: f64 = 1.0 - rng.random::<f64>();
    let v: f64 = rng.random();
    (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
}

/// An exponential draw with rate `rate` (mean `1 / rate`).
fn exponential(rng: &mut StdRng, rate: f64) -> f64 {
    -(1.0 - rng.random::<f64>()).ln() / rate
}

/// Failures before the first success, success probability `p`.
fn geometric(rng: &mut StdRng, p: f64) -> usize {
    (exponential(rng, -(1.0 - p).ln())).floor() as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_user_is_the_same_whatever_else_is_generated() {
        let alone = simulate_user(7, 3, 0, 2);
        let _ = simulate_user(7, 2, 0, 2);
        assert_eq!(simulate_user(7, 3, 0, 2), alone);
        assert_ne!(simulate_user(8, 3, 0, 2), alone);
    }

    #[test]
    fn events_are_ordered_inside_the_period_and_purchases_follow_carts() {
        let mut purchases = 0;
        for index in 0..200 {
            let user = simulate_user(1, index, 1_000, 2);
            assert!(user.events.is_sorted_by_key(|event| event.at_ms));
            assert!(
                user.events
                    .iter()
                    .all(|e| e.at_ms >= 1_000 && e.at_ms < 1_000 + 2 * DAY_MS)
            );
            for (position, event) in user.events.iter().enumerate() {
                if event.activity_type == ActivityType::Purchase {
                    purchases += 1;
                    assert!(event.amount.is_some_and(|amount| amount > 0.0));
                    let cart_before = user.events[..position]
                        .iter()
                        .rev()
                        .take_while(|e| event.at_ms - e.at_ms <= 25 * MINUTE_MS)
                        .any(|e| e.activity_type == ActivityType::AddToCart);
                    assert!(cart_before, "a purchase without a cart before it");
                } else {
                    assert_eq!(event.amount, None);
                }
            }
        }
        assert!(
            purchases > 50,
            "{purchases} purchases: too few to learn from"
        );
    }
}

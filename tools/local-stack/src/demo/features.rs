//! The feature part of the pipeline demo: a few users with activity spread over the last two
//! hours (three sessions, every window, a purchase, published out of order) go through the
//! whole pipeline into the feature store; their stored features, evaluated at one read time,
//! must equal a reference computed here from the generated events by brute force.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::types::AttributeValue;
use serde_json::{Value, json};
use shared::events::ActivityType;
use shared::features::spec::{
    AMOUNT_SCALE, FeatureKind, MAX_SECONDS_SINCE_LAST_EVENT, NO_EVENT_TYPE, OPEN_CART_HORIZON_MS,
    SESSION_GAP_MS, WINDOWS,
};
use shared::features::{FeatureItem, FeatureValue, SpecVersion, evaluate};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use emulator::resources::Clients;

/// Seconds before the demo's start of each feature user's events, in the order published.
const SECONDS_AGO: [i64; 8] = [600, 7_200, 30, 2_900, 250, 7_100, 120, 3_000];

/// One generated event of a feature user.
#[derive(Debug, Clone)]
pub struct GeneratedEvent {
    pub user_id: String,
    pub activity_type: ActivityType,
    pub at: OffsetDateTime,
    pub amount: Option<f64>,
}

/// The `user_activity` details of `users` feature users of run `run_id`, and the events.
pub fn generate(
    run_id: &str,
    users: usize,
    now: OffsetDateTime,
) -> (Vec<Value>, Vec<GeneratedEvent>) {
    let mut details = Vec::new();
    let mut events = Vec::new();
    for user in 0..users {
        let user_id = format!("demo-features-{run_id}-{user}");
        for (n, seconds_ago) in SECONDS_AGO.iter().enumerate() {
            let activity_type = ActivityType::ALL[(n + user) % ActivityType::ALL.len()];
            let at = now - time::Duration::seconds(*seconds_ago);
            let amount =
                (activity_type == ActivityType::Purchase).then_some(19.99 * (user + 1) as f64);
            let mut detail = json!({"eventId": format!("{run_id}-f-{user}-{n}"), "userId": user_id,
                "type": activity_type, "timestamp": at.format(&Rfc3339).unwrap()});
            if let Some(amount) = amount {
                detail["amount"] = json!(amount);
            }
            details.push(detail);
            events.push(GeneratedEvent {
                user_id: user_id.clone(),
                activity_type,
                at,
                amount,
            });
        }
    }
    (details, events)
}

/// One user's features next to the reference.
#[derive(Debug)]
pub struct FeatureCheck {
    pub user_id: String,
    /// Events the stored item counts over its whole history, and the user's events.
    pub stored_events: u64,
    pub expected_events: u64,
    /// (name, stored, reference) of every feature.
    pub values: Vec<(&'static str, FeatureValue, FeatureValue)>,
}

impl FeatureCheck {
    pub fn mismatches(&self) -> Vec<String> {
        self.values
            .iter()
            .filter(|(_, stored, reference)| stored != reference)
            .map(|(name, stored, reference)| {
                format!("{name} {} (reference {})", show(stored), show(reference))
            })
            .collect()
    }

    /// The features worth showing, as `name stored (reference)`.
    pub fn summary(&self) -> String {
        const SHOWN: [&str; 8] = [
            "event_count_5m",
            "event_count_1h",
            "event_count_24h",
            "purchase_amount_24h",
            "seconds_since_last_event",
            "last_event_type",
            "session_event_count",
            "sessions_started_24h",
        ];
        self.values
            .iter()
            .filter(|(name, _, _)| SHOWN.contains(name))
            .map(|(name, stored, reference)| {
                format!("{name} {} ({})", show(stored), show(reference))
            })
            .collect::<Vec<_>>()
            .join(", ")
    }
}

fn show(value: &FeatureValue) -> String {
    match value {
        FeatureValue::Integer(value) => value.to_string(),
        FeatureValue::Decimal(value) => format!("{value:.2}"),
        FeatureValue::Category(value) => (*value).to_owned(),
    }
}

/// Waits until every feature user's item holds all its events (or `timeout`), then evaluates
/// the items and the reference at one read time.
pub async fn check(
    clients: &Clients,
    table: &str,
    events: &[GeneratedEvent],
    timeout: Duration,
) -> Result<Vec<FeatureCheck>, String> {
    let deadline = Instant::now() + timeout;
    for user_id in users_of(events) {
        let expected = events.iter().filter(|e| e.user_id == user_id).count() as u64;
        loop {
            let item = read_item(clients, table, user_id).await?;
            if stored_events(item.as_ref()) >= expected || Instant::now() > deadline {
                break;
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }
    compare(clients, table, events).await
}

/// Reads every user's item now and evaluates it and the reference at one read time.
pub async fn compare(
    clients: &Clients,
    table: &str,
    events: &[GeneratedEvent],
) -> Result<Vec<FeatureCheck>, String> {
    let users = users_of(events);
    let mut items = Vec::new();
    for user_id in &users {
        items.push(read_item(clients, table, user_id).await?);
    }
    let read_at = OffsetDateTime::now_utc();
    users
        .iter()
        .zip(items)
        .map(|(user_id, item)| {
            let stored = evaluate(item.as_ref(), read_at, SpecVersion::LATEST)
                .map_err(|error| error.to_string())?;
            let own: Vec<&GeneratedEvent> =
                events.iter().filter(|e| e.user_id == *user_id).collect();
            let reference = reference(&own, read_at);
            Ok(FeatureCheck {
                user_id: (*user_id).to_owned(),
                stored_events: stored_events(item.as_ref()),
                expected_events: own.len() as u64,
                values: stored
                    .iter()
                    .zip(reference)
                    .map(|((name, stored), reference)| (name, stored.clone(), reference))
                    .collect(),
            })
        })
        .collect()
}

/// Events counted in an item's longest window: its whole history, for events under a day old.
pub fn stored_events(item: Option<&FeatureItem>) -> u64 {
    item.map_or(0, |item| {
        item.windows[WINDOWS.len() - 1]
            .totals_from(i64::MIN)
            .events()
    })
}

/// The users of `events`, in the order they first appear.
pub fn users_of(events: &[GeneratedEvent]) -> Vec<&str> {
    let mut users: Vec<&str> = Vec::new();
    for event in events {
        if !users.contains(&event.user_id.as_str()) {
            users.push(&event.user_id);
        }
    }
    users
}

pub async fn read_item(
    clients: &Clients,
    table: &str,
    user_id: &str,
) -> Result<Option<FeatureItem>, String> {
    read_user_item(clients, table, user_id, "features")
        .await?
        .map(serde_dynamo::from_item)
        .transpose()
        .map_err(|error| format!("the features item of {user_id} does not parse: {error}"))
}

/// The item of `user_id` in `table` (keyed by `userId`), read strongly consistent; `what`
/// names the item in the error.
pub async fn read_user_item(
    clients: &Clients,
    table: &str,
    user_id: &str,
    what: &str,
) -> Result<Option<HashMap<String, AttributeValue>>, String> {
    let output = clients
        .dynamodb
        .get_item()
        .table_name(table)
        .key("userId", AttributeValue::S(user_id.to_owned()))
        .consistent_read(true)
        .send()
        .await
        .map_err(|error| {
            format!(
                "reading the {what} of {user_id}: {}",
                aws_sdk_dynamodb::error::DisplayErrorContext(error)
            )
        })?;
    Ok(output.item)
}

/// The spec's features of `events` at `read_at`, by brute force over the events: a window
/// counts the events whose bucket overlaps it, sessions are runs of events less than the gap
/// apart.
fn reference(events: &[&GeneratedEvent], read_at: OffsetDateTime) -> Vec<FeatureValue> {
    let ms = |at: OffsetDateTime| (at.unix_timestamp_nanos() / 1_000_000) as i64;
    let newest = events.iter().max_by_key(|e| e.at);
    let read_ms = ms(read_at).max(newest.map_or(i64::MIN, |e| ms(e.at)));
    let in_window = |event: &&&GeneratedEvent, window: usize| {
        let spec = WINDOWS[window];
        ms(event.at) <= read_ms && spec.bucket_of(ms(event.at)) >= spec.first_bucket(read_ms)
    };
    let mut times: Vec<i64> = events.iter().map(|e| ms(e.at)).collect();
    times.sort_unstable();
    let mut sessions: Vec<(i64, i64, u64)> = Vec::new();
    for t in times {
        match sessions.last_mut() {
            Some(last) if t - last.1 < SESSION_GAP_MS => {
                last.1 = t;
                last.2 += 1;
            }
            _ => sessions.push((t, t, 1)),
        }
    }
    let newest_of = |wanted: ActivityType| {
        events
            .iter()
            .filter(|e| e.activity_type == wanted)
            .map(|e| ms(e.at))
            .max()
    };
    let open_cart_ms = match (
        newest_of(ActivityType::AddToCart),
        newest_of(ActivityType::Purchase),
    ) {
        (Some(cart), purchase)
            if purchase.is_none_or(|p| p < cart) && read_ms - cart < OPEN_CART_HORIZON_MS =>
        {
            read_ms - cart
        }
        _ => OPEN_CART_HORIZON_MS,
    };
    SpecVersion::LATEST
        .definitions()
        .iter()
        .map(|definition| match definition.kind {
            FeatureKind::Count {
                window,
                activity_type,
            } => FeatureValue::Integer(
                events
                    .iter()
                    .filter(|e| in_window(e, window))
                    .filter(|e| activity_type.is_none_or(|wanted| e.activity_type == wanted))
                    .count() as u64,
            ),
            FeatureKind::PurchaseAmount { window } => FeatureValue::Decimal(
                events
                    .iter()
                    .filter(|e| in_window(e, window) && e.activity_type == ActivityType::Purchase)
                    .map(|e| (e.amount.unwrap_or_default() * AMOUNT_SCALE).round() as u64)
                    .sum::<u64>() as f64
                    / AMOUNT_SCALE,
            ),
            FeatureKind::SecondsSinceLastEvent => {
                FeatureValue::Integer(newest.map_or(MAX_SECONDS_SINCE_LAST_EVENT, |e| {
                    (((read_ms - ms(e.at)) / 1_000) as u64).min(MAX_SECONDS_SINCE_LAST_EVENT)
                }))
            }
            FeatureKind::LastEventType => {
                FeatureValue::Category(newest.map_or(NO_EVENT_TYPE, |e| e.activity_type.as_str()))
            }
            FeatureKind::SessionEventCount => FeatureValue::Integer(
                sessions
                    .last()
                    .filter(|s| read_ms - s.1 < SESSION_GAP_MS)
                    .map_or(0, |s| s.2),
            ),
            FeatureKind::SessionsStarted { window } => FeatureValue::Integer(
                sessions
                    .iter()
                    .filter(|s| s.0 > read_ms - WINDOWS[window].length_ms)
                    .count() as u64,
            ),
            FeatureKind::SecondsSinceOpenCart => {
                FeatureValue::Integer((open_cart_ms / 1_000) as u64)
            }
        })
        .collect()
}

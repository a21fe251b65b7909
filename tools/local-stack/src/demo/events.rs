//! The pipeline part of the demo: producers publish user activity and orders (and some events
//! that can never be processed) to the event bus; the rule delivers them to the ingest queue,
//! the event source mapping hands them to event-router, which routes them; the Kinesis mapping
//! hands the activity stream to stream-enrichment. The demo waits for the outcome and checks
//! it: every activity and every order (as a purchase) on the activity stream and, enriched with
//! its user's profile (every other demo user has one, seeded first) and session, on the
//! enriched stream; every order on the orders queue; every bad event on the rejects queue; and
//! the feature users' stored features equal to a reference computed from their events
//! ([`crate::demo::features`]).

use std::time::{Duration, Instant};

use std::collections::BTreeSet;

use aws_sdk_eventbridge::types::PutEventsRequestEntry;
use aws_sdk_sqs::types::QueueAttributeName;
use serde_json::{Value, json};
use shared::enriched::{EnrichedEvent, Profile};
use shared::events::ActivityType;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::demo::features::{self, FeatureCheck};
use crate::report::render_verdict;
use emulator::resources::{Clients, Resources};

/// How long the demo waits for the pipeline to settle.
const SETTLE_TIMEOUT: Duration = Duration::from_secs(60);

#[derive(Debug, Clone, Copy)]
pub struct EventsOptions {
    pub users: usize,
    pub activities_per_user: usize,
    pub orders_per_user: usize,
    /// Events that break their schema or are too old, all told.
    pub invalid: usize,
    /// Users whose stored features are checked against a reference (8 events each, over the
    /// last two hours).
    pub feature_users: usize,
}

#[derive(Debug, Default)]
pub struct EventsReport {
    pub published: usize,
    pub activities: usize,
    pub orders: usize,
    pub invalid: usize,
    /// Distinct events of this run on the activity stream.
    pub on_stream: usize,
    /// Records on the activity stream beyond one per event: SQS delivers at least once, so
    /// event-router may put a redelivered message's record twice; downstream absorbs it by
    /// eventId (the enriched stream has each event once).
    pub stream_duplicates: usize,
    pub enriched: usize,
    /// Sessions the run's enriched events belong to.
    pub sessions: usize,
    /// Enriched events of users with a profile, and without one (`unknown`).
    pub with_profile: usize,
    pub without_profile: usize,
    pub orders_queued: usize,
    pub rejected: usize,
    /// The feature users' stored features next to the reference.
    pub features: Vec<FeatureCheck>,
    pub elapsed: Duration,
    pub failures: Vec<String>,
}

impl EventsReport {
    pub fn passed(&self) -> bool {
        self.failures.is_empty() && self.published > 0
    }

    pub fn render(&self) -> String {
        let mut out = format!(
            "pipeline summary\n  published {} events to the bus: {} activity, {} orders, {} invalid\n  \
             routed in {:.2} s: {} events on the activity stream (expected {}; {} duplicate deliveries), {} orders queued (expected {}), \
             {} rejected with reasons (expected {})\n  \
             enriched: {} records on the enriched stream (expected {}) in {} sessions; {} joined with a profile, {} without (unknown)\n",
            self.published,
            self.activities,
            self.orders,
            self.invalid,
            self.elapsed.as_secs_f64(),
            self.on_stream,
            self.activities + self.orders,
            self.stream_duplicates,
            self.orders_queued,
            self.orders,
            self.rejected,
            self.invalid,
            self.enriched,
            self.activities + self.orders,
            self.sessions,
            self.with_profile,
            self.without_profile,
        );
        if !self.features.is_empty() {
            let matching = self
                .features
                .iter()
                .filter(|check| check.mismatches().is_empty())
                .count();
            out.push_str(&format!(
                "  features: {matching} of {} users' stored features equal the reference computed from their events (stored (reference)):
",
                self.features.len()
            ));
            for check in &self.features {
                out.push_str(&format!("    {}: {}\n", check.user_id, check.summary()));
            }
        }
        for failure in &self.failures {
            out.push_str(&format!("    FAILED {failure}\n"));
        }
        render_verdict(&mut out, "pipeline", self.passed());
        out
    }
}

/// Publishes the demo events and checks where they end up. The demo users' profiles must be
/// seeded first ([`seed_profiles`], as `up` does at start): the check of the profile joins
/// expects them.
pub async fn run(clients: &Clients, resources: &Resources, options: EventsOptions) -> EventsReport {
    let started = Instant::now();
    let mut report = EventsReport::default();
    let (Some(bus), Some(stream), Some(enriched_stream), Some(orders), Some(rejects)) = (
        resources.event_buses.values().next(),
        resources.streams.get("activity"),
        resources.streams.get("enriched"),
        resources.queues.get("orders"),
        resources.queues.get("rejects"),
    ) else {
        report.failures.push(
            "the stack has no event bus, activity or enriched stream, orders or rejects queue"
                .into(),
        );
        return report;
    };
    let run_id = ulid::Ulid::new().to_string().to_lowercase();
    let now = OffsetDateTime::now_utc();
    let at = |seconds_ago: i64| {
        (now - time::Duration::seconds(seconds_ago))
            .format(&Rfc3339)
            .unwrap()
    };
    let orders_before = queue_depth(clients, &orders.url).await;
    let rejects_before = queue_depth(clients, &rejects.url).await;

    let mut entries: Vec<(String, Value)> = Vec::new();
    for user in 0..options.users {
        let user_id = demo_user(user);
        for n in 0..options.activities_per_user {
            let activity_type = ActivityType::ALL[n % ActivityType::ALL.len()];
            entries.push((
                "user_activity".into(),
                json!({"eventId": format!("{run_id}-a-{user}-{n}"), "userId": user_id,
                       "type": activity_type, "timestamp": at(60 - n as i64), "itemId": format!("sku-{}", n % 7)}),
            ));
        }
        for n in 0..options.orders_per_user {
            entries.push((
                "order_placed".into(),
                json!({"eventId": format!("{run_id}-o-{user}-{n}"), "orderId": format!("{run_id}-order-{user}-{n}"),
                       "userId": user_id, "amount": 12.5 * (n + 1) as f64, "currency": "EUR",
                       "items": [{"itemId": "sku-1", "quantity": n + 1, "price": 12.5}]}),
            ));
        }
    }
    for n in 0..options.invalid {
        let detail = if n % 2 == 0 {
            json!({"eventId": format!("{run_id}-bad-{n}"), "userId": "demo-bad", "type": "teleport", "timestamp": at(5)})
        } else {
            json!({"eventId": format!("{run_id}-old-{n}"), "userId": "demo-bad", "type": "view", "timestamp": "2020-01-01T00:00:00Z"})
        };
        entries.push(("user_activity".into(), detail));
    }
    let (feature_details, feature_events) = features::generate(&run_id, options.feature_users, now);
    entries.extend(
        feature_details
            .into_iter()
            .map(|detail| ("user_activity".to_owned(), detail)),
    );
    report.activities = options.users * options.activities_per_user + feature_events.len();
    report.orders = options.users * options.orders_per_user;
    report.invalid = options.invalid;

    let (published, failures) = publish(clients, bus, &entries).await;
    report.published = published;
    report.failures.extend(failures);

    let expected_stream = report.activities + report.orders;
    let deadline = Instant::now() + SETTLE_TIMEOUT;
    let mut enriched: Vec<EnrichedEvent>;
    loop {
        // Only this run's events count, so earlier runs on a shared emulator do not.
        let records = run_records::<Value>(clients, stream, &run_id).await;
        let distinct: BTreeSet<String> = records
            .iter()
            .filter_map(|record| record["eventId"].as_str().map(str::to_owned))
            .collect();
        report.on_stream = distinct.len();
        report.stream_duplicates = records.len() - distinct.len();
        enriched = run_records(clients, enriched_stream, &run_id).await;
        report.enriched = enriched.len();
        report.orders_queued = queue_depth(clients, &orders.url)
            .await
            .saturating_sub(orders_before);
        report.rejected = queue_depth(clients, &rejects.url)
            .await
            .saturating_sub(rejects_before);
        let settled = report.on_stream >= expected_stream
            && report.enriched >= expected_stream
            && report.orders_queued >= report.orders
            && report.rejected >= report.invalid;
        if settled || Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    report.sessions = enriched
        .iter()
        .map(|event| event.session.id.as_str())
        .collect::<BTreeSet<_>>()
        .len();
    report.with_profile = enriched.iter().filter(|e| e.profile.found).count();
    report.without_profile = report.enriched - report.with_profile;
    let mislabeled = enriched
        .iter()
        .filter(|e| e.profile.found != has_profile(&e.event.user_id))
        .count();
    if !feature_events.is_empty() {
        match resources.tables.get("features") {
            Some(table) => {
                let left = deadline.saturating_duration_since(Instant::now());
                match features::check(clients, table, &feature_events, left).await {
                    Ok(checks) => {
                        for check in &checks {
                            for mismatch in check.mismatches() {
                                report
                                    .failures
                                    .push(format!("features of {}: {mismatch}", check.user_id));
                            }
                        }
                        report.features = checks;
                    }
                    Err(error) => report.failures.push(format!("features: {error}")),
                }
            }
            None => report
                .failures
                .push("the stack has no features table".into()),
        }
    }
    report.elapsed = started.elapsed();
    let mut check = |ok: bool, what: String| {
        if !ok {
            report.failures.push(what);
        }
    };
    check(
        report.on_stream == expected_stream,
        format!(
            "activity stream: {} distinct events of this run, expected {expected_stream}",
            report.on_stream
        ),
    );
    check(
        report.enriched == expected_stream,
        format!(
            "enriched stream: {} records of this run, expected {expected_stream}",
            report.enriched
        ),
    );
    check(
        mislabeled == 0,
        format!("enriched stream: {mislabeled} events joined with the wrong profile"),
    );
    check(
        report.orders_queued == report.orders,
        format!(
            "orders queue: {} new messages, expected {}",
            report.orders_queued, report.orders
        ),
    );
    // Rejects are sent at least once: an invalid message SQS delivers again is rejected again.
    // None may be missing.
    check(
        report.rejected >= report.invalid,
        format!(
            "rejects queue: {} new messages, expected at least {}",
            report.rejected, report.invalid
        ),
    );
    report
}

/// Records on `stream` whose eventId belongs to this run (none while it cannot be read).
async fn run_records<T: serde::de::DeserializeOwned>(
    clients: &Clients,
    stream: &str,
    run_id: &str,
) -> Vec<T> {
    let records = testkit::stream_reader::read_all(&clients.kinesis, stream)
        .await
        .unwrap_or_default();
    records
        .iter()
        .filter_map(|record| {
            let value: Value = serde_json::from_slice(record.data().as_ref()).ok()?;
            if !value["eventId"].as_str()?.starts_with(run_id) {
                return None;
            }
            serde_json::from_value(value).ok()
        })
        .collect()
}

/// The id of demo user `user`.
/// Publishes `entries` (detail type, detail) to `bus` as the demo's producer, 10 per PutEvents
/// call (its limit), one call at a time (the order of the entries is the order they are
/// published in; calls side by side were slower against the emulator, not faster): how many
/// the bus accepted, and what went wrong with the others.
pub async fn publish(
    clients: &Clients,
    bus: &str,
    entries: &[(String, Value)],
) -> (usize, Vec<String>) {
    let mut published = 0;
    let mut failures = Vec::new();
    for chunk in entries.chunks(10) {
        let mut request = clients.eventbridge.put_events();
        for (detail_type, detail) in chunk {
            request = request.entries(
                PutEventsRequestEntry::builder()
                    .event_bus_name(bus)
                    .source("demo.shop")
                    .detail_type(detail_type)
                    .detail(detail.to_string())
                    .build(),
            );
        }
        match request.send().await {
            Ok(output) if output.failed_entry_count() == 0 => published += chunk.len(),
            Ok(output) => failures.push(format!(
                "PutEvents refused {} entries",
                output.failed_entry_count()
            )),
            Err(error) => failures.push(format!(
                "PutEvents: {}",
                aws_sdk_eventbridge::error::DisplayErrorContext(error)
            )),
        }
    }
    (published, failures)
}

pub fn demo_user(user: usize) -> String {
    format!("demo-user-{user:02}")
}

/// Every other demo user has a profile; the rest enrich as `unknown`.
fn has_profile(user_id: &str) -> bool {
    user_id
        .strip_prefix("demo-user-")
        .and_then(|n| n.parse::<usize>().ok())
        .is_some_and(|n| n % 2 == 0)
}

const SEGMENTS: [&str; 3] = ["frequent", "new", "dormant"];
const COUNTRIES: [&str; 4] = ["DE", "US", "FR", "JP"];

/// Writes the profiles of the demo users that have one.
pub async fn seed_profiles(clients: &Clients, table: &str, users: usize) -> Result<(), String> {
    for user in (0..users).filter(|user| has_profile(&demo_user(*user))) {
        let profile = Profile {
            user_id: demo_user(user),
            segment: Some(SEGMENTS[user % SEGMENTS.len()].to_owned()),
            country: Some(COUNTRIES[user % COUNTRIES.len()].to_owned()),
            plan: Some(if user % 4 == 0 { "pro" } else { "free" }.to_owned()),
            signup_time: OffsetDateTime::from_unix_timestamp(1_700_000_000 + user as i64 * 86_400)
                .ok(),
        };
        let item = serde_dynamo::to_item(&profile).map_err(|error| error.to_string())?;
        clients
            .dynamodb
            .put_item()
            .table_name(table)
            .set_item(Some(item))
            .send()
            .await
            .map_err(|error| {
                format!(
                    "seeding profile {}: {}",
                    profile.user_id,
                    aws_sdk_dynamodb::error::DisplayErrorContext(error)
                )
            })?;
    }
    Ok(())
}

async fn queue_depth(clients: &Clients, url: &str) -> usize {
    queue_messages(
        clients,
        url,
        &[QueueAttributeName::ApproximateNumberOfMessages],
    )
    .await
}

/// The sum of the queue's `counts` (approximate numbers of messages visible, in flight,
/// delayed); 0 while the queue cannot be read.
pub async fn queue_messages(clients: &Clients, url: &str, counts: &[QueueAttributeName]) -> usize {
    let Ok(output) = clients
        .sqs
        .get_queue_attributes()
        .queue_url(url)
        .set_attribute_names(Some(counts.to_vec()))
        .send()
        .await
    else {
        return 0;
    };
    counts
        .iter()
        .filter_map(|count| output.attributes()?.get(count)?.parse::<usize>().ok())
        .sum()
}

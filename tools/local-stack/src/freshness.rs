//! Freshness through the local stack, under load: how long an event takes from its PutEvents to
//! the moment `POST /predict` answers with its effect. While a background workload publishes
//! other users' events at a steady rate, each probe publishes one event of a user never seen
//! and asks for that user's prediction until its features count the event (`featuresFound` and
//! `event_count_5m` of 1), then notes the time. What AWS would take is modelled by the cost
//! report (`tools/perf/freshness.py`); this is what the local stack takes, emulator and all.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use emulator::http_client::HttpClient;
use emulator::resources::Clients;
use emulator::token;
use hyper::Method;
use serde_json::{Value, json};
use shared::events::ActivityType;
use time::OffsetDateTime;

use crate::demo::features::GeneratedEvent;
use crate::reliability::fault_workloads::{detail_of, publish_details};
use crate::report::{percentile, render_verdict};

#[derive(Debug, Clone)]
pub struct FreshnessOptions {
    /// Probes, and how many run at once.
    pub probes: usize,
    pub concurrency: usize,
    /// Background events a second, over this many users.
    pub background_rate: f64,
    pub background_users: usize,
    /// How often a probe asks for its prediction, and how long it waits at most.
    pub poll: Duration,
    pub timeout: Duration,
}

#[derive(Debug, Default)]
pub struct FreshnessReport {
    /// Publish-to-visible time of each probe that saw its event.
    pub latencies: Vec<Duration>,
    /// Probes that did not see their event within the timeout, or failed.
    pub failures: Vec<String>,
    pub background_published: usize,
    pub background_seconds: f64,
    pub profile: Option<String>,
}

impl FreshnessReport {
    pub fn passed(&self) -> bool {
        self.failures.is_empty() && !self.latencies.is_empty()
    }

    /// The `percent` percentile (nearest rank) of the latencies; none without any.
    pub fn percentile(&self, percent: usize) -> Option<Duration> {
        (!self.latencies.is_empty()).then(|| percentile(&self.latencies, percent))
    }

    pub fn render(&self) -> String {
        let ms = |value: Option<Duration>| {
            value.map_or("-".to_owned(), |v| {
                format!("{:.0}", v.as_secs_f64() * 1000.0)
            })
        };
        let mut out = format!(
            "freshness summary ({})\n",
            self.profile
                .as_deref()
                .map_or("the manifest as it is".to_owned(), |p| format!(
                    "profile {p}"
                ))
        );
        out.push_str(&format!(
            "  background: {} events in {:.1} s ({:.1} a second)\n",
            self.background_published,
            self.background_seconds,
            self.background_published as f64 / self.background_seconds.max(f64::EPSILON)
        ));
        out.push_str(&format!(
            "  {} probes: PutEvents to POST /predict counting the event, p50 {} ms, p99 {} ms, max {} ms; {} failed\n",
            self.latencies.len() + self.failures.len(),
            ms(self.percentile(50)),
            ms(self.percentile(99)),
            ms(self.latencies.iter().max().copied()),
            self.failures.len()
        ));
        for failure in self.failures.iter().take(5) {
            out.push_str(&format!("    FAILED {failure}\n"));
        }
        render_verdict(&mut out, "freshness", self.passed());
        out
    }
}

/// One `user_activity` detail of `user`, now, as the reliability workloads write them.
fn detail(event_id: &str, user: &str, activity_type: ActivityType) -> Value {
    let event = GeneratedEvent {
        user_id: user.to_owned(),
        activity_type,
        at: OffsetDateTime::now_utc(),
        amount: None,
    };
    detail_of(event_id, &event, 0)
}

/// Publishes background events at `rate` a second until `stop`; how many.
async fn background(
    clients: Clients,
    bus: String,
    run: String,
    options: FreshnessOptions,
    stop: Arc<AtomicBool>,
) -> usize {
    let mut published = 0;
    // Ten events per PutEvents, as often as the rate asks.
    let per_call = 10;
    let interval = Duration::from_secs_f64(per_call as f64 / options.background_rate.max(0.1));
    let mut next = tokio::time::Instant::now();
    while !stop.load(Ordering::Relaxed) {
        let details: Vec<Value> = (0..per_call)
            .map(|n| {
                let count = published + n;
                let user = format!("{run}-bg{}", count % options.background_users.max(1));
                detail(&format!("{run}-bg-{count}"), &user, ActivityType::View)
            })
            .collect();
        let entries: Vec<&Value> = details.iter().collect();
        if let Ok(sent) = publish_details(&clients, &bus, &entries).await {
            published += sent;
        }
        next += interval;
        tokio::time::sleep_until(next).await;
    }
    published
}

/// Publishes one event of a new user and waits until `POST /predict` counts it.
async fn probe(
    clients: &Clients,
    bus: &str,
    api_url: &str,
    client: &HttpClient,
    bearer: &str,
    user: &str,
    options: &FreshnessOptions,
) -> Result<Duration, String> {
    let event = detail(&format!("{user}-probe"), user, ActivityType::Click);
    let started = Instant::now();
    publish_details(clients, bus, &[&event]).await?;
    let url = format!("{api_url}/predict");
    loop {
        let answer = client
            .send_as(
                Some(bearer),
                Method::POST,
                &url,
                &[],
                Some(json!({ "userId": user })),
            )
            .await
            .map_err(|error| format!("POST /predict for {user}: {error}"))?;
        let body: Value = answer.json().unwrap_or_default();
        if answer.status.is_success()
            && body["featuresFound"] == true
            && body["features"]["event_count_5m"].as_u64() == Some(1)
        {
            return Ok(started.elapsed());
        }
        if started.elapsed() > options.timeout {
            return Err(format!(
                "{user}: not in the features {:?} after its PutEvents (last answer {}: {body})",
                options.timeout, answer.status
            ));
        }
        tokio::time::sleep(options.poll).await;
    }
}

/// Runs the probes against the stack's bus and API while the background load runs.
pub async fn run(
    clients: &Clients,
    bus: &str,
    api_url: &str,
    run: &str,
    profile: Option<&str>,
    options: &FreshnessOptions,
) -> FreshnessReport {
    let mut report = FreshnessReport {
        profile: profile.map(str::to_owned),
        ..FreshnessReport::default()
    };
    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let load = tokio::spawn(background(
        clients.clone(),
        bus.to_owned(),
        run.to_owned(),
        options.clone(),
        Arc::clone(&stop),
    ));
    let client = HttpClient::new(Duration::from_secs(35));
    let now = OffsetDateTime::now_utc().unix_timestamp();
    let bearer = token::mint("freshness-probe", now, 3600);
    let next = Arc::new(AtomicUsize::new(0));
    let mut probers = tokio::task::JoinSet::new();
    for _ in 0..options.concurrency.max(1) {
        let (clients, bus, api_url, client, bearer, options, run, next) = (
            clients.clone(),
            bus.to_owned(),
            api_url.to_owned(),
            client.clone(),
            bearer.clone(),
            options.clone(),
            run.to_owned(),
            Arc::clone(&next),
        );
        probers.spawn(async move {
            let mut results = Vec::new();
            loop {
                let n = next.fetch_add(1, Ordering::Relaxed);
                if n >= options.probes {
                    return results;
                }
                let user = format!("{run}-probe{n}");
                results
                    .push(probe(&clients, &bus, &api_url, &client, &bearer, &user, &options).await);
            }
        });
    }
    let results: Vec<Vec<Result<Duration, String>>> = probers.join_all().await;
    stop.store(true, Ordering::Relaxed);
    report.background_published = load.await.unwrap_or_default();
    report.background_seconds = started.elapsed().as_secs_f64();
    for result in results.into_iter().flatten() {
        match result {
            Ok(latency) => report.latencies.push(latency),
            Err(failure) => report.failures.push(failure),
        }
    }
    report
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_are_nearest_rank_and_any_failure_fails() {
        let mut report = FreshnessReport {
            latencies: (1..=100).map(Duration::from_millis).collect(),
            ..FreshnessReport::default()
        };
        assert_eq!(report.percentile(50), Some(Duration::from_millis(50)));
        assert_eq!(report.percentile(99), Some(Duration::from_millis(99)));
        assert!(report.passed());
        assert!(
            report
                .render()
                .contains("p50 50 ms, p99 99 ms, max 100 ms; 0 failed")
        );
        report.failures.push("u: not in the features".into());
        assert!(!report.passed());
        assert!(report.render().contains("freshness: FAIL"));
        assert!(
            !FreshnessReport::default().passed(),
            "no probe seen is no pass"
        );
    }
}

//! A bounded load test of the HTTP routes through the local HTTP API: workers, each its own
//! user, repeat a task's whole life (create, read, complete with `If-Match`, list, delete) and
//! a prediction, paced together to a fixed request rate, for a fixed time. Every answer must be
//! the one the route documents; throughput and latency percentiles are reported per route.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use hyper::{Method, StatusCode};
use serde_json::{Value, json};
use tokio::sync::Mutex;

use crate::demo::task_id_and_etag;
use crate::report::{percentile_ms, render_verdict};
use emulator::http_client::{HttpClient, HttpResponse};
use emulator::token;

#[derive(Debug, Clone, Copy)]
pub struct LoadOptions {
    /// Workers sending at once, each as its own user.
    pub workers: usize,
    /// Requests per second, all workers together (the stage throttle allows 100).
    pub rate: f64,
    /// How long to keep starting requests; a worker finishes the task it is on.
    pub duration: Duration,
}

/// Latencies and failures per route.
#[derive(Debug, Default)]
pub struct LoadReport {
    pub latencies: BTreeMap<&'static str, Vec<Duration>>,
    pub errors: Vec<String>,
    pub elapsed: Duration,
}

impl LoadReport {
    pub fn requests(&self) -> usize {
        self.latencies.values().map(Vec::len).sum::<usize>() + self.errors.len()
    }

    pub fn throughput(&self) -> f64 {
        self.requests() as f64 / self.elapsed.as_secs_f64().max(f64::EPSILON)
    }

    pub fn passed(&self) -> bool {
        self.requests() > 0 && self.errors.is_empty()
    }

    pub fn render(&self) -> String {
        let mut out = format!(
            "load summary\n  {} requests in {:.1} s: {:.1} requests/s, {} errors\n  {:<22} {:>6} {:>8} {:>8}\n",
            self.requests(),
            self.elapsed.as_secs_f64(),
            self.throughput(),
            self.errors.len(),
            "route",
            "count",
            "p50 ms",
            "p99 ms"
        );
        for (route, samples) in &self.latencies {
            out.push_str(&format!(
                "  {route:<22} {:>6} {:>8.1} {:>8.1}\n",
                samples.len(),
                percentile_ms(samples, 50),
                percentile_ms(samples, 99)
            ));
        }
        for error in self.errors.iter().take(20) {
            out.push_str(&format!("    {error}\n"));
        }
        render_verdict(&mut out, "load", self.passed());
        out
    }
}

/// Hands out send times `1 / rate` apart to every worker together, so the workers never
/// exceed the rate, whatever their number; a worker that falls behind sends at once.
struct Pacer {
    next: Mutex<tokio::time::Instant>,
    interval: Duration,
}

impl Pacer {
    fn new(rate: f64) -> Self {
        Self {
            next: Mutex::new(tokio::time::Instant::now()),
            interval: Duration::from_secs_f64(1.0 / rate.max(0.001)),
        }
    }

    async fn wait(&self) {
        let at = {
            let mut next = self.next.lock().await;
            let at = (*next).max(tokio::time::Instant::now());
            *next = at + self.interval;
            at
        };
        tokio::time::sleep_until(at).await;
    }
}

struct Worker {
    client: HttpClient,
    api_url: String,
    token: String,
    user: String,
    pacer: Arc<Pacer>,
    report: LoadReport,
}

impl Worker {
    /// Sends one request when the pacer allows; the answer if it had the `expected` status,
    /// else the failure is recorded.
    async fn call(
        &mut self,
        route: &'static str,
        method: Method,
        path: &str,
        if_match: Option<&str>,
        body: Option<Value>,
        expected: StatusCode,
    ) -> Option<HttpResponse> {
        self.pacer.wait().await;
        let headers: Vec<(&str, &str)> = if_match
            .map(|value| ("if-match", value))
            .into_iter()
            .collect();
        let url = format!("{}{path}", self.api_url);
        let started = Instant::now();
        let answer = self
            .client
            .send_as(Some(&self.token), method, &url, &headers, body)
            .await;
        let took = started.elapsed();
        match answer {
            Ok(response) if response.status == expected => {
                self.report.latencies.entry(route).or_default().push(took);
                Some(response)
            }
            Ok(response) => {
                self.report.errors.push(format!(
                    "{route}: {} instead of {expected}: {}",
                    response.status,
                    response.excerpt()
                ));
                None
            }
            Err(error) => {
                self.report.errors.push(format!("{route}: {error}"));
                None
            }
        }
    }

    /// One task's life and one prediction.
    async fn round(&mut self, n: usize) {
        let created = self
            .call(
                "POST /tasks",
                Method::POST,
                "/tasks",
                None,
                Some(json!({ "task_name": format!("load task {n}") })),
                StatusCode::CREATED,
            )
            .await;
        let Some((id, etag)) = created.as_ref().and_then(task_id_and_etag) else {
            return;
        };
        let path = format!("/tasks/{id}");
        self.call(
            "GET /tasks/{id}",
            Method::GET,
            &path,
            None,
            None,
            StatusCode::OK,
        )
        .await;
        let updated = self
            .call(
                "PUT /tasks/{id}",
                Method::PUT,
                &path,
                Some(&etag),
                Some(json!({"status": "Completed"})),
                StatusCode::OK,
            )
            .await;
        self.call(
            "GET /tasks",
            Method::GET,
            "/tasks?limit=20",
            None,
            None,
            StatusCode::OK,
        )
        .await;
        let etag = updated
            .as_ref()
            .and_then(task_id_and_etag)
            .map_or(etag, |(_, etag)| etag);
        self.call(
            "DELETE /tasks/{id}",
            Method::DELETE,
            &path,
            Some(&etag),
            None,
            StatusCode::NO_CONTENT,
        )
        .await;
        let user = self.user.clone();
        self.call(
            "POST /predict",
            Method::POST,
            "/predict",
            None,
            Some(json!({ "userId": user })),
            StatusCode::OK,
        )
        .await;
    }
}

/// Runs the load against the HTTP API at `api_url`; users are `<run>-<worker>`.
pub async fn run(api_url: &str, run: &str, options: LoadOptions) -> LoadReport {
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let pacer = Arc::new(Pacer::new(options.rate));
    let started = Instant::now();
    let deadline = started + options.duration;
    let workers = (0..options.workers.max(1)).map(|n| {
        let user = format!("{run}-{n}");
        let mut worker = Worker {
            client: HttpClient::new(Duration::from_secs(30)),
            api_url: api_url.to_owned(),
            token: token::mint(&user, now, 3600),
            user,
            pacer: pacer.clone(),
            report: LoadReport::default(),
        };
        tokio::spawn(async move {
            let mut round = 0;
            while Instant::now() < deadline {
                worker.round(round).await;
                round += 1;
            }
            worker.report
        })
    });
    let mut report = LoadReport::default();
    for worker in workers.collect::<Vec<_>>() {
        match worker.await {
            Ok(done) => {
                for (route, samples) in done.latencies {
                    report.latencies.entry(route).or_default().extend(samples);
                }
                report.errors.extend(done.errors);
            }
            Err(error) => report.errors.push(format!("a worker failed: {error}")),
        }
    }
    report.elapsed = started.elapsed();
    report
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn the_pacer_spaces_every_workers_requests_together() {
        let pacer = Arc::new(Pacer::new(50.0));
        let started = tokio::time::Instant::now();
        let workers: Vec<_> = (0..4)
            .map(|_| {
                let pacer = pacer.clone();
                tokio::spawn(async move {
                    for _ in 0..25 {
                        pacer.wait().await;
                    }
                })
            })
            .collect();
        for worker in workers {
            worker.await.unwrap();
        }
        // 100 sends at 50 per second: the last one 99 intervals after the first.
        let took = started.elapsed();
        assert!(
            took >= Duration::from_millis(1_970) && took <= Duration::from_millis(2_000),
            "{took:?}"
        );
    }

    #[test]
    fn a_report_fails_on_any_error_and_counts_failed_requests() {
        let mut report = LoadReport {
            elapsed: Duration::from_secs(2),
            ..LoadReport::default()
        };
        assert!(!report.passed(), "no requests is no test");
        report
            .latencies
            .insert("GET /tasks", vec![Duration::from_millis(5); 9]);
        assert!(report.passed());
        report.errors.push("GET /tasks: 500".into());
        assert!(!report.passed());
        assert_eq!(report.requests(), 10);
        assert_eq!(report.throughput(), 5.0);
        assert!(report.render().contains("load: FAIL"));
    }
}

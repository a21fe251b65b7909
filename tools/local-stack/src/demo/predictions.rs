//! The demo's predictions: `POST /predict` for the pipeline's users through the HTTP API, one
//! request at a time (warm latency, not queueing), then one `POST /predict/batch` of them all.
//! The summary reports latency through the API and, from the answers' timings, how much of it
//! was the feature read, the model call and the function's own work; and the scores.

use std::time::{Duration, Instant};

use hyper::Method;
use serde_json::{Value, json};

use crate::report::{Checks, percentile_ms, render_verdict};
use emulator::http_client::HttpClient;
use emulator::token;

#[derive(Debug, Clone)]
pub struct PredictionOptions {
    /// Users with events in the pipeline; at least the `checked` ones have stored features.
    pub users: Vec<String>,
    /// Users whose features the pipeline demo verified as stored.
    pub checked: Vec<String>,
    /// Single predictions to time (after one warm-up request).
    pub requests: usize,
}

#[derive(Debug, Default)]
pub struct PredictionsReport {
    pub requests: usize,
    pub batch_users: usize,
    /// Client-side latency of each timed `POST /predict`.
    pub latencies: Vec<Duration>,
    /// From the answers' `timings`.
    pub feature_read: Vec<Duration>,
    pub model: Vec<Duration>,
    pub overhead: Vec<Duration>,
    pub batch_latency: Option<Duration>,
    /// The batch's scores, one per user.
    pub scores: Vec<f64>,
    pub labelled: usize,
    pub threshold: f64,
    pub without_features: usize,
    pub model_version: Option<String>,
    pub checks: Checks,
}

impl PredictionsReport {
    pub fn passed(&self) -> bool {
        self.checks.all_passed()
    }

    pub fn render(&self) -> String {
        let mut out = format!(
            "predictions summary\n  {} x POST /predict (after a warm-up), 1 x POST /predict/batch of {} users\n",
            self.requests, self.batch_users
        );
        out.push_str("  POST /predict, warm   p50 ms   p99 ms\n");
        for (name, samples) in [
            ("through the API", &self.latencies),
            ("feature read", &self.feature_read),
            ("model call", &self.model),
            ("own overhead", &self.overhead),
        ] {
            out.push_str(&format!(
                "  {name:<20} {:>8.2} {:>8.2}\n",
                percentile_ms(samples, 50),
                percentile_ms(samples, 99)
            ));
        }
        if let Some(batch) = self.batch_latency {
            out.push_str(&format!(
                "  POST /predict/batch: {:.2} ms for {} users\n",
                batch.as_secs_f64() * 1_000.0,
                self.batch_users
            ));
        }
        let mut sorted = self.scores.clone();
        sorted.sort_by(f64::total_cmp);
        if let (Some(min), Some(max)) = (sorted.first(), sorted.last()) {
            out.push_str(&format!(
                "  scores: min {min:.3}, p50 {:.3}, max {max:.3}; {} of {} labelled true at {}; {} without stored features\n",
                sorted[(sorted.len() - 1) / 2],
                self.labelled,
                sorted.len(),
                self.threshold,
                self.without_features
            ));
        }
        if let Some(version) = &self.model_version {
            out.push_str(&format!("  model {version}\n"));
        }
        self.checks.render(&mut out);
        render_verdict(&mut out, "predictions", self.passed());
        out
    }
}

fn timing(body: &Value, name: &str) -> Duration {
    Duration::from_secs_f64(body["timings"][name].as_f64().unwrap_or_default() / 1_000.0)
}

/// Requests predictions from `api_url` as a service caller and checks the answers.
pub async fn run(api_url: &str, options: PredictionOptions) -> PredictionsReport {
    let mut report = PredictionsReport {
        requests: options.requests,
        ..PredictionsReport::default()
    };
    let client = HttpClient::new(Duration::from_secs(35));
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let token = token::mint("demo-scoring-service", now, 3600);
    let unknown = format!(
        "demo-nobody-{}",
        ulid::Ulid::new().to_string().to_lowercase()
    );
    let mut users = options.users.clone();
    users.push(unknown.clone());
    let call = |path: &'static str, body: Value| {
        let client = client.clone();
        let url = format!("{api_url}{path}");
        let token = &token;
        async move {
            let started = Instant::now();
            let answer = client
                .send_as(Some(token), Method::POST, &url, &[], Some(body))
                .await;
            (answer, started.elapsed())
        }
    };

    for round in 0..=options.requests {
        let user = &users[round % users.len()];
        let (answer, latency) = call("/predict", json!({ "userId": user })).await;
        let body = match answer {
            Ok(answer) if answer.status == 200 => answer.json::<Value>().unwrap_or_default(),
            Ok(answer) => {
                let text = String::from_utf8_lossy(&answer.body).into_owned();
                report.checks.check(false, || {
                    format!("POST /predict for {user}: {} {text}", answer.status)
                });
                continue;
            }
            Err(error) => {
                report
                    .checks
                    .check(false, || format!("POST /predict for {user}: {error}"));
                continue;
            }
        };
        // The first request warms the execution environment; it is not timed.
        if round > 0 {
            report.latencies.push(latency);
            report.feature_read.push(timing(&body, "featureReadMs"));
            report.model.push(timing(&body, "modelMs"));
            report.overhead.push(timing(&body, "overheadMs"));
        }
        let version = body["modelVersion"].as_str().map(str::to_owned);
        report
            .checks
            .check(version.is_some() && body["fallback"] == false, || {
                format!("POST /predict for {user}: no model score: {body}")
            });
        if report.model_version.is_none() {
            report.model_version = version;
        }
    }

    let entries: Vec<Value> = users.iter().map(|user| json!({ "userId": user })).collect();
    report.batch_users = entries.len();
    let (answer, latency) = call("/predict/batch", json!({ "users": entries })).await;
    let body = match answer {
        Ok(answer) if answer.status == 200 => answer.json::<Value>().unwrap_or_default(),
        Ok(answer) => {
            let text = String::from_utf8_lossy(&answer.body).into_owned();
            report.checks.check(false, || {
                format!("POST /predict/batch: {} {text}", answer.status)
            });
            return report;
        }
        Err(error) => {
            report
                .checks
                .check(false, || format!("POST /predict/batch: {error}"));
            return report;
        }
    };
    report.batch_latency = Some(latency);
    report.threshold = body["threshold"].as_f64().unwrap_or_default();
    let predictions = body["predictions"].as_array().cloned().unwrap_or_default();
    report.checks.check(predictions.len() == users.len(), || {
        format!(
            "the batch answered {} predictions for {} users",
            predictions.len(),
            users.len()
        )
    });
    for prediction in &predictions {
        let user = prediction["userId"].as_str().unwrap_or_default();
        let score = prediction["score"].as_f64().unwrap_or(-1.0);
        report.checks.check((0.0..=1.0).contains(&score), || {
            format!("{user}: score {score}")
        });
        report.scores.push(score);
        report.labelled += usize::from(prediction["label"] == true);
        let found = prediction["featuresFound"] == true;
        report.without_features += usize::from(!found);
        if user == unknown {
            report.checks.check(!found, || {
                format!("{user} has no events but features were found")
            });
        } else if options.checked.iter().any(|checked| checked == user) {
            report
                .checks
                .check(found, || format!("{user}'s stored features were not found"));
        }
    }
    let single = report.model_version.clone();
    report
        .checks
        .check(body["modelVersion"].as_str() == single.as_deref(), || {
            format!(
                "the batch was scored by {}, single requests by {single:?}",
                body["modelVersion"]
            )
        });
    report
}

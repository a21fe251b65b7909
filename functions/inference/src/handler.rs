//! The HTTP handler: route, parse, read features, evaluate them now, score, answer, record.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use lambda_http::http::{Method, StatusCode};
use lambda_http::{Body, Request, Response};
use serde_json::{Map, Value};
use shared::features::{FeatureVector, evaluate};
use shared::http::{
    ApiError, answer, json_response, parse_json_body, raw_path, split_stage, stage,
};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::config::{Config, MODEL_ATTEMPTS};
use crate::endpoint::ModelEndpoint;
use crate::features::{FeatureStore, ReadFailure};
use crate::record::{PredictionRecord, RECORD_TYPE, RecordSink};
use crate::request::{BatchRequest, MAX_BODY_BYTES, PredictRequest};
use crate::scoring::{
    self, BatchResponse, PredictResponse, Prediction, Timings, fallback_reason, identify,
};

pub const PREDICT_PATH: &str = "/predict";
pub const BATCH_PATH: &str = "/predict/batch";

/// What the handler needs, built once at init.
#[derive(Debug, Clone)]
pub struct App {
    pub features: FeatureStore,
    pub endpoint: ModelEndpoint,
    pub config: Config,
    pub records: RecordSink,
}

/// An operation of the API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    Predict,
    Batch,
}

/// Every operation as `(method, path)`, as the OpenAPI document lists them. The deployment
/// routes `ANY` on both paths to the function, so 404 and 405 come from [`resolve`].
pub const ROUTES: [(&str, &str); 2] = [("POST", PREDICT_PATH), ("POST", BATCH_PATH)];

/// The operation a method and route path (stage prefix removed) ask for.
pub fn resolve(method: &Method, path: &str) -> Result<Route, ApiError> {
    let route = match path {
        PREDICT_PATH => Route::Predict,
        BATCH_PATH => Route::Batch,
        _ => return Err(ApiError::NotFound(format!("no resource at {path}"))),
    };
    if method != Method::POST {
        return Err(ApiError::MethodNotAllowed {
            method: method.clone(),
            allow: vec![Method::POST],
        });
    }
    Ok(route)
}

/// Answers one request; every failure is an RFC 9457 problem.
pub async fn handle(app: &App, request: Request) -> Response<Body> {
    let path = raw_path(&request).to_owned();
    answer(respond(app, &request, &path).await, &path)
}

async fn respond(app: &App, request: &Request, path: &str) -> Result<Response<Body>, ApiError> {
    let started = Instant::now();
    let (_, route_path) = split_stage(path, stage(request));
    let route = resolve(request.method(), route_path)?;
    let entries = match route {
        Route::Predict => {
            let entry = parse_json_body::<PredictRequest>(request, MAX_BODY_BYTES)?;
            entry.validate(None)?;
            vec![entry]
        }
        Route::Batch => {
            let batch = parse_json_body::<BatchRequest>(request, MAX_BODY_BYTES)?;
            batch.validate()?;
            batch.users
        }
    };
    let scored = score(app, &entries, started).await?;
    let body = match route {
        Route::Predict => {
            let prediction = scored.predictions.into_iter().next().expect("one entry");
            json_response(
                StatusCode::OK,
                &PredictResponse {
                    prediction,
                    threshold: app.config.threshold,
                    model_version: scored.model_version,
                    feature_spec_version: app.config.spec_version.number(),
                    timings: scored.timings.finish(started),
                },
            )
        }
        Route::Batch => json_response(
            StatusCode::OK,
            &BatchResponse {
                predictions: scored.predictions,
                threshold: app.config.threshold,
                model_version: scored.model_version,
                feature_spec_version: app.config.spec_version.number(),
                timings: scored.timings.finish(started),
            },
        ),
    };
    Ok(body)
}

struct Scored {
    predictions: Vec<Prediction>,
    model_version: Option<String>,
    timings: Timings,
}

impl Timings {
    /// Fills total and overhead at the end of the request.
    fn finish(mut self, started: Instant) -> Self {
        self.total_ms = millis(started.elapsed());
        self.overhead_ms = (self.total_ms - self.feature_read_ms - self.model_ms).max(0.0);
        self
    }
}

fn millis(duration: Duration) -> f64 {
    (duration.as_secs_f64() * 1_000_000.0).round() / 1_000.0
}

/// Reads, evaluates and scores `entries`; writes one prediction record each.
async fn score(
    app: &App,
    entries: &[PredictRequest],
    started: Instant,
) -> Result<Scored, ApiError> {
    let config = &app.config;
    let mut seen = HashSet::new();
    let users: Vec<String> = entries
        .iter()
        .filter(|entry| seen.insert(entry.user_id.as_str()))
        .map(|entry| entry.user_id.clone())
        .collect();

    let read_started = Instant::now();
    let read = app.features.read(&users).await;
    let feature_read = read_started.elapsed();
    metrics::histogram!(FEATURE_READ_LATENCY).record(millis(feature_read));
    let found = read.map_err(|failure| match failure {
        ReadFailure::Unread { .. } => ApiError::Unavailable(failure.to_string()),
        ReadFailure::Refused { .. } | ReadFailure::Unusable { .. } => {
            ApiError::Internal(failure.to_string())
        }
    })?;

    // One read time for the whole request: every user's windows end at the same instant.
    let now = OffsetDateTime::now_utc();
    let mut vectors: Vec<(FeatureVector, bool)> = Vec::with_capacity(entries.len());
    for entry in entries {
        let item = found.get(&entry.user_id).and_then(Option::as_ref);
        let features = evaluate(item, now, config.spec_version)
            .map_err(|error| ApiError::Internal(error.to_string()))?;
        vectors.push((features, item.is_some()));
    }
    let rows: Vec<Vec<f64>> = vectors
        .iter()
        .map(|(features, _)| features.model_row())
        .collect();

    let model_started = Instant::now();
    let answer = app.endpoint.score(&rows).await;
    let model_time = model_started.elapsed();
    metrics::histogram!(MODEL_LATENCY).record(millis(model_time));
    let (scores, model_version, fallback) = match answer {
        Ok(answer) => {
            let identity = identify(
                answer.attributes.as_deref(),
                config.declared_model_spec_version,
                config.spec_version,
            )
            .map_err(|skew| {
                tracing::error!(error = %skew, "train/serve skew: not scoring");
                ApiError::BadGateway(skew.to_string())
            })?;
            (answer.scores, identity.version, None)
        }
        Err(failure) => match (fallback_reason(&failure), config.fallback_score) {
            (Some(reason), Some(fallback)) => {
                tracing::warn!(cause = %failure, reason, "model unavailable: fallback score given");
                (vec![fallback; rows.len()], None, Some(reason))
            }
            _ => {
                return Err(scoring::problem(
                    &failure,
                    config.model_attempt_timeout.as_millis(),
                    MODEL_ATTEMPTS,
                ));
            }
        },
    };

    let at = now.format(&Rfc3339).unwrap_or_default();
    let predictions: Vec<Prediction> = entries
        .iter()
        .zip(vectors)
        .zip(scores)
        .map(|((entry, (features, found)), score)| Prediction {
            prediction_id: ulid::Ulid::new().to_string(),
            user_id: entry.user_id.clone(),
            score,
            label: scoring::label(score, config.threshold),
            fallback: fallback.is_some(),
            fallback_reason: fallback,
            features_found: found,
            features,
        })
        .collect();
    for (prediction, entry) in predictions.iter().zip(entries) {
        app.records.write(&PredictionRecord {
            record_type: RECORD_TYPE,
            at: &at,
            prediction,
            threshold: config.threshold,
            model_version: model_version.as_deref(),
            feature_spec_version: app.config.spec_version.number(),
            context: entry
                .context
                .as_ref()
                .filter(|c: &&Map<String, Value>| !c.is_empty()),
        });
    }
    let timings = Timings {
        feature_read_ms: millis(feature_read),
        model_ms: millis(model_time),
        ..Timings::default()
    };
    let without_features = predictions.iter().filter(|p| !p.features_found).count();
    tracing::info!(
        users = predictions.len(),
        without_features,
        fallback = fallback.is_some(),
        model_version = model_version.as_deref().unwrap_or("-"),
        feature_read_ms = timings.feature_read_ms,
        model_ms = timings.model_ms,
        elapsed_ms = millis(started.elapsed()),
        "scored"
    );
    metrics::counter!(PREDICTIONS).increment(predictions.len() as u64);
    metrics::counter!(USERS_WITHOUT_FEATURES).increment(without_features as u64);
    if fallback.is_some() {
        metrics::counter!(FALLBACK_PREDICTIONS).increment(predictions.len() as u64);
    }
    Ok(Scored {
        predictions,
        model_version,
        timings,
    })
}

/// EMF metric names.
pub const PREDICTIONS: &str = "Predictions";
pub const FALLBACK_PREDICTIONS: &str = "FallbackPredictions";
pub const USERS_WITHOUT_FEATURES: &str = "UsersWithoutFeatures";
pub const FEATURE_READ_LATENCY: &str = "FeatureReadLatency";
pub const MODEL_LATENCY: &str = "ModelLatency";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_post_on_the_two_paths_is_served() {
        assert_eq!(resolve(&Method::POST, "/predict"), Ok(Route::Predict));
        assert_eq!(resolve(&Method::POST, "/predict/batch"), Ok(Route::Batch));
        let error = resolve(&Method::GET, "/predict").unwrap_err();
        assert_eq!(error.status(), 405);
        assert!(
            matches!(error, ApiError::MethodNotAllowed { allow, .. } if allow == [Method::POST])
        );
        for path in ["/predict/", "/predict/batch/x", "/", "/tasks"] {
            assert_eq!(
                resolve(&Method::POST, path).unwrap_err().status(),
                404,
                "{path}"
            );
        }
    }
}

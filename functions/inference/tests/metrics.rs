//! The EMF metrics of a scored request and of one whose model call failed. The only test in
//! this binary: it installs the process-wide metrics recorder.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_sdk_dynamodb::config::{BehaviorVersion, Credentials, Region};
use inference::config::Config;
use inference::endpoint::ModelEndpoint;
use inference::features::FeatureStore;
use inference::record::RecordSink;
use inference::{App, handle};
use serde_json::{Value, json};
use testkit::fake_endpoint::{self, FakeResponse};

async fn stand_in(
    status: u16,
    content_type: &str,
    extra: Option<(&'static str, &str)>,
    body: &str,
) -> String {
    let mut headers = vec![("Content-Type", content_type.to_owned())];
    headers.extend(extra.map(|(name, value)| (name, value.to_owned())));
    let body = body.to_owned();
    fake_endpoint::serve(move |_| FakeResponse {
        status,
        headers: headers.clone(),
        body: body.clone(),
        delay: Duration::ZERO,
    })
    .await
}

fn app(store_url: &str, model_url: &str) -> App {
    let credentials = Credentials::new("test", "test", None, None, "test");
    let dynamodb = aws_sdk_dynamodb::Client::from_conf(
        aws_sdk_dynamodb::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .credentials_provider(credentials.clone())
            .endpoint_url(store_url)
            .build(),
    );
    let config = Config::from_env(&shared::config::Env::from_pairs(&[
        ("FEATURES_TABLE", "features"),
        ("MODEL_ENDPOINT_NAME", "model"),
    ]))
    .unwrap();
    let settings = config.model_client_settings();
    let sagemaker = aws_sdk_sagemakerruntime::Client::from_conf(
        aws_sdk_sagemakerruntime::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .credentials_provider(credentials)
            .endpoint_url(model_url)
            .timeout_config(settings.timeout_config())
            .retry_config(settings.retry_config())
            .build(),
    );
    App {
        features: FeatureStore::new(dynamodb, "features".into()),
        endpoint: ModelEndpoint::new(
            sagemaker,
            "model".into(),
            config.row_format,
            config.spec_version,
        ),
        config,
        records: RecordSink::Memory(Arc::new(Mutex::new(Vec::new()))),
    }
}

fn request() -> lambda_http::Request {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../events/inference/predict.json"
    );
    let event: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    lambda_http::request::from_str(&event.to_string()).unwrap()
}

/// Metric name -> the values recorded in the flushed EMF records.
fn recorded(out: &[u8]) -> Vec<(String, Value)> {
    String::from_utf8(out.to_vec())
        .unwrap()
        .lines()
        .flat_map(|line| {
            let record: Value = serde_json::from_str(line).unwrap();
            let names: Vec<String> = record["_aws"]["CloudWatchMetrics"][0]["Metrics"]
                .as_array()
                .unwrap()
                .iter()
                .map(|metric| metric["Name"].as_str().unwrap().to_owned())
                .collect();
            names
                .into_iter()
                .map(move |name| (name.clone(), record[&name].clone()))
        })
        .collect()
}

#[tokio::test]
async fn latencies_are_recorded_for_every_call_made_and_counts_for_every_score() {
    let collector = shared::metrics::init("inference-test").unwrap();
    let no_items = json!({"Responses": {"features": []}, "UnprocessedKeys": {}}).to_string();
    let store = stand_in(200, "application/x-amz-json-1.0", None, &no_items).await;
    let model = stand_in(
        200,
        "text/csv",
        Some(("X-Amzn-SageMaker-Custom-Attributes", "featureSpecVersion=1")),
        "0.25\n",
    )
    .await;
    let failing = stand_in(
        500,
        "application/json",
        Some(("x-amzn-ErrorType", "InternalFailure")),
        "{}",
    )
    .await;

    let scored = handle(&app(&store, &model), request()).await;
    assert_eq!(scored.status(), 200);
    let mut out = Vec::new();
    shared::metrics::flush(collector, &mut out);
    let metrics = recorded(&out);
    let names: Vec<&str> = metrics.iter().map(|(name, _)| name.as_str()).collect();
    for name in [
        "FeatureReadLatency",
        "ModelLatency",
        "Predictions",
        "UsersWithoutFeatures",
    ] {
        assert!(names.contains(&name), "{name} missing from {names:?}");
    }

    // A failed model call still has both latencies, and no prediction.
    let failed = handle(&app(&store, &failing), request()).await;
    assert_eq!(failed.status(), 503);
    let mut out = Vec::new();
    shared::metrics::flush(collector, &mut out);
    let metrics = recorded(&out);
    let names: Vec<&str> = metrics.iter().map(|(name, _)| name.as_str()).collect();
    assert!(names.contains(&"FeatureReadLatency"), "{names:?}");
    assert!(names.contains(&"ModelLatency"), "{names:?}");
    assert!(!names.contains(&"Predictions"), "{names:?}");
}

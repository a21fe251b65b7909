//! inference against the DynamoDB emulator `tools/test.sh` runs and the real model server (in
//! this process), or a stand-in endpoint for what a real one rarely does on cue: model errors,
//! throttling, slowness, a model of another spec version.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use inference::config::Config;
use inference::endpoint::ModelEndpoint;
use inference::features::FeatureStore;
use inference::record::RecordSink;
use inference::{App, handle};
use lambda_http::http::header::{CONTENT_TYPE, RETRY_AFTER};
use lambda_http::{Body, Response};
use model::Model;
use model::server::{ServerState, serve};
use serde_json::{Value, json};
use shared::clients::{self, ClientSettings};
use shared::events::ActivityType;
use shared::features::{FeatureItem, FeatureVector, SpecVersion, evaluate};
use testkit::fake_endpoint::{self, FakeResponse};
use testkit::request_count::RequestCounter;
use time::OffsetDateTime;

fn artifacts() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../model/artifacts")
}

fn checked_in_model() -> Model {
    Model::load(&artifacts()).expect("the checked-in model")
}

/// The model server on a free loopback port, serving `model`; returns its URL.
async fn model_server(model: Model) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let state = Arc::new(ServerState {
        model: Arc::new(model),
        endpoint_name: Some("local-model".into()),
    });
    tokio::spawn(serve(listener, state));
    url
}

struct Fixture {
    app: App,
    records: Arc<Mutex<Vec<String>>>,
    requests: RequestCounter,
    dynamodb: aws_sdk_dynamodb::Client,
    table: String,
}

/// A handler with a fresh features table, its model calls going to `endpoint_url`.
async fn fixture(endpoint_url: &str, settings: &[(&str, &str)]) -> Fixture {
    let sdk = testkit::emulator::sdk_config(ClientSettings::http_api()).await;
    let requests = RequestCounter::default();
    let dynamodb = requests.dynamodb(&sdk);
    let table = format!("features-{}", ulid::Ulid::new());
    let stack = stack::Stack::workspace();
    stack::tables::create_table(&dynamodb, &table, &stack.tables["features"])
        .await
        .expect("create table");
    let mut pairs = vec![
        ("FEATURES_TABLE", table.as_str()),
        ("MODEL_ENDPOINT_NAME", "local-model"),
    ];
    pairs.extend_from_slice(settings);
    let config = Config::from_env(&shared::config::Env::from_pairs(&pairs)).unwrap();
    let model_settings = config.model_client_settings();
    let sagemaker = aws_sdk_sagemakerruntime::Client::from_conf(
        aws_sdk_sagemakerruntime::config::Builder::from(&sdk)
            .endpoint_url(endpoint_url)
            .timeout_config(model_settings.timeout_config())
            .retry_config(model_settings.retry_config())
            .interceptor(requests.clone())
            .build(),
    );
    let records = Arc::new(Mutex::new(Vec::new()));
    let app = App {
        features: FeatureStore::new(dynamodb.clone(), table.clone()),
        endpoint: ModelEndpoint::new(
            sagemaker,
            "local-model".into(),
            config.row_format,
            config.spec_version,
        ),
        config,
        records: RecordSink::Memory(Arc::clone(&records)),
    };
    Fixture {
        app,
        records,
        requests,
        dynamodb,
        table,
    }
}

impl Fixture {
    /// Stores `user`'s features after `events` (type, minutes before now).
    async fn store(&self, user: &str, events: &[(ActivityType, i64)]) -> FeatureItem {
        let now = OffsetDateTime::now_utc();
        let mut item = FeatureItem::new(user);
        for &(activity_type, minutes_ago) in events {
            let amount = (activity_type == ActivityType::Purchase).then_some(12.5);
            item.apply(
                now - time::Duration::minutes(minutes_ago),
                activity_type,
                amount,
            );
        }
        shared::user_items::put_versioned(&self.dynamodb, &self.table, &item, None)
            .await
            .expect("store features");
        item
    }

    async fn call(&self, event: &Value) -> Answer {
        let request = lambda_http::request::from_str(&event.to_string()).expect("an API event");
        Answer(handle(&self.app, request).await)
    }

    fn records(&self) -> Vec<Value> {
        self.records
            .lock()
            .unwrap()
            .iter()
            .map(|line| serde_json::from_str(line).unwrap())
            .collect()
    }
}

struct Answer(Response<Body>);

impl Answer {
    fn status(&self) -> u16 {
        self.0.status().as_u16()
    }

    fn json(&self) -> Value {
        let Body::Text(text) = self.0.body() else {
            panic!("a text body")
        };
        serde_json::from_str(text).unwrap()
    }
}

fn sample(name: &str) -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../events/inference")
        .join(name);
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn predict(body: Value) -> Value {
    let mut event = sample("predict.json");
    event["body"] = json!(body.to_string());
    event
}

fn batch(body: Value) -> Value {
    let mut event = sample("predict-batch.json");
    event["body"] = json!(body.to_string());
    event
}

fn score_of(model: &Model, features: &FeatureVector) -> f64 {
    model.score(0, &features.model_row()).unwrap()
}

#[tokio::test]
async fn one_user_is_scored_by_the_model_on_features_evaluated_now() {
    let model = checked_in_model();
    let fixture = fixture(&model_server(model.clone()).await, &[]).await;
    let item = fixture
        .store(
            "user-alice",
            &[
                (ActivityType::View, 90),
                (ActivityType::View, 3),
                (ActivityType::AddToCart, 1),
            ],
        )
        .await;
    let answer = fixture
        .call(&predict(
            json!({"userId": "user-alice", "context": {"placement": "home"}}),
        ))
        .await;
    assert_eq!(answer.status(), 200, "{}", answer.json());
    let body = answer.json();
    assert_eq!(body["userId"], "user-alice");
    assert_eq!(body["featuresFound"], true);
    assert_eq!(body["fallback"], false);
    assert_eq!(body["modelVersion"], model.version.as_str());
    assert_eq!(body["featureSpecVersion"], 1);
    assert_eq!(body["features"]["event_count_5m"], 2);
    assert_eq!(body["features"]["event_count_24h"], 3);
    assert_eq!(body["features"]["last_event_type"], "add_to_cart");
    // The score is the model's on the features as evaluated at the request (within the minute
    // the test may straddle, the windows read the same).
    let expected = score_of(
        &model,
        &evaluate(Some(&item), OffsetDateTime::now_utc(), SpecVersion::V1).unwrap(),
    );
    let score = body["score"].as_f64().unwrap();
    assert!((score - expected).abs() < 1e-12, "{score} vs {expected}");
    assert_eq!(body["label"], score >= 0.5);
    assert_eq!(body["threshold"], 0.5);
    for timing in ["featureReadMs", "modelMs", "overheadMs", "totalMs"] {
        assert!(body["timings"][timing].as_f64().unwrap() >= 0.0, "{timing}");
    }
    // One prediction record, with what a join needs.
    let records = fixture.records();
    assert_eq!(records.len(), 1);
    let record = &records[0];
    assert_eq!(record["type"], "prediction");
    assert_eq!(record["predictionId"], body["predictionId"]);
    assert_eq!(record["userId"], "user-alice");
    assert_eq!(record["modelVersion"], model.version.as_str());
    assert_eq!(record["score"], body["score"]);
    assert_eq!(record["features"], body["features"]);
    assert_eq!(record["context"]["placement"], "home");
    assert!(record["at"].as_str().unwrap().ends_with('Z'));
}

#[tokio::test]
async fn a_batch_is_one_read_and_one_model_call_with_unknown_users_on_defaults() {
    let model = checked_in_model();
    let fixture = fixture(
        &model_server(model.clone()).await,
        &[("MODEL_CONTENT_TYPE", "application/json")],
    )
    .await;
    fixture
        .store(
            "user-alice",
            &[(ActivityType::Purchase, 30), (ActivityType::Login, 2)],
        )
        .await;
    fixture
        .store("user-bob", &[(ActivityType::View, 600)])
        .await;
    fixture.requests.reset();
    let users = json!({"users": [
        {"userId": "user-alice"}, {"userId": "user-nobody"}, {"userId": "user-bob"}, {"userId": "user-alice"}
    ]});
    let answer = fixture.call(&batch(users)).await;
    assert_eq!(answer.status(), 200, "{}", answer.json());
    let body = answer.json();
    let predictions = body["predictions"].as_array().unwrap();
    let order: Vec<&str> = predictions
        .iter()
        .map(|p| p["userId"].as_str().unwrap())
        .collect();
    assert_eq!(
        order,
        ["user-alice", "user-nobody", "user-bob", "user-alice"]
    );
    assert_eq!(predictions[1]["featuresFound"], false);
    assert_eq!(
        predictions[1]["features"],
        serde_json::to_value(FeatureVector::defaults(SpecVersion::V1)).unwrap()
    );
    assert_eq!(
        predictions[1]["score"].as_f64().unwrap(),
        score_of(&model, &FeatureVector::defaults(SpecVersion::V1))
    );
    assert_eq!(predictions[0]["featuresFound"], true);
    assert_eq!(predictions[0]["features"]["purchase_amount_24h"], 12.5);
    // Windows decay at read time: Bob's only event is ten hours old.
    assert_eq!(predictions[2]["features"]["event_count_1h"], 0);
    assert_eq!(predictions[2]["features"]["event_count_24h"], 1);
    assert_eq!(predictions[0]["score"], predictions[3]["score"]);
    assert_ne!(
        predictions[0]["predictionId"],
        predictions[3]["predictionId"]
    );
    assert_eq!(fixture.requests.count("BatchGetItem"), 1);
    assert_eq!(fixture.requests.count("InvokeEndpoint"), 1);
    assert_eq!(fixture.records().len(), 4);
}

/// A stand-in endpoint answering every call with `status`, `headers` and `body` after `delay`.
async fn stand_in(
    status: u16,
    headers: Vec<(&'static str, String)>,
    body: &str,
    delay: Duration,
) -> String {
    let body = body.to_owned();
    fake_endpoint::serve(move |_| FakeResponse {
        status,
        headers: headers.clone(),
        body: body.clone(),
        delay,
    })
    .await
}

fn scored_by(attributes: &str) -> Vec<(&'static str, String)> {
    let mut headers = vec![("Content-Type", "text/csv".to_owned())];
    if !attributes.is_empty() {
        headers.push(("X-Amzn-SageMaker-Custom-Attributes", attributes.to_owned()));
    }
    headers
}

fn problem(answer: &Answer) -> (u16, String, String) {
    assert_eq!(answer.0.headers()[CONTENT_TYPE], "application/problem+json");
    let body = answer.json();
    (
        answer.status(),
        body["type"].as_str().unwrap().to_owned(),
        body["detail"].as_str().unwrap().to_owned(),
    )
}

#[tokio::test]
async fn a_model_of_another_feature_spec_version_never_gives_a_score() {
    // An endpoint that scores anything but says its model read spec version 2.
    let endpoint = stand_in(
        200,
        scored_by("modelVersion=m-2,featureSpecVersion=2"),
        "0.9\n",
        Duration::ZERO,
    )
    .await;
    let fixture = fixture(&endpoint, &[]).await;
    let answer = fixture
        .call(&predict(json!({"userId": "user-alice"})))
        .await;
    let (status, kind, detail) = problem(&answer);
    assert_eq!((status, kind.as_str()), (502, "/problems/bad-gateway"));
    assert!(
        detail.contains("model m-2 trained on feature spec version 2"),
        "{detail}"
    );
    assert!(fixture.records().is_empty(), "no prediction was made");

    // Even with a fallback configured: skew is a deployment fault, not an outage.
    let fixture_with_fallback = self::fixture(&endpoint, &[("FALLBACK_SCORE", "0.1")]).await;
    let answer = fixture_with_fallback
        .call(&predict(json!({"userId": "user-alice"})))
        .await;
    assert_eq!(answer.status(), 502);

    // The real server with a model trained on another version refuses the rows itself.
    let mut other = checked_in_model();
    other.feature_spec_version = 2;
    let fixture = self::fixture(&model_server(other).await, &[]).await;
    assert_eq!(
        fixture
            .call(&predict(json!({"userId": "user-alice"})))
            .await
            .status(),
        502
    );
}

#[tokio::test]
async fn an_endpoint_that_does_not_report_its_spec_version_needs_one_declared() {
    let endpoint = stand_in(200, scored_by(""), "0.25\n", Duration::ZERO).await;
    let fixture = fixture(&endpoint, &[]).await;
    let (status, _, detail) = problem(&fixture.call(&predict(json!({"userId": "u"}))).await);
    assert_eq!(status, 502);
    assert!(
        detail.contains("does not report the feature spec version"),
        "{detail}"
    );

    let declared = self::fixture(&endpoint, &[("MODEL_SPEC_VERSION", "1")]).await;
    let answer = declared.call(&predict(json!({"userId": "u"}))).await;
    assert_eq!(answer.status(), 200);
    assert_eq!(answer.json()["score"], 0.25);
    assert_eq!(answer.json()["modelVersion"], Value::Null);
}

fn model_error() -> (u16, Vec<(&'static str, String)>, String) {
    (
        424,
        vec![
            ("Content-Type", "application/json".into()),
            ("x-amzn-ErrorType", "ModelError".into()),
        ],
        json!({"Message": "Received client error (400) from primary", "OriginalStatusCode": 400, "OriginalMessage": "row 0 is bad"}).to_string(),
    )
}

#[tokio::test]
async fn a_model_error_is_a_502_and_only_the_containers_own_failures_may_fall_back() {
    let (status, headers, body) = model_error();
    let endpoint = stand_in(status, headers, &body, Duration::ZERO).await;
    let fixture = fixture(&endpoint, &[]).await;
    let (status, kind, detail) = problem(&fixture.call(&predict(json!({"userId": "u"}))).await);
    assert_eq!((status, kind.as_str()), (502, "/problems/bad-gateway"));
    assert!(detail.contains("refused the feature rows"), "{detail}");
    assert!(
        !detail.contains("row 0 is bad"),
        "the container's message stays in the logs"
    );
    // Rows the container refuses are a deployment fault: no fallback hides them.
    let refused = self::fixture(&endpoint, &[("FALLBACK_SCORE", "0.05")]).await;
    let answer = refused.call(&predict(json!({"userId": "u"}))).await;
    assert_eq!(answer.status(), 502);

    // The container failing on its side (5xx) may fall back.
    let (status, headers, _) = model_error();
    let failing = json!({"Message": "Received server error (500) from primary", "OriginalStatusCode": 500, "OriginalMessage": "out of memory"});
    let endpoint = stand_in(status, headers, &failing.to_string(), Duration::ZERO).await;
    let plain = self::fixture(&endpoint, &[]).await;
    let (code, _, detail) = problem(&plain.call(&predict(json!({"userId": "u"}))).await);
    assert_eq!(code, 502);
    assert!(detail.contains("answered 500"), "{detail}");
    let fallback = self::fixture(&endpoint, &[("FALLBACK_SCORE", "0.05")]).await;
    let answer = fallback
        .call(&batch(json!({"users": [{"userId": "a"}, {"userId": "b"}]})))
        .await;
    assert_eq!(answer.status(), 200);
    let body = answer.json();
    assert_eq!(body["modelVersion"], Value::Null);
    for prediction in body["predictions"].as_array().unwrap() {
        assert_eq!(prediction["score"], 0.05);
        assert_eq!(prediction["fallback"], true);
        assert_eq!(prediction["fallbackReason"], "model-error");
        assert_eq!(prediction["label"], false);
    }
    let records = fallback.records();
    assert_eq!(records.len(), 2);
    assert!(
        records
            .iter()
            .all(|r| r["fallback"] == true && r["modelVersion"].is_null())
    );
}

#[tokio::test]
async fn throttling_is_a_503_with_retry_after() {
    let headers = vec![
        ("Content-Type", "application/json".into()),
        ("x-amzn-ErrorType", "ThrottlingException".into()),
    ];
    let endpoint = stand_in(
        400,
        headers,
        r#"{"message":"Rate exceeded"}"#,
        Duration::ZERO,
    )
    .await;
    let fixture = fixture(&endpoint, &[]).await;
    let answer = fixture.call(&predict(json!({"userId": "u"}))).await;
    assert_eq!(answer.0.headers()[RETRY_AFTER], "1");
    let (status, kind, _) = problem(&answer);
    assert_eq!((status, kind.as_str()), (503, "/problems/unavailable"));
    assert_eq!(fixture.requests.count("InvokeEndpoint"), 2, "one retry");
}

#[tokio::test]
async fn a_slow_endpoint_is_cut_off_at_the_configured_timeout() {
    let endpoint = stand_in(
        200,
        scored_by("featureSpecVersion=1"),
        "0.5\n",
        Duration::from_secs(3),
    )
    .await;
    let fixture = fixture(&endpoint, &[("MODEL_ATTEMPT_TIMEOUT_MS", "200")]).await;
    let started = std::time::Instant::now();
    let (status, kind, detail) = problem(&fixture.call(&predict(json!({"userId": "u"}))).await);
    let elapsed = started.elapsed();
    assert_eq!((status, kind.as_str()), (504, "/problems/gateway-timeout"));
    assert!(detail.contains("2 attempts of 200 ms"), "{detail}");
    assert!(
        elapsed < Duration::from_millis(2_500),
        "answered after {elapsed:?}"
    );

    let fallback = self::fixture(
        &endpoint,
        &[
            ("MODEL_ATTEMPT_TIMEOUT_MS", "200"),
            ("FALLBACK_SCORE", "0.5"),
        ],
    )
    .await;
    let answer = fallback.call(&predict(json!({"userId": "u"}))).await;
    assert_eq!(answer.status(), 200);
    assert_eq!(answer.json()["fallbackReason"], "model-timeout");
    assert_eq!(answer.json()["label"], true, "the threshold is inclusive");
}

#[tokio::test]
async fn malformed_requests_get_a_problem_naming_what_is_wrong() {
    let fixture = fixture(&model_server(checked_in_model()).await, &[]).await;
    let mut wrong_type = predict(json!({"userId": "u"}));
    wrong_type["headers"]["content-type"] = json!("text/plain");
    let mut get = predict(json!({"userId": "u"}));
    get["requestContext"]["http"]["method"] = json!("GET");
    let mut elsewhere = predict(json!({"userId": "u"}));
    elsewhere["rawPath"] = json!("/predictions");
    let mut not_json = predict(json!({}));
    not_json["body"] = json!("{\"userId\":");
    let mut huge = predict(json!({}));
    huge["body"] = json!("x".repeat(300 * 1024));
    let hundred_and_one: Vec<Value> = (0..101)
        .map(|i| json!({"userId": format!("u{i}")}))
        .collect();
    let cases = [
        (wrong_type, 415, "text/plain"),
        (get, 405, "GET"),
        (elsewhere, 404, "/predictions"),
        (not_json, 400, "not valid JSON"),
        (huge, 413, "limit is 262144 bytes"),
        (predict(json!({"user": "u"})), 400, "unknown field `user`"),
        (
            predict(json!({"userId": ""})),
            400,
            "userId must be 1..=128",
        ),
        (
            predict(json!({"userId": "u", "context": {"a": {"b": 1}}})),
            400,
            "context.a",
        ),
        (batch(json!({"users": []})), 400, "1..=100 users, not 0"),
        (batch(json!({"users": hundred_and_one})), 400, "not 101"),
        (
            batch(json!({"users": [{"userId": "ok"}, {"userId": "bad\u{0}"}]})),
            400,
            "users[1]: userId has control characters",
        ),
    ];
    for (event, status, needle) in cases {
        let answer = fixture.call(&event).await;
        let (got, _, detail) = problem(&answer);
        assert_eq!(got, status, "{needle}: {detail}");
        assert!(detail.contains(needle), "{detail} lacks {needle}");
    }
    assert_eq!(
        fixture.requests.count("InvokeEndpoint"),
        0,
        "nothing malformed reaches the model"
    );
    assert!(fixture.records().is_empty());
}

#[tokio::test]
async fn a_feature_store_that_cannot_be_read_is_a_500_and_a_throttled_one_a_503() {
    let mut fixture = fixture(&model_server(checked_in_model()).await, &[]).await;
    // A table that does not exist: asking again cannot help, so no Retry-After.
    fixture.app.features = FeatureStore::new(fixture.dynamodb.clone(), "no-such-table".into());
    let answer = fixture.call(&predict(json!({"userId": "u"}))).await;
    assert!(answer.0.headers().get(RETRY_AFTER).is_none());
    let (status, kind, _) = problem(&answer);
    assert_eq!((status, kind.as_str()), (500, "/problems/internal"));

    // A throttled store: the client may retry.
    let headers = vec![
        ("Content-Type", "application/x-amz-json-1.0".into()),
        (
            "x-amzn-ErrorType",
            "ProvisionedThroughputExceededException".into(),
        ),
    ];
    let throttling = stand_in(
        400,
        headers,
        r#"{"__type":"com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException","message":"slow down"}"#,
        Duration::ZERO,
    )
    .await;
    let sdk = clients::load(ClientSettings::http_api()).await;
    let throttled = aws_sdk_dynamodb::Client::from_conf(
        aws_sdk_dynamodb::config::Builder::from(&sdk)
            .endpoint_url(throttling)
            .build(),
    );
    fixture.app.features = FeatureStore::new(throttled, "features".into());
    let answer = fixture.call(&predict(json!({"userId": "u"}))).await;
    assert_eq!(answer.0.headers()[RETRY_AFTER], "1");
    let (status, kind, _) = problem(&answer);
    assert_eq!((status, kind.as_str()), (503, "/problems/unavailable"));
    assert!(fixture.records().is_empty());
}

#[tokio::test]
async fn the_sample_events_are_served() {
    let fixture = fixture(&model_server(checked_in_model()).await, &[]).await;
    fixture
        .store("user-alice", &[(ActivityType::Search, 4)])
        .await;
    let single = fixture.call(&sample("predict.json")).await;
    assert_eq!(single.status(), 200, "{}", single.json());
    assert_eq!(single.json()["featuresFound"], true);
    let many = fixture.call(&sample("predict-batch.json")).await;
    assert_eq!(many.status(), 200, "{}", many.json());
    assert_eq!(many.json()["predictions"][1]["featuresFound"], false);
    assert_eq!(fixture.records()[2]["context"]["placement"], "cart");
}

//! The model server over HTTP: the SageMaker container contract and the runtime path.

use std::path::Path;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{Request, StatusCode};
use hyper_util::rt::TokioIo;
use model::Model;
use model::server::{self, Predictions, ServerState};
use shared::features::FeatureVector;
use shared::features::endpoint_attributes::attribute;

fn model() -> Model {
    Model::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("artifacts")).unwrap()
}

async fn start(endpoint_name: Option<&str>) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let state = Arc::new(ServerState {
        model: Arc::new(model()),
        endpoint_name: endpoint_name.map(str::to_owned),
    });
    tokio::spawn(server::serve(listener, state));
    address.to_string()
}

struct Answer {
    status: StatusCode,
    headers: hyper::HeaderMap,
    body: String,
}

async fn call(
    address: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> Answer {
    let stream = tokio::net::TcpStream::connect(address).await.unwrap();
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .unwrap();
    tokio::spawn(connection);
    let mut request = Request::builder()
        .method(method)
        .uri(path)
        .header("host", address);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = sender
        .send_request(
            request
                .body(Full::new(Bytes::from(body.to_owned())))
                .unwrap(),
        )
        .await
        .unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    Answer {
        status,
        headers,
        body: String::from_utf8(body.to_vec()).unwrap(),
    }
}

fn rows() -> (Vec<f64>, Vec<f64>) {
    // The checked-in model's version.
    let version = shared::features::SpecVersion::V1;
    let idle = FeatureVector::defaults(version).model_row();
    let mut carting = idle.clone();
    let column = |name: &str| version.column(name).unwrap();
    carting[column("event_count_5m")] = 4.0;
    carting[column("event_count_24h")] = 12.0;
    carting[column("seconds_since_last_event")] = 20.0;
    carting[column("last_event_type")] = 4.0; // add_to_cart
    carting[column("session_event_count")] = 4.0;
    (idle, carting)
}

fn csv_line(row: &[f64]) -> String {
    row.iter().map(f64::to_string).collect::<Vec<_>>().join(",")
}

#[tokio::test]
async fn ping_answers_and_unknown_paths_and_methods_are_refused() {
    let address = start(None).await;
    assert_eq!(
        call(&address, "GET", "/ping", &[], "").await.status,
        StatusCode::OK
    );
    let answer = call(&address, "GET", "/invocations", &[], "").await;
    assert_eq!(answer.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(answer.headers["allow"], "POST");
    assert_eq!(
        call(&address, "POST", "/predict", &[], "").await.status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn json_rows_are_scored_in_order_and_the_answer_names_model_and_spec() {
    let address = start(None).await;
    let model = model();
    let (idle, carting) = rows();
    let body =
        serde_json::json!({"instances": [{"features": idle}, {"features": carting}]}).to_string();
    let answer = call(
        &address,
        "POST",
        "/invocations",
        &[("content-type", "application/json")],
        &body,
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    assert_eq!(answer.headers["content-type"], "application/json");
    let predictions: Predictions = serde_json::from_str(&answer.body).unwrap();
    let scores: Vec<f64> = predictions.predictions.iter().map(|p| p.score).collect();
    assert_eq!(
        scores,
        [
            model.score(0, &idle).unwrap(),
            model.score(1, &carting).unwrap()
        ]
    );
    assert!(
        scores[1] > 0.3 && scores[0] < 0.05,
        "a cart in the last seconds scores high: {scores:?}"
    );
    let attributes = answer.headers[server::CUSTOM_ATTRIBUTES].to_str().unwrap();
    assert_eq!(
        attribute(attributes, "modelVersion"),
        Some(model.version.as_str())
    );
    assert_eq!(attribute(attributes, "featureSpecVersion"), Some("1"));
}

#[tokio::test]
async fn csv_rows_get_csv_scores_or_json_when_accepted() {
    let address = start(None).await;
    let (idle, carting) = rows();
    let body = format!("{}\n{}\n", csv_line(&idle), csv_line(&carting));
    let answer = call(
        &address,
        "POST",
        "/invocations",
        &[("content-type", "text/csv")],
        &body,
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    assert_eq!(answer.headers["content-type"], "text/csv");
    let scores: Vec<f64> = answer
        .body
        .lines()
        .map(|line| line.parse().unwrap())
        .collect();
    assert_eq!(scores.len(), 2);
    assert_eq!(scores[1], model().score(1, &carting).unwrap());
    let json = call(
        &address,
        "POST",
        "/invocations",
        &[("content-type", "text/csv"), ("accept", "application/json")],
        &body,
    )
    .await;
    let predictions: Predictions = serde_json::from_str(&json.body).unwrap();
    assert_eq!(predictions.predictions[1].score, scores[1]);
    let refused = call(
        &address,
        "POST",
        "/invocations",
        &[
            ("content-type", "text/csv"),
            ("accept", "application/x-npy"),
        ],
        &body,
    )
    .await;
    assert_eq!(refused.status, StatusCode::NOT_ACCEPTABLE);
}

#[tokio::test]
async fn bad_requests_get_4xx_with_a_message_that_names_the_problem() {
    let address = start(None).await;
    let (idle, _) = rows();
    let cases: [(&str, String, StatusCode, &str); 6] = [
        (
            "application/json",
            format!("{{\"instances\":[{{\"features\":{:?}}}]}}", &idle[..25]),
            StatusCode::BAD_REQUEST,
            "row 0 has 25 values; this model takes 26",
        ),
        (
            "text/csv",
            format!("{}\n1,2,x", csv_line(&idle)),
            StatusCode::BAD_REQUEST,
            "row 1, column 2: \\\"x\\\" is not a number",
        ),
        ("text/csv", "\n".into(), StatusCode::BAD_REQUEST, "no rows"),
        (
            "application/json",
            "{\"rows\":[]}".into(),
            StatusCode::BAD_REQUEST,
            "unknown field `rows`",
        ),
        (
            "application/x-npy",
            "x".into(),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "text/csv or application/json",
        ),
        (
            "text/csv",
            csv_line(&idle).replace("2592000", "-1"),
            StatusCode::BAD_REQUEST,
            "seconds_since_last_event",
        ),
    ];
    for (content_type, body, status, needle) in cases {
        let answer = call(
            &address,
            "POST",
            "/invocations",
            &[("content-type", content_type)],
            &body,
        )
        .await;
        assert_eq!(answer.status, status, "{body}: {}", answer.body);
        assert!(
            answer.body.contains(needle),
            "{} lacks {needle}",
            answer.body
        );
    }
}

#[tokio::test]
async fn rows_of_another_spec_version_are_refused() {
    let address = start(None).await;
    let (idle, _) = rows();
    let answer = call(
        &address,
        "POST",
        "/invocations",
        &[
            ("content-type", "text/csv"),
            (server::CUSTOM_ATTRIBUTES, "featureSpecVersion=2"),
        ],
        &csv_line(&idle),
    )
    .await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    assert!(
        answer.body.contains("feature spec version 2"),
        "{}",
        answer.body
    );
    assert!(
        answer.body.contains("trained on version 1"),
        "{}",
        answer.body
    );
}

#[tokio::test]
async fn the_runtime_path_wraps_container_errors_as_model_errors_and_checks_the_name() {
    let address = start(Some("local-model")).await;
    let (idle, _) = rows();
    let ok = call(
        &address,
        "POST",
        "/endpoints/local-model/invocations",
        &[("content-type", "text/csv")],
        &csv_line(&idle),
    )
    .await;
    assert_eq!(ok.status, StatusCode::OK);
    assert!(ok.headers.contains_key(server::CUSTOM_ATTRIBUTES));

    let bad = call(
        &address,
        "POST",
        "/endpoints/local-model/invocations",
        &[("content-type", "text/csv")],
        "1,2",
    )
    .await;
    assert_eq!(bad.status, StatusCode::FAILED_DEPENDENCY);
    assert_eq!(bad.headers["x-amzn-errortype"], "ModelError");
    let body: serde_json::Value = serde_json::from_str(&bad.body).unwrap();
    assert_eq!(body["OriginalStatusCode"], 400);
    assert!(
        body["OriginalMessage"]
            .as_str()
            .unwrap()
            .contains("row 0 has 2 values")
    );

    let unknown = call(
        &address,
        "POST",
        "/endpoints/other/invocations",
        &[("content-type", "text/csv")],
        &csv_line(&idle),
    )
    .await;
    assert_eq!(unknown.status, StatusCode::BAD_REQUEST);
    assert_eq!(unknown.headers["x-amzn-errortype"], "ValidationError");
    assert!(unknown.body.contains("Endpoint other"), "{}", unknown.body);
}

#[test]
fn the_dockerfile_ships_this_server_and_the_checked_in_model() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dockerfile = std::fs::read_to_string(root.join("Dockerfile")).unwrap();
    assert!(
        dockerfile.contains("--bin model-server"),
        "builds the server"
    );
    assert!(dockerfile.contains("ENTRYPOINT [\"/usr/local/bin/model-server\"]"));
    assert!(dockerfile.contains("COPY model/artifacts/model.json /opt/ml/model/model.json"));
    assert!(dockerfile.contains("EXPOSE 8080"));
    assert!(root.join("artifacts/model.json").exists());
}

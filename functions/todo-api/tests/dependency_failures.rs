//! How todo-api answers when DynamoDB fails: a stand-in endpoint that speaks DynamoDB's JSON
//! protocol answers every call with one error, and counts the attempts the client makes.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use lambda_http::http::header::{CONTENT_TYPE, RETRY_AFTER};
use lambda_http::{Body, Request};
use shared::clients::ClientSettings;
use shared::http::Problem;
use testkit::fake_endpoint::{self, FakeResponse};
use todo_api::{App, Config};

/// Serves `error_type` (a DynamoDB error code) with HTTP `status` to every request on a
/// loopback port; returns the endpoint and the request counter.
async fn failing_dynamodb(status: u16, error_type: &'static str) -> (String, Arc<AtomicUsize>) {
    let requests = Arc::new(AtomicUsize::new(0));
    let counter = requests.clone();
    let endpoint = fake_endpoint::serve(move |_| {
        counter.fetch_add(1, Ordering::SeqCst);
        FakeResponse {
            delay: std::time::Duration::ZERO,
            status,
            headers: vec![
                ("Content-Type", "application/x-amz-json-1.0".into()),
                ("x-amzn-ErrorType", error_type.into()),
            ],
            body: format!(
                r#"{{"__type":"com.amazonaws.dynamodb.v20120810#{error_type}","message":"injected {error_type}"}}"#
            ),
        }
    })
    .await;
    (endpoint, requests)
}

async fn app_against(endpoint: &str) -> App {
    // Credentials and a region as every test gets them; the endpoint is the stand-in's.
    let sdk = testkit::emulator::sdk_config(ClientSettings::http_api()).await;
    let config = aws_sdk_dynamodb::config::Builder::from(&sdk)
        .endpoint_url(endpoint)
        .build();
    App::new(
        aws_sdk_dynamodb::Client::from_conf(config),
        &Config {
            tasks_table: "TodoList".into(),
        },
    )
}

fn get_task_request() -> Request {
    let event = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../events/todo-api/get-task.json"
    ))
    .unwrap();
    lambda_http::request::from_str(&event).unwrap()
}

fn problem(body: &Body) -> Problem {
    let Body::Text(text) = body else {
        panic!("text body")
    };
    serde_json::from_str(text).unwrap()
}

#[tokio::test]
async fn throttling_is_retried_then_answered_503_with_retry_after() {
    let (endpoint, requests) =
        failing_dynamodb(400, "ProvisionedThroughputExceededException").await;
    let app = app_against(&endpoint).await;

    let response = todo_api::handle(&app, get_task_request()).await;

    assert_eq!(response.status(), 503);
    assert_eq!(response.headers()[RETRY_AFTER], "1");
    assert_eq!(response.headers()[CONTENT_TYPE], "application/problem+json");
    let problem = problem(response.body());
    assert!(problem.detail.contains("retry"), "{problem:?}");
    assert!(!problem.detail.contains("injected"), "{problem:?}");
    assert_eq!(
        requests.load(Ordering::SeqCst),
        ClientSettings::http_api().max_attempts as usize,
        "every attempt the settings allow, and no more"
    );
}

#[tokio::test]
async fn permanent_errors_are_not_retried_and_never_leak() {
    let (endpoint, requests) = failing_dynamodb(400, "ValidationException").await;
    let app = app_against(&endpoint).await;

    let response = todo_api::handle(&app, get_task_request()).await;

    assert_eq!(response.status(), 500);
    let problem = problem(response.body());
    assert!(
        !problem.detail.contains("ValidationException"),
        "{problem:?}"
    );
    assert!(!problem.detail.contains("injected"), "{problem:?}");
    assert_eq!(requests.load(Ordering::SeqCst), 1);
}

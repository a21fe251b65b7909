//! The feature read's consistency, as DynamoDB receives it: eventually consistent by default
//! (half the read units), strongly consistent with `FEATURES_CONSISTENT_READ`.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use inference::features::FeatureStore;
use shared::clients::ClientSettings;
use testkit::fake_endpoint::{self, FakeResponse};

/// A stand-in DynamoDB that finds no item and keeps each request's body.
async fn recording_dynamodb() -> (aws_sdk_dynamodb::Client, Arc<Mutex<Vec<serde_json::Value>>>) {
    let bodies = Arc::new(Mutex::new(Vec::new()));
    let kept = Arc::clone(&bodies);
    let endpoint = fake_endpoint::serve(move |request| {
        kept.lock()
            .unwrap()
            .push(serde_json::from_slice(&request.body).unwrap());
        FakeResponse {
            status: 200,
            headers: vec![("Content-Type", "application/x-amz-json-1.0".into())],
            body: r#"{"Responses": {"features": []}, "UnprocessedKeys": {}}"#.into(),
            delay: Duration::ZERO,
        }
    })
    .await;
    let sdk = testkit::emulator::sdk_config(ClientSettings::http_api()).await;
    let client = aws_sdk_dynamodb::Client::from_conf(
        aws_sdk_dynamodb::config::Builder::from(&sdk)
            .endpoint_url(endpoint)
            .build(),
    );
    (client, bodies)
}

#[tokio::test]
async fn features_are_read_eventually_consistent_unless_asked_otherwise() {
    let (client, bodies) = recording_dynamodb().await;
    let users = ["u1".to_owned()];
    FeatureStore::new(client.clone(), "features".into())
        .read(&users)
        .await
        .unwrap();
    FeatureStore::new(client, "features".into())
        .with_consistent_read(true)
        .read(&users)
        .await
        .unwrap();
    let bodies = bodies.lock().unwrap();
    let consistent: Vec<Option<bool>> = bodies
        .iter()
        .map(|body| body["RequestItems"]["features"]["ConsistentRead"].as_bool())
        .collect();
    assert_eq!(consistent.len(), 2, "{bodies:?}");
    assert_ne!(consistent[0], Some(true), "{bodies:?}");
    assert_eq!(consistent[1], Some(true), "{bodies:?}");
}

//! A conditional-check race, scripted: a stand-in DynamoDB endpoint answers the batch read,
//! fails the first write because another writer got there first, and answers the read after
//! it with what that writer left. Emulators cannot stop a writer between its read and write.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use feature_updates::config::Config;
use feature_updates::handler::FeatureUpdater;
use serde_json::{Value, json};
use shared::clients::{self, ClientSettings};
use shared::fake_endpoint::{self, FakeResponse};
use shared::features::FeatureItem;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use tokio::time::Instant;

const FEATURES: &str = "features";
const APPLIED: &str = "features-event-ids";

/// The item another writer left: version 1, holding none of the batch's events, as after
/// more than 100 of the user's events since it applied the batch's one.
fn item_of_the_other_writer(user_id: &str) -> Value {
    let mut item = FeatureItem::new(user_id);
    item.version = 1;
    let item: serde_dynamo::Item = serde_dynamo::to_item(&item).unwrap();
    serde_json::to_value(item).unwrap()
}

#[tokio::test]
async fn after_a_race_an_event_the_other_writer_applied_and_recorded_is_not_applied_again() {
    let operations = Arc::new(Mutex::new(Vec::<(String, Value)>::new()));
    let seen = Arc::clone(&operations);
    let endpoint = fake_endpoint::serve(move |request| {
        let operation = request
            .header("x-amz-target")
            .unwrap_or_default()
            .rsplit('.')
            .next()
            .unwrap_or_default()
            .to_owned();
        let body: Value = serde_json::from_slice(&request.body).unwrap_or_default();
        let mut seen = seen.lock().unwrap();
        let reads_before = seen.iter().filter(|(op, _)| op == "BatchGetItem").count();
        seen.push((operation.clone(), body));
        match operation.as_str() {
            // First read: the user has no item and the event was never applied. The read after
            // the race: the other writer's item, and the event recorded as applied by it.
            "BatchGetItem" if reads_before == 0 => {
                FakeResponse::aws_json(200, json!({"Responses": {FEATURES: [], APPLIED: []}}).to_string())
            }
            "BatchGetItem" => FakeResponse::aws_json(
                200,
                json!({"Responses": {
                    FEATURES: [item_of_the_other_writer("hot")],
                    APPLIED: [{"userId": {"S": "hot"}, "eventId": {"S": "e-1"}}],
                }})
                .to_string(),
            ),
            "PutItem" if seen.iter().filter(|(op, _)| op == "PutItem").count() == 1 => {
                FakeResponse::aws_json(
                    400,
                    json!({"__type": "com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException",
                           "message": "The conditional request failed"})
                    .to_string(),
                )
            }
            _ => FakeResponse::aws_json(200, "{}"),
        }
    })
    .await;

    let sdk = clients::load(ClientSettings::batch_consumer()).await;
    let dynamodb = aws_sdk_dynamodb::Client::from_conf(
        aws_sdk_dynamodb::config::Builder::from(&sdk)
            .endpoint_url(&endpoint)
            .build(),
    );
    let sqs = aws_sdk_sqs::Client::from_conf(
        aws_sdk_sqs::config::Builder::from(&sdk)
            .endpoint_url(&endpoint)
            .build(),
    );
    let config = Config {
        features_table: FEATURES.into(),
        applied_events_table: APPLIED.into(),
        rejects_queue_url: format!("{endpoint}/000000000000/rejects"),
        max_future_skew: time::Duration::minutes(5),
        max_write_attempts: 5,
    };
    let at = (OffsetDateTime::now_utc() - time::Duration::minutes(10))
        .format(&Rfc3339)
        .unwrap();
    let record = json!({"eventId": "e-1", "userId": "hot", "type": "click", "timestamp": at,
        "profile": {"found": false, "segment": "unknown", "country": "unknown",
                    "plan": "unknown", "signupTime": null},
        "session": {"id": "s-1", "position": 1}});
    let event = shared::kinesis_events::batch(
        "shardId-000000000000",
        1,
        &[record.to_string().into_bytes()],
    );

    let (response, report) = FeatureUpdater::new(dynamodb, sqs, &config)
        .handle(event, Instant::now() + Duration::from_secs(10))
        .await;

    assert!(response.batch_item_failures.is_empty(), "{report:?}");
    assert_eq!(report.conflicts, 1, "{report:?}");
    assert_eq!(
        (report.applied, report.duplicates),
        (0, 1),
        "the event is the other writer's, found in the ids read again: {report:?}"
    );
    let operations = operations.lock().unwrap();
    let names: Vec<&str> = operations.iter().map(|(op, _)| op.as_str()).collect();
    assert_eq!(
        names.iter().filter(|op| **op == "PutItem").count(),
        1,
        "nothing to write after the race: {names:?}"
    );
    let reread = &operations
        .iter()
        .filter(|(op, _)| op == "BatchGetItem")
        .nth(1)
        .expect("a read after the race")
        .1;
    assert_eq!(
        reread["RequestItems"][APPLIED]["Keys"],
        json!([{"userId": {"S": "hot"}, "eventId": {"S": "e-1"}}]),
        "the ids are read again with the item: {reread}"
    );
    assert_eq!(reread["RequestItems"][FEATURES]["ConsistentRead"], true);
}

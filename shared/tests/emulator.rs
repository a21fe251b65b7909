//! The common crate's AWS adapters against the emulator started by `tools/test.sh`.

use std::time::Duration;

use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
};
use serde::{Deserialize, Serialize};
use shared::clients::{self, ClientSettings};
use shared::dynamo::{self, WaitError};

async fn client() -> aws_sdk_dynamodb::Client {
    clients::dynamodb(&testkit::emulator::sdk_config(ClientSettings::http_api()).await)
}

#[derive(Debug, PartialEq, Serialize, Deserialize)]
struct Row {
    pk: String,
    score: f64,
    tags: Vec<String>,
}

#[tokio::test]
async fn standard_endpoint_variable_reaches_the_emulator_and_items_round_trip() {
    let client = client().await;
    let table = format!("shared-{}", std::process::id());
    client
        .create_table()
        .table_name(&table)
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name("pk")
                .attribute_type(ScalarAttributeType::S)
                .build()
                .unwrap(),
        )
        .key_schema(
            KeySchemaElement::builder()
                .attribute_name("pk")
                .key_type(KeyType::Hash)
                .build()
                .unwrap(),
        )
        .billing_mode(BillingMode::PayPerRequest)
        .send()
        .await
        .expect("create table on the emulator");
    dynamo::wait_until_active(&client, &table, Duration::from_secs(10))
        .await
        .expect("active");

    let row = Row {
        pk: "a".into(),
        score: 0.25,
        tags: vec!["x".into(), "y".into()],
    };
    client
        .put_item()
        .table_name(&table)
        .set_item(Some(dynamo::to_item(&row).unwrap()))
        .send()
        .await
        .unwrap();
    let item = client
        .get_item()
        .table_name(&table)
        .key("pk", dynamo::attribute(&"a").unwrap())
        .send()
        .await
        .unwrap()
        .item
        .expect("stored");
    assert_eq!(dynamo::from_item::<Row>(item).unwrap(), row);
}

#[tokio::test]
async fn waiting_for_a_missing_table_fails_with_its_name() {
    let client = client().await;
    let err = dynamo::wait_until_active(&client, "no-such-table", Duration::from_secs(1))
        .await
        .unwrap_err();
    assert!(matches!(&err, WaitError::Describe { table, .. } if table == "no-such-table"));
    assert!(
        err.to_string().contains("ResourceNotFoundException"),
        "{err}"
    );
}

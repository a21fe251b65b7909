//! The common crate's AWS adapters against the emulator started by `tools/test.sh`.

use std::time::Duration;

use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
};
use serde::{Deserialize, Serialize};
use shared::clients::{self, ClientSettings};
use shared::dynamo::{self, WaitError};

async fn client() -> aws_sdk_dynamodb::Client {
    assert!(
        std::env::var_os("AWS_ENDPOINT_URL").is_some(),
        "integration tests need the emulator: run tools/test.sh"
    );
    clients::dynamodb(&clients::load(ClientSettings::http_api()).await)
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

#[tokio::test]
async fn tables_are_created_as_the_manifest_defines_them() {
    use aws_sdk_dynamodb::types::ProjectionType;
    use shared::stack::Stack;
    use shared::tables::{self, Creation};

    let client = client().await;
    let stack = Stack::workspace();
    let spec = &stack.tables["tasks"];
    let table = format!("manifest-tasks-{}", std::process::id());
    let created = tables::create_table(&client, &table, spec)
        .await
        .expect("create from the manifest");
    assert_eq!(created, Creation::Created);
    let again = tables::create_table(&client, &table, spec)
        .await
        .expect("a second run finds the table");
    assert_eq!(again, Creation::AlreadyExisted);

    let described = client
        .describe_table()
        .table_name(&table)
        .send()
        .await
        .unwrap()
        .table
        .unwrap();
    let keys: Vec<(String, KeyType)> = described
        .key_schema()
        .iter()
        .map(|k| (k.attribute_name().to_owned(), k.key_type().clone()))
        .collect();
    assert_eq!(
        keys,
        [
            (spec.partition_key.name.clone(), KeyType::Hash),
            (spec.sort_key.as_ref().unwrap().name.clone(), KeyType::Range)
        ]
    );
    let indexes = described.global_secondary_indexes();
    assert_eq!(indexes.len(), spec.global_secondary_indexes.len());
    let by_status = &indexes[0];
    assert_eq!(by_status.index_name(), Some("by_status"));
    assert_eq!(
        by_status.key_schema()[1].attribute_name(),
        spec.global_secondary_indexes["by_status"]
            .sort_key
            .as_ref()
            .unwrap()
            .name
    );
    assert_eq!(
        by_status.projection().unwrap().projection_type(),
        Some(&ProjectionType::All)
    );
    assert_eq!(
        described
            .billing_mode_summary()
            .and_then(|b| b.billing_mode()),
        Some(&BillingMode::PayPerRequest)
    );
    let backups = client
        .describe_continuous_backups()
        .table_name(&table)
        .send()
        .await
        .unwrap();
    let recovery = backups
        .continuous_backups_description()
        .and_then(|d| d.point_in_time_recovery_description())
        .and_then(|p| p.point_in_time_recovery_status())
        .map(|s| s.as_str().to_owned());
    assert_eq!(recovery.as_deref(), Some("ENABLED"));
}

#[tokio::test]
async fn a_table_with_a_time_to_live_attribute_gets_ttl_enabled() {
    use aws_sdk_dynamodb::types::TimeToLiveStatus;
    use shared::stack::Stack;
    use shared::tables;

    let client = client().await;
    let stack = Stack::workspace();
    let spec = &stack.tables["features"];
    let attribute = spec
        .time_to_live_attribute
        .as_deref()
        .expect("the features table expires items");
    let table = format!("manifest-features-{}", std::process::id());
    tables::create_table(&client, &table, spec)
        .await
        .expect("create from the manifest");
    let ttl = client
        .describe_time_to_live()
        .table_name(&table)
        .send()
        .await
        .unwrap()
        .time_to_live_description
        .unwrap();
    assert_eq!(ttl.attribute_name(), Some(attribute));
    assert_eq!(ttl.time_to_live_status(), Some(&TimeToLiveStatus::Enabled));
}

//! Tables created from the manifest on the emulator (started by the test kit when
//! `AWS_ENDPOINT_URL` is not set): key schema, indexes, billing, recovery and expiry as
//! `infra/stack.json` defines them.

use aws_sdk_dynamodb::types::{BillingMode, KeyType};

async fn client() -> aws_sdk_dynamodb::Client {
    shared::clients::dynamodb(
        &testkit::emulator::sdk_config(shared::clients::ClientSettings::http_api()).await,
    )
}

#[tokio::test]
async fn tables_are_created_as_the_manifest_defines_them() {
    use aws_sdk_dynamodb::types::ProjectionType;
    use stack::Stack;
    use stack::tables::{self, Creation};

    let client = client().await;
    let stack = Stack::workspace();
    let spec = &stack.tables["tasks"];
    let table = testkit::unique("manifest-tasks");
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
    use stack::Stack;
    use stack::tables;

    let client = client().await;
    let stack = Stack::workspace();
    let spec = &stack.tables["features"];
    let attribute = spec
        .time_to_live_attribute
        .as_deref()
        .expect("the features table expires items");
    let table = testkit::unique("manifest-features");
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

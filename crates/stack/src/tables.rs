//! Creates DynamoDB tables from their manifest definition ([`crate::manifest::TableSpec`]), so the
//! local stack and the integration tests use exactly the keys, indexes, billing and encryption
//! that the deployment templates declare.

use std::time::Duration;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::ProvideErrorMetadata;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType,
    PointInTimeRecoverySpecification, Projection, ProjectionType, ScalarAttributeType,
    SseSpecification, TimeToLiveSpecification,
};

use crate::manifest::{self as stack, AttributeType, KeyAttribute, TableSpec};
use shared::dynamo::{self, WaitError};

/// How long a new table may take to become ACTIVE (seconds on AWS, instant on emulators).
const ACTIVE_TIMEOUT: Duration = Duration::from_secs(120);

#[derive(Debug, thiserror::Error)]
pub enum CreateTableError {
    #[error("creating table {table}: {message}")]
    Create { table: String, message: String },
    #[error(transparent)]
    Wait(#[from] WaitError),
    #[error("enabling point-in-time recovery on {table}: {message}")]
    PointInTimeRecovery { table: String, message: String },
    #[error("enabling time to live on {table}: {message}")]
    TimeToLive { table: String, message: String },
}

/// Whether [`create_table`] made the table or found it there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Creation {
    Created,
    AlreadyExisted,
}

/// Creates `name` as `spec` defines it and waits until it is ACTIVE. A table of that name that
/// already exists is left as it is (a re-run against a long-lived emulator).
pub async fn create_table(
    client: &Client,
    name: &str,
    spec: &TableSpec,
) -> Result<Creation, CreateTableError> {
    let mut request = client
        .create_table()
        .table_name(name)
        .set_attribute_definitions(Some(
            spec.attribute_definitions()
                .into_iter()
                .map(|(attribute, attribute_type)| {
                    AttributeDefinition::builder()
                        .attribute_name(attribute)
                        .attribute_type(scalar_type(attribute_type))
                        .build()
                        .expect("name and type set")
                })
                .collect(),
        ))
        .set_key_schema(Some(key_schema(
            &spec.partition_key,
            spec.sort_key.as_ref(),
        )))
        .billing_mode(match spec.billing_mode {
            stack::BillingMode::PayPerRequest => BillingMode::PayPerRequest,
        })
        .sse_specification(
            SseSpecification::builder()
                .enabled(spec.server_side_encryption)
                .build(),
        );
    for (index_name, index) in &spec.global_secondary_indexes {
        request = request.global_secondary_indexes(
            GlobalSecondaryIndex::builder()
                .index_name(index_name)
                .set_key_schema(Some(key_schema(
                    &index.partition_key,
                    index.sort_key.as_ref(),
                )))
                .projection(
                    Projection::builder()
                        .projection_type(match index.projection {
                            stack::ProjectionType::All => ProjectionType::All,
                            stack::ProjectionType::KeysOnly => ProjectionType::KeysOnly,
                        })
                        .build(),
                )
                .build()
                .expect("index name, keys and projection set"),
        );
    }
    let creation = match request.send().await {
        Ok(_) => Creation::Created,
        Err(error) if error.code() == Some("ResourceInUseException") => Creation::AlreadyExisted,
        Err(error) => {
            return Err(CreateTableError::Create {
                table: name.to_owned(),
                message: dynamo::describe(&error),
            });
        }
    };
    dynamo::wait_until_active(client, name, ACTIVE_TIMEOUT).await?;
    if spec.point_in_time_recovery && creation == Creation::Created {
        client
            .update_continuous_backups()
            .table_name(name)
            .point_in_time_recovery_specification(
                PointInTimeRecoverySpecification::builder()
                    .point_in_time_recovery_enabled(true)
                    .build()
                    .expect("enabled set"),
            )
            .send()
            .await
            .map_err(|error| CreateTableError::PointInTimeRecovery {
                table: name.to_owned(),
                message: dynamo::describe(&error),
            })?;
    }
    if let (Some(attribute), Creation::Created) = (&spec.time_to_live_attribute, creation) {
        client
            .update_time_to_live()
            .table_name(name)
            .time_to_live_specification(
                TimeToLiveSpecification::builder()
                    .attribute_name(attribute)
                    .enabled(true)
                    .build()
                    .expect("attribute and enabled set"),
            )
            .send()
            .await
            .map_err(|error| CreateTableError::TimeToLive {
                table: name.to_owned(),
                message: dynamo::describe(&error),
            })?;
    }
    Ok(creation)
}

fn key_schema(partition: &KeyAttribute, sort: Option<&KeyAttribute>) -> Vec<KeySchemaElement> {
    let element = |key: &KeyAttribute, key_type| {
        KeySchemaElement::builder()
            .attribute_name(&key.name)
            .key_type(key_type)
            .build()
            .expect("name and type set")
    };
    std::iter::once(element(partition, KeyType::Hash))
        .chain(sort.map(|key| element(key, KeyType::Range)))
        .collect()
}

fn scalar_type(attribute_type: AttributeType) -> ScalarAttributeType {
    match attribute_type {
        AttributeType::S => ScalarAttributeType::S,
        AttributeType::N => ScalarAttributeType::N,
        AttributeType::B => ScalarAttributeType::B,
    }
}

//! DynamoDB helpers on top of `serde_dynamo`: typed items and expression values, error
//! classification (retry or not), and waiting for a table to become ACTIVE.

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::types::{AttributeValue, TableStatus};
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::delivery::Failure;

/// One DynamoDB item as the SDK carries it.
pub type Item = HashMap<String, AttributeValue>;

/// A record that does not map to or from its item type: a bug or a foreign item, never retried.
#[derive(Debug, thiserror::Error)]
#[error("item does not map to {type_name}: {source}")]
pub struct ItemError {
    pub type_name: &'static str,
    #[source]
    pub source: serde_dynamo::Error,
}

/// `value` as an item.
pub fn to_item<T: Serialize>(value: &T) -> Result<Item, ItemError> {
    serde_dynamo::to_item(value).map_err(|source| ItemError {
        type_name: std::any::type_name::<T>(),
        source,
    })
}

/// `item` as a `T`.
pub fn from_item<T: DeserializeOwned>(item: Item) -> Result<T, ItemError> {
    serde_dynamo::from_item(item).map_err(|source| ItemError {
        type_name: std::any::type_name::<T>(),
        source,
    })
}

/// Every item as a `T`; the first that does not map fails the whole lot.
pub fn from_items<T: DeserializeOwned>(items: Vec<Item>) -> Result<Vec<T>, ItemError> {
    items.into_iter().map(from_item).collect()
}

/// `value` as an attribute value, for keys and expression values.
pub fn attribute<T: Serialize + ?Sized>(value: &T) -> Result<AttributeValue, ItemError> {
    serde_dynamo::to_attribute_value(value).map_err(|source| ItemError {
        type_name: std::any::type_name::<T>(),
        source,
    })
}

/// Error codes AWS services use for load they may take back a moment later: DynamoDB's, and
/// Kinesis's and SQS's, whose clients share this classification.
const TRANSIENT_CODES: &[&str] = &[
    "ProvisionedThroughputExceededException",
    "ThrottlingException",
    "Throttling",
    "RequestLimitExceeded",
    "RequestThrottled",
    "KMSThrottlingException",
    "KmsThrottled",
    "InternalServerError",
    "InternalFailure",
    "InternalError",
    "ServiceUnavailable",
    "ServiceUnavailableException",
    "TransactionInProgressException",
];

/// The capacity units a call's answer reports, summed over its tables.
pub fn consumed_units<'a>(
    consumed: impl Iterator<Item = &'a aws_sdk_dynamodb::types::ConsumedCapacity>,
) -> f64 {
    consumed
        .filter_map(aws_sdk_dynamodb::types::ConsumedCapacity::capacity_units)
        .sum()
}

/// An item's size as DynamoDB bills it (a write unit per KB started, a read unit per 4 KB):
/// attribute names plus values; strings and binaries by their bytes, numbers at one byte per
/// two significant digits plus one, lists and maps 3 bytes plus 1 per element.
pub fn item_size(item: &Item) -> usize {
    item.iter()
        .map(|(name, value)| name.len() + value_size(value))
        .sum()
}

fn value_size(value: &AttributeValue) -> usize {
    let number = |n: &str| {
        let digits = n.trim_start_matches('-').replace('.', "");
        digits
            .trim_start_matches('0')
            .trim_end_matches('0')
            .len()
            .div_ceil(2)
            + 1
    };
    match value {
        AttributeValue::S(s) => s.len(),
        AttributeValue::N(n) => number(n),
        AttributeValue::B(b) => b.as_ref().len(),
        AttributeValue::Ss(set) => set.iter().map(String::len).sum(),
        AttributeValue::Ns(set) => set.iter().map(|n| number(n)).sum(),
        AttributeValue::Bs(set) => set.iter().map(|b| b.as_ref().len()).sum(),
        AttributeValue::L(list) => 3 + list.iter().map(|v| 1 + value_size(v)).sum::<usize>(),
        AttributeValue::M(map) => {
            3 + map
                .iter()
                .map(|(k, v)| 1 + k.len() + value_size(v))
                .sum::<usize>()
        }
        _ => 1,
    }
}

/// Whether a failed call of any AWS SDK client may succeed if tried again later: throttling,
/// timeouts, transport errors and any 5xx (with a known code or none, as a proxy's 502 has).
/// Everything else (validation, missing table, failed conditions) is permanent.
pub fn is_transient<E: ProvideErrorMetadata>(error: &SdkError<E, HttpResponse>) -> bool {
    match error {
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => {
            true
        }
        SdkError::ServiceError(service) => {
            service.raw().status().is_server_error()
                || service
                    .err()
                    .code()
                    .is_some_and(|code| TRANSIENT_CODES.contains(&code))
        }
        _ => false,
    }
}

/// A failed call of `operation` as a delivery failure, transient or permanent, with why.
pub fn failure<E>(operation: &str, error: &SdkError<E, HttpResponse>) -> Failure
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    let reason = format!("{operation}: {}", describe(error));
    if is_transient(error) {
        Failure::Transient(reason)
    } else {
        Failure::Permanent(reason)
    }
}

/// A short description of a failed call for logs: code and message, without the request dump.
pub fn describe<E, R>(error: &SdkError<E, R>) -> String
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    match error {
        SdkError::ServiceError(service) => format!(
            "{}: {}",
            service.err().code().unwrap_or("unknown error"),
            service.err().message().unwrap_or("no message")
        ),
        SdkError::TimeoutError(_) => "timed out".to_owned(),
        other => DisplayErrorContext(other).to_string(),
    }
}

#[derive(Debug, thiserror::Error)]
pub enum WaitError {
    #[error("table {table} is {status} and cannot become ACTIVE")]
    Unusable { table: String, status: String },
    #[error("table {table} was not ACTIVE after {waited:?} (last status {status})")]
    TimedOut {
        table: String,
        waited: Duration,
        status: String,
    },
    #[error("describing table {table}: {message}")]
    Describe { table: String, message: String },
}

/// Waits until `table` is ACTIVE (new tables are CREATING on AWS for seconds), polling
/// DescribeTable. Deleting or inaccessible tables fail at once.
pub async fn wait_until_active(
    client: &Client,
    table: &str,
    timeout: Duration,
) -> Result<(), WaitError> {
    let started = tokio::time::Instant::now();
    let mut delay = Duration::from_millis(50);
    loop {
        let described = client
            .describe_table()
            .table_name(table)
            .send()
            .await
            .map_err(|err| WaitError::Describe {
                table: table.to_owned(),
                message: describe(&err),
            })?;
        let status = described
            .table()
            .and_then(|t| t.table_status())
            .cloned()
            .unwrap_or(TableStatus::Creating);
        match status {
            TableStatus::Active => return Ok(()),
            TableStatus::Creating | TableStatus::Updating => {}
            other => {
                return Err(WaitError::Unusable {
                    table: table.to_owned(),
                    status: other.as_str().to_owned(),
                });
            }
        }
        if started.elapsed() >= timeout {
            return Err(WaitError::TimedOut {
                table: table.to_owned(),
                waited: started.elapsed(),
                status: status.as_str().to_owned(),
            });
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(Duration::from_secs(1));
    }
}

#[cfg(test)]
mod tests {
    use aws_sdk_dynamodb::operation::get_item::GetItemError;
    use aws_sdk_dynamodb::types::error::ProvisionedThroughputExceededException;
    use aws_smithy_runtime_api::http::{Response, StatusCode};
    use aws_smithy_types::body::SdkBody;
    use aws_smithy_types::error::ErrorMetadata;
    use serde::Deserialize;

    use super::*;

    #[derive(Debug, Serialize, Deserialize, PartialEq)]
    struct Row {
        id: String,
        count: u32,
        tags: Vec<String>,
    }

    #[test]
    fn items_round_trip_through_serde_dynamo() {
        let row = Row {
            id: "a".into(),
            count: 3,
            tags: vec!["x".into()],
        };
        let item = to_item(&row).unwrap();
        assert_eq!(item["count"], AttributeValue::N("3".into()));
        assert_eq!(from_item::<Row>(item).unwrap(), row);
    }

    #[test]
    fn foreign_items_fail_with_the_type_named() {
        let item: Item = [("id".to_owned(), AttributeValue::N("1".into()))].into();
        let err = from_item::<Row>(item).unwrap_err();
        assert!(err.to_string().contains("Row"), "{err}");
    }

    fn service_error(err: GetItemError) -> SdkError<GetItemError, Response> {
        service_error_with_status(err, 400)
    }

    fn service_error_with_status(
        err: GetItemError,
        status: u16,
    ) -> SdkError<GetItemError, Response> {
        SdkError::service_error(
            err,
            Response::new(StatusCode::try_from(status).unwrap(), SdkBody::empty()),
        )
    }

    #[test]
    fn any_server_error_is_transient_even_without_a_known_code() {
        let bad_gateway = service_error_with_status(
            GetItemError::generic(ErrorMetadata::builder().message("bad gateway").build()),
            502,
        );
        assert!(is_transient(&bad_gateway));
        let unknown_client_error = service_error_with_status(
            GetItemError::generic(ErrorMetadata::builder().code("Whatever").build()),
            400,
        );
        assert!(!is_transient(&unknown_client_error));
    }

    #[test]
    fn throttling_is_transient_and_validation_is_not() {
        let throttled = service_error(GetItemError::ProvisionedThroughputExceededException(
            ProvisionedThroughputExceededException::builder()
                .meta(
                    ErrorMetadata::builder()
                        .code("ProvisionedThroughputExceededException")
                        .build(),
                )
                .build(),
        ));
        assert!(is_transient(&throttled));
        let invalid = service_error(GetItemError::generic(
            ErrorMetadata::builder()
                .code("ValidationException")
                .message("bad key")
                .build(),
        ));
        assert!(!is_transient(&invalid));
        assert_eq!(describe(&invalid), "ValidationException: bad key");
    }
}

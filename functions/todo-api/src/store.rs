//! The tasks table: the only module that talks to DynamoDB.
//!
//! Layout (the table is defined once, in `infra/stack.json`, which the templates, the local
//! stack and the tests follow; a test below checks these names against it):
//!
//! | attribute   | type | role                                                   |
//! |-------------|------|--------------------------------------------------------|
//! | `owner`     | S    | partition key: the caller's JWT `sub`                  |
//! | `id`        | S    | sort key: ULID, so the key orders tasks by creation    |
//! | `status_id` | S    | `by_status` index sort key: `<status>#<id>`            |
//! | `task_name`, `status`, `created_at`, `updated_at`, `version` | | the task           |
//!
//! Index `by_status` (partition `owner`, sort `status_id`, all attributes projected) serves
//! the status-filtered list as a Query on the owner's own partition: no Scan, no filter
//! expression that reads and bills items it then throws away.
//!
//! Every read and write names the caller's `owner` in the key, so no request can reach
//! another owner's item: a foreign id is simply not found.

use std::collections::HashMap;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::delete_item::DeleteItemError;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{ReturnValue, ReturnValuesOnConditionCheckFailure};
use serde::{Deserialize, Serialize};
use shared::dynamo::{self, Item, ItemError};
use shared::http::ApiError;
use time::OffsetDateTime;
use time::macros::format_description;
use ulid::Ulid;

use crate::cursor::Cursor;
use crate::identity::Owner;
use crate::model::{NewTask, Task, TaskChanges, TaskStatus};
use crate::preconditions::Expected;

pub const PARTITION_KEY: &str = "owner";
pub const SORT_KEY: &str = "id";
pub const STATUS_INDEX: &str = "by_status";
pub const STATUS_INDEX_SORT_KEY: &str = "status_id";

/// A task as stored: the API's task plus its key and index attributes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct TaskItem {
    owner: String,
    id: String,
    task_name: String,
    status: TaskStatus,
    created_at: String,
    updated_at: String,
    version: u64,
    status_id: String,
}

impl From<TaskItem> for Task {
    fn from(item: TaskItem) -> Self {
        Task {
            id: item.id,
            task_name: item.task_name,
            status: item.status,
            created_at: item.created_at,
            updated_at: item.updated_at,
            version: item.version,
        }
    }
}

fn status_id(status: TaskStatus, id: &str) -> String {
    format!("{}#{id}", status.as_str())
}

/// Now, as RFC 3339 UTC with milliseconds: fixed width, so it also sorts as text.
pub fn timestamp(at: OffsetDateTime) -> String {
    let format =
        format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z");
    at.to_offset(time::UtcOffset::UTC)
        .format(&format)
        .expect("a UTC date formats")
}

/// Why a store call failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("no task with id {0:?}")]
    NotFound(String),
    #[error("task {id:?} is at version {current}, not the one If-Match names")]
    VersionMismatch { id: String, current: u64 },
    #[error("the tasks table is busy: {0}")]
    Transient(String),
    #[error("tasks table call failed: {0}")]
    Failed(String),
    #[error(transparent)]
    Item(#[from] ItemError),
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::NotFound(_) => ApiError::NotFound(error.to_string()),
            StoreError::VersionMismatch { .. } => ApiError::PreconditionFailed(error.to_string()),
            // The handler logs the cause; the client is only told to retry.
            StoreError::Transient(_) => ApiError::Unavailable(error.to_string()),
            StoreError::Failed(_) | StoreError::Item(_) => ApiError::Internal(error.to_string()),
        }
    }
}

fn call_error<E>(error: SdkError<E, aws_sdk_dynamodb::config::http::HttpResponse>) -> StoreError
where
    E: aws_sdk_dynamodb::error::ProvideErrorMetadata + std::error::Error + 'static,
{
    if dynamo::is_transient(&error) {
        StoreError::Transient(dynamo::describe(&error))
    } else {
        StoreError::Failed(dynamo::describe(&error))
    }
}

/// One page of a listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    pub tasks: Vec<Task>,
    pub next: Option<Cursor>,
}

/// What to list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListQuery {
    pub limit: u32,
    pub status: Option<TaskStatus>,
    pub after: Option<String>,
}

/// The tasks table.
#[derive(Debug, Clone)]
pub struct TaskStore {
    client: Client,
    table: String,
}

impl TaskStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    fn key(owner: &Owner, id: &str) -> Item {
        HashMap::from([
            (
                PARTITION_KEY.to_owned(),
                dynamo::attribute(&owner.as_str()).expect("string"),
            ),
            (SORT_KEY.to_owned(), dynamo::attribute(&id).expect("string")),
        ])
    }

    /// Creates a task with a fresh id. One PutItem.
    pub async fn create(&self, owner: &Owner, new: NewTask) -> Result<Task, StoreError> {
        let id = Ulid::new().to_string();
        let now = timestamp(OffsetDateTime::now_utc());
        let item = TaskItem {
            owner: owner.as_str().to_owned(),
            status_id: status_id(new.status, &id),
            id,
            task_name: new.task_name,
            status: new.status,
            created_at: now.clone(),
            updated_at: now,
            version: 1,
        };
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(dynamo::to_item(&item)?))
            // A ULID collision is as good as impossible, but never overwrite silently.
            .condition_expression("attribute_not_exists(#id)")
            .expression_attribute_names("#id", SORT_KEY)
            .send()
            .await
            .map_err(call_error)?;
        Ok(item.into())
    }

    /// The caller's task `id`, read consistently (a read right after a write sees it).
    pub async fn get(&self, owner: &Owner, id: &str) -> Result<Task, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(Self::key(owner, id)))
            .consistent_read(true)
            .send()
            .await
            .map_err(call_error)?;
        match output.item {
            Some(item) => Ok(dynamo::from_item::<TaskItem>(item)?.into()),
            None => Err(StoreError::NotFound(id.to_owned())),
        }
    }

    /// A page of the caller's tasks, newest first. One Query on the owner's partition of the
    /// table (consistent) or, with a status filter, of the `by_status` index.
    pub async fn list(&self, owner: &Owner, query: &ListQuery) -> Result<Page, StoreError> {
        let mut expression = Expression::default();
        let owner_condition = format!(
            "{} = {}",
            expression.name(PARTITION_KEY),
            expression.value(owner.as_str())?
        );
        let mut request = self
            .client
            .query()
            .table_name(&self.table)
            .scan_index_forward(false)
            .limit(query.limit as i32);
        request = match query.status {
            None => request
                .key_condition_expression(owner_condition)
                .consistent_read(true),
            Some(status) => request
                .index_name(STATUS_INDEX)
                .key_condition_expression(format!(
                    "{owner_condition} AND begins_with({}, {})",
                    expression.name(STATUS_INDEX_SORT_KEY),
                    expression.value(&format!("{}#", status.as_str()))?
                )),
        };
        request = request
            .set_expression_attribute_names(Some(expression.names))
            .set_expression_attribute_values(Some(expression.values));
        if let Some(after) = &query.after {
            // The continuation key is rebuilt from the caller's own identity, never taken
            // from the client, so it cannot point into another partition.
            let mut start = Self::key(owner, after);
            if let Some(status) = query.status {
                start.insert(
                    STATUS_INDEX_SORT_KEY.to_owned(),
                    dynamo::attribute(&status_id(status, after))?,
                );
            }
            request = request.set_exclusive_start_key(Some(start));
        }
        let output = request.send().await.map_err(call_error)?;
        let items: Vec<TaskItem> = dynamo::from_items(output.items.unwrap_or_default())?;
        let next = output
            .last_evaluated_key
            .and_then(|key| key.get(SORT_KEY).and_then(|id| id.as_s().ok()).cloned())
            .map(|after| Cursor {
                after,
                status: query.status,
            });
        Ok(Page {
            tasks: items.into_iter().map(Task::from).collect(),
            next,
        })
    }

    /// Applies `changes` to the caller's task `id` if it exists and matches `expected`.
    /// One conditional UpdateItem; on a failed condition the stored item comes back with the
    /// error, which tells 404 from 412 without a second read.
    pub async fn update(
        &self,
        owner: &Owner,
        id: &str,
        changes: TaskChanges,
        expected: &Expected,
    ) -> Result<Task, StoreError> {
        let mut expression = Expression::default();
        let condition = expression.condition(expected)?;
        let mut sets = vec![
            format!(
                "{} = {}",
                expression.name("updated_at"),
                expression.value(&timestamp(OffsetDateTime::now_utc()))?
            ),
            format!(
                "{version} = {version} + {one}",
                version = expression.name("version"),
                one = expression.value(&1u64)?
            ),
        ];
        if let Some(name) = &changes.task_name {
            sets.push(format!(
                "{} = {}",
                expression.name("task_name"),
                expression.value(name)?
            ));
        }
        if let Some(status) = changes.status {
            sets.push(format!(
                "{} = {}",
                expression.name("status"),
                expression.value(&status)?
            ));
            sets.push(format!(
                "{} = {}",
                expression.name(STATUS_INDEX_SORT_KEY),
                expression.value(&status_id(status, id))?
            ));
        }
        let output = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(Self::key(owner, id)))
            .update_expression(format!("SET {}", sets.join(", ")))
            .condition_expression(condition)
            .set_expression_attribute_names(Some(expression.names))
            .set_expression_attribute_values(Some(expression.values))
            .return_values(ReturnValue::AllNew)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await
            .map_err(|error| write_error(id, error))?;
        let item = output
            .attributes
            .ok_or_else(|| StoreError::Failed("UpdateItem returned no item".into()))?;
        Ok(dynamo::from_item::<TaskItem>(item)?.into())
    }

    /// Deletes the caller's task `id` if it exists and matches `expected`. One conditional
    /// DeleteItem.
    pub async fn delete(
        &self,
        owner: &Owner,
        id: &str,
        expected: &Expected,
    ) -> Result<(), StoreError> {
        let mut expression = Expression::default();
        let condition = expression.condition(expected)?;
        self.client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(Self::key(owner, id)))
            .condition_expression(condition)
            .set_expression_attribute_names(Some(expression.names))
            .set_expression_attribute_values(
                Some(expression.values).filter(|values| !values.is_empty()),
            )
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await
            .map_err(|error| write_error(id, error))?;
        Ok(())
    }
}

/// Placeholders for one expression: every attribute name and value goes through one, so
/// reserved words (`status`, `owner` …) and user text never need escaping.
#[derive(Debug, Default)]
struct Expression {
    names: HashMap<String, String>,
    values: Item,
}

impl Expression {
    /// `#name` for an attribute.
    fn name(&mut self, attribute: &str) -> String {
        let placeholder = format!("#{attribute}");
        self.names.insert(placeholder.clone(), attribute.to_owned());
        placeholder
    }

    /// A fresh `:vN` for a value.
    fn value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<String, StoreError> {
        let placeholder = format!(":v{}", self.values.len());
        self.values
            .insert(placeholder.clone(), dynamo::attribute(value)?);
        Ok(placeholder)
    }

    /// The condition a change needs: the task exists and, if the client named versions, is
    /// at one of them.
    fn condition(&mut self, expected: &Expected) -> Result<String, StoreError> {
        let id = self.name(SORT_KEY);
        Ok(match expected {
            Expected::AnyVersion => format!("attribute_exists({id})"),
            // No tag the client sent can match: the condition is false for any existing
            // task, and the failure still tells whether the task exists.
            Expected::OneOf(versions) if versions.is_empty() => {
                format!("attribute_exists({id}) AND attribute_not_exists({id})")
            }
            Expected::OneOf(versions) => {
                let version = self.name("version");
                let placeholders = versions
                    .iter()
                    .map(|v| self.value(v))
                    .collect::<Result<Vec<_>, _>>()?;
                format!(
                    "attribute_exists({id}) AND {version} IN ({})",
                    placeholders.join(", ")
                )
            }
        })
    }
}

/// Write errors that may carry the stored item of a failed condition.
trait ConditionalWriteError {
    /// `Some` when the condition failed, holding the stored item if there is one.
    fn failed_condition(&self) -> Option<Option<Item>>;
}

impl ConditionalWriteError for UpdateItemError {
    fn failed_condition(&self) -> Option<Option<Item>> {
        match self {
            UpdateItemError::ConditionalCheckFailedException(failed) => Some(failed.item.clone()),
            _ => None,
        }
    }
}

impl ConditionalWriteError for DeleteItemError {
    fn failed_condition(&self) -> Option<Option<Item>> {
        match self {
            DeleteItemError::ConditionalCheckFailedException(failed) => Some(failed.item.clone()),
            _ => None,
        }
    }
}

fn write_error<E>(
    id: &str,
    error: SdkError<E, aws_sdk_dynamodb::config::http::HttpResponse>,
) -> StoreError
where
    E: ConditionalWriteError
        + aws_sdk_dynamodb::error::ProvideErrorMetadata
        + std::error::Error
        + 'static,
{
    match error.as_service_error().and_then(E::failed_condition) {
        Some(stored) => condition_failure(id, stored),
        None => call_error(error),
    }
}

/// A failed condition: with the stored item back, the task exists at another version (412);
/// without it, it does not exist (404).
fn condition_failure(id: &str, stored: Option<Item>) -> StoreError {
    match stored.map(dynamo::from_item::<TaskItem>) {
        Some(Ok(item)) => StoreError::VersionMismatch {
            id: id.to_owned(),
            current: item.version,
        },
        Some(Err(error)) => error.into(),
        None => StoreError::NotFound(id.to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use aws_sdk_dynamodb::types::AttributeValue;

    use super::*;

    /// The names this module reads and writes are the ones the manifest deploys.
    #[test]
    fn key_names_match_the_deployed_table() {
        let stack = stack::Stack::workspace();
        let table = &stack.tables["tasks"];
        assert_eq!(table.partition_key.name, PARTITION_KEY);
        assert_eq!(table.sort_key.as_ref().unwrap().name, SORT_KEY);
        let index = &table.global_secondary_indexes[STATUS_INDEX];
        assert_eq!(index.partition_key.name, PARTITION_KEY);
        assert_eq!(index.sort_key.as_ref().unwrap().name, STATUS_INDEX_SORT_KEY);
        assert_eq!(index.projection, stack::ProjectionType::All);
        let function = &stack.functions["todo-api"];
        assert_eq!(
            function.environment[crate::config::TASKS_TABLE_VARIABLE],
            stack::EnvValue::Table {
                table: "tasks".into()
            }
        );
    }

    #[test]
    fn timestamps_are_fixed_width_utc_with_milliseconds() {
        let at = OffsetDateTime::from_unix_timestamp_nanos(1_700_000_000_000_000_000).unwrap();
        assert_eq!(timestamp(at), "2023-11-14T22:13:20.000Z");
        let at = at + time::Duration::milliseconds(7);
        assert_eq!(timestamp(at), "2023-11-14T22:13:20.007Z");
    }

    #[test]
    fn conditions_follow_if_match() {
        let condition = |expected| {
            let mut expression = Expression::default();
            let text = expression.condition(&expected).unwrap();
            (text, expression)
        };
        let (any, expression) = condition(Expected::AnyVersion);
        assert_eq!(any, "attribute_exists(#id)");
        assert!(expression.values.is_empty());
        let (never, _) = condition(Expected::OneOf(vec![]));
        assert!(never.contains("attribute_not_exists(#id)"));
        let (some, expression) = condition(Expected::OneOf(vec![2, 5]));
        assert_eq!(some, "attribute_exists(#id) AND #version IN (:v0, :v1)");
        assert_eq!(expression.values[":v1"], AttributeValue::N("5".into()));
        assert_eq!(expression.names["#version"], "version");
    }

    #[test]
    fn status_index_key_puts_status_first() {
        assert_eq!(status_id(TaskStatus::Completed, "01X"), "Completed#01X");
    }
}

//! Tasks as the API shows them, the request bodies that create and change them, and their rules.

use serde::{Deserialize, Deserializer, Serialize};
use shared::http::ApiError;

/// Longest `task_name`, in Unicode characters. Long enough for any to-do line; short enough
/// that a task item stays far below DynamoDB's 400 KB item limit and costs 1 RCU to read.
pub const MAX_TASK_NAME_CHARS: usize = 500;

/// Largest accepted request body, in bytes (413 beyond). A 500-character name of 4-byte
/// characters plus JSON framing fits in well under half of it.
pub const MAX_BODY_BYTES: usize = 8 * 1024;

/// A task's state. The names are those of the original `TodoList` table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum TaskStatus {
    Pending,
    Completed,
}

impl TaskStatus {
    pub const ALL: [TaskStatus; 2] = [TaskStatus::Pending, TaskStatus::Completed];

    pub fn as_str(self) -> &'static str {
        match self {
            TaskStatus::Pending => "Pending",
            TaskStatus::Completed => "Completed",
        }
    }

    /// Parses a status given outside a JSON body (query string).
    pub fn parse(value: &str) -> Result<Self, ApiError> {
        Self::ALL
            .into_iter()
            .find(|status| status.as_str() == value)
            .ok_or_else(|| {
                ApiError::Validation(format!(
                    "status {value:?} is not valid; expected Pending or Completed"
                ))
            })
    }
}

/// A task as the API returns it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Task {
    pub id: String,
    pub task_name: String,
    pub status: TaskStatus,
    /// RFC 3339, UTC, millisecond precision.
    pub created_at: String,
    pub updated_at: String,
    /// Starts at 1 and grows by one with every change; the task's `ETag` is `"<version>"`.
    pub version: u64,
}

impl Task {
    pub fn etag(&self) -> String {
        format!("\"{}\"", self.version)
    }
}

/// Body of `POST /tasks`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewTask {
    pub task_name: String,
    #[serde(default = "pending")]
    pub status: TaskStatus,
}

fn pending() -> TaskStatus {
    TaskStatus::Pending
}

impl NewTask {
    pub fn validate(self) -> Result<Self, ApiError> {
        validate_task_name(&self.task_name)?;
        Ok(self)
    }
}

/// Body of `PUT /tasks/{id}`: the fields to change, at least one.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TaskChanges {
    #[serde(default, deserialize_with = "present")]
    pub task_name: Option<String>,
    #[serde(default, deserialize_with = "present")]
    pub status: Option<TaskStatus>,
}

impl TaskChanges {
    pub fn validate(self) -> Result<Self, ApiError> {
        if self.task_name.is_none() && self.status.is_none() {
            return Err(ApiError::Validation(
                "nothing to update: give task_name, status, or both".to_owned(),
            ));
        }
        if let Some(name) = &self.task_name {
            validate_task_name(name)?;
        }
        Ok(self)
    }
}

/// A field that may be left out but, when present, may not be `null`.
fn present<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    T::deserialize(deserializer).map(Some)
}

/// `task_name` must be 1 to [`MAX_TASK_NAME_CHARS`] characters, not only white space, and free
/// of control characters (they break every list view and most log lines).
pub fn validate_task_name(name: &str) -> Result<(), ApiError> {
    if name.trim().is_empty() {
        return Err(ApiError::Validation(
            "task_name must not be empty or only white space".to_owned(),
        ));
    }
    let chars = name.chars().count();
    if chars > MAX_TASK_NAME_CHARS {
        return Err(ApiError::Validation(format!(
            "task_name is {chars} characters long; the limit is {MAX_TASK_NAME_CHARS}"
        )));
    }
    if let Some(position) = name.chars().position(char::is_control) {
        return Err(ApiError::Validation(format!(
            "task_name contains a control character at position {position}"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Parses `json` as the handler parses a body.
    fn body<T: serde::de::DeserializeOwned>(json: &str) -> Result<T, ApiError> {
        let request = lambda_http::http::Request::builder()
            .method("POST")
            .header("content-type", "application/json")
            .body(lambda_http::Body::Text(json.to_owned()))
            .unwrap();
        shared::http::parse_json_body(&request, MAX_BODY_BYTES)
    }

    fn new_task(json: &str) -> Result<NewTask, String> {
        body::<NewTask>(json)
            .and_then(NewTask::validate)
            .map_err(|e| e.to_string())
    }

    fn changes(json: &str) -> Result<TaskChanges, String> {
        body::<TaskChanges>(json)
            .and_then(TaskChanges::validate)
            .map_err(|e| e.to_string())
    }

    #[test]
    fn a_body_must_be_an_object() {
        // Read by position, ["buy milk"] passed for {"task_name": "buy milk"}.
        for (json, kind) in [
            (r#"["buy milk"]"#, "an array"),
            (r#"["buy milk", "Completed"]"#, "an array"),
            (r#""buy milk""#, "a string"),
            ("1", "a number"),
            ("null", "null"),
            ("true", "a boolean"),
        ] {
            let wanted = format!("request body must be a JSON object, not {kind}");
            for error in [
                body::<NewTask>(json).unwrap_err(),
                body::<TaskChanges>(json).unwrap_err(),
            ] {
                assert_eq!(error.status(), 400, "{json}: {error}");
                assert!(error.to_string().contains(&wanted), "{json}: {error}");
            }
        }
        assert_eq!(
            new_task(r#"{"task_name":"buy milk"}"#).unwrap().task_name,
            "buy milk"
        );
        assert!(changes(r#"{"status":"Completed"}"#).is_ok());
    }

    #[test]
    fn new_task_defaults_to_pending() {
        let task = new_task(r#"{"task_name":"buy milk"}"#).unwrap();
        assert_eq!(task.status, TaskStatus::Pending);
        let task = new_task(r#"{"task_name":"x","status":"Completed"}"#).unwrap();
        assert_eq!(task.status, TaskStatus::Completed);
    }

    #[test]
    fn new_task_rejections_say_what_is_wrong() {
        let cases = [
            (r#"{}"#, "missing field `task_name`"),
            (r#"{"task_name":"a","id":"x"}"#, "unknown field `id`"),
            (
                r#"{"task_name":"a","status":"Done"}"#,
                "unknown variant `Done`",
            ),
            (r#"{"task_name":"   "}"#, "must not be empty"),
            (
                r#"{"task_name":"a\u0007b"}"#,
                "control character at position 1",
            ),
            (
                r#"{"task_name":7}"#,
                "invalid type: integer `7`, expected a string",
            ),
        ];
        for (json, message) in cases {
            let err = new_task(json).unwrap_err();
            assert!(err.contains(message), "{json}: {err}");
        }
    }

    #[test]
    fn task_name_limit_counts_characters_not_bytes() {
        let at_limit = "é".repeat(MAX_TASK_NAME_CHARS);
        assert!(validate_task_name(&at_limit).is_ok());
        let over = "é".repeat(MAX_TASK_NAME_CHARS + 1);
        let err = validate_task_name(&over).unwrap_err().to_string();
        assert!(err.contains("501 characters"), "{err}");
        // The longest name in the widest characters, JSON-framed, fits the body limit.
        let widest = serde_json::json!({ "task_name": "😀".repeat(MAX_TASK_NAME_CHARS) });
        assert!(widest.to_string().len() < MAX_BODY_BYTES);
    }

    #[test]
    fn changes_need_at_least_one_field_and_no_nulls() {
        assert_eq!(
            changes(r#"{"status":"Completed"}"#).unwrap().status,
            Some(TaskStatus::Completed)
        );
        assert!(changes("{}").unwrap_err().contains("nothing to update"));
        assert!(
            changes(r#"{"task_name":null}"#)
                .unwrap_err()
                .contains("invalid type: null")
        );
        assert!(
            changes(r#"{"version":3}"#)
                .unwrap_err()
                .contains("unknown field")
        );
    }

    #[test]
    fn status_parses_exact_names_only() {
        assert_eq!(TaskStatus::parse("Pending").unwrap(), TaskStatus::Pending);
        assert!(TaskStatus::parse("pending").is_err());
    }
}

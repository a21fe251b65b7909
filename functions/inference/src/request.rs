//! The request bodies of `POST /predict` and `POST /predict/batch`, validated.

use serde::Deserialize;
use serde_json::{Map, Value};
use shared::events::{Rejection, check_id};
use shared::http::ApiError;

/// Users one `POST /predict/batch` may score: one BatchGetItem reads at most 100 keys.
pub const MAX_BATCH_USERS: usize = 100;
/// Request bodies larger than this are refused (413).
pub const MAX_BODY_BYTES: usize = 256 * 1024;
/// A request context is at most this many keys …
pub const MAX_CONTEXT_KEYS: usize = 16;
/// … and this many bytes of JSON: it is logged with every prediction.
pub const MAX_CONTEXT_BYTES: usize = 2_048;

/// One user to score, with an optional context (placement, page, experiment …) that is not
/// given to the model but recorded with the prediction, to join outcomes later.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PredictRequest {
    pub user_id: String,
    #[serde(default)]
    pub context: Option<Map<String, Value>>,
}

/// The body of `POST /predict/batch`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BatchRequest {
    /// Each an object, as the body is.
    #[serde(deserialize_with = "shared::json::objects")]
    pub users: Vec<PredictRequest>,
}

impl PredictRequest {
    /// Checks the user id and context; `position` names the entry of a batch.
    pub fn validate(&self, position: Option<usize>) -> Result<(), ApiError> {
        let at = |message: String| match position {
            Some(index) => ApiError::Validation(format!("users[{index}]: {message}")),
            None => ApiError::Validation(message),
        };
        check_id("userId", &self.user_id).map_err(|rejection| {
            at(match rejection {
                Rejection::Schema(message) => message,
                other => other.to_string(),
            })
        })?;
        let Some(context) = &self.context else {
            return Ok(());
        };
        if context.len() > MAX_CONTEXT_KEYS {
            return Err(at(format!(
                "context has {} keys; at most {MAX_CONTEXT_KEYS} are recorded",
                context.len()
            )));
        }
        if let Some((key, _)) = context
            .iter()
            .find(|(_, value)| value.is_array() || value.is_object())
        {
            return Err(at(format!(
                "context.{key} must be a string, number, boolean or null"
            )));
        }
        let bytes = Value::Object(context.clone()).to_string().len();
        if bytes > MAX_CONTEXT_BYTES {
            return Err(at(format!(
                "context is {bytes} bytes of JSON; at most {MAX_CONTEXT_BYTES} are recorded"
            )));
        }
        Ok(())
    }
}

impl BatchRequest {
    pub fn validate(&self) -> Result<(), ApiError> {
        if self.users.is_empty() || self.users.len() > MAX_BATCH_USERS {
            return Err(ApiError::Validation(format!(
                "users must list 1..={MAX_BATCH_USERS} users, not {}",
                self.users.len()
            )));
        }
        self.users
            .iter()
            .enumerate()
            .try_for_each(|(index, user)| user.validate(Some(index)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(json: Value) -> PredictRequest {
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn a_user_id_with_a_scalar_context_is_valid() {
        let ok = request(
            serde_json::json!({"userId": "u-1", "context": {"page": "home", "slot": 2, "ab": true, "x": null}}),
        );
        assert_eq!(ok.validate(None), Ok(()));
        assert_eq!(
            request(serde_json::json!({"userId": "u-1"})).validate(None),
            Ok(())
        );
    }

    #[test]
    fn bad_ids_and_contexts_are_refused_naming_the_field_and_entry() {
        let cases = [
            (
                serde_json::json!({"userId": ""}),
                "userId must be 1..=128 characters",
            ),
            (
                serde_json::json!({"userId": " u"}),
                "surrounding white space",
            ),
            (
                serde_json::json!({"userId": "u", "context": {"a": [1]}}),
                "context.a must be a string",
            ),
            (
                serde_json::json!({"userId": "u", "context": {"a": "x".repeat(3000)}}),
                "at most 2048",
            ),
        ];
        for (json, needle) in cases {
            let message = request(json).validate(Some(3)).unwrap_err().to_string();
            assert!(message.starts_with("users[3]: "), "{message}");
            assert!(message.contains(needle), "{message}");
        }
        let many: Map<String, Value> = (0..17).map(|i| (format!("k{i}"), Value::Null)).collect();
        let message = PredictRequest {
            user_id: "u".into(),
            context: Some(many),
        }
        .validate(None)
        .unwrap_err();
        assert!(message.to_string().contains("17 keys"), "{message}");
    }

    /// Parses `body` as the handler does.
    fn body<T: serde::de::DeserializeOwned>(body: &str) -> Result<T, ApiError> {
        let request = lambda_http::http::Request::builder()
            .method("POST")
            .header("content-type", "application/json")
            .body(lambda_http::Body::Text(body.to_owned()))
            .unwrap();
        shared::http::parse_json_body(&request, MAX_BODY_BYTES)
    }

    #[test]
    fn a_body_and_each_user_of_a_batch_must_be_objects() {
        let refused = |error: ApiError| {
            assert_eq!(error.status(), 400, "{error}");
            error.to_string()
        };
        for (text, kind) in [
            (r#"["u-1"]"#, "an array"),
            (r#""u-1""#, "a string"),
            ("1", "a number"),
            ("null", "null"),
            ("true", "a boolean"),
        ] {
            let wanted = format!("must be a JSON object, not {kind}");
            let message = refused(body::<PredictRequest>(text).unwrap_err());
            assert!(message.contains(&wanted), "{text}: {message}");
            let message = refused(body::<BatchRequest>(text).unwrap_err());
            assert!(message.contains(&wanted), "{text}: {message}");
        }
        // Read by position, ["u-2"] passed for {"userId": "u-2"}.
        let message = refused(
            body::<BatchRequest>(r#"{"users": [{"userId": "u-1"}, ["u-2"]]}"#).unwrap_err(),
        );
        assert!(
            message.contains("must be a JSON object, not an array"),
            "{message}"
        );
        let message =
            refused(body::<BatchRequest>(r#"{"users": [{"userId": "u-1"}, "u-2"]}"#).unwrap_err());
        assert!(message.contains("expected a JSON object"), "{message}");

        let batch = body::<BatchRequest>(
            r#"{"users": [{"userId": "u-1"}, {"userId": "u-2", "context": {"page": "home"}}]}"#,
        )
        .unwrap();
        assert_eq!(batch.users[1].user_id, "u-2");
        assert_eq!(batch.validate(), Ok(()));
        let one = body::<PredictRequest>(r#"{"userId": "u-1"}"#).unwrap();
        assert_eq!(one.user_id, "u-1");
    }

    #[test]
    fn a_batch_lists_one_to_a_hundred_users() {
        let batch = |n: usize| BatchRequest {
            users: (0..n)
                .map(|i| PredictRequest {
                    user_id: format!("u-{i}"),
                    context: None,
                })
                .collect(),
        };
        assert_eq!(batch(100).validate(), Ok(()));
        assert!(
            batch(0)
                .validate()
                .unwrap_err()
                .to_string()
                .contains("not 0")
        );
        assert!(
            batch(101)
                .validate()
                .unwrap_err()
                .to_string()
                .contains("1..=100 users, not 101")
        );
    }
}

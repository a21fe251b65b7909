//! The opaque `next` cursor of `GET /tasks`.
//!
//! It holds only the id of the last task returned and the status filter it was issued for.
//! The owner is never in it: the store rebuilds the continuation key from the caller's own
//! identity, so a forged or borrowed cursor can only move within the caller's own partition.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use shared::http::ApiError;

use crate::model::TaskStatus;
use crate::routes::is_task_id;

/// Longest cursor accepted; real ones are under 100 characters.
const MAX_CURSOR_LEN: usize = 256;

/// Where the next page starts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Cursor {
    /// The last task id of the previous page; the next page holds older tasks.
    pub after: String,
    /// The `status` filter the cursor belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<TaskStatus>,
}

impl Cursor {
    pub fn encode(&self) -> String {
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(self).expect("a cursor always serialises"))
    }

    /// Decodes a cursor from a query string, checking it was issued for the same filter.
    pub fn decode(text: &str, status: Option<TaskStatus>) -> Result<Self, ApiError> {
        let invalid = || {
            ApiError::Validation(
                "next is not a cursor this API issued; pass the value of a previous response's next"
                    .to_owned(),
            )
        };
        if text.len() > MAX_CURSOR_LEN {
            return Err(invalid());
        }
        let bytes = URL_SAFE_NO_PAD.decode(text).map_err(|_| invalid())?;
        // An object, as issued: an array of the fields would otherwise pass for one.
        shared::json::expect_object(&bytes).map_err(|_| invalid())?;
        let cursor: Cursor = serde_json::from_slice(&bytes).map_err(|_| invalid())?;
        if !is_task_id(&cursor.after) {
            return Err(invalid());
        }
        if cursor.status != status {
            return Err(ApiError::Validation(
                "next belongs to a listing with a different status filter; repeat the status of the request that returned it".to_owned(),
            ));
        }
        Ok(cursor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "01JD5QG5V3W8J5XKZ3M4N6P7Q8";

    #[test]
    fn round_trips_and_is_url_safe() {
        let cursor = Cursor {
            after: ID.into(),
            status: Some(TaskStatus::Completed),
        };
        let text = cursor.encode();
        assert!(
            text.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        );
        assert_eq!(
            Cursor::decode(&text, Some(TaskStatus::Completed)),
            Ok(cursor)
        );
    }

    #[test]
    fn a_cursor_for_another_filter_is_rejected() {
        let text = Cursor {
            after: ID.into(),
            status: None,
        }
        .encode();
        let err = Cursor::decode(&text, Some(TaskStatus::Pending)).unwrap_err();
        assert!(err.to_string().contains("different status filter"));
    }

    #[test]
    fn garbage_and_forged_cursors_are_400() {
        let forged_owner = URL_SAFE_NO_PAD.encode(format!(r#"{{"after":"{ID}","owner":"bob"}}"#));
        let bad_id = URL_SAFE_NO_PAD.encode(r#"{"after":"../x"}"#);
        for text in [
            "",
            "!!!",
            "e30",
            bad_id.as_str(),
            forged_owner.as_str(),
            &"A".repeat(300),
        ] {
            let err = Cursor::decode(text, None).unwrap_err();
            assert_eq!(err.status(), 400, "{text}");
        }
    }

    #[test]
    fn a_cursor_that_is_not_a_json_object_is_not_one_this_api_issued() {
        // Read by position, [id] and [id, status] passed for the cursors of those fields.
        for (json, status) in [
            (format!(r#"["{ID}"]"#), None),
            (format!(r#"["{ID}","Pending"]"#), Some(TaskStatus::Pending)),
            (format!(r#""{ID}""#), None),
            ("1".to_owned(), None),
            ("null".to_owned(), None),
            ("true".to_owned(), None),
        ] {
            let text = URL_SAFE_NO_PAD.encode(&json);
            let err = Cursor::decode(&text, status).unwrap_err();
            assert_eq!(err.status(), 400, "{json}");
            assert!(
                err.to_string().contains("not a cursor this API issued"),
                "{json}: {err}"
            );
        }
        let issued = URL_SAFE_NO_PAD.encode(format!(r#"{{"after":"{ID}","status":"Pending"}}"#));
        assert!(Cursor::decode(&issued, Some(TaskStatus::Pending)).is_ok());
    }
}

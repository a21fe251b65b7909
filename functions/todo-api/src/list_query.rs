//! The query string of `GET /tasks`: `limit`, `status`, `next`; nothing else.

use shared::http::ApiError;

use crate::cursor::Cursor;
use crate::model::TaskStatus;
use crate::store::ListQuery;

pub const DEFAULT_LIMIT: u32 = 50;
pub const MAX_LIMIT: u32 = 100;

/// Reads the listing parameters from `(name, value)` pairs. Unknown or repeated parameters
/// are 400: a typo such as `stauts=Pending` must not silently list everything.
pub fn parse<'a>(
    pairs: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> Result<ListQuery, ApiError> {
    let (mut limit, mut status, mut next) = (None, None, None);
    for (name, value) in pairs {
        let slot = match name {
            "limit" => &mut limit,
            "status" => &mut status,
            "next" => &mut next,
            other => {
                return Err(ApiError::Validation(format!(
                    "unknown query parameter {other:?}; accepted: limit, status, next"
                )));
            }
        };
        if slot.replace(value).is_some() {
            return Err(ApiError::Validation(format!(
                "query parameter {name:?} is given more than once"
            )));
        }
    }
    let limit = match limit {
        None => DEFAULT_LIMIT,
        Some(text) => text
            .parse::<u32>()
            .ok()
            .filter(|n| (1..=MAX_LIMIT).contains(n))
            .ok_or_else(|| {
                ApiError::Validation(format!(
                    "limit {text:?} is not valid; expected a whole number from 1 to {MAX_LIMIT}"
                ))
            })?,
    };
    let status = status.map(TaskStatus::parse).transpose()?;
    let after = next
        .map(|text| Cursor::decode(text, status))
        .transpose()?
        .map(|cursor| cursor.after);
    Ok(ListQuery {
        limit,
        status,
        after,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults() {
        let query = parse([]).unwrap();
        assert_eq!((query.limit, query.status, query.after), (50, None, None));
    }

    #[test]
    fn reads_all_parameters() {
        let next = Cursor {
            after: "01JD5QG5V3W8J5XKZ3M4N6P7Q8".into(),
            status: Some(TaskStatus::Pending),
        }
        .encode();
        let query = parse([("limit", "100"), ("status", "Pending"), ("next", &next)]).unwrap();
        assert_eq!(query.limit, 100);
        assert_eq!(query.status, Some(TaskStatus::Pending));
        assert_eq!(query.after.as_deref(), Some("01JD5QG5V3W8J5XKZ3M4N6P7Q8"));
    }

    #[test]
    fn rejects_bad_parameters_precisely() {
        let cases: [(&[(&str, &str)], &str); 6] = [
            (&[("limit", "0")], "from 1 to 100"),
            (&[("limit", "101")], "from 1 to 100"),
            (&[("limit", "ten")], "from 1 to 100"),
            (&[("status", "Done")], "expected Pending or Completed"),
            (
                &[("stauts", "Pending")],
                "unknown query parameter \"stauts\"",
            ),
            (&[("limit", "5"), ("limit", "6")], "more than once"),
        ];
        for (pairs, message) in cases {
            let err = parse(pairs.iter().copied()).unwrap_err().to_string();
            assert!(err.contains(message), "{pairs:?}: {err}");
        }
    }
}

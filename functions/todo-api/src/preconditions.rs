//! `If-Match` on `PUT` and `DELETE`: optimistic concurrency on the task's version.

use lambda_http::http::HeaderMap;
use lambda_http::http::header::IF_MATCH;
use shared::http::ApiError;

/// Most entity tags accepted in one `If-Match` (DynamoDB's `IN` takes at most 100 values).
const MAX_TAGS: usize = 10;

/// What the client requires of the task's current version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expected {
    /// No `If-Match`, or `If-Match: *`: the task must exist, any version.
    AnyVersion,
    /// The current version must be one of these. Empty when no tag the client sent can be
    /// one of ours (weak or foreign tags): then the change always fails with 412.
    OneOf(Vec<u64>),
}

/// Reads `If-Match` (RFC 9110 §13.1.1). It uses the strong comparison, so weak tags never
/// match. A value that is not `*` nor a list of quoted tags is a 400.
pub fn expected_version(headers: &HeaderMap) -> Result<Expected, ApiError> {
    let mut values = headers.get_all(IF_MATCH).iter().peekable();
    if values.peek().is_none() {
        return Ok(Expected::AnyVersion);
    }
    let malformed = |value: &str| {
        ApiError::Validation(format!(
            "If-Match {value:?} is malformed; send * or quoted entity tags such as \"3\""
        ))
    };
    let mut versions = Vec::new();
    let mut tags = 0;
    for value in values {
        let text = value.to_str().map_err(|_| malformed("<non-ASCII>"))?;
        for tag in text.split(',').map(str::trim).filter(|t| !t.is_empty()) {
            if tag == "*" {
                return Ok(Expected::AnyVersion);
            }
            tags += 1;
            let (weak, quoted) = match tag.strip_prefix("W/") {
                Some(rest) => (true, rest),
                None => (false, tag),
            };
            let opaque = quoted
                .strip_prefix('"')
                .and_then(|t| t.strip_suffix('"'))
                .filter(|t| !t.contains('"'))
                .ok_or_else(|| malformed(text))?;
            if !weak && let Ok(version) = opaque.parse::<u64>() {
                versions.push(version);
            }
        }
    }
    if tags > MAX_TAGS {
        return Err(ApiError::Validation(format!(
            "If-Match lists {tags} entity tags; the limit is {MAX_TAGS}"
        )));
    }
    if tags == 0 {
        return Err(malformed(""));
    }
    Ok(Expected::OneOf(versions))
}

#[cfg(test)]
mod tests {
    use lambda_http::http::HeaderValue;

    use super::*;

    fn expected(values: &[&str]) -> Result<Expected, ApiError> {
        let mut headers = HeaderMap::new();
        for value in values {
            headers.append(IF_MATCH, HeaderValue::from_str(value).unwrap());
        }
        expected_version(&headers)
    }

    #[test]
    fn absent_or_star_means_any_version() {
        assert_eq!(expected(&[]), Ok(Expected::AnyVersion));
        assert_eq!(expected(&["*"]), Ok(Expected::AnyVersion));
    }

    #[test]
    fn quoted_versions_are_read_across_lists_and_headers() {
        assert_eq!(expected(&["\"3\""]), Ok(Expected::OneOf(vec![3])));
        assert_eq!(
            expected(&["\"3\", \"5\"", "\"8\""]),
            Ok(Expected::OneOf(vec![3, 5, 8]))
        );
    }

    #[test]
    fn weak_and_foreign_tags_never_match() {
        assert_eq!(expected(&["W/\"3\""]), Ok(Expected::OneOf(vec![])));
        assert_eq!(expected(&["\"abc\""]), Ok(Expected::OneOf(vec![])));
    }

    #[test]
    fn unquoted_or_oversized_values_are_400() {
        for value in ["3", "\"3", "", "W/3"] {
            let err = expected(&[value]).unwrap_err();
            assert_eq!(err.status(), 400, "{value:?}");
        }
        let many = ["\"1\""; 11].join(",");
        assert!(
            expected(&[&many])
                .unwrap_err()
                .to_string()
                .contains("limit is 10")
        );
    }
}

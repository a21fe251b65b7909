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

/// Reads `If-Match` (RFC 9110 §13.1.1): `*` alone, or a list of entity tags. It uses the
/// strong comparison, so weak tags never match, and an opaque tag matches a version only when
/// it is exactly that version's decimal form (`"01"` is not `"1"`). Anything else is a 400.
pub fn expected_version(headers: &HeaderMap) -> Result<Expected, ApiError> {
    let mut lines = Vec::new();
    for value in headers.get_all(IF_MATCH) {
        lines.push(
            value
                .to_str()
                .map_err(|_| malformed("<not visible ASCII>"))?,
        );
    }
    if lines.is_empty() {
        return Ok(Expected::AnyVersion);
    }
    // Several header lines are one comma-separated list (RFC 9110 §5.3).
    let text = lines.join(", ");
    if text.trim() == "*" {
        return Ok(Expected::AnyVersion);
    }
    let tags = entity_tags(&text).ok_or_else(|| malformed(&text))?;
    if tags.is_empty() {
        return Err(malformed(&text));
    }
    if tags.len() > MAX_TAGS {
        return Err(ApiError::Validation(format!(
            "If-Match lists {} entity tags; the limit is {MAX_TAGS}",
            tags.len()
        )));
    }
    let versions = tags
        .into_iter()
        .filter(|tag| !tag.weak)
        .filter_map(|tag| {
            tag.opaque
                .parse::<u64>()
                .ok()
                .filter(|version| version.to_string() == tag.opaque)
        })
        .collect();
    Ok(Expected::OneOf(versions))
}

fn malformed(value: &str) -> ApiError {
    ApiError::Validation(format!(
        "If-Match {value:?} is malformed; send * alone or quoted entity tags such as \"3\""
    ))
}

#[derive(Debug, PartialEq, Eq)]
struct EntityTag<'a> {
    weak: bool,
    opaque: &'a str,
}

/// Parses `#entity-tag`: `[W/]"<etagc>*"` elements separated by commas, with optional white
/// space and empty elements. `None` when the text is not such a list.
fn entity_tags(text: &str) -> Option<Vec<EntityTag<'_>>> {
    let mut tags = Vec::new();
    let mut rest = text;
    loop {
        rest = rest.trim_start_matches([' ', '\t', ',']);
        if rest.is_empty() {
            return Some(tags);
        }
        let (weak, quoted) = match rest.strip_prefix("W/") {
            Some(after) => (true, after),
            None => (false, rest),
        };
        let inner = quoted.strip_prefix('"')?;
        let end = inner.find('"')?;
        let opaque = &inner[..end];
        // etagc = %x21 / %x23-7E / obs-text: no white space, no quote.
        if !opaque
            .bytes()
            .all(|b| b == 0x21 || (0x23..=0x7e).contains(&b) || b >= 0x80)
        {
            return None;
        }
        tags.push(EntityTag { weak, opaque });
        rest = inner[end + 1..].trim_start_matches([' ', '\t']);
        if !rest.is_empty() {
            rest = rest.strip_prefix(',')?;
        }
    }
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
    fn weak_foreign_and_non_canonical_tags_never_match() {
        for tag in ["W/\"3\"", "\"abc\"", "\"01\"", "\"+1\"", "\"a,b\""] {
            assert_eq!(expected(&[tag]), Ok(Expected::OneOf(vec![])), "{tag}");
        }
        assert_eq!(expected(&["\"a,b\", \"4\""]), Ok(Expected::OneOf(vec![4])));
    }

    #[test]
    fn star_is_only_valid_alone() {
        assert_eq!(expected(&[" * "]), Ok(Expected::AnyVersion));
        for value in [&["\"1\", *"][..], &["*", "\"1\""][..]] {
            assert_eq!(expected(value).unwrap_err().status(), 400, "{value:?}");
        }
    }

    #[test]
    fn unquoted_or_oversized_values_are_400() {
        for value in ["3", "\"3", "", "W/3", "\"a b\"", "\"1\" \"2\"", ",,"] {
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

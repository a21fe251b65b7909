//! HTTP helpers for `lambda_http` functions: JSON bodies in and out, and RFC 9457
//! `application/problem+json` errors with one mapping from [`ApiError`] to status codes.

use lambda_http::http::header::{ALLOW, CONTENT_TYPE, HeaderValue, RETRY_AFTER, WWW_AUTHENTICATE};
use lambda_http::http::{Method, StatusCode};
use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt, Response};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::metrics::{Collector, Invocation, Outcome};

pub const JSON: &str = "application/json";
pub const PROBLEM_JSON: &str = "application/problem+json";

/// Every way a request can fail, each with exactly one status code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApiError {
    /// The body is not JSON at all.
    #[error("{0}")]
    MalformedJson(String),
    /// The request is well-formed but its content is not acceptable.
    #[error("{0}")]
    Validation(String),
    #[error("{0}")]
    Unauthorized(String),
    #[error("{0}")]
    NotFound(String),
    #[error("method {method} is not allowed here; allowed: {}", allow_list(.allow))]
    MethodNotAllowed { method: Method, allow: Vec<Method> },
    #[error("{0}")]
    PreconditionFailed(String),
    #[error("request body is {size} bytes; the limit is {limit} bytes")]
    PayloadTooLarge { size: usize, limit: usize },
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// A dependency is throttling or briefly unavailable; the client may retry. The text is
    /// the cause, for the logs; the client is only told to retry.
    #[error("{0}")]
    Unavailable(String),
    /// An upstream service (a model endpoint) answered with an error. The text is written for
    /// the client: it says which dependency failed and how, never its internals.
    #[error("{0}")]
    BadGateway(String),
    /// An upstream service did not answer in time; the text is written for the client.
    #[error("{0}")]
    GatewayTimeout(String),
    /// A bug or an unexpected dependency answer. The text goes to the logs, never to the client.
    #[error("{0}")]
    Internal(String),
}

fn allow_list(allow: &[Method]) -> String {
    allow
        .iter()
        .map(Method::as_str)
        .collect::<Vec<_>>()
        .join(", ")
}

impl ApiError {
    pub fn status(&self) -> StatusCode {
        match self {
            Self::MalformedJson(_) | Self::Validation(_) => StatusCode::BAD_REQUEST,
            Self::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            Self::PreconditionFailed(_) => StatusCode::PRECONDITION_FAILED,
            Self::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::BadGateway(_) => StatusCode::BAD_GATEWAY,
            Self::GatewayTimeout(_) => StatusCode::GATEWAY_TIMEOUT,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// A stable, machine-readable problem type (RFC 9457 §3.1.1), as a URI relative to the API.
    pub fn problem_type(&self) -> &'static str {
        match self {
            Self::MalformedJson(_) => "/problems/malformed-json",
            Self::Validation(_) => "/problems/validation",
            Self::Unauthorized(_) => "/problems/unauthorized",
            Self::NotFound(_) => "/problems/not-found",
            Self::MethodNotAllowed { .. } => "/problems/method-not-allowed",
            Self::PreconditionFailed(_) => "/problems/precondition-failed",
            Self::PayloadTooLarge { .. } => "/problems/payload-too-large",
            Self::UnsupportedMediaType(_) => "/problems/unsupported-media-type",
            Self::Unavailable(_) => "/problems/unavailable",
            Self::BadGateway(_) => "/problems/bad-gateway",
            Self::GatewayTimeout(_) => "/problems/gateway-timeout",
            Self::Internal(_) => "/problems/internal",
        }
    }

    /// What the client is told. Internal details stay in the logs.
    pub fn detail(&self) -> String {
        match self {
            Self::Internal(_) => "the request failed unexpectedly; it is logged".to_owned(),
            Self::Unavailable(_) => "the service is busy; retry shortly".to_owned(),
            other => other.to_string(),
        }
    }
}

/// An RFC 9457 problem details document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Problem {
    #[serde(rename = "type")]
    pub problem_type: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instance: Option<String>,
}

impl Problem {
    pub fn from_error(error: &ApiError, instance: Option<&str>) -> Self {
        let status = error.status();
        Self {
            problem_type: error.problem_type().to_owned(),
            title: status.canonical_reason().unwrap_or("Error").to_owned(),
            status: status.as_u16(),
            detail: error.detail(),
            instance: instance.map(str::to_owned),
        }
    }
}

/// The response for a request's outcome: an error becomes its problem response, logged by
/// kind (internal at error, a busy dependency at warn, the client's mistakes at info).
pub fn answer(outcome: Result<Response<Body>, ApiError>, path: &str) -> Response<Body> {
    match outcome {
        Ok(response) => response,
        Err(error) => {
            match &error {
                ApiError::Internal(cause) => tracing::error!(%cause, %path, "request failed"),
                ApiError::Unavailable(cause) => tracing::warn!(%cause, %path, "dependency busy"),
                other => tracing::info!(
                    status = other.status().as_u16(),
                    detail = %other,
                    "request refused"
                ),
            }
            problem_response(&error, Some(path))
        }
    }
}

/// A JSON response with `status`.
pub fn json_response<T: Serialize>(status: StatusCode, body: &T) -> Response<Body> {
    match serde_json::to_string(body) {
        Ok(text) => with_body(status, JSON, text),
        Err(err) => {
            tracing::error!(error = %err, "response body does not serialise");
            problem_response(&ApiError::Internal(err.to_string()), None)
        }
    }
}

/// An empty response with `status` (204, 304 …).
pub fn empty_response(status: StatusCode) -> Response<Body> {
    let mut response = Response::new(Body::Empty);
    *response.status_mut() = status;
    response
}

/// The problem+json response for `error`, with the headers its status calls for.
pub fn problem_response(error: &ApiError, instance: Option<&str>) -> Response<Body> {
    let problem = Problem::from_error(error, instance);
    let text = serde_json::to_string(&problem).expect("a Problem always serialises");
    let mut response = with_body(error.status(), PROBLEM_JSON, text);
    let headers = response.headers_mut();
    match error {
        ApiError::MethodNotAllowed { allow, .. } => {
            if let Ok(value) = HeaderValue::from_str(&allow_list(allow)) {
                headers.insert(ALLOW, value);
            }
        }
        ApiError::Unauthorized(_) => {
            headers.insert(WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        ApiError::Unavailable(_) => {
            headers.insert(RETRY_AFTER, HeaderValue::from_static("1"));
        }
        _ => {}
    }
    response
}

fn with_body(status: StatusCode, content_type: &'static str, text: String) -> Response<Body> {
    let mut response = Response::new(Body::Text(text));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

/// Runs one HTTP invocation, recording its count, outcome (from the status class) and
/// duration, then writes the metrics as EMF to stdout when a collector is installed.
pub async fn measured(
    collector: Option<&Collector>,
    response: impl Future<Output = Response<Body>>,
) -> Response<Body> {
    let invocation = Invocation::begin();
    let response = response.await;
    invocation.finish(Outcome::from_status(response.status().as_u16()));
    if let Some(collector) = collector {
        crate::metrics::flush(collector, std::io::stdout());
    }
    response
}

/// Splits a raw path into the stage prefix (`/{stage}` for a named stage that appears in the
/// path, else empty) and the route path. `Location` headers put the prefix back, so they
/// resolve under the stage the request came in on.
pub fn split_stage<'a>(path: &'a str, stage: Option<&str>) -> (&'a str, &'a str) {
    let prefix_len = match stage {
        Some(stage) if stage != "$default" && !stage.is_empty() => path
            .strip_prefix('/')
            .and_then(|rest| rest.strip_prefix(stage))
            .filter(|rest| rest.starts_with('/'))
            .map(|_| stage.len() + 1),
        _ => None,
    };
    path.split_at(prefix_len.unwrap_or(0))
}

/// The path API Gateway received (with a named stage's prefix, if the client used it).
pub fn raw_path(request: &Request) -> &str {
    match request.raw_http_path() {
        "" => request.uri().path(),
        raw => raw,
    }
}

/// The API Gateway stage of the request, if any.
pub fn stage(request: &Request) -> Option<&str> {
    match request.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(context)) => context.stage.as_deref(),
        _ => None,
    }
}

/// Reads a JSON request body into `T`, in the order a client needs to hear about problems:
/// wrong media type (415), too large (413), empty or not JSON (400), not the expected shape (400).
pub fn parse_json_body<T: DeserializeOwned>(
    request: &Request,
    limit: usize,
) -> Result<T, ApiError> {
    check_json_content_type(request)?;
    let bytes: &[u8] = request.body().as_ref();
    if bytes.len() > limit {
        return Err(ApiError::PayloadTooLarge {
            size: bytes.len(),
            limit,
        });
    }
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::MalformedJson(
            "request body is empty; expected a JSON object".to_owned(),
        ));
    }
    let value: serde_json::Value = serde_json::from_slice(bytes)
        .map_err(|err| ApiError::MalformedJson(format!("request body is not valid JSON: {err}")))?;
    // Derived deserialisers also accept a struct as an array of its fields; a body is an object.
    if !value.is_object() {
        return Err(ApiError::Validation(format!(
            "request body must be a JSON object, not {}",
            json_kind(&value)
        )));
    }
    T::deserialize(value)
        .map_err(|err| ApiError::Validation(format!("invalid request body: {err}")))
}

fn json_kind(value: &serde_json::Value) -> &'static str {
    match value {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::Object(_) => "an object",
    }
}

/// Accepts `application/json`, optionally with `charset=utf-8`; anything else is a 415.
fn check_json_content_type(request: &Request) -> Result<(), ApiError> {
    let Some(value) = request.headers().get(CONTENT_TYPE) else {
        return Err(ApiError::UnsupportedMediaType(
            "Content-Type is missing; send application/json".to_owned(),
        ));
    };
    let value = value.to_str().unwrap_or_default();
    let mut parts = value.split(';').map(str::trim);
    let media_type = parts.next().unwrap_or_default();
    if !media_type.eq_ignore_ascii_case(JSON) {
        return Err(ApiError::UnsupportedMediaType(format!(
            "Content-Type {value:?} is not supported; send application/json"
        )));
    }
    for parameter in parts.filter(|p| !p.is_empty()) {
        let (name, val) = parameter.split_once('=').unwrap_or((parameter, ""));
        let val = val.trim_matches('"');
        if name.trim().eq_ignore_ascii_case("charset") && !val.eq_ignore_ascii_case("utf-8") {
            return Err(ApiError::UnsupportedMediaType(format!(
                "charset {val:?} is not supported; JSON bodies must be UTF-8"
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct Input {
        name: String,
    }

    fn request(content_type: Option<&str>, body: &str) -> Request {
        let mut builder = lambda_http::http::Request::builder()
            .method("POST")
            .uri("/x");
        if let Some(ct) = content_type {
            builder = builder.header(CONTENT_TYPE, ct);
        }
        builder.body(Body::Text(body.to_owned())).unwrap()
    }

    fn parse(content_type: Option<&str>, body: &str) -> Result<Input, ApiError> {
        parse_json_body(&request(content_type, body), 64)
    }

    #[test]
    fn parses_a_json_body() {
        assert_eq!(
            parse(Some("application/json; charset=UTF-8"), r#"{"name":"a"}"#).unwrap(),
            Input { name: "a".into() }
        );
    }

    #[test]
    fn each_bad_body_gets_its_own_status_and_message() {
        let cases: [(Option<&str>, &str, u16, &str); 12] = [
            (None, "{}", 415, "Content-Type is missing"),
            (
                Some("text/plain"),
                "{}",
                415,
                "\"text/plain\" is not supported",
            ),
            (
                Some("application/json; charset=latin1"),
                "{}",
                415,
                "charset",
            ),
            (
                Some(JSON),
                &"x".repeat(65),
                413,
                "65 bytes; the limit is 64",
            ),
            (Some(JSON), "  ", 400, "request body is empty"),
            (Some(JSON), "{\"name\":", 400, "not valid JSON"),
            (
                Some(JSON),
                r#"{"name":"a","x":1}"#,
                400,
                "unknown field `x`",
            ),
            (
                Some(JSON),
                r#"["a"]"#,
                400,
                "must be a JSON object, not an array",
            ),
            (
                Some(JSON),
                r#""a""#,
                400,
                "must be a JSON object, not a string",
            ),
            (Some(JSON), "7", 400, "must be a JSON object, not a number"),
            (Some(JSON), "null", 400, "must be a JSON object, not null"),
            (
                Some(JSON),
                "true",
                400,
                "must be a JSON object, not a boolean",
            ),
        ];
        for (content_type, body, status, message) in cases {
            let err = parse(content_type, body).unwrap_err();
            assert_eq!(err.status().as_u16(), status, "{err}");
            assert!(
                err.to_string().contains(message),
                "{err:?} lacks {message:?}"
            );
        }
    }

    #[test]
    fn problem_response_is_rfc9457_with_status_specific_headers() {
        let error = ApiError::MethodNotAllowed {
            method: Method::PATCH,
            allow: vec![Method::GET, Method::PUT],
        };
        let response = problem_response(&error, Some("/tasks/1"));
        assert_eq!(response.status(), 405);
        assert_eq!(response.headers()[CONTENT_TYPE], PROBLEM_JSON);
        assert_eq!(response.headers()[ALLOW], "GET, PUT");
        let Body::Text(text) = response.body() else {
            panic!("text body")
        };
        let problem: Problem = serde_json::from_str(text).unwrap();
        assert_eq!(problem.status, 405);
        assert_eq!(problem.title, "Method Not Allowed");
        assert_eq!(problem.problem_type, "/problems/method-not-allowed");
        assert_eq!(problem.instance.as_deref(), Some("/tasks/1"));
        assert!(problem.detail.contains("PATCH"));

        let unauthorized = problem_response(&ApiError::Unauthorized("no".into()), None);
        assert_eq!(unauthorized.headers()[WWW_AUTHENTICATE], "Bearer");
        let unavailable = problem_response(&ApiError::Unavailable("busy".into()), None);
        assert_eq!(unavailable.headers()[RETRY_AFTER], "1");
    }

    #[test]
    fn a_named_stage_prefix_is_split_off_the_route_path() {
        assert_eq!(
            split_stage("/prod/tasks", Some("prod")),
            ("/prod", "/tasks")
        );
        assert_eq!(split_stage("/tasks", Some("prod")), ("", "/tasks"));
        assert_eq!(split_stage("/tasks", None), ("", "/tasks"));
        assert_eq!(
            split_stage("/production/tasks", Some("prod")),
            ("", "/production/tasks")
        );
        assert_eq!(split_stage("/tasks", Some("$default")), ("", "/tasks"));
    }

    #[test]
    fn internal_details_never_reach_the_client() {
        let error = ApiError::Internal("table arn:aws:dynamodb:secret exploded".into());
        let problem = Problem::from_error(&error, None);
        assert_eq!(problem.status, 500);
        assert!(!problem.detail.contains("secret"));
        let error = ApiError::Unavailable("ThrottlingException: table secret".into());
        let problem = Problem::from_error(&error, None);
        assert_eq!(problem.status, 503);
        assert!(!problem.detail.contains("secret"), "{problem:?}");
        assert!(problem.detail.contains("retry"), "{problem:?}");
    }
}

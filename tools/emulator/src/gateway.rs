//! The HTTP API on a loopback port, behaving as API Gateway's HTTP API does for the manifest:
//! route selection, the JWT authorizer, stage throttling, payload format 2.0 events to the
//! function, the function's response mapped back, and API Gateway's own answers
//! (`{"message": ...}`) for what never reaches a function.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::header::{CONTENT_TYPE, COOKIE, HeaderName, HeaderValue, SET_COOKIE};
use hyper::http::request::Parts;
use hyper::{HeaderMap, Request, Response, StatusCode};
use lambda_http::aws_lambda_events::apigw::{
    ApiGatewayRequestAuthorizer, ApiGatewayRequestAuthorizerJwtDescription,
    ApiGatewayV2httpRequest, ApiGatewayV2httpRequestContext,
    ApiGatewayV2httpRequestContextHttpDescription, ApiGatewayV2httpResponse,
};
use lambda_http::aws_lambda_events::encodings::Body;
use lambda_http::aws_lambda_events::query_map::QueryMap;
use serde_json::Value;
use stack::ThrottleSpec;
use time::OffsetDateTime;
use time::macros::format_description;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use crate::functions::{FunctionPool, InvokeError};
use crate::logs::LogSink;
use crate::routes::{Matched, RouteTable};
use crate::token::{self, Authorized};

/// API Gateway's HTTP API payload limit.
pub const MAX_REQUEST_BYTES: usize = 10 * 1024 * 1024;
/// Lambda's limit on a synchronous invocation's event.
pub const MAX_EVENT_BYTES: usize = 6 * 1024 * 1024;
/// API Gateway's maximum integration timeout.
pub const INTEGRATION_TIMEOUT: Duration = Duration::from_secs(30);

/// How the local authorizer validates tokens (see [`crate::token`]).
#[derive(Debug, Clone)]
pub struct AuthorizerSettings {
    pub issuer: String,
    pub audience: String,
}

pub struct Gateway {
    routes: RouteTable,
    functions: HashMap<String, Arc<FunctionPool>>,
    authorizer: AuthorizerSettings,
    throttle: Mutex<TokenBucket>,
    logs: Arc<LogSink>,
}

impl Gateway {
    pub fn new(
        routes: RouteTable,
        functions: HashMap<String, Arc<FunctionPool>>,
        authorizer: AuthorizerSettings,
        throttle: ThrottleSpec,
        logs: Arc<LogSink>,
    ) -> Self {
        Self {
            routes,
            functions,
            authorizer,
            throttle: Mutex::new(TokenBucket::new(throttle, Instant::now())),
            logs,
        }
    }

    async fn handle(
        &self,
        request: Request<Incoming>,
        client: SocketAddr,
    ) -> Response<Full<Bytes>> {
        let started = Instant::now();
        let request_id = ulid::Ulid::new().to_string();
        let (parts, body) = request.into_parts();
        let (response, route) = self.respond(parts.clone(), body, client, &request_id).await;
        self.logs.line(
            "http-api",
            &format!(
                "{} \"{} {}\" {} {}ms route={} requestId={request_id}",
                client.ip(),
                parts.method,
                parts.uri,
                response.status().as_u16(),
                started.elapsed().as_millis(),
                route.as_deref().unwrap_or("-"),
            ),
        );
        response
    }

    async fn respond(
        &self,
        parts: Parts,
        body: Incoming,
        client: SocketAddr,
        request_id: &str,
    ) -> (Response<Full<Bytes>>, Option<String>) {
        if !self.throttle.lock().unwrap().take(Instant::now()) {
            return (
                gateway_answer(StatusCode::TOO_MANY_REQUESTS, "Too Many Requests"),
                None,
            );
        }
        let Some(matched) = self.routes.find(parts.method.as_str(), parts.uri.path()) else {
            return (gateway_answer(StatusCode::NOT_FOUND, "Not Found"), None);
        };
        let route = Some(matched.route_key.to_owned());
        let authorization = parts
            .headers
            .get(hyper::header::AUTHORIZATION)
            .and_then(|value| value.to_str().ok());
        let now = OffsetDateTime::now_utc();
        let authorized = match token::authorize(
            authorization,
            now.unix_timestamp(),
            &self.authorizer.issuer,
            &self.authorizer.audience,
        ) {
            Ok(authorized) => authorized,
            Err(reason) => {
                self.logs.line(
                    "http-api",
                    &format!("authorizer refused {request_id}: {reason}"),
                );
                return (
                    gateway_answer(StatusCode::UNAUTHORIZED, "Unauthorized"),
                    route,
                );
            }
        };
        let body = match Limited::new(body, MAX_REQUEST_BYTES).collect().await {
            Ok(collected) => collected.to_bytes(),
            Err(_) => {
                return (
                    gateway_answer(StatusCode::PAYLOAD_TOO_LARGE, "Request Entity Too Large"),
                    route,
                );
            }
        };
        let event = build_event(&EventInput {
            parts: &parts,
            body: &body,
            matched: &matched,
            authorized,
            client,
            request_id,
            now,
        });
        let payload = serde_json::to_vec(&event).expect("events serialize");
        if payload.len() > MAX_EVENT_BYTES {
            return (
                gateway_answer(StatusCode::PAYLOAD_TOO_LARGE, "Request Entity Too Large"),
                route,
            );
        }
        let Some(function) = self.functions.get(matched.function) else {
            return (
                gateway_answer(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error"),
                route,
            );
        };
        let outcome =
            tokio::time::timeout(INTEGRATION_TIMEOUT, function.invoke(payload.into())).await;
        let response = match outcome {
            Err(_) => gateway_answer(StatusCode::SERVICE_UNAVAILABLE, "Service Unavailable"),
            Ok(Err(error)) => {
                self.logs.line(
                    "http-api",
                    &format!("{} failed {request_id}: {error}", function.key()),
                );
                match error {
                    InvokeError::Stopped => {
                        gateway_answer(StatusCode::SERVICE_UNAVAILABLE, "Service Unavailable")
                    }
                    _ => gateway_answer(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error"),
                }
            }
            Ok(Ok(payload)) => into_http_response(&payload).unwrap_or_else(|reason| {
                self.logs.line(
                    "http-api",
                    &format!(
                        "{} returned an unusable response to {request_id}: {reason}",
                        function.key()
                    ),
                );
                gateway_answer(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error")
            }),
        };
        (response, route)
    }
}

/// Serves the HTTP API on `listener` until the task is aborted.
pub fn serve(gateway: Arc<Gateway>, listener: TcpListener) -> JoinHandle<()> {
    crate::http_server::serve(listener, move |request, client| {
        let gateway = Arc::clone(&gateway);
        async move { gateway.handle(request, client).await }
    })
}

/// API Gateway's own answer, for requests that never reach a function.
fn gateway_answer(status: StatusCode, message: &str) -> Response<Full<Bytes>> {
    Response::builder()
        .status(status)
        .header(CONTENT_TYPE, "application/json")
        .body(Full::new(Bytes::from(
            serde_json::json!({ "message": message }).to_string(),
        )))
        .expect("valid response")
}

struct EventInput<'a> {
    parts: &'a Parts,
    body: &'a Bytes,
    matched: &'a Matched<'a>,
    authorized: Authorized,
    client: SocketAddr,
    request_id: &'a str,
    now: OffsetDateTime,
}

/// The payload format 2.0 event API Gateway sends for this request.
fn build_event(input: &EventInput<'_>) -> ApiGatewayV2httpRequest {
    let parts = input.parts;
    let mut headers = HeaderMap::new();
    for name in parts.headers.keys() {
        if name == COOKIE {
            continue;
        }
        let joined = parts
            .headers
            .get_all(name)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .collect::<Vec<_>>()
            .join(",");
        if let Ok(value) = HeaderValue::from_str(&joined) {
            headers.insert(HeaderName::from(name), value);
        }
    }
    let cookies: Vec<String> = parts
        .headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .map(|cookie| cookie.trim().to_owned())
        .filter(|cookie| !cookie.is_empty())
        .collect();
    let raw_query = parts.uri.query().unwrap_or_default();
    let mut query: HashMap<String, Vec<String>> = HashMap::new();
    for (name, value) in form_pairs(raw_query) {
        query.entry(name).or_default().push(value);
    }
    // API Gateway joins repeated parameters with commas in queryStringParameters.
    let query: HashMap<String, String> = query
        .into_iter()
        .map(|(name, values)| (name, values.join(",")))
        .collect();
    let content_type = parts
        .headers
        .get(CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default();
    let (body, is_base64_encoded) = if input.body.is_empty() {
        (None, false)
    } else {
        match std::str::from_utf8(input.body) {
            Ok(text) if is_textual(content_type) => (Some(text.to_owned()), false),
            _ => (Some(STANDARD.encode(input.body)), true),
        }
    };
    let user_agent = parts
        .headers
        .get(hyper::header::USER_AGENT)
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned);
    let host = parts
        .headers
        .get(hyper::header::HOST)
        .and_then(|value| value.to_str().ok())
        .unwrap_or("localhost")
        .to_owned();

    let mut http = ApiGatewayV2httpRequestContextHttpDescription::default();
    http.method = parts.method.clone();
    http.path = Some(parts.uri.path().to_owned());
    http.protocol = Some("HTTP/1.1".into());
    http.source_ip = Some(input.client.ip().to_string());
    http.user_agent = user_agent;

    let mut jwt = ApiGatewayRequestAuthorizerJwtDescription::default();
    jwt.claims = input.authorized.claims.clone();
    jwt.scopes = (!input.authorized.scopes.is_empty()).then(|| input.authorized.scopes.clone());
    let mut authorizer = ApiGatewayRequestAuthorizer::default();
    authorizer.jwt = Some(jwt);

    let mut context = ApiGatewayV2httpRequestContext::default();
    context.route_key = Some(input.matched.route_key.to_owned());
    context.account_id = Some("000000000000".into());
    context.stage = Some("$default".into());
    context.request_id = Some(input.request_id.to_owned());
    context.authorizer = Some(authorizer);
    context.apiid = Some("local".into());
    context.domain_prefix = host.split('.').next().map(str::to_owned);
    context.domain_name = Some(host);
    context.time = input
        .now
        .format(format_description!(
            "[day]/[month repr:short]/[year]:[hour]:[minute]:[second] +0000"
        ))
        .ok();
    context.time_epoch = (input.now.unix_timestamp_nanos() / 1_000_000) as i64;
    context.http = http;

    let mut event = ApiGatewayV2httpRequest::default();
    event.version = Some("2.0".into());
    event.route_key = Some(input.matched.route_key.to_owned());
    event.raw_path = Some(parts.uri.path().to_owned());
    event.raw_query_string = Some(raw_query.to_owned());
    event.cookies = (!cookies.is_empty()).then_some(cookies);
    event.headers = headers;
    event.query_string_parameters = QueryMap::from(query);
    event.path_parameters = input.matched.path_parameters.clone();
    event.request_context = context;
    event.body = body;
    event.is_base64_encoded = is_base64_encoded;
    // The struct also models custom-authorizer payloads; keep their method field truthful.
    #[allow(deprecated)]
    {
        event.http_method = parts.method.clone();
    }
    event
}

/// Content types API Gateway passes as text; anything else arrives base64-encoded.
fn is_textual(content_type: &str) -> bool {
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    essence.is_empty()
        || essence.starts_with("text/")
        || essence.ends_with("/json")
        || essence.ends_with("+json")
        || essence.ends_with("/xml")
        || essence.ends_with("+xml")
        || essence == "application/x-www-form-urlencoded"
        || essence == "application/javascript"
}

fn form_pairs(raw: &str) -> impl Iterator<Item = (String, String)> + '_ {
    raw.split('&').filter(|pair| !pair.is_empty()).map(|pair| {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        let decode = |text: &str| {
            percent_encoding::percent_decode_str(&text.replace('+', " "))
                .decode_utf8_lossy()
                .into_owned()
        };
        (decode(name), decode(value))
    })
}

/// Maps the function's payload format 2.0 response to HTTP. A payload without `statusCode`
/// is, as API Gateway reads it, a 200 JSON body.
fn into_http_response(payload: &[u8]) -> Result<Response<Full<Bytes>>, String> {
    let value: Value = serde_json::from_slice(payload).map_err(|e| format!("not JSON: {e}"))?;
    let Some(object) = value.as_object().filter(|o| o.contains_key("statusCode")) else {
        return Ok(Response::builder()
            .status(StatusCode::OK)
            .header(CONTENT_TYPE, "application/json")
            .body(Full::new(Bytes::copy_from_slice(payload)))
            .expect("valid response"));
    };
    let mut object = object.clone();
    object
        .entry("cookies")
        .or_insert_with(|| Value::Array(Vec::new()));
    let response: ApiGatewayV2httpResponse =
        serde_json::from_value(Value::Object(object)).map_err(|e| e.to_string())?;
    let status = u16::try_from(response.status_code)
        .ok()
        .and_then(|code| StatusCode::from_u16(code).ok())
        .ok_or_else(|| format!("statusCode {} is not an HTTP status", response.status_code))?;
    let body = match response.body {
        None | Some(Body::Empty) => Bytes::new(),
        Some(Body::Text(text)) if response.is_base64_encoded => Bytes::from(
            STANDARD
                .decode(text.as_bytes())
                .map_err(|e| format!("isBase64Encoded but the body is not base64: {e}"))?,
        ),
        Some(Body::Text(text)) => Bytes::from(text),
        Some(Body::Binary(bytes)) => Bytes::from(bytes),
        Some(_) => return Err("unsupported body kind".into()),
    };
    let mut builder = Response::builder().status(status);
    for (name, value) in response
        .headers
        .iter()
        .chain(response.multi_value_headers.iter())
    {
        builder = builder.header(name, value);
    }
    for cookie in &response.cookies {
        builder = builder.header(SET_COOKIE, cookie);
    }
    builder.body(Full::new(body)).map_err(|e| e.to_string())
}

/// The stage's throttle: `burst_limit` requests at once, refilled at `rate_limit` per second.
#[derive(Debug)]
struct TokenBucket {
    capacity: f64,
    rate: f64,
    tokens: f64,
    refilled_at: Instant,
}

impl TokenBucket {
    fn new(spec: ThrottleSpec, now: Instant) -> Self {
        Self {
            capacity: f64::from(spec.burst_limit),
            rate: f64::from(spec.rate_limit),
            tokens: f64::from(spec.burst_limit),
            refilled_at: now,
        }
    }

    fn take(&mut self, now: Instant) -> bool {
        let elapsed = now
            .saturating_duration_since(self.refilled_at)
            .as_secs_f64();
        self.tokens = (self.tokens + elapsed * self.rate).min(self.capacity);
        self.refilled_at = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use hyper::Method;
    use serde_json::json;

    use super::*;

    fn parts(method: Method, uri: &str, headers: &[(&str, &str)]) -> Parts {
        let mut builder = Request::builder().method(method).uri(uri);
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        builder.body(()).unwrap().into_parts().0
    }

    fn event_for(parts: &Parts, body: &[u8]) -> Value {
        let matched = Matched {
            route_key: "ANY /tasks/{id}",
            function: "todo-api",
            path_parameters: HashMap::from([("id".into(), "01ABC".into())]),
        };
        let authorized = Authorized {
            claims: HashMap::from([("sub".into(), "user-alice".into())]),
            scopes: vec![],
        };
        let event = build_event(&EventInput {
            parts,
            body: &Bytes::copy_from_slice(body),
            matched: &matched,
            authorized,
            client: "127.0.0.1:5555".parse().unwrap(),
            request_id: "req-1",
            now: OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap(),
        });
        serde_json::to_value(event).unwrap()
    }

    #[test]
    fn the_event_is_payload_format_2_with_the_callers_claims() {
        let parts = parts(
            Method::PUT,
            "/tasks/01ABC?limit=5&status=Pending&status=Completed&q=a%20b",
            &[
                ("host", "127.0.0.1:3000"),
                ("content-type", "application/json"),
                ("x-multi", "one"),
                ("x-multi", "two"),
                ("cookie", "a=1; b=2"),
                ("if-match", "\"3\""),
            ],
        );
        let event = event_for(&parts, br#"{"status":"Completed"}"#);
        assert_eq!(event["version"], "2.0");
        assert_eq!(event["routeKey"], "ANY /tasks/{id}");
        assert_eq!(event["rawPath"], "/tasks/01ABC");
        assert_eq!(
            event["rawQueryString"],
            "limit=5&status=Pending&status=Completed&q=a%20b"
        );
        assert_eq!(
            event["queryStringParameters"]["status"],
            "Pending,Completed"
        );
        assert_eq!(event["queryStringParameters"]["q"], "a b");
        assert_eq!(event["pathParameters"]["id"], "01ABC");
        assert_eq!(event["headers"]["x-multi"], "one,two");
        assert_eq!(event["headers"]["if-match"], "\"3\"");
        assert!(event["headers"].get("cookie").is_none());
        assert_eq!(event["cookies"], json!(["a=1", "b=2"]));
        assert_eq!(event["body"], r#"{"status":"Completed"}"#);
        assert_eq!(event["isBase64Encoded"], false);
        let context = &event["requestContext"];
        assert_eq!(context["http"]["method"], "PUT");
        assert_eq!(context["http"]["sourceIp"], "127.0.0.1");
        assert_eq!(context["authorizer"]["jwt"]["claims"]["sub"], "user-alice");
        assert_eq!(context["stage"], "$default");
        assert_eq!(context["requestId"], "req-1");
        assert_eq!(context["time"], "15/Jan/2027:08:00:00 +0000");
        assert_eq!(context["timeEpoch"], 1_800_000_000_000_i64);

        // What lambda_http makes of it is what the function sees.
        let request: ApiGatewayV2httpRequest = serde_json::from_value(event).unwrap();
        assert_eq!(request.request_context.http.method, Method::PUT);
    }

    #[test]
    fn binary_bodies_arrive_base64_encoded() {
        let binary = parts(
            Method::POST,
            "/tasks",
            &[("content-type", "application/octet-stream")],
        );
        let event = event_for(&binary, b"\x00\x01hi");
        assert_eq!(event["isBase64Encoded"], true);
        assert_eq!(event["body"], STANDARD.encode(b"\x00\x01hi"));
        let invalid_utf8 = parts(
            Method::POST,
            "/tasks",
            &[("content-type", "application/json")],
        );
        assert_eq!(event_for(&invalid_utf8, b"\xff")["isBase64Encoded"], true);
        let empty = parts(Method::GET, "/tasks", &[]);
        assert!(event_for(&empty, b"").get("body").is_none());
    }

    #[test]
    fn function_responses_map_to_http() {
        let payload = json!({
            "statusCode": 201,
            "headers": {"content-type": "application/json", "etag": "\"1\""},
            "body": "{\"id\":\"x\"}",
            "isBase64Encoded": false,
            "cookies": ["s=1; Path=/"]
        });
        let response = into_http_response(payload.to_string().as_bytes()).unwrap();
        assert_eq!(response.status(), StatusCode::CREATED);
        assert_eq!(response.headers()["etag"], "\"1\"");
        assert_eq!(response.headers()[SET_COOKIE], "s=1; Path=/");

        let encoded = json!({"statusCode": 200, "body": STANDARD.encode(b"\x00bin"), "isBase64Encoded": true});
        let response = into_http_response(encoded.to_string().as_bytes()).unwrap();
        let body = futures_body(response);
        assert_eq!(body, Bytes::from_static(b"\x00bin"));

        let inferred = into_http_response(br#"{"hello":"world"}"#).unwrap();
        assert_eq!(inferred.status(), StatusCode::OK);
        assert_eq!(inferred.headers()[CONTENT_TYPE], "application/json");
        assert_eq!(
            futures_body(inferred),
            Bytes::from_static(br#"{"hello":"world"}"#)
        );

        assert!(into_http_response(b"not json").is_err());
        assert!(into_http_response(br#"{"statusCode": 42}"#).is_err());
    }

    fn futures_body(response: Response<Full<Bytes>>) -> Bytes {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        runtime.block_on(async { response.into_body().collect().await.unwrap().to_bytes() })
    }

    #[test]
    fn the_throttle_allows_the_burst_then_the_rate() {
        let start = Instant::now();
        let mut bucket = TokenBucket::new(
            ThrottleSpec {
                burst_limit: 3,
                rate_limit: 2,
            },
            start,
        );
        assert!((0..3).all(|_| bucket.take(start)));
        assert!(!bucket.take(start));
        assert!(bucket.take(start + Duration::from_millis(500)));
        assert!(!bucket.take(start + Duration::from_millis(600)));
        let later = start + Duration::from_secs(60);
        assert_eq!(
            (0..5).filter(|_| bucket.take(later)).count(),
            3,
            "capped at the burst"
        );
    }

    #[test]
    fn textual_content_types() {
        for textual in [
            "",
            "text/plain",
            "application/json; charset=utf-8",
            "application/problem+json",
        ] {
            assert!(is_textual(textual), "{textual}");
        }
        for binary in [
            "application/octet-stream",
            "image/png",
            "multipart/form-data",
        ] {
            assert!(!is_textual(binary), "{binary}");
        }
    }
}

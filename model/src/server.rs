//! The model server: SageMaker's bring-your-own-container inference contract, plus the
//! runtime's own path so the SDK can call it directly on a laptop.
//!
//! - `GET /ping`: 200 once the model is loaded (it is loaded before the port opens).
//! - `POST /invocations`: rows in, scores out, as `application/json`
//!   (`{"instances":[{"features":[…]}]}` → `{"predictions":[{"score":…}]}`, the dense format of
//!   the built-in Linear Learner) or `text/csv` (one row per line → one score per line, as the
//!   built-in XGBoost). The answer's format follows `Accept`, else the request's.
//!   Every answer carries `X-Amzn-SageMaker-Custom-Attributes:
//!   modelVersion=…,featureSpecVersion=…`, which SageMaker passes back to the caller. A request
//!   whose custom attributes name another `featureSpecVersion` is refused.
//! - `POST /endpoints/{name}/invocations`: what the SageMaker runtime answers for an endpoint
//!   hosting this container: the same on success; a container error becomes a 424 with
//!   `x-amzn-ErrorType: ModelError`; an unknown endpoint name a 400 `ValidationError`.

use std::convert::Infallible;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::header::{ACCEPT, CONTENT_TYPE, HeaderValue};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde::{Deserialize, Serialize};
use tokio::net::TcpListener;
use tokio::task::JoinSet;

use shared::features::endpoint_attributes::{
    MODEL_VERSION_ATTRIBUTE, SPEC_VERSION_ATTRIBUTE, attribute,
};

use crate::artifact::Model;

/// The request and response header SageMaker passes through between caller and container.
pub const CUSTOM_ATTRIBUTES: &str = "x-amzn-sagemaker-custom-attributes";
/// The largest request body accepted: SageMaker real-time endpoints take at most 6 MB.
pub const MAX_BODY_BYTES: usize = 6 * 1024 * 1024;
pub const CSV: &str = "text/csv";
pub const JSON: &str = "application/json";

/// What the server answers with.
#[derive(Debug, Clone)]
pub struct ServerState {
    pub model: Arc<Model>,
    /// The endpoint name `/endpoints/{name}/invocations` answers to; any name when `None`.
    pub endpoint_name: Option<String>,
}

/// Serves `state` on `listener` until the returned future is dropped.
pub async fn serve(listener: TcpListener, state: Arc<ServerState>) {
    let mut connections = JoinSet::new();
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let state = Arc::clone(&state);
        connections.spawn(async move {
            let service = service_fn(move |request| {
                let state = Arc::clone(&state);
                async move { Ok::<_, Infallible>(respond(&state, request).await) }
            });
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
        while connections.try_join_next().is_some() {}
    }
}

/// A container error: status and message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub status: StatusCode,
    pub message: String,
}

fn refuse(status: StatusCode, message: impl Into<String>) -> Refusal {
    Refusal {
        status,
        message: message.into(),
    }
}

async fn respond(state: &ServerState, request: Request<Incoming>) -> Response<Full<Bytes>> {
    let path = request.uri().path().to_owned();
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let (allowed, runtime_endpoint) = match segments.as_slice() {
        ["ping"] => (Method::GET, None),
        ["invocations"] => (Method::POST, None),
        ["endpoints", name, "invocations"] if !name.is_empty() => {
            (Method::POST, Some((*name).to_owned()))
        }
        _ => {
            return error_response(&refuse(
                StatusCode::NOT_FOUND,
                format!("no resource at {path}"),
            ));
        }
    };
    if request.method() != allowed {
        let mut response = error_response(&refuse(
            StatusCode::METHOD_NOT_ALLOWED,
            format!("{} {path} is not served; use {allowed}", request.method()),
        ));
        response.headers_mut().insert(
            "allow",
            HeaderValue::from_str(allowed.as_str()).expect("a method name"),
        );
        return response;
    }
    if allowed == Method::GET {
        return Response::new(Full::new(Bytes::new()));
    }
    match runtime_endpoint {
        None => match invoke(state, request).await {
            Ok(response) => response,
            Err(refusal) => error_response(&refusal),
        },
        Some(name) => {
            if let Some(expected) = &state.endpoint_name
                && *expected != name
            {
                return runtime_error(
                    StatusCode::BAD_REQUEST,
                    "ValidationError",
                    serde_json::json!({
                        "message": format!("Endpoint {name} of account 000000000000 not found.")
                    }),
                );
            }
            match invoke(state, request).await {
                Ok(response) => response,
                Err(refusal) => model_error(&refusal),
            }
        }
    }
}

/// `POST /invocations`: parse, check, score, answer.
async fn invoke(
    state: &ServerState,
    request: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Refusal> {
    let headers = request.headers().clone();
    let content_type = media_type(headers.get(CONTENT_TYPE)).ok_or_else(|| {
        refuse(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            format!("Content-Type must be {CSV} or {JSON}"),
        )
    })?;
    let accept = match headers.get(ACCEPT).and_then(|v| v.to_str().ok()) {
        None => content_type,
        Some(value) => accepted(value, content_type).ok_or_else(|| {
            refuse(
                StatusCode::NOT_ACCEPTABLE,
                format!("cannot answer in {value}; accept {CSV} or {JSON}"),
            )
        })?,
    };
    let model = &state.model;
    if let Some(version) = custom_attribute(&headers, SPEC_VERSION_ATTRIBUTE)
        && version != model.feature_spec_version.to_string()
    {
        return Err(refuse(
            StatusCode::BAD_REQUEST,
            format!(
                "the rows were computed with feature spec version {version}; model {} was trained on version {}",
                model.version, model.feature_spec_version
            ),
        ));
    }
    let body = Limited::new(request.into_body(), MAX_BODY_BYTES)
        .collect()
        .await
        .map_err(|_| {
            refuse(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("the body is over {MAX_BODY_BYTES} bytes"),
            )
        })?
        .to_bytes();
    let rows = if content_type == CSV {
        parse_csv(&body)?
    } else {
        parse_json(&body)?
    };
    if rows.is_empty() {
        return Err(refuse(StatusCode::BAD_REQUEST, "the request has no rows"));
    }
    let scores = model
        .score_rows(&rows)
        .map_err(|error| refuse(StatusCode::BAD_REQUEST, error.to_string()))?;
    tracing::debug!(rows = rows.len(), "scored");
    let text = if accept == CSV {
        scores.iter().map(|score| format!("{score}\n")).collect()
    } else {
        serde_json::to_string(&Predictions {
            predictions: scores.iter().map(|&score| Prediction { score }).collect(),
        })
        .expect("scores serialize")
    };
    let mut response = Response::new(Full::new(Bytes::from(text)));
    let response_headers = response.headers_mut();
    response_headers.insert(CONTENT_TYPE, HeaderValue::from_static(accept));
    let attributes = format!(
        "{MODEL_VERSION_ATTRIBUTE}={},{SPEC_VERSION_ATTRIBUTE}={}",
        model.version, model.feature_spec_version
    );
    if let Ok(value) = HeaderValue::from_str(&attributes) {
        response_headers.insert(CUSTOM_ATTRIBUTES, value);
    }
    Ok(response)
}

/// `text/csv` or `application/json` (parameters such as `charset` ignored), else `None`.
fn media_type(value: Option<&HeaderValue>) -> Option<&'static str> {
    let value = value?.to_str().ok()?;
    let media = value.split(';').next()?.trim();
    [CSV, JSON]
        .into_iter()
        .find(|known| media.eq_ignore_ascii_case(known))
}

/// The first media type of an `Accept` list this server answers in (parameters ignored;
/// `*/*`, `text/*`, `application/*` or an empty header mean the request's own type when it
/// fits).
fn accepted(accept: &str, request_type: &'static str) -> Option<&'static str> {
    if accept.trim().is_empty() {
        return Some(request_type);
    }
    accept.split(',').find_map(|entry| {
        let media = entry.split(';').next().unwrap_or_default().trim();
        match media.to_ascii_lowercase().as_str() {
            "*/*" => Some(request_type),
            "text/*" => Some(CSV),
            "application/*" => Some(JSON),
            other => [CSV, JSON].into_iter().find(|known| *known == other),
        }
    })
}

/// `name` from custom attributes `k=v,k=v`.
pub fn custom_attribute(headers: &hyper::HeaderMap, name: &str) -> Option<String> {
    let value = headers.get(CUSTOM_ATTRIBUTES)?.to_str().ok()?;
    attribute(value, name).map(str::to_owned)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Instances {
    /// Each an object, as the body is.
    #[serde(deserialize_with = "shared::json::objects")]
    instances: Vec<Instance>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Instance {
    features: Vec<f64>,
}

/// The JSON answer of `/invocations`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Predictions {
    pub predictions: Vec<Prediction>,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Prediction {
    pub score: f64,
}

fn parse_json(body: &[u8]) -> Result<Vec<Vec<f64>>, Refusal> {
    // An object: an array of the fields would otherwise pass for one.
    let instances: Instances = shared::json::expect_object(body)
        .and_then(|()| serde_json::from_slice(body))
        .map_err(|error| {
            refuse(
                StatusCode::BAD_REQUEST,
                format!(
                    "the body is not {{\"instances\":[{{\"features\":[numbers…]}},…]}}: {error}"
                ),
            )
        })?;
    Ok(instances
        .instances
        .into_iter()
        .map(|instance| instance.features)
        .collect())
}

fn parse_csv(body: &[u8]) -> Result<Vec<Vec<f64>>, Refusal> {
    let text = std::str::from_utf8(body)
        .map_err(|_| refuse(StatusCode::BAD_REQUEST, "the CSV body is not UTF-8"))?;
    text.lines()
        .map(|line| line.trim_end_matches('\r'))
        .filter(|line| !line.trim().is_empty())
        .enumerate()
        .map(|(row, line)| {
            line.split(',')
                .enumerate()
                .map(|(column, field)| {
                    field.trim().parse::<f64>().map_err(|_| {
                        refuse(
                            StatusCode::BAD_REQUEST,
                            format!("row {row}, column {column}: {field:?} is not a number"),
                        )
                    })
                })
                .collect()
        })
        .collect()
}

fn error_response(refusal: &Refusal) -> Response<Full<Bytes>> {
    let body = serde_json::json!({ "error": refusal.message }).to_string();
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = refusal.status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(JSON));
    response
}

/// How the SageMaker runtime reports a container's error to the caller.
fn model_error(refusal: &Refusal) -> Response<Full<Bytes>> {
    let kind = if refusal.status.is_client_error() {
        "client"
    } else {
        "server"
    };
    runtime_error(
        StatusCode::FAILED_DEPENDENCY,
        "ModelError",
        serde_json::json!({
            "ErrorCode": format!("{}_ERROR_FROM_MODEL", kind.to_uppercase()),
            "Message": format!(
                "Received {kind} error ({}) from primary with message \"{}\".",
                refusal.status.as_u16(),
                refusal.message
            ),
            "OriginalMessage": refusal.message,
            "OriginalStatusCode": refusal.status.as_u16(),
        }),
    )
}

fn runtime_error(
    status: StatusCode,
    error_type: &'static str,
    body: serde_json::Value,
) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body.to_string())));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(JSON));
    headers.insert("x-amzn-errortype", HeaderValue::from_static(error_type));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_rows_parse_with_blank_lines_and_crlf_and_name_bad_fields() {
        let rows = parse_csv(b"1,2.5\r\n\n3,4\n").unwrap();
        assert_eq!(rows, vec![vec![1.0, 2.5], vec![3.0, 4.0]]);
        let refusal = parse_csv(b"1,2\n3,x\n").unwrap_err();
        assert_eq!(refusal.status, StatusCode::BAD_REQUEST);
        assert_eq!(refusal.message, "row 1, column 1: \"x\" is not a number");
    }

    #[test]
    fn a_json_body_and_each_instance_must_be_objects() {
        assert_eq!(
            parse_json(br#"{"instances": [{"features": [1, 2.5]}, {"features": [0]}]}"#).unwrap(),
            vec![vec![1.0, 2.5], vec![0.0]]
        );
        // Read by position, each of these passed for {"instances": [{"features": [1, 2]}]}.
        for (body, wanted) in [
            (
                r#"[[{"features": [1, 2]}]]"#,
                "must be a JSON object, not an array",
            ),
            (
                r#"{"instances": [[[1, 2]]]}"#,
                "must be a JSON object, not an array",
            ),
            (r#"[[[[1, 2]]]]"#, "must be a JSON object, not an array"),
            (r#""instances""#, "must be a JSON object, not a string"),
            ("1", "must be a JSON object, not a number"),
            ("null", "must be a JSON object, not null"),
            ("true", "must be a JSON object, not a boolean"),
            (r#"{"instances": [7]}"#, "expected a JSON object"),
        ] {
            let refusal = parse_json(body.as_bytes()).unwrap_err();
            assert_eq!(refusal.status, StatusCode::BAD_REQUEST, "{body}");
            assert!(
                refusal.message.contains(wanted),
                "{body}: {}",
                refusal.message
            );
        }
    }

    #[test]
    fn the_first_acceptable_type_of_an_accept_list_is_answered() {
        assert_eq!(accepted("application/json", CSV), Some(JSON));
        assert_eq!(
            accepted("application/x-npy, text/csv;q=0.9", JSON),
            Some(CSV)
        );
        assert_eq!(accepted("*/*", CSV), Some(CSV));
        assert_eq!(accepted("application/*", CSV), Some(JSON));
        assert_eq!(accepted("", JSON), Some(JSON));
        assert_eq!(accepted("application/x-npy", CSV), None);
    }

    #[test]
    fn media_types_ignore_parameters_and_case() {
        let header = |v: &str| HeaderValue::from_str(v).unwrap();
        assert_eq!(
            media_type(Some(&header("text/CSV; charset=utf-8"))),
            Some(CSV)
        );
        assert_eq!(media_type(Some(&header("application/json"))), Some(JSON));
        assert_eq!(media_type(Some(&header("application/x-npy"))), None);
        assert_eq!(media_type(None), None);
    }
}

//! A small HTTP/1.1 client over the hyper stack the workspace already builds: for the demo,
//! readiness probes and tests.

use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{HeaderMap, Method, Request, StatusCode};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    #[error("invalid request to {url}: {message}")]
    Request { url: String, message: String },
    #[error("{method} {url}: {message}")]
    Failed {
        method: Method,
        url: String,
        message: String,
    },
    #[error("{method} {url}: no answer within {timeout:?}")]
    TimedOut {
        method: Method,
        url: String,
        timeout: Duration,
    },
}

#[derive(Debug, Clone)]
pub struct HttpResponse {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl HttpResponse {
    pub fn json<T: serde::de::DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        serde_json::from_slice(&self.body)
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The start of the body, for a failure message.
    pub fn excerpt(&self) -> String {
        excerpt(&self.body)
    }
}

/// The first 200 characters of `body` (lossy UTF-8), for a failure message.
pub fn excerpt(body: &[u8]) -> String {
    String::from_utf8_lossy(body).chars().take(200).collect()
}

#[derive(Clone)]
pub struct HttpClient {
    client: Client<HttpConnector, Full<Bytes>>,
    timeout: Duration,
}

impl HttpClient {
    pub fn new(timeout: Duration) -> Self {
        Self {
            client: Client::builder(TokioExecutor::new()).build_http(),
            timeout,
        }
    }

    pub async fn send(
        &self,
        method: Method,
        url: &str,
        headers: &[(&str, &str)],
        body: Option<Bytes>,
    ) -> Result<HttpResponse, HttpError> {
        let mut builder = Request::builder().method(method.clone()).uri(url);
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        let request = builder
            .body(Full::new(body.unwrap_or_default()))
            .map_err(|error| HttpError::Request {
                url: url.to_owned(),
                message: error.to_string(),
            })?;
        let failed = |message: String| HttpError::Failed {
            method: method.clone(),
            url: url.to_owned(),
            message,
        };
        let exchange = async {
            let response = self
                .client
                .request(request)
                .await
                .map_err(|error| failed(error.to_string()))?;
            let (parts, body) = response.into_parts();
            let body = body
                .collect()
                .await
                .map_err(|error| failed(error.to_string()))?
                .to_bytes();
            Ok(HttpResponse {
                status: parts.status,
                headers: parts.headers,
                body,
            })
        };
        tokio::time::timeout(self.timeout, exchange)
            .await
            .map_err(|_| HttpError::TimedOut {
                method: method.clone(),
                url: url.to_owned(),
                timeout: self.timeout,
            })?
    }

    /// Sends a request to the HTTP API at `url` as the caller `token` names (`Authorization:
    /// Bearer`; none without a token), with `headers` and, when given, a JSON `body` with its
    /// content type.
    pub async fn send_as(
        &self,
        token: Option<&str>,
        method: Method,
        url: &str,
        headers: &[(&str, &str)],
        body: Option<serde_json::Value>,
    ) -> Result<HttpResponse, HttpError> {
        let authorization = token.map(|token| format!("Bearer {token}"));
        let mut all_headers: Vec<(&str, &str)> = headers.to_vec();
        if let Some(value) = &authorization {
            all_headers.push(("authorization", value));
        }
        if body.is_some() {
            all_headers.push(("content-type", "application/json"));
        }
        self.send(
            method,
            url,
            &all_headers,
            body.map(|body| Bytes::from(body.to_string())),
        )
        .await
    }
}

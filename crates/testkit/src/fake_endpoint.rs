//! A loopback HTTP/1.1 endpoint for tests that need an AWS service to answer in ways emulators
//! never do (throttling, partial failures, 5xx). Point a client at it with `endpoint_url`.

use std::sync::Arc;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

/// A request as the endpoint received it.
#[derive(Debug, Clone)]
pub struct FakeRequest {
    /// Header names lowercased.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl FakeRequest {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(header, _)| header == name)
            .map(|(_, value)| value.as_str())
    }
}

/// The answer to one request.
#[derive(Debug, Clone)]
pub struct FakeResponse {
    pub status: u16,
    pub headers: Vec<(&'static str, String)>,
    pub body: String,
    /// How long to wait before answering: a slow dependency.
    pub delay: std::time::Duration,
}

impl FakeResponse {
    /// An immediate answer in the AWS JSON 1.0 protocol (DynamoDB's).
    pub fn aws_json(status: u16, body: impl Into<String>) -> Self {
        Self {
            status,
            headers: vec![("Content-Type", "application/x-amz-json-1.0".into())],
            body: body.into(),
            delay: std::time::Duration::ZERO,
        }
    }
}

/// Serves `respond` on a free loopback port until the runtime ends; returns the endpoint URL.
pub async fn serve<F>(respond: F) -> String
where
    F: Fn(FakeRequest) -> FakeResponse + Send + Sync + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a loopback port");
    let endpoint = format!("http://{}", listener.local_addr().expect("bound"));
    let respond = Arc::new(respond);
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let respond = Arc::clone(&respond);
            tokio::spawn(async move {
                let (read, mut write) = stream.into_split();
                let mut reader = BufReader::new(read);
                loop {
                    // Request line and headers, then the body by Content-Length.
                    let mut headers = Vec::new();
                    let mut line = String::new();
                    if reader.read_line(&mut line).await.unwrap_or(0) == 0 {
                        return;
                    }
                    loop {
                        line.clear();
                        if reader.read_line(&mut line).await.unwrap_or(0) == 0 {
                            return;
                        }
                        if line == "\r\n" {
                            break;
                        }
                        if let Some((name, value)) = line.split_once(':') {
                            headers
                                .push((name.trim().to_ascii_lowercase(), value.trim().to_owned()));
                        }
                    }
                    let length = headers
                        .iter()
                        .find(|(name, _)| name == "content-length")
                        .and_then(|(_, value)| value.parse().ok())
                        .unwrap_or(0);
                    let mut body = vec![0; length];
                    if reader.read_exact(&mut body).await.is_err() {
                        return;
                    }
                    let response = respond(FakeRequest { headers, body });
                    tokio::time::sleep(response.delay).await;
                    let mut text = format!("HTTP/1.1 {} Fake\r\n", response.status);
                    for (name, value) in &response.headers {
                        text.push_str(&format!("{name}: {value}\r\n"));
                    }
                    text.push_str(&format!(
                        "Content-Length: {}\r\n\r\n{}",
                        response.body.len(),
                        response.body
                    ));
                    if write.write_all(text.as_bytes()).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    endpoint
}

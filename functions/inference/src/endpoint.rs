//! The SageMaker adapter: one InvokeEndpoint per request carrying every row, its answer read
//! into scores and the model's self-description, its failures sorted by what the caller can do.

use aws_sdk_sagemakerruntime::Client;
use aws_sdk_sagemakerruntime::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_sagemakerruntime::operation::invoke_endpoint::InvokeEndpointError;
use aws_sdk_sagemakerruntime::primitives::Blob;
use shared::features::SpecVersion;

use crate::rows::{self, RowFormat};

/// The custom attributes every request carries: the feature spec version of its rows, so a
/// container that knows its own can refuse them.
pub fn request_attributes(version: SpecVersion) -> String {
    format!("featureSpecVersion={version}")
}

/// What the endpoint answered.
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    pub scores: Vec<f64>,
    /// `X-Amzn-SageMaker-Custom-Attributes` of the answer, as the container set them.
    pub attributes: Option<String>,
}

/// Why there is no score.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ModelFailure {
    /// The container answered an error (SageMaker's `ModelError`), with its status if given.
    #[error("the model container answered {}: {message}", status.map_or("an error".to_owned(), |s| s.to_string()))]
    ModelError {
        status: Option<u16>,
        message: String,
    },
    /// The endpoint is at its concurrency or throughput limit.
    #[error("throttled: {0}")]
    Throttled(String),
    #[error("no answer in time: {0}")]
    Timeout(String),
    /// The endpoint is not reachable or not ready; a retry later may work.
    #[error("unavailable: {0}")]
    Unavailable(String),
    /// The request cannot work as configured (unknown endpoint, bad request).
    #[error("misconfigured: {0}")]
    Misconfigured(String),
    /// The answer cannot be read as one score per row.
    #[error("unreadable answer: {0}")]
    BadAnswer(String),
}

#[derive(Debug, Clone)]
pub struct ModelEndpoint {
    client: Client,
    name: String,
    format: RowFormat,
    spec_version: SpecVersion,
}

impl ModelEndpoint {
    /// The endpoint `name`, sent rows of feature spec `spec_version` in `format`.
    pub fn new(client: Client, name: String, format: RowFormat, spec_version: SpecVersion) -> Self {
        Self {
            client,
            name,
            format,
            spec_version,
        }
    }

    pub fn format(&self) -> RowFormat {
        self.format
    }

    /// Scores `rows` in one call.
    pub async fn score(&self, rows: &[Vec<f64>]) -> Result<Answer, ModelFailure> {
        let content_type = self.format.content_type();
        let output = self
            .client
            .invoke_endpoint()
            .endpoint_name(&self.name)
            .content_type(content_type)
            .accept(content_type)
            .custom_attributes(request_attributes(self.spec_version))
            .body(Blob::new(rows::encode(self.format, rows)))
            .send()
            .await
            .map_err(classify)?;
        let scores = rows::decode_scores(
            output.body().map(Blob::as_ref).unwrap_or_default(),
            output.content_type(),
            self.format,
            rows.len(),
        )
        .map_err(ModelFailure::BadAnswer)?;
        Ok(Answer {
            scores,
            attributes: output.custom_attributes().map(str::to_owned),
        })
    }
}

fn classify<R: std::fmt::Debug>(error: SdkError<InvokeEndpointError, R>) -> ModelFailure {
    let shown = shared::dynamo::describe(&error);
    match &error {
        SdkError::TimeoutError(_) => ModelFailure::Timeout(shown),
        SdkError::DispatchFailure(failure) if failure.is_timeout() => ModelFailure::Timeout(shown),
        SdkError::DispatchFailure(_) => ModelFailure::Unavailable(shown),
        SdkError::ResponseError(_) => ModelFailure::BadAnswer(shown),
        SdkError::ServiceError(context) => match context.err() {
            InvokeEndpointError::ModelError(model) => {
                let status = model
                    .original_status_code()
                    .and_then(|code| u16::try_from(code).ok());
                let message = model
                    .original_message()
                    .or(model.message())
                    .unwrap_or_default()
                    .to_owned();
                if model.original_status_code() == Some(429) {
                    ModelFailure::Throttled(message)
                } else {
                    ModelFailure::ModelError { status, message }
                }
            }
            InvokeEndpointError::ValidationError(_) => ModelFailure::Misconfigured(shown),
            InvokeEndpointError::ServiceUnavailable(_) => ModelFailure::Throttled(shown),
            other if other.code().is_some_and(|code| code.contains("Throttl")) => {
                ModelFailure::Throttled(shown)
            }
            _ => ModelFailure::Unavailable(shown),
        },
        _ => ModelFailure::Misconfigured(shown),
    }
}

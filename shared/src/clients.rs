//! One `aws-config` load per process and the SDK clients built from it.
//!
//! Endpoints come only from the SDK's standard settings (`AWS_ENDPOINT_URL`,
//! `AWS_ENDPOINT_URL_<SERVICE>`, profiles), so the same binary talks to AWS or to a local
//! emulator without a project-specific switch. Timeouts and retries are set here, explicitly,
//! because the SDK defaults (no operation timeout) let one slow call eat a whole invocation.

use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, SdkConfig};

/// Timeouts and retries for every client built from one [`SdkConfig`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientSettings {
    /// Time to establish a TCP/TLS connection.
    pub connect_timeout: Duration,
    /// Time for one attempt of an operation, from request sent to response read.
    pub attempt_timeout: Duration,
    /// Time for the whole operation, all retries included.
    pub operation_timeout: Duration,
    /// Attempts per operation, the first included (standard retry mode, with jittered backoff).
    pub max_attempts: u32,
    /// First retry backoff; the SDK doubles it per attempt, with jitter.
    pub initial_backoff: Duration,
}

impl ClientSettings {
    /// For request/response APIs behind API Gateway: fail fast enough that a retried call
    /// still answers well inside the caller's patience and the function timeout.
    pub const fn http_api() -> Self {
        Self {
            connect_timeout: Duration::from_millis(1_000),
            attempt_timeout: Duration::from_millis(1_500),
            operation_timeout: Duration::from_millis(4_000),
            max_attempts: 3,
            initial_backoff: Duration::from_millis(25),
        }
    }

    /// For batch consumers (SQS, Kinesis): more patience per call, since a failed call costs a
    /// redelivery of the record.
    pub const fn batch_consumer() -> Self {
        Self {
            connect_timeout: Duration::from_millis(2_000),
            attempt_timeout: Duration::from_millis(5_000),
            operation_timeout: Duration::from_millis(15_000),
            max_attempts: 5,
            initial_backoff: Duration::from_millis(50),
        }
    }

    pub fn timeout_config(&self) -> TimeoutConfig {
        TimeoutConfig::builder()
            .connect_timeout(self.connect_timeout)
            .operation_attempt_timeout(self.attempt_timeout)
            .operation_timeout(self.operation_timeout)
            .build()
    }

    pub fn retry_config(&self) -> RetryConfig {
        RetryConfig::standard()
            .with_max_attempts(self.max_attempts)
            .with_initial_backoff(self.initial_backoff)
    }
}

/// Loads region, credentials and endpoints the standard way, once, with explicit timeouts and
/// retries. Call it at init and build every client from the result.
pub async fn load(settings: ClientSettings) -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .timeout_config(settings.timeout_config())
        .retry_config(settings.retry_config())
        .load()
        .await
}

/// `config` with other timeouts and retries (a client that must answer sooner than the rest:
/// inference's model endpoint), sharing its credentials, region and connection pool.
pub fn with_settings(config: &SdkConfig, settings: ClientSettings) -> SdkConfig {
    config
        .to_builder()
        .timeout_config(settings.timeout_config())
        .retry_config(settings.retry_config())
        .build()
}

/// A DynamoDB client sharing the process's connection pool and settings.
pub fn dynamodb(config: &SdkConfig) -> aws_sdk_dynamodb::Client {
    aws_sdk_dynamodb::Client::new(config)
}

/// A Kinesis client sharing the process's connection pool and settings.
#[cfg(feature = "sinks")]
pub fn kinesis(config: &SdkConfig) -> aws_sdk_kinesis::Client {
    aws_sdk_kinesis::Client::new(config)
}

/// An SQS client sharing the process's connection pool and settings.
#[cfg(feature = "sinks")]
pub fn sqs(config: &SdkConfig) -> aws_sdk_sqs::Client {
    aws_sdk_sqs::Client::new(config)
}

/// A SageMaker runtime client with timeouts and retries of its own (`settings`): a model
/// endpoint must answer inside the request's budget, which is not the other clients'.
#[cfg(feature = "model")]
pub fn sagemaker_runtime(
    config: &SdkConfig,
    settings: ClientSettings,
) -> aws_sdk_sagemakerruntime::Client {
    aws_sdk_sagemakerruntime::Client::new(&with_settings(config, settings))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn loaded_config_carries_the_explicit_timeouts_and_retries() {
        let settings = ClientSettings::http_api();
        let config = load(settings).await;
        let timeouts = config.timeout_config().expect("timeouts set");
        assert_eq!(timeouts.connect_timeout(), Some(settings.connect_timeout));
        assert_eq!(
            timeouts.operation_attempt_timeout(),
            Some(settings.attempt_timeout)
        );
        assert_eq!(
            timeouts.operation_timeout(),
            Some(settings.operation_timeout)
        );
        let retry = config.retry_config().expect("retry set");
        assert_eq!(retry.max_attempts(), 3);
        assert_eq!(retry.initial_backoff(), settings.initial_backoff);
    }

    #[tokio::test]
    async fn settings_can_be_changed_for_one_client() {
        let config = load(ClientSettings::http_api()).await;
        let model = ClientSettings {
            attempt_timeout: Duration::from_millis(700),
            max_attempts: 2,
            ..ClientSettings::http_api()
        };
        let changed = with_settings(&config, model);
        assert_eq!(
            changed
                .timeout_config()
                .and_then(|timeouts| timeouts.operation_attempt_timeout()),
            Some(Duration::from_millis(700))
        );
        assert_eq!(changed.retry_config().unwrap().max_attempts(), 2);
        assert_eq!(changed.region(), config.region(), "the rest kept");
    }

    #[test]
    fn every_preset_fits_its_attempts_inside_the_operation_timeout() {
        for settings in [ClientSettings::http_api(), ClientSettings::batch_consumer()] {
            assert!(settings.attempt_timeout < settings.operation_timeout);
            assert!(settings.connect_timeout <= settings.attempt_timeout);
            assert!(
                settings.max_attempts >= 2,
                "transient errors must be retried"
            );
        }
    }
}

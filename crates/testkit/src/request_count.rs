//! Counting the requests SDK clients send, per operation, as the SDK itself sees them (retries
//! included): tests assert what a batch costs from these counts instead of guessing.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::{
    BeforeSerializationInterceptorContextRef, BeforeTransmitInterceptorContextRef,
};
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;

/// An interceptor to add to clients' configs; clones share one count.
#[derive(Debug, Clone, Default)]
pub struct RequestCounter {
    counts: Arc<Mutex<BTreeMap<String, usize>>>,
}

impl RequestCounter {
    /// Requests sent per operation (`BatchGetItem`, `PutRecords`, ...).
    pub fn counts(&self) -> BTreeMap<String, usize> {
        self.counts.lock().expect("counter lock").clone()
    }

    /// Requests sent for `operation`.
    pub fn count(&self, operation: &str) -> usize {
        self.counts().get(operation).copied().unwrap_or_default()
    }

    pub fn reset(&self) {
        self.counts.lock().expect("counter lock").clear();
    }

    /// A DynamoDB client of `sdk`'s configuration whose requests count here.
    pub fn dynamodb(&self, sdk: &aws_config::SdkConfig) -> aws_sdk_dynamodb::Client {
        aws_sdk_dynamodb::Client::from_conf(
            aws_sdk_dynamodb::config::Builder::from(sdk)
                .interceptor(self.clone())
                .build(),
        )
    }

    /// A Kinesis client of `sdk`'s configuration whose requests count here.
    pub fn kinesis(&self, sdk: &aws_config::SdkConfig) -> aws_sdk_kinesis::Client {
        aws_sdk_kinesis::Client::from_conf(
            aws_sdk_kinesis::config::Builder::from(sdk)
                .interceptor(self.clone())
                .build(),
        )
    }

    /// An SQS client of `sdk`'s configuration whose requests count here.
    pub fn sqs(&self, sdk: &aws_config::SdkConfig) -> aws_sdk_sqs::Client {
        aws_sdk_sqs::Client::from_conf(
            aws_sdk_sqs::config::Builder::from(sdk)
                .interceptor(self.clone())
                .build(),
        )
    }
}

impl Intercept for RequestCounter {
    fn name(&self) -> &'static str {
        "RequestCounter"
    }

    fn read_before_transmit(
        &self,
        _context: &BeforeTransmitInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let operation = cfg
            .load::<Metadata>()
            .map_or("unknown", Metadata::name)
            .to_owned();
        *self
            .counts
            .lock()
            .expect("counter lock")
            .entry(operation)
            .or_default() += 1;
        Ok(())
    }
}

/// An interceptor that fails the next `times` requests of `operation` before they are built, as
/// a dependency that refuses them for good would (a crash between two writes, a table that
/// cannot be written): the call fails at once, is not retried, and nothing reaches the service.
#[derive(Debug, Clone)]
pub struct FailOperation {
    operation: &'static str,
    remaining: Arc<Mutex<usize>>,
}

impl FailOperation {
    pub fn new(operation: &'static str, times: usize) -> Self {
        Self {
            operation,
            remaining: Arc::new(Mutex::new(times)),
        }
    }

    /// Failures still to come.
    pub fn remaining(&self) -> usize {
        *self.remaining.lock().expect("failures lock")
    }
}

impl Intercept for FailOperation {
    fn name(&self) -> &'static str {
        "FailOperation"
    }

    fn read_before_serialization(
        &self,
        _context: &BeforeSerializationInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if cfg.load::<Metadata>().map(Metadata::name) != Some(self.operation) {
            return Ok(());
        }
        let mut remaining = self.remaining.lock().expect("failures lock");
        if *remaining == 0 {
            return Ok(());
        }
        *remaining -= 1;
        Err(format!("{} refused by the test", self.operation).into())
    }
}

//! Counting the requests SDK clients send, per operation, as the SDK itself sees them (retries
//! included): tests assert what a batch costs from these counts instead of guessing.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::BeforeTransmitInterceptorContextRef;
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
